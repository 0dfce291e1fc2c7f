"""Normalisation shared by every adapter: dates, durations, text, truncation.

Pure functions. Adapters hand over what the page printed; these turn it into typed values
and flags, and never invent a value: what cannot be read is kept raw and flagged.
"""

from __future__ import annotations

import functools
import html
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scraper.models import Listing

# ---------------------------------------------------------------------------------------------
# Dates


@dataclass(frozen=True)
class DateStyle:
    """How one platform/locale prints dates. `order` is decided per platform, never guessed
    per string; `formats` are strptime patterns tried first (about 50x faster than guessing)."""

    languages: tuple[str, ...] = ("en",)
    order: str | None = None  # "DMY", "MDY" or "YMD"
    formats: tuple[str, ...] = ()


ENGLISH = DateStyle()


@dataclass(frozen=True)
class ParsedDate:
    value: date | None
    # None: an absolute date read as printed. "relative": resolved against the capture time.
    # "unparsed": nothing could be read; the raw text is kept. "ambiguous": day/month order
    # unknown and both readings valid.
    flag: str | None = None


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_NUMERIC = re.compile(r"^\s*(\d{1,4})[./-](\d{1,2})[./-](\d{1,4})\s*$")
_RFC822 = re.compile(r"^\s*(?:[A-Za-z]{3},\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{2,4}\s+\d")


def date_from_timestamp(value: int | float | str | None) -> date | None:
    """Calendar date of a machine timestamp.

    Epoch numbers (seconds, or milliseconds when larger than 10^11) and `Z` values give
    their UTC date. A value printed with an offset keeps the date its publisher printed:
    `2026-03-04T23:30:00-05:00` is March 4th, not March 5th in UTC.
    """
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,20}(\.\d+)?\s*", value):
        value = float(value)
    if isinstance(value, int | float):
        try:
            seconds = value / 1000 if abs(value) > 1e11 else value
            return datetime.fromtimestamp(seconds, tz=UTC).date()
        except (OverflowError, OSError, ValueError):  # beyond any calendar, inf, NaN
            return None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if _ISO_DATE.match(text):
        try:
            return datetime.fromisoformat(text.replace("z", "Z")).date()
        except ValueError:
            try:
                return date.fromisoformat(text[:10])
            except ValueError:
                return None
    if _RFC822.match(text):
        try:
            return parsedate_to_datetime(text).date()
        except (TypeError, ValueError, IndexError):
            return None
    return None


@functools.lru_cache(maxsize=128)
def _date_parser(languages: tuple[str, ...], order: str | None, base: datetime):
    from dateparser.date import DateDataParser  # heavy import: only when a date needs guessing

    settings: dict[str, object] = {
        "RELATIVE_BASE": base,
        "PREFER_DATES_FROM": "past",
        "RETURN_TIME_AS_PERIOD": True,
    }
    if order:
        settings["DATE_ORDER"] = order
    return DateDataParser(languages=list(languages), settings=settings)


def _naive_utc(moment: datetime) -> datetime:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0)


def parse_date(
    raw: str | None, style: DateStyle = ENGLISH, base: datetime | None = None
) -> ParsedDate:
    """Read a date as a platform printed it, in that platform's language and order.

    `base` is the capture time: relative dates ("yesterday", "I går", "hace 2 días") are
    resolved against it and flagged "relative".
    """
    if raw is None:
        return ParsedDate(None)
    text = " ".join(raw.split())
    known = _ABSOLUTE.get((text, style))
    if known is not None:
        return known
    try:
        parsed = _parse_date(text, style, _naive_utc(base or datetime.now(UTC)))
    except Exception:  # noqa: BLE001 - dateparser or a base at the calendar's edge (a
        # server's `Date: Mon, 01 Jan 0001`) failing on hostile text: kept raw, flagged
        parsed = ParsedDate(None, "unparsed")
    if (parsed.flag is None and parsed.value is not None and len(_ABSOLUTE) < _ABSOLUTE_MAX
            and _YEAR.search(text)):
        # A reading with its own four-digit year does not depend on the capture time (a
        # yearless or two-digit-year one does): remember it across pages.
        _ABSOLUTE[(text, style)] = parsed
    return parsed


