"""2. Dates: normalising 100,000 printed dates, against `dateparser.parse` per string.

The strings are what listing pages print, platform by platform, with each platform's own
`DateStyle` (taken from the adapters): "Mar 4 2026" (audible.com), "4. März 2026"
(audible.de), "06/03/2026" (radio.net, day first), "06.03.2026" (radio.de), "2026-03-02"
(Castbox), RFC 822 (RSS), "27. mai 2026" / "I går" (Podimo nb), "27. Mai 2026" / "Gestern"
(Podimo de), "23 de mayo de 2026" / "hace 2 días" (Podimo es), "May 19, 2026" /
"19. februar 2026" / "19. Februar 2026" (Podtail en/nb/de). They come in pages of 20 rows
(1-3 episodes a day, so a page repeats dates), each page with its own capture time a few
seconds after the previous one, as in a sync; recent rows are printed relative where the
platform does that.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
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


def run(quick: bool = False) -> Section:
    import dateparser

    started_all = time.perf_counter()
    count, sample_size = (10_000, 500) if quick else (100_000, 5_000)
    items = workload(count)
    section = Section("dates", f"2. Dates: normalising {count:,} printed dates")
    ours_seconds, ours_values, ours_by = _ours(items)

    rng = random.Random(5)
    sample = rng.sample(range(count), sample_size)
    for profile in PROFILES:  # warm dateparser up (its locale loading is not timed)
        dateparser.parse(profile.printer(date(2026, 3, 4), 30))
    clock = time.perf_counter
    theirs = {}
    theirs_by: Counter = Counter()
    started = clock()
    for i in sample:
        before = clock()
        theirs[i] = dateparser.parse(items[i].raw)
        theirs_by[items[i].profile.name] += clock() - before
    per_string = (clock() - started) / sample_size
    baseline_seconds = per_string * count

    ours_wrong = Counter(p.profile.name for p, v in zip(items, ours_values, strict=True)
                         if v != p.truth)
    stats: dict[str, Counter] = {p.name: Counter() for p in PROFILES}
    for i in sample:
        item, got = items[i], theirs[i]
        row = stats[item.profile.name]
        row["n"] += 1
        if got is None:
            row["none"] += 1
        elif got.date() != item.truth:
            row["wrong relative" if item.relative else "wrong absolute"] += 1
        if ours_values[i] != item.truth:
            row["ours wrong"] += 1
    examples = {p.name: next(i.raw for i in items if i.profile is p and not i.relative)
                for p in PROFILES}
    ours_rate, base_rate = count / ours_seconds, count / baseline_seconds
    volume = Counter(p.profile.name for p in items)
    ours_us = {name: ours_by[name] / volume[name] * 1e6 for name in stats}
    theirs_us = {name: theirs_by[name] / max(s["n"], 1) * 1e6 for name, s in stats.items()}
    detail = [[name, f"`{examples[name]}`", f"{ours_us[name]:,.0f}", f"{theirs_us[name]:,.0f}",
               times_faster(1 / ours_us[name], 1 / theirs_us[name]) if theirs_us[name] else "-",
               str(s["n"]), str(s["wrong absolute"]), str(s["wrong relative"]), str(s["none"]),
               str(s["ours wrong"])]
              for name, s in stats.items()]
    slow = [name for name in stats if theirs_us[name] and ours_us[name] > theirs_us[name]]
    if slow:
        section.slower.append(
            f"**dates, {', '.join(slow)}**: {', '.join(f'{ours_us[n]:,.0f} µs' for n in slow)}"
            f" per string against {', '.join(f'{theirs_us[n]:,.0f}' for n in slow)} µs for "
            "`dateparser.parse`. No strptime format of these styles fits what the platform "
            "prints, so `scraper.normalize._parse_date` reads them with month-name tables "
            "or dateparser, plus a second reading for relative dates. Fix: a relative-word "
            "table per language."
        )
    total = sum((s for s in stats.values()), Counter())
    detail.append(["**all**", "", f"{ours_seconds / count * 1e6:,.0f}",
                   f"{per_string * 1e6:,.0f}", times_faster(ours_rate, base_rate), str(total["n"]),
                   str(total["wrong absolute"]), str(total["wrong relative"]),
                   str(total["none"]), str(total["ours wrong"])])

    distinct = len({(p.raw, p.profile.style, p.base) for p in items})
    distinct_texts = len({(p.raw, p.profile.style) for p in items})
    section.rows.append(Row(
        f"dates: {count:,} strings", fmt_seconds(ours_seconds),
        f"{fmt_seconds(baseline_seconds)} (extrapolated)", times_faster(ours_rate, base_rate),
        f"baseline wrong on {total['wrong absolute'] + total['wrong relative']}"
        f"/{total['n']} sampled, ours on {sum(ours_wrong.values())}/{count:,}",
    ))
    section.details.append(
        f"- ours: `normalize.parse_date(raw, platform_style, capture_time)` over all "
        f"{count:,} strings ({distinct:,} distinct (text, style, capture time), "
        f"{distinct_texts:,} distinct (text, style)), caches and dateparser parsers cold "
        f"at the start: **{fmt_seconds(ours_seconds)}** "
        f"({ours_seconds / count * 1e6:,.1f} µs/string).\n"
        f"- baseline: `dateparser.parse(raw)` with default settings, timed on a uniform "
        f"random subsample of {sample_size:,} strings after a warm-up (its one-off locale "
        f"loading is not counted, ours is): {per_string * 1e6:,.0f} µs/string, "
        f"extrapolated to {count:,}: **{fmt_seconds(baseline_seconds)}**.\n"
        f"- ours got {sum(ours_wrong.values())} of {count:,} wrong"
        + (f" ({dict(ours_wrong)})" if ours_wrong else "") + "."
    )
    section.details.append(
        "Correctness on the subsample (truth = the day the string was printed from; a "
        "relative date's truth is counted from the page's capture time, which "
        "`dateparser.parse` without `RELATIVE_BASE` cannot know, so it counts from the wall "
        "clock):\n\n" + md_table(
            ["platform", "example", "ours µs/string", "baseline µs/string", "ours vs baseline",
             "sampled", "baseline wrong (absolute)",
             "baseline wrong (relative)", "baseline None", "ours wrong"], detail)
    )
    styles = {p.name: p.style for p in PROFILES}
    slow_styles = [n for n in stats if not _fits(styles[n], examples[n])]
    fast_styles = [n for n in stats if n not in slow_styles]
    if slow_styles and fast_styles:
        slow_share = sum(ours_by[n] for n in slow_styles) / ours_seconds

        def span(values: list[float], unit: str) -> str:
            return f"{min(values):,.1f}-{max(values):,.1f}{unit}"

        unfit = "".join(f"; {n} has `{'`, `'.join(styles[n].formats)}`, which does not fit "
                        f"`{examples[n]}`" for n in slow_styles if styles[n].formats)
        section.details.append(
            f"Where the time goes: styles whose strptime formats fit what is printed "
            f"({', '.join(fast_styles)}) cost "
            f"{span([ours_us[n] for n in fast_styles], ' µs')}/string, "
            f"{span([theirs_us[n] / ours_us[n] for n in fast_styles], 'x')} faster than "
            f"`dateparser.parse`; those where none fits ({', '.join(slow_styles)}: "
            f"localized month names{unfit}) go through dateparser the first time a process "
            f"meets each text and cost {span([ours_us[n] for n in slow_styles], ' µs')}/string"
            f", {span([theirs_us[n] / ours_us[n] for n in slow_styles], 'x')} faster, and "
            f"{slow_share:.0%} of our total time."
        )
        if slow_share > 0.5:
            section.hotspots.append(
                f"`scraper.normalize._parse_date`: dates printed with localized month names "
                f"({', '.join(slow_styles)}) cost "
                f"{span([ours_us[n] for n in slow_styles], ' µs')} each against "
                f"{span([ours_us[n] for n in fast_styles], ' µs')} where a strptime format "
                f"fits: {slow_share:.0%} of benchmark 2: the month names come from "
                "dateparser's locale data (loaded once per language) and relative forms "
                "still go through dateparser twice. A relative-word table per language "
                "would take them off it."
            )
    section.seconds = time.perf_counter() - started_all
    return section
