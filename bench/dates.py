"""2. Dates: normalising 100,000 printed dates, against a configured, cached `dateparser`.

The strings are what listing pages print, platform by platform, with each platform's own
`DateStyle` (taken from the adapters): "Mar 4 2026" (audible.com), "4. März 2026"
(audible.de), "06/03/2026" (radio.net, day first), "06.03.2026" (radio.de), "2026-03-02"
(Castbox), RFC 822 (RSS), "27. mai 2026" / "I går" (Podimo nb), "27. Mai 2026" / "Gestern"
(Podimo de), "23 de mayo de 2026" / "hace 2 días" (Podimo es), "May 19, 2026" /
"19. februar 2026" / "19. Februar 2026" (Podtail en/nb/de). They come in pages of 20 rows
(1-3 episodes a day, so a page repeats dates), each page with its own capture time a few
seconds after the previous one, as in a sync; recent rows are printed relative where the
platform does that.

The baseline is what a competent user writes with dateparser: `dateparser.parse` told the
platform's languages, its date order and the capture time as `RELATIVE_BASE` (past dates
preferred), behind an `functools.lru_cache` keyed on (text, languages, order, capture day),
run over every string like ours. The same configured call without the cache is timed on a
subsample for the per-platform costs.
"""

from __future__ import annotations

import functools
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from email.utils import format_datetime

from adapters import audible, castbox, podimo, podtail, rss
from adapters.radionet import RadioNetAdapter
from bench.common import Row, Section, fmt_seconds, md_table, reset_date_caches, times_faster
from scraper.normalize import DateStyle, parse_date

EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
EN_LONG = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")
DE = ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
      "Oktober", "November", "Dezember")
NB = ("januar", "februar", "mars", "april", "mai", "juni", "juli", "august", "september",
      "oktober", "november", "desember")
ES = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre",
      "octubre", "noviembre", "diciembre")

Printer = Callable[[date, int], str]  # (the day, days before the capture) -> printed text


def _relative(words: dict[int, str], plural: str, absolute: Printer) -> Printer:
    """Podimo prints the last days relative ("I går", "hace 3 días"), older ones absolute."""

    def show(day: date, ago: int) -> str:
        if ago in words:
            return words[ago]
        if plural and ago < 7:
            return plural.format(ago)
        return absolute(day, ago)

    return show


@dataclass(frozen=True)
class Profile:
    name: str
    style: DateStyle
    printer: Printer


_radionet = RadioNetAdapter()
PROFILES = (
    Profile("audible.com", audible.DATE_STYLES["com"],
            lambda d, _: f"{EN[d.month - 1]} {d.day} {d.year}"),
    Profile("audible.de", audible.DATE_STYLES["de"],
            lambda d, _: f"{d.day}. {DE[d.month - 1]} {d.year}"),
    Profile("radio.net", _radionet.date_style("https://www.radio.net/podcast/x"),
            lambda d, _: f"{d.day:02}/{d.month:02}/{d.year}"),
    Profile("radio.de", _radionet.date_style("https://www.radio.de/podcast/x"),
            lambda d, _: f"{d.day:02}.{d.month:02}.{d.year}"),
    Profile("castbox", castbox.CASTBOX_DATES, lambda d, _: d.isoformat()),
    Profile("rss", rss.FEED_DATES, lambda d, _: format_datetime(
        datetime(d.year, d.month, d.day, 6, 0, tzinfo=UTC))),
    Profile("podimo no", podimo.DATE_STYLES["no"], _relative(
        {0: "I dag", 1: "I går"}, "", lambda d, _: f"{d.day}. {NB[d.month - 1]} {d.year}")),
    Profile("podimo de", podimo.DATE_STYLES["de"], _relative(
        {0: "Heute", 1: "Gestern"}, "vor {} Tagen",
        lambda d, _: f"{d.day}. {DE[d.month - 1]} {d.year}")),
    Profile("podimo es", podimo.DATE_STYLES["es"], _relative(
        {0: "hoy", 1: "ayer"}, "hace {} días",
        lambda d, _: f"{d.day} de {ES[d.month - 1]} de {d.year}")),
    Profile("podtail en", podtail.DATE_STYLES["en"],
            lambda d, _: f"{EN_LONG[d.month - 1]} {d.day}, {d.year}"),
    Profile("podtail no", podtail.DATE_STYLES["no"],
            lambda d, _: f"{d.day}. {NB[d.month - 1]} {d.year}"),
    Profile("podtail de", podtail.DATE_STYLES["de"],
            lambda d, _: f"{d.day}. {DE[d.month - 1]} {d.year}"),
)


@dataclass(frozen=True)
class Printed:
    raw: str
    profile: Profile
    base: datetime  # the page's capture time
    truth: date
    relative: bool