_ABSOLUTE: dict[tuple[str, DateStyle], ParsedDate] = {}
_ABSOLUTE_MAX = 100_000
_YEAR = re.compile(r"(?<!\d)(1[89]\d\d|2\d\d\d)(?!\d)")


# "22. mai 2026", "4. März 2026", "22 de mayo de 2026", "May 19, 2026": a day, a month
# name and a year need no guessing, only the language's month names.
_DAY_MONTH_YEAR = re.compile(
    r"^(\d{1,2})\.?\s+(?:de\s+)?([^\W\d_]+)\.?,?\s+(?:de\s+)?(\d{4}|\d{2})$")
_MONTH_DAY_YEAR = re.compile(r"^([^\W\d_]+)\.?\s+(\d{1,2}),?\s+(\d{4}|\d{2})$")
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december")


@functools.lru_cache(maxsize=32)
def _month_names(languages: tuple[str, ...]) -> dict[str, int]:
    """Month name (any form dateparser knows for these languages) -> month number."""
    from dateparser.languages.loader import default_loader

    names: dict[str, int] = {}
    for language in languages:
        try:
            info = default_loader.get_locale(language).info
        except (KeyError, ValueError):
            continue
        for number, month in enumerate(_MONTHS, start=1):
            for name in info.get(month, []):
                names.setdefault(name.lower().rstrip("."), number)
    return names


def _full_year(year: str, month: int, day: int, moment: datetime) -> int:
    """A printed year; a two-digit one ("01-21-25") gets the century that puts the date
    nearest the capture time (never a century early for a date after the capture year)."""
    if len(year) != 2:
        return int(year)
    base = moment.year // 100 * 100 + int(year)
    target = moment.date()

    def distance(candidate: int) -> int:
        try:
            return abs((date(candidate, month, min(day, 28)) - target).days)
        except ValueError:
            return 10**9
    return min((base - 100, base, base + 100), key=distance)


def _numeric_date(text: str, order: str, moment: datetime) -> date | None:
    """"01-21-25", "21.01.2025", "2025/01/21" in the platform's own order."""
    match = _NUMERIC.match(text)
    if not match:
        return None
    parts = match.groups()
    if order == "YMD" or len(parts[0]) == 4:
        year, month, day = parts
    elif order == "MDY":
        month, day, year = parts
    else:
        day, month, year = parts
    if len(year) not in (2, 4):
        return None
    try:
        return date(_full_year(year, int(month), int(day), moment), int(month), int(day))
    except ValueError:
        return None


def _has_month_name(text: str, languages: tuple[str, ...]) -> bool:
    names = _month_names(languages)
    return any(word.lower().rstrip(".,") in names for word in re.findall(r"[^\W\d_]+\.?", text))


def _named_month_date(text: str, languages: tuple[str, ...],
                      moment: datetime | None = None) -> date | None:
    match = _DAY_MONTH_YEAR.match(text)
    if match:
        day, month_name, year = match.groups()
    else:
        match = _MONTH_DAY_YEAR.match(text)
        if not match:
            return None
        month_name, day, year = match.groups()
    month = _month_names(languages).get(month_name.lower())
    if month is None:
        return None
    try:
        return date(_full_year(year, month, int(day), moment or datetime.now()), month, int(day))
    except ValueError:
        return None


