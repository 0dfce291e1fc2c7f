"""1. Parse: pages per second of each adapter over its recordings.

Per platform, over every recorded page that parses (error cases skipped):
- `parse_capture` (check_response + adapter.parse + normalisation of dates and text): what
  a sync spends per page;
- `adapter.parse` alone: the extraction, comparable with the baseline;
- the baseline: the same extraction written with BeautifulSoup(html.parser)
  (`bench/bs4_extract.py`), checked on every page to find the same episodes;
- the ceiling: `LexborHTMLParser(body)`, selectolax's bare parse of the same bytes.
JSON API recordings (radio.net, Castbox, Podimo) and RSS feeds have no HTML to soup: they
are reported against their own ceiling (`json.loads`, `feedparser.parse`).
"""

from __future__ import annotations

import cProfile
import io
import json
import pstats
import sys
import time
from collections import defaultdict
from collections.abc import Callable

import feedparser
from selectolax.lexbor import LexborHTMLParser

import adapters
from adapters.base import Adapter
from bench.bs4_extract import EXTRACTORS, check_same
from bench.common import (
    Row,
    Section,
    best_rate,
    fmt_rate,
    md_table,
    reset_date_caches,
    times_faster,
)
from scraper.fixtures import load_cases
from scraper.models import Capture
from scraper.parsing import parse_capture

Group = list[Capture]


def _groups() -> dict[tuple[str, str], Group]:
    """Recorded pages that parse, by (platform, kind) with kind html / json / feed."""
    groups: dict[tuple[str, str], Group] = defaultdict(list)
    for case in load_cases():
        if case.error:
            continue
        kind = case.content_type.split(";")[0].strip()
        kind = ("html" if kind == "text/html" else "json" if kind.endswith(("json", "javascript"))
                else "feed")
        groups[case.platform, kind].append(case.capture())
    return dict(sorted(groups.items()))


def _pass(pages: Group, one: Callable[[Capture], object]) -> Callable[[], int]:
    def work() -> int:
        for capture in pages:
            one(capture)
        return len(pages)

    return work


def _full(adapter: Adapter) -> Callable[[Capture], object]:
    def one(capture: Capture) -> object:
        return parse_capture(adapter, capture)

    return one


def _fresh_dates() -> None:
    # Each pass is a new sync process: no date read carried over from the previous pass.
    reset_date_caches()


def profile_shares(adapter: Adapter, pages: Group) -> dict[str, float]:
    """Share of parse_capture's time spent in the adapter's parse, in date reading and in
    description cleaning (one profiled pass; the profiler inflates small calls alike)."""
    _fresh_dates()
    profiler = cProfile.Profile()
    profiler.enable()
    for capture in pages:
        parse_capture(adapter, capture)
    profiler.disable()
    cumulative: dict[tuple[str, str], float] = {}
    for (path, _, name), row in pstats.Stats(profiler).stats.items():  # type: ignore[attr-defined]
        key = ("/".join(path.split("/")[-2:]), name)
        cumulative[key] = cumulative.get(key, 0.0) + row[3]
    total = cumulative.get(("scraper/parsing.py", "parse_capture"), 0.0) or 1.0
    module = f"adapters/{type(adapter).__module__.rsplit('.', 1)[-1]}.py"
    return {
        "adapter.parse": cumulative.get((module, "parse"), 0.0) / total,
        "parse_date": cumulative.get(("scraper/normalize.py", "parse_date"), 0.0) / total,
        "clean_text": cumulative.get(("scraper/normalize.py", "clean_text"), 0.0) / total,
    }


def top_self_time(parse: Callable[[Capture], object], pages: Group) -> str:
    """The function with the most self time in one profiled pass of `parse`, with its self
    and cumulative shares of the pass."""
    profiler = cProfile.Profile()
    profiler.enable()
    for capture in pages:
        parse(capture)
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = sum(row[2] for row in stats.values()) or 1.0
    (path, line, name), row = max(stats.items(), key=lambda item: item[1][2])
    where = "/".join(path.split("/")[-2:]) + f":{line} " if path != "~" else ""
    return f"`{where}{name}` {row[2] / total:.0%} self, {row[3] / total:.0%} cumulative"