def workload(count: int, seed: int = 11) -> list[Printed]:
    rng = random.Random(seed)
    start = datetime(2026, 3, 5, 6, 0, tzinfo=UTC)
    out: list[Printed] = []
    page = 0
    while len(out) < count:
        profile = PROFILES[page % len(PROFILES)]
        base = start + timedelta(seconds=7 * page)
        ago = 0 if rng.random() < 0.3 else rng.randint(7, 900)  # first page, or a later one
        for _ in range(20):
            day = base.date() - timedelta(days=ago)
            raw = profile.printer(day, ago)
            relative = raw != profile.printer(day, 10_000)  # printed relative to the capture
            out.append(Printed(raw, profile, base, day, relative))
            ago += rng.choice((0, 0, 1, 1, 1, 2, 3))
        page += 1
    return out[:count]


def _fits(style: DateStyle, text: str) -> bool:
    """True when one of the style's strptime formats reads `text` (the fast path)."""
    for fmt in style.formats:
        try:
            datetime.strptime(text, fmt)
        except ValueError:
            continue
        return True
    return False


def _ours(items: list[Printed]) -> tuple[float, list[date | None], Counter]:
    """Seconds in all, the dates read, and seconds per platform."""
    reset_date_caches(parsers=True)  # cold: the parsers are built inside the timing
    clock = time.perf_counter
    per_profile: Counter = Counter()
    values = []
    started = clock()
    for p in items:
        before = clock()
        values.append(parse_date(p.raw, p.profile.style, p.base).value)
        per_profile[p.profile.name] += clock() - before
    return clock() - started, values, per_profile


DateKey = tuple[str, tuple[str, ...], str | None, date]


def configured_dateparser(cached: bool) -> Callable[[DateKey], date | None]:
    """`dateparser.parse` as a competent user calls it: the platform's languages and date
    order, relative dates counted back from the capture day; optionally behind an LRU cache."""
    import dateparser

    def read(key: DateKey) -> date | None:
        text, languages, order, day = key
        settings: dict[str, object] = {
            "RELATIVE_BASE": datetime.combine(day, clock_time(12)),
            "PREFER_DATES_FROM": "past",
        }
        if order:
            settings["DATE_ORDER"] = order
        got = dateparser.parse(text, languages=list(languages), settings=settings)
        return got.date() if got else None

    return functools.lru_cache(maxsize=16_384)(read) if cached else read


def _key(p: Printed) -> DateKey:
    return (p.raw, tuple(p.profile.style.languages), p.profile.style.order, p.base.date())


def _baseline(items: list[Printed], read: Callable[[DateKey], date | None]
              ) -> tuple[float, list[date | None], Counter]:
    clock = time.perf_counter
    per_profile: Counter = Counter()
    values = []
    started = clock()
    for p in items:
        before = clock()
        values.append(read(_key(p)))
        per_profile[p.profile.name] += clock() - before
    return clock() - started, values, per_profile


def _wrong(items: list[Printed], values: list[date | None]) -> dict[str, Counter]:
    """Per platform: how many read, wrong absolute/relative dates, and no date at all."""
    stats: dict[str, Counter] = {p.name: Counter() for p in PROFILES}
    for item, got in zip(items, values, strict=True):
        row = stats[item.profile.name]
        row["n"] += 1
        if got is None:
            row["none"] += 1
        elif got != item.truth:
            row["wrong relative" if item.relative else "wrong absolute"] += 1
    return stats


def _bad(row: Counter) -> int:
    return row["wrong absolute"] + row["wrong relative"] + row["none"]