# Relative and unreadable texts are read once per (text, style, capture time).
@functools.lru_cache(maxsize=4096)
def _parse_date(text: str, style: DateStyle, moment: datetime) -> ParsedDate:
    if not text:
        return ParsedDate(None)
    for fmt in style.formats:
        try:
            return ParsedDate(datetime.strptime(text, fmt).date())
        except ValueError:
            continue
    stamped = date_from_timestamp(text) if (_ISO_DATE.match(text) or _RFC822.match(text)) else None
    if stamped:
        return ParsedDate(stamped)
    numeric = _NUMERIC.match(text)
    if numeric and style.order is None:
        first, second, _ = (int(g) for g in numeric.groups())
        if len(numeric.group(1)) < 4 and first <= 12 and second <= 12 and first != second:
            return ParsedDate(None, "ambiguous")
    if numeric and style.order:
        value = _numeric_date(text, style.order, moment)
        return ParsedDate(value) if value else ParsedDate(None, "unparsed")
    named = _named_month_date(text, tuple(style.languages), moment)
    if named is not None:
        return ParsedDate(named)
    data = _date_parser(tuple(style.languages), style.order, moment).get_date_data(text)
    if data is None or data.date_obj is None:
        return ParsedDate(None, "unparsed")
    value = data.date_obj.date()
    year = _YEAR.search(text)
    if year and int(year.group(1)) == value.year:
        return ParsedDate(value)  # it prints its own year: absolute
    if _has_month_name(text, tuple(style.languages)):
        # An absolute date ("4 Mar", "Jan 21 '25"): a two-digit year gets its nearest century.
        short = re.search(r"(?<![\d:])'?(\d{2})$", text)
        if short and int(short.group(1)) == value.year % 100:
            value = value.replace(year=_full_year(short.group(1), value.month, value.day, moment))
        return ParsedDate(value)
    # A relative date ("I går", "yesterday", "3 days ago") moves with the base; an absolute
    # one does not. Re-reading against a base far away tells them apart without a word list
    # per language.
    shifted = moment - timedelta(days=400)
    other = _date_parser(tuple(style.languages), style.order, shifted).get_date_data(text)
    relative = other is None or other.date_obj is None or other.date_obj.date() != value
    return ParsedDate(value, "relative" if relative else None)


# ---------------------------------------------------------------------------------------------
# Durations

_HMS = re.compile(r"^\s*(?:(\d+):)?(\d{1,2}):(\d{2})(?:\.\d+)?\s*$")
_ISO_DURATION = re.compile(
    r"^\s*P(?:(\d+)D)?T?(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?\s*$", re.I
)
_NUMBER = re.compile(r"^\s*\d+(?:\.\d+)?\s*$")
# "Less than 1 minute" and its translations: a bucket [0, 60) s, not zero.
_LESS_THAN_A_MINUTE = re.compile(
    r"^\s*(less than|under|weniger als|moins d['’]?|menos de|meno di|minder dan|mindre enn|"
    r"mindre end|mindre än|alle)\s*(1|one|a|einer?|une|un|uno|én|ett|en|een)\s*"
    r"(minute|minuto|minuut|minutt|minuutti|min)|1\s*分未満",
    re.I,
)
_PART = re.compile(r"(\d+(?:[.,]\d+)?)\s*([^\W\d_]+\.?|時間|分|秒)", re.U)
_HOUR_UNITS = ("h", "hr", "hrs", "hour", "hours", "std", "stunde", "stunden", "t", "time",
               "timer", "timme", "timmar", "tunti", "tuntia", "uur", "u", "ora", "ore", "godz",
               "heure", "heures", "hora", "horas", "時間")
_MINUTE_UNITS = ("m", "min", "mins", "minute", "minutes", "minuten", "minutt", "minutter",
                 "minuter", "minuutti", "minuuttia", "minuto", "minutos", "minuti", "分")
_SECOND_UNITS = ("s", "sec", "secs", "second", "seconds", "sek", "sekunde", "sekunden",
                 "sekund", "sekunder", "seg", "segundo", "segundos", "secondi", "seconde",
                 "secondes", "sekuntia", "秒")


@dataclass(frozen=True)
class ParsedDuration:
    seconds: int | None
    # Granularity of the printed value in seconds: 1 for "01:02:03", 60 for "28 min".
    precision: int | None = None