def run(quick: bool = False) -> Section:
    started = time.perf_counter()
    # Seconds of timing per method and platform, and rounds (best of) within them.
    budget, rounds = (0.3, 1) if quick else (1.5, 3)
    section = Section("parse", "1. Parse: pages per second per adapter")
    detail: list[list[str]] = []
    dates_heavy: list[str] = []
    soup_ratios: dict[str, float] = {}
    hottest_of: dict[str, str] = {}
    text_heavy: list[str] = []
    for (platform, kind), pages in _groups().items():
        adapter = adapters.get(platform)
        full_one = _full(adapter)

        skipped = 0
        if kind == "html":  # first: the baseline must extract what the adapter does
            extractor = EXTRACTORS.get(platform)
            if extractor is None:
                continue  # no bs4 baseline written for this platform's pages (apple)
            # Only the page generations the bs4 baseline was written for are timed, so both
            # sides do the same work; the others are counted in the label.
            comparable: Group = []
            for capture in pages:
                try:
                    check_same(f"{platform} {capture.url}", adapter.parse(capture),
                               extractor(capture))
                except (ValueError, AttributeError, KeyError, TypeError):
                    continue  # a generation the baseline was not written for
                comparable.append(capture)
            if not comparable:
                # The baseline mirrors an older adapter (radio.net's before the toolkit): it
                # reads none of today's generations, so there is no fair comparison to time.
                print(f"parse: no bs4 baseline reads today's {platform} pages; not timed",
                      file=sys.stderr)
                continue
            skipped = len(pages) - len(comparable)
            pages = comparable

        def full_work(pages: Group = pages, one: Callable = full_one) -> int:
            _fresh_dates()
            return _pass(pages, one)()

        kib = sum(len(c.body) for c in pages) / len(pages) / 1024
        episodes = sum(len(adapter.parse(c).episodes) for c in pages)
        full = best_rate(full_work, budget, rounds)
        bare = best_rate(_pass(pages, adapter.parse), budget, rounds)
        label = f"{platform} {kind} ({len(pages)} pages, {kib:,.0f} KiB avg)"
        if skipped:
            label += f"; {skipped} newer-generation pages without a bs4 baseline left out"
        shares = profile_shares(adapter, pages)
        hottest = top_self_time(adapter.parse, pages)
        hottest_of[f"{platform} {kind}"] = hottest
        if shares["parse_date"] > 0.3:
            dates_heavy.append(f"{platform} {kind} {shares['parse_date']:.0%}")
        if shares["clean_text"] > 0.3:
            text_heavy.append(f"{platform} {kind} {shares['clean_text']:.0%}")
        if kind == "html":
            extract = EXTRACTORS[platform]
            soup = best_rate(_pass(pages, extract), budget, rounds)
            ceiling = best_rate(_pass(pages, lambda c: LexborHTMLParser(c.body)), budget,
                                rounds)
            ceiling_name, baseline_name = "LexborHTMLParser(body)", "bs4 html.parser"
        elif kind == "json":
            soup = 0.0
            ceiling = best_rate(_pass(pages, lambda c: json.loads(c.body)), budget, rounds)
            ceiling_name, baseline_name = "json.loads(body)", "none (JSON: nothing to soup)"
        else:
            soup = 0.0
            ceiling = best_rate(
                _pass(pages, lambda c: feedparser.parse(io.BytesIO(c.body))), budget, rounds)
            ceiling_name, baseline_name = "feedparser.parse(body)", "none (feedparser is it)"
        detail.append([
            label, f"{episodes / len(pages):,.0f}", fmt_rate(full, "p/s"), fmt_rate(bare, "p/s"),
            fmt_rate(soup, "p/s") if soup else "-", fmt_rate(ceiling, "p/s"),
            times_faster(bare, soup) if soup else "-", times_faster(full, soup) if soup else "-",
            f"{bare / ceiling:.0%} ({ceiling_name})",
            " / ".join(f"{shares[k]:.0%}" for k in ("adapter.parse", "parse_date", "clean_text")),
            hottest,
        ])
        if soup:
            soup_ratios[f"{platform} {kind}"] = bare / soup
            section.rows.append(Row(
                f"parse {platform} (HTML)", fmt_rate(bare, "pages/s"),
                fmt_rate(soup, "pages/s"), times_faster(bare, soup),
                f"parse_capture {fmt_rate(full, 'p/s')} ({times_faster(full, soup)}); "
                f"{bare / ceiling:.0%} of bare Lexbor parse",
            ))
            if bare < soup:
                section.slower.append(
                    f"**parse {platform}**: adapter.parse {fmt_rate(bare, 'p/s')} against "
                    f"{fmt_rate(soup, 'p/s')} for bs4; its top self time is {hottest}: "
                    "that function is where a fix starts."
                )
            elif full < soup:
                section.slower.append(
                    f"**parse {platform}, with normalisation**: parse_capture "
                    f"{fmt_rate(full, 'p/s')} against {fmt_rate(soup, 'p/s')} for the bs4 "
                    f"extraction, which normalises nothing. Of parse_capture's time "
                    f"{shares['parse_date']:.0%} is date reading and {shares['clean_text']:.0%} "
                    "description cleaning; see the hot spots below for the fix."
                )
        else:
            section.rows.append(Row(
                f"parse {platform} ({kind})", fmt_rate(bare, "pages/s"), baseline_name, "-",
                f"parse_capture {fmt_rate(full, 'p/s')}; {bare / ceiling:.0%} of "
                f"{ceiling_name}",
            ))
    section.details.append(md_table(
        ["pages", "episodes/page", "parse_capture", "adapter.parse", "bs4 baseline",
         "ceiling", "adapter.parse vs bs4", "parse_capture vs bs4",
         "adapter.parse / ceiling", "parse_capture time: parse / dates / text",
         "top self time in adapter.parse"],
        detail,
    ))
    section.details.append(
        f"p/s = pages per second, best of {rounds} round(s) after a warm-up pass. "
        "`parse_capture` = check_response + adapter.parse + normalisation (dates via "
        "dateparser where no strptime format fits, HTML descriptions to text); the date "
        "caches are cleared before every pass, as each pass stands for a new sync process. "
        "The bs4 baseline does the adapter.parse extraction and was checked on every page "
        "to return the same show title, episode ids and titles. JSON and feed pages have "
        "no bs4 baseline: there is no HTML to parse (`json.loads` is both ours and theirs), "
        "and RSS is read with feedparser, which is itself the baseline any feed reader "
        "uses; they are shown against that ceiling."
    )
    worst = min(soup_ratios, key=soup_ratios.get) if soup_ratios else None
    if worst is not None:
        section.details.append(
            f"Smallest lead over bs4: **{worst}** ({soup_ratios[worst]:.1f}x); the top self "
            f"time in its adapter.parse is {hottest_of[worst]}. Work that is not HTML "
            "parsing (decoding a state blob, walking JSON) costs both sides the same, so "
            "the ratio shrinks where it dominates."
        )
    if dates_heavy:
        section.hotspots.append(
            "`scraper.normalize.parse_date` (via `normalize_listing`) is most of "
            f"`parse_capture` on pages that print localized month names "
            f"({', '.join(dates_heavy)} of its time): \"19. februar 2026\" is read with "
            "the language's month names from dateparser's locale data, loaded once per "
            "language and process (each timed pass starts cold and pays it again), and "
            "relative dates (\"I går\", \"gestern\") still go through dateparser twice. "
            "Fix: a relative-word table per language. Benchmark 2 has the cost per platform."
        )
    if text_heavy:
        section.hotspots.append(
            "`scraper.normalize.clean_text` -> `html_to_text` is the biggest part of "
            f"`parse_capture` where many descriptions are HTML ({', '.join(text_heavy)}): "
            "one Lexbor parse "
            "and a Python tree walk per HTML description. Tolerable (hundreds of pages/s), "
            "but parsing all descriptions of a page as one document would cut the per-call "
            "overhead."
        )
    section.seconds = time.perf_counter() - started
    return section