def run(quick: bool = False) -> Section:
    import dateparser

    started_all = time.perf_counter()
    count, sample_size = (10_000, 500) if quick else (100_000, 3_000)
    items = workload(count)
    section = Section("dates", f"2. Dates: normalising {count:,} printed dates")
    ours_seconds, ours_values, ours_by = _ours(items)

    for profile in PROFILES:  # warm dateparser up: its locale loading is not timed (ours is)
        dateparser.parse(profile.printer(date(2026, 3, 4), 30),
                         languages=list(profile.style.languages))
    cached = configured_dateparser(cached=True)
    base_seconds, base_values, base_by = _baseline(items, cached)
    calls = cached.cache_info().misses  # type: ignore[attr-defined]
    rng = random.Random(5)
    sample = [items[i] for i in sorted(rng.sample(range(count), sample_size))]
    plain_seconds, plain_values, plain_by = _baseline(sample, configured_dateparser(False))
    plain_per_string = plain_seconds / sample_size

    ours_stats = _wrong(items, ours_values)
    base_stats = _wrong(items, base_values)
    plain_stats = _wrong(sample, plain_values)
    ours_bad = sum(_bad(s) for s in ours_stats.values())
    base_bad = sum(_bad(s) for s in base_stats.values())
    plain_bad = sum(_bad(s) for s in plain_stats.values())
    examples = {p.name: next(i.raw for i in items if i.profile is p and not i.relative)
                for p in PROFILES}
    volume = Counter(p.profile.name for p in items)
    sampled = Counter(p.profile.name for p in sample)
    ours_us = {n: ours_by[n] / volume[n] * 1e6 for n in volume}
    base_us = {n: base_by[n] / volume[n] * 1e6 for n in volume}
    plain_us = {n: plain_by[n] / sampled[n] * 1e6 if sampled[n] else 0.0 for n in volume}
    detail = []
    for profile in PROFILES:
        n, b = profile.name, base_stats[profile.name]
        detail.append([
            n, f"`{examples[n]}`", f"{ours_us[n]:,.1f}", f"{base_us[n]:,.1f}",
            times_faster(1 / ours_us[n], 1 / base_us[n]), f"{plain_us[n]:,.0f}",
            str(b["wrong absolute"]), str(b["wrong relative"]), str(b["none"]),
            str(_bad(ours_stats[n])),
        ])
    ours_rate, base_rate = count / ours_seconds, count / base_seconds
    total = sum(base_stats.values(), Counter())
    detail.append([
        "**all**", "", f"{ours_seconds / count * 1e6:,.1f}", f"{base_seconds / count * 1e6:,.1f}",
        times_faster(ours_rate, base_rate), f"{plain_per_string * 1e6:,.0f}",
        str(total["wrong absolute"]), str(total["wrong relative"]), str(total["none"]),
        str(ours_bad),
    ])
    section.rows.append(Row(
        f"dates: {count:,} strings", fmt_seconds(ours_seconds),
        f"{fmt_seconds(base_seconds)} (dateparser configured + lru_cache)",
        times_faster(ours_rate, base_rate),
        f"wrong or unread: ours {ours_bad}/{count:,}, baseline {base_bad}/{count:,}; "
        f"uncached configured dateparser {plain_per_string * 1e6:,.0f} µs/string "
        f"({times_faster(ours_rate, 1 / plain_per_string)} ours)",
    ))
    distinct = len({(p.raw, p.profile.style, p.base) for p in items})
    distinct_texts = len({(p.raw, p.profile.style) for p in items})
    section.details.append(
        f"- ours: `normalize.parse_date(raw, platform_style, capture_time)` over all "
        f"{count:,} strings ({distinct:,} distinct (text, style, capture time), "
        f"{distinct_texts:,} distinct (text, style)), caches and dateparser parsers cold "
        f"at the start: **{fmt_seconds(ours_seconds)}** "
        f"({ours_seconds / count * 1e6:,.1f} µs/string); wrong or unread: {ours_bad}.\n"
        f"- baseline: `dateparser.parse(raw, languages=style.languages, settings="
        f"{{DATE_ORDER: style.order, RELATIVE_BASE: capture day, PREFER_DATES_FROM: past}})` "
        f"behind `functools.lru_cache(maxsize=16384)` keyed on (text, languages, order, "
        f"capture day), over all {count:,} strings ({calls:,} cache misses; locale loading "
        f"warmed up outside the timing): **{fmt_seconds(base_seconds)}**; "
        f"wrong or unread: {base_bad}.\n"
        f"- the same configured call without the cache, on a uniform random subsample of "
        f"{sample_size:,}: {plain_per_string * 1e6:,.0f} µs/string "
        f"({fmt_seconds(plain_per_string * count)} extrapolated to {count:,}); wrong or "
        f"unread: {plain_bad}/{sample_size:,}."
    )
    section.details.append(
        "Per platform, over all strings (truth = the day the string was printed from; a "
        "relative date's truth counts from the page's capture time):\n\n" + md_table(
            ["platform", "example", "ours µs/string", "baseline µs/string (cached)",
             "ours vs baseline", "uncached µs/string (subsample)",
             "baseline wrong (absolute)", "baseline wrong (relative)", "baseline None",
             "ours wrong or None"], detail)
    )
    slow = [n for n in volume if ours_us[n] > base_us[n]]
    if slow:
        section.slower.append(
            f"**dates, {', '.join(slow)}**: "
            f"{', '.join(f'{ours_us[n]:,.1f}' for n in slow)} µs per string against "
            f"{', '.join(f'{base_us[n]:,.1f}' for n in slow)} µs for the cached, configured "
            "dateparser. Both sides call dateparser once per distinct text and read the "
            "rest from a cache; ours keys relative texts on the exact capture time (the "
            "baseline on the day) and reads a relative text twice to tell it from an "
            "absolute one without a word list, so where the platform prints relative "
            "dates ours meets dateparser more often."
        )
    if ours_seconds > base_seconds:
        section.slower.append(
            f"**dates overall**: {fmt_seconds(ours_seconds)} against "
            f"{fmt_seconds(base_seconds)} for the cached, configured dateparser (see above).")
    styles = {p.name: p.style for p in PROFILES}
    slow_styles = [n for n in volume if not _fits(styles[n], examples[n])]
    if slow_styles:
        slow_share = sum(ours_by[n] for n in slow_styles) / ours_seconds
        if slow_share > 0.5:
            section.hotspots.append(
                f"`scraper.normalize._parse_date`: styles with no strptime format for what "
                f"is printed ({', '.join(slow_styles)}) take {slow_share:.0%} of benchmark 2 "
                "(month-name tables or dateparser, and relative forms read twice)."
            )
    section.seconds = time.perf_counter() - started_all
    return section