def parse_duration(raw: str | int | float | None, *, unit: str = "s") -> ParsedDuration:
    """Seconds in any form platforms print: "1 h 0 min", "28 min", "1 hr and 2 mins",
    "Less than 1 minute" (the bucket's middle, 30 s at 60 s precision), "01:02:03",
    ISO 8601 "PT1H2M3S", plain seconds, or milliseconds with `unit="ms"`."""
    if raw is None or raw == "" or isinstance(raw, bool):
        return ParsedDuration(None)
    if not isinstance(raw, str | int | float):
        return ParsedDuration(None)
    if isinstance(raw, int | float) or _NUMBER.match(raw):
        try:
            value = float(raw)
        except OverflowError:
            return ParsedDuration(None)
        if unit == "ms":
            value /= 1000
        return ParsedDuration(_seconds(value), 1)
    text = " ".join(raw.split())
    match = _HMS.match(text)
    if match:
        hours, minutes, whole = (int(g) if g else 0 for g in match.groups())
        return ParsedDuration(_seconds(hours * 3600 + minutes * 60 + whole), 1)
    match = _ISO_DURATION.match(text)
    if match and any(match.groups()):
        d, h, m, s = (float(g) if g else 0.0 for g in match.groups())
        total = d * 86400 + h * 3600 + m * 60 + s
        seconds_total = _seconds(total)
        return ParsedDuration(seconds_total, (1 if match.group(4) else 60)
                              if seconds_total is not None else None)
    if _LESS_THAN_A_MINUTE.search(text):
        return ParsedDuration(30, 60)
    parts = _PART.findall(text)
    if not parts:
        return ParsedDuration(None)
    total = 0.0
    precision = 3600
    for number, word in parts:
        unit_word = word.lower().rstrip(".")
        value = float(number.replace(",", "."))
        if unit_word in _HOUR_UNITS:
            total += value * 3600
        elif unit_word in _MINUTE_UNITS:
            total += value * 60
            precision = min(precision, 60)
        elif unit_word in _SECOND_UNITS:
            total += value
            precision = 1
        else:
            return ParsedDuration(None)
    seconds_total = _seconds(total)
    return ParsedDuration(seconds_total, precision if seconds_total is not None else None)


#: Longer than any recording could be (a year): a misread, not a duration.
MAX_DURATION = 366 * 86400


def _seconds(value: float) -> int | None:
    """Whole seconds, or None for what no episode lasts (negative, NaN, infinite, > a year)."""
    if value != value or value in (float("inf"), float("-inf")) or not 0 <= value <= MAX_DURATION:
        return None
    return round(value)


# ---------------------------------------------------------------------------------------------
# Text

_BLOCK_TAGS = frozenset({
    "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table",
    "blockquote", "section", "article", "header", "footer", "pre", "hr", "dd", "dt",
})
_SKIP_TAGS = frozenset({"script", "style", "template", "noscript", "head"})
_TAG_HINT = re.compile(r"<\s*/?\s*[a-zA-Z][^>]*>")
# Expander labels and similar UI text that sit in the DOM next to descriptions.
UI_PHRASES = (
    "Show More Show Less", "Show more Show less", "Show More", "Show Less", "Read more",
    "Read less", "Vis mer", "Vis mindre", "Mehr anzeigen", "Weniger anzeigen", "Voir plus",
    "Ver más", "Lees meer",
)


def _collect_text(node, out: list[str]) -> None:
    for child in node.iter(include_text=True):
        tag = child.tag
        if tag == "-text":
            out.append(child.text_content or "")
        elif tag in _SKIP_TAGS or tag == "-comment":
            continue
        elif tag == "br":
            out.append("\n")
        else:
            block = tag in _BLOCK_TAGS
            if block:
                out.append("\n")
            _collect_text(child, out)
            if block:
                out.append("\n")


def as_text(value: object) -> str | None:
    """Whatever JSON or a page gave where text belongs, as text: a string as it is (lone
    surrogates replaced, so it can be stored as UTF-8), a finite number printed, anything else
    (a dict, a list, null, true) None."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "replace").decode("utf-8")
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value) if abs(value) < 10**30 else None
    if isinstance(value, float) and value == value and abs(value) != float("inf"):
        return repr(value)
    return None


def html_to_text(value: str | None) -> str | None:
    """Plain text of an HTML fragment, keeping block boundaries as line breaks (so
    "Tri Dao<br>https://arxiv.org/..." does not run together) and decoding entities."""
    value = as_text(value)
    if value is None:
        return None
    if not _TAG_HINT.search(value):
        return _tidy_whitespace(html.unescape(value))
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(f"<div>{value}</div>")
    root = tree.body or tree.root
    out: list[str] = []
    if root is not None:
        _collect_text(root, out)
    return _tidy_whitespace("".join(out))


def _tidy_whitespace(text: str) -> str:
    text = as_text(text) or ""  # html.unescape("&#xD800;") gives a lone surrogate
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " ")
    lines = [" ".join(line.split()) for line in text.split("\n")]
    joined = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", joined).strip()


def clean_text(value: str | None, *, ui_phrases: tuple[str, ...] = UI_PHRASES) -> str | None:
    """Markup, entities and UI words removed; whitespace tidied. None stays None."""
    value = as_text(value)
    if value is None:
        return None
    text = html_to_text(value) or ""
    for phrase in ui_phrases:
        if text.endswith(phrase):
            text = text[: -len(phrase)].rstrip()
    return text or None


def clean_title(value: str | None) -> str | None:
    value = as_text(value)
    if value is None:
        return None
    text = " ".join((as_text(html.unescape(_TAG_HINT.sub(" ", value))) or "").split())
    return text or None


_TRUNCATION_TAIL = re.compile(r"(\.\.\.|…|\[\.\.\.\]|\[…\])\s*$")


def strip_truncation_tail(text: str) -> str:
    """`text` without a trailing "...", "…" or "[...]"."""
    return _TRUNCATION_TAIL.sub("", text)


def looks_truncated(text: str | None) -> bool:
    """True when a description ends cut off ("...", "…", ", ..."). A description that is a
    strict prefix of another source's is flagged later, when sources are compared."""
    return bool(text and _TRUNCATION_TAIL.search(text))


def is_strict_prefix(shorter: str | None, longer: str | None, *, min_chars: int = 40) -> bool:
    """True when `shorter` (minus a trailing ellipsis) starts `longer` and is shorter."""
    if not shorter or not longer:
        return False
    stem = strip_truncation_tail(shorter).rstrip(" ,;:")
    squash_stem = " ".join(stem.split())
    squash_long = " ".join(longer.split())
    return (
        len(squash_stem) >= min_chars
        and len(squash_stem) < len(squash_long)
        and squash_long.startswith(squash_stem)
    )


# ---------------------------------------------------------------------------------------------
# Whole listings


def normalize_listing(listing: Listing, style: DateStyle, fetched_at: datetime) -> Listing:
    """Fill parsed values from raw ones and clean text, in place; returns the listing."""
    coerce_types(listing)
    if listing.show is not None:
        show = listing.show
        show.title = clean_title(show.title)
        show.author = clean_title(show.author)
        show.description = clean_text(show.description)
    for episode in listing.episodes:
        episode.title = clean_title(episode.title)
        if episode.published is None and episode.published_raw:
            parsed = parse_date(episode.published_raw, style, fetched_at)
            episode.published = parsed.value
            episode.published_flag = parsed.flag
        if episode.duration_seconds is None and episode.duration_raw:
            duration = parse_duration(episode.duration_raw)
            episode.duration_seconds = duration.seconds
            if episode.duration_precision is None:
                episode.duration_precision = duration.precision
            if duration.seconds is None:
                episode.duration_flag = "unparsed"
        elif episode.duration_seconds is not None and episode.duration_precision is None:
            episode.duration_precision = 1
        episode.description = clean_text(episode.description)
        if looks_truncated(episode.description):
            episode.description_truncated = True
    return listing


_EPISODE_TEXT = ("title", "published_raw", "duration_raw", "description", "url", "audio_url")
_SHOW_TEXT = ("title", "author", "description", "url", "image", "category")


def _count(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63:
        return value
    return None


def coerce_types(listing: Listing) -> None:
    """Whatever an adapter took from JSON or a page, as the types the archive stores: text
    fields as text (a number printed; a dict, list or null dropped), counts and durations as
    non-negative ints, dates as dates. An episode whose id is not text or a number cannot be
    kept apart from the others: the page fails as `layout`."""
    from scraper.errors import LayoutError

    show = listing.show
    if show is not None:
        for name in _SHOW_TEXT:
            setattr(show, name, as_text(getattr(show, name)))
        show.claimed_count = _count(show.claimed_count)
    for episode in listing.episodes:
        ident = as_text(episode.id)
        if not ident or not ident.strip():
            raise LayoutError(f"{listing.platform}: an episode without a usable id "
                              f"({type(episode.id).__name__}) at {listing.url}")
        episode.id = ident
        for name in _EPISODE_TEXT:
            setattr(episode, name, as_text(getattr(episode, name)))
        if not isinstance(episode.published, date) or isinstance(episode.published, datetime):
            episode.published = (episode.published.date()
                                 if isinstance(episode.published, datetime) else None)
        if not isinstance(episode.published_flag, str):
            episode.published_flag = None
        duration = _count(episode.duration_seconds)
        episode.duration_seconds = duration if duration is None or duration <= MAX_DURATION \
            else None
        if not isinstance(episode.extra, dict):
            episode.extra = {}
