"""What every platform adapter is: URL patterns, the URLs to fetch, and a parse.

An adapter knows its platform's URLs and markup and nothing else: it never sees SQL, HTTP
policy or the archive. It gets a `Capture` and returns a `Listing`; `scraper.normalize`
turns the raw text it found into typed values afterwards.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, ClassVar
from urllib.parse import SplitResult, parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from selectolax.lexbor import LexborHTMLParser, SelectolaxError

from scraper.errors import BlockedError, FetchError, LayoutError
from scraper.models import Capture, Listing, Request
from scraper.normalize import ENGLISH, DateStyle, as_text

#: A JSON value where text belongs, as text (a string, a finite number printed) or None (a
#: dict, a list, null, a bool): `scraper.normalize.as_text`, here beside the other readers.
text_value = as_text

# Query parameters that only track the visitor; dropped whenever a URL is stored.
TRACKING_PARAMS = re.compile(
    r"^(utm_.*|qid|sr|ref|ref_|pf_rd_.*|source_code|share_location|eac_.*|fbclid|gclid|"
    r"mc_cid|mc_eid|igshid|si|plc|crid|sprefix|keywords|ref_pageloadid|pageloadid|"
    r"creativeid)$",
    re.I,
)


def split_url(url: str) -> SplitResult:
    """`urlsplit`, but a link no parser can split (`http://[::1/`, a bad port) gives empty
    parts instead of a ValueError: pages hold whatever links their authors typed."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
        return parts
    except ValueError:
        return SplitResult("", "", "", "", "")


def join_url(base: str, href: str) -> str:
    """`urljoin`, but a link that cannot be resolved is kept as printed."""
    try:
        return urljoin(base, href)
    except ValueError:
        return href


def strip_tracking(url: str, *, keep: tuple[str, ...] = ()) -> str:
    """The URL without tracking query parameters and without a fragment (a link that
    cannot be split is kept as printed)."""
    parts = split_url(url)
    if not any(parts):
        return url
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k in keep or not TRACKING_PARAMS.match(k)
    ]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


# ---------------------------------------------------------------------------------------------
# Toolkit: readers every adapter uses instead of its own copy.


def parse_json(raw: str | bytes, **options: Any) -> Any:
    """`json.loads`, with JSON nested too deeply for Python's parser (a hostile
    `[[[[...` 100,000 deep) raised as the ValueError every other bad JSON raises."""
    try:
        return json.loads(raw, **options)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None

def text(node: Any) -> str | None:
    """A node's (or a string's) text with whitespace collapsed; None when empty."""
    if node is None:
        return None
    if isinstance(node, str):
        value = node
    elif hasattr(node, "text"):
        value = node.text(deep=True, separator=" ") or ""
    else:
        return None
    value = " ".join(value.split())
    return value or None


def drop(node: Any) -> None:
    """Remove `node` from its tree (a consent layer, a script); the document's root element
    (which a broken page can make of anything) stays, as lexbor refuses to remove it."""
    with contextlib.suppress(SelectolaxError):
        node.decompose()


def whole_number(value: Any, *, grouped: bool = False) -> int | None:
    """A JSON value or printed text as a whole number: an int as it is, a finite float
    truncated, decimal digits read (with `grouped`, "1,234" and "1.234" too); None for a
    bool, NaN, an infinity, a float beyond 2**63, "²" or anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value == value and abs(value) < 2**63 else None
    if isinstance(value, str):
        digits = value.strip()
        if grouped:
            digits = digits.replace(",", "").replace(".", "")
        return int(digits) if digits.isdecimal() and len(digits) < 30 else None
    return None


def _tree(page: Any) -> LexborHTMLParser:
    return LexborHTMLParser(page) if isinstance(page, str | bytes) else page


def meta(tree: Any, *names: str) -> str | None:
    """The first non-empty `<meta content>` whose name=, property= or itemprop= is one of
    `names`, tried in the order given."""
    tree = _tree(tree)
    for name in names:
        for attribute in ("property", "name", "itemprop"):
            for node in tree.css(f'meta[{attribute}="{name}"]'):
                value = text(node.attributes.get("content"))
                if value:
                    return value
    return None


def canonical_link(tree: Any) -> str | None:
    """`<link rel="canonical">`, else `og:url`."""
    tree = _tree(tree)
    for node in tree.css('link[rel~="canonical"]'):
        href = (node.attributes.get("href") or "").strip()
        if href:
            return href
    return meta(tree, "og:url")


def _types(item: dict[str, Any]) -> set[str]:
    kind = item.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return {k.rsplit("/", 1)[-1] for k in kinds if isinstance(k, str)}


def json_ld(tree: Any, *types: str) -> list[dict[str, Any]]:
    """Every JSON-LD object on the page (top-level lists and `@graph` flattened), keeping only
    those whose `@type` (a string or a list) is one of `types` when any are given. A broken
    block is skipped, not fatal."""
    tree = _tree(tree)
    found: list[dict[str, Any]] = []
    for script in tree.css('script[type="application/ld+json"]'):
        raw = (script.text() or "").strip().removeprefix("<!--").removesuffix("-->").strip()
        try:
            data = parse_json(raw, strict=False)
        except ValueError:
            continue
        stack = list(data) if isinstance(data, list) else [data]
        while stack:
            item = stack.pop(0)
            if not isinstance(item, dict):
                continue
            graph = item.get("@graph")
            if isinstance(graph, list):
                stack[:0] = graph
                if set(item) <= {"@context", "@graph", "@id"}:
                    continue
            found.append(item)
    if types:
        wanted = set(types)
        found = [item for item in found if _types(item) & wanted]
    return found


_NEXT_DATA = re.compile(
    r"<script[^>]*\bid=[\"']__NEXT_DATA__[\"'][^>]*>(.*?)</script>", re.S | re.I
)


def next_data(tree: Any) -> dict[str, Any] | None:
    """The Next.js Pages Router state (`<script id="__NEXT_DATA__">`), or None."""
    if isinstance(tree, str | bytes):
        html = tree.decode("utf-8", "replace") if isinstance(tree, bytes) else tree
        found = _NEXT_DATA.search(html)
        raw = found.group(1) if found else None
    else:
        node = tree.css_first("script#__NEXT_DATA__")
        raw = node.text() if node is not None else None
    if not raw:
        return None
    try:
        data = parse_json(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


# ---------------------------------------------------------------------------------------------
# Next.js App Router: the React Flight stream

_FLIGHT_PUSH = re.compile(r"self\.__next_f\.push\(\[\s*([13])\s*,\s*")
_HEX_ID = re.compile(rb"[0-9a-fA-F]+")
#: Row tags followed by `<hex byte length>,` and that many bytes (text and typed arrays).
_LENGTH_TAGS = frozenset(b"TAOoUSsLlGgMmVb")
_REF_ID = re.compile(r"[0-9a-fA-F]+")
#: Rows referring to rows referring to rows...: deeper than this is not a page's state.
MAX_REFERENCE_DEPTH = 200


def flight_stream(html: str) -> bytes | None:
    """The Flight stream an App Router page pushes inline, as bytes, or None. Every
    `self.__next_f.push([1,"..."])` is a JS string literal (a JSON string); the chunks split
    the stream anywhere, even inside a row or a surrogate pair. `[3,"<base64>"]` chunks are
    binary."""
    decoder = json.JSONDecoder()
    parts: list[bytes] = []
    pending = ""
    for push in _FLIGHT_PUSH.finditer(html):
        try:
            value, _ = decoder.raw_decode(html, push.end())
        except ValueError:
            continue
        if not isinstance(value, str):
            continue
        if push.group(1) == "3":
            parts.append(_utf8(pending))
            pending = ""
            try:
                parts.append(base64.b64decode(value))
            except ValueError:
                continue
        else:
            pending += value
    if not parts and not pending:
        return None
    parts.append(_utf8(pending))
    return b"".join(parts)


def _utf8(value: str) -> bytes:
    # A surrogate pair split across two chunks decodes as two lone halves; rejoin them.
    return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode("utf-8")


def flight_rows(stream: bytes) -> dict[str, Any]:
    """The raw rows of a Flight stream by id: JSON rows as parsed JSON, text rows as strings.
    Module (`I`), hint (`H`), error and debug rows are skipped."""
    rows: dict[str, Any] = {}
    pos, end = 0, len(stream)
    while pos < end:
        if stream[pos] in b"\r\n":
            pos += 1
            continue
        colon = stream.find(b":", pos)
        if colon < 0:
            break
        ident = stream[pos:colon]
        if not _HEX_ID.fullmatch(ident):
            newline = stream.find(b"\n", pos)
            pos = end if newline < 0 else newline + 1
            continue
        key = ident.decode().lower().lstrip("0") or "0"
        tag = stream[colon + 1] if colon + 1 < end else None
        if tag is not None and tag in _LENGTH_TAGS:
            comma = stream.find(b",", colon + 2)
            try:
                length = int(stream[colon + 2:comma], 16) if comma > 0 else -1
            except ValueError:
                length = -1
            if length < 0:  # not a length row after all: skip the line
                newline = stream.find(b"\n", colon)
                pos = end if newline < 0 else newline + 1
                continue
            body = stream[comma + 1:comma + 1 + length]
            if tag == ord("T"):
                rows.setdefault(key, body.decode("utf-8", "replace"))
            pos = comma + 1 + length
            continue
        newline = stream.find(b"\n", colon)
        line_end = end if newline < 0 else newline
        pos = line_end + 1
        if tag is None or (65 <= tag <= 90 and tag != ord("T")):
            continue  # I[...] modules, HL[...] hints, E errors, D debug, W console...
        try:
            rows.setdefault(key, parse_json(stream[colon + 1:line_end]))
        except ValueError:
            continue
    return rows


def next_flight(html: str) -> dict[str, Any]:
    """The rows of an App Router page's Flight stream by (lower-case hex) id, references
    resolved: `"$<id>"` (also `$L` lazy elements, `$@` promises, `$Q`/`$W` maps and sets)
    becomes that row's value, `"$<id>:a:b"` a path into it, `"$$x"` the string `"$x"`,
    `"$undefined"` None, `"$D<iso>"` the ISO string, `"$n<digits>"` an int. A reference
    back into a row being resolved (a cycle) becomes None. Empty when the page has none."""
    stream = flight_stream(html)
    if stream is None:
        return {}
    raw = flight_rows(stream)
    done: dict[str, Any] = {}
    active: set[str] = set()

    def row(key: str) -> Any:
        key = key.lower().lstrip("0") or "0"
        if key in done:
            return done[key]
        if key not in raw or key in active or len(active) > MAX_REFERENCE_DEPTH:
            return None  # unknown, a cycle, or a chain of references no page has
        active.add(key)
        value = resolve(raw[key])
        active.discard(key)
        done[key] = value
        return value

    def reference(value: str) -> Any:
        if value == "$":
            return value
        if value.startswith("$$"):
            return value[1:]
        if value == "$undefined":
            return None
        if value.startswith("$D"):
            return value[2:]
        if value.startswith("$n") and value[2:].lstrip("-").isdecimal():
            return int(value[2:])
        if value in ("$NaN", "$Infinity", "$-Infinity", "$-0"):
            return float(value[1:].replace("Infinity", "inf"))
        body = value[1:]
        if body[:1] in ("L", "@", "Q", "W"):
            body = body[1:]
        ident, *path = body.split(":")
        if not _REF_ID.fullmatch(ident):
            return value  # "$S..." symbols, "$F" server references...: kept as written
        target = row(ident)
        for step in path:
            if isinstance(target, dict):
                target = target.get(step)
            elif isinstance(target, list) and step.isdecimal() and int(step) < len(target):
                target = target[int(step)]
            else:
                return None
        return target

    def resolve(value: Any) -> Any:
        if isinstance(value, str):
            return reference(value) if value.startswith("$") else value
        if isinstance(value, list):
            return [resolve(item) for item in value]
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        return value

    try:
        for key in raw:
            row(key)
    except RecursionError:  # values nested deeper than any page's state
        return {}
    return done


def nuxt_state(html: str) -> Any | None:
    """A Nuxt page's state without running JavaScript: Nuxt 3's `__NUXT_DATA__` (devalue's
    flattened array, index references revived) or Nuxt 2's `window.__NUXT__` (a literal or
    devalue's `(function(a,b,…){…return {…}}(…))`, names bound to the arguments). None when
    the page has none or it is in a form the reader does not know. The reader itself lives
    in adapters/nuxt.py."""
    from adapters._nuxt import nuxt_state as read

    return read(html)


@dataclass(frozen=True)
class StateFound:
    """One embedded state a page carries, as `scraper inspect` reports it."""

    kind: str  # "flight", "next_data", "nuxt3", "nuxt2", "json_ld", or an adapter's own
    where: str  # how the page carries it
    detail: str  # what is in it, in a few words


def _keys(value: Any, limit: int = 8) -> str:
    if not isinstance(value, dict):
        return type(value).__name__
    names = [str(k) for k in list(value)[:limit]]
    return ", ".join(names) + (", ..." if len(value) > limit else "")


def survey_state(html: str) -> list[StateFound]:
    """Every kind of embedded state the toolkit can read on the page, each read by the
    same reader an adapter uses (so what `inspect` says is what a parse sees)."""
    from adapters._nuxt import nuxt_state_with_kind

    found: list[StateFound] = []
    rows = next_flight(html)
    if rows:
        found.append(StateFound("flight", "self.__next_f.push (Next.js App Router Flight)",
                                f"{len(rows)} rows"))
    data = next_data(html)
    if data is not None:
        found.append(StateFound("next_data", '<script id="__NEXT_DATA__"> (Next.js Pages '
                                "Router)", "props.pageProps: " + _keys(
                                    dig(data, "props", "pageProps"))))
    kind, state = nuxt_state_with_kind(html)
    if kind == "nuxt3":
        found.append(StateFound("nuxt3", '<script id="__NUXT_DATA__"> (Nuxt 3, devalue)',
                                _keys(state)))
    elif kind == "nuxt2":
        found.append(StateFound("nuxt2", "window.__NUXT__= (Nuxt 2, devalue)", _keys(state)))
    ld = json_ld(html)
    if ld:
        kinds = sorted({k for item in ld for k in _types(item)}) or ["(untyped)"]
        found.append(StateFound("json_ld", '<script type="application/ld+json">',
                                ", ".join(kinds)))
    return found


#: The state kinds `survey_state` knows, in the order `inspect` lists them.
STATE_KINDS = {"flight": "Next.js App Router Flight", "next_data": "Next.js __NEXT_DATA__",
               "nuxt3": "Nuxt 3 __NUXT_DATA__", "nuxt2": "Nuxt 2 window.__NUXT__",
               "json_ld": "JSON-LD"}


# ---------------------------------------------------------------------------------------------
# Embedded state in general


def find_objects(state: Any, keys: Iterable[str]) -> Iterator[dict[str, Any]]:
    """Every dict inside `state` (any embedded state: JSON, Flight rows, Nuxt) that has all
    of `keys`, in document order; each shared object once."""
    wanted = set(keys)
    seen: set[int] = set()
    stack: list[Any] = [state]
    while stack:
        value = stack.pop()
        if isinstance(value, dict | list):
            if id(value) in seen:
                continue
            seen.add(id(value))
        if isinstance(value, dict):
            if wanted <= value.keys():
                yield value
            stack.extend(reversed(list(value.values())))
        elif isinstance(value, list):
            stack.extend(reversed(value))


def dig(value: Any, *path: str | int) -> Any:
    """`value[path[0]][path[1]]...`, or None where a step is missing."""
    for step in path:
        if isinstance(value, dict):
            value = value.get(step)
        elif isinstance(value, list) and isinstance(step, int) and -len(value) <= step < len(value):
            value = value[step]
        else:
            return None
    return value


# ---------------------------------------------------------------------------------------------
# Printed counts

#: "N episodes" in the languages the platforms print.
COUNT_WORDS: tuple[str, ...] = (
    "episodes", "episode", "Episoden", "Episode", "Folgen", "Folge", "Episoder", "episoder",
    "avsnitt", "afleveringen", "jaksoa", "jaksot", "épisodes", "épisode", "episodi",
    "episodios", "episodio", "episódios", "episódio", "odcinków", "odcinki", "odcinka",
)


@lru_cache(maxsize=64)
def _count_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))
    number = r"\d{1,3}(?:[.,\u00a0\u202f ]\d{3})+|\d+"
    return re.compile(rf"(?<![\w.,])({number})\s*(?:{alternatives})(?!\w)", re.I)


def count_from_text(value: str | None, words: Iterable[str] = COUNT_WORDS) -> int | None:
    """The number printed before a count word ("52 episodes", "55 Episoder", "1.234
    episodes", "451 Folgen"), or None."""
    if not value:
        return None
    found = _count_pattern(tuple(words)).search(value)
    return int(re.sub(r"\D", "", found.group(1))) if found else None


def only_count_in_text(value: str | None, words: Iterable[str] = COUNT_WORDS
                       ) -> tuple[int, str] | None:
    """The count printed in a whole page's text, with its printed form, when the page prints
    one number of episodes (however often); None when it prints none or several, since
    "More like this: 80 episodes" beside the show's own count is another show's."""
    if not value:
        return None
    found = {int(re.sub(r"\D", "", m.group(1))): m.group(0)
             for m in _count_pattern(tuple(words)).finditer(value)}
    return next(iter(found.items())) if len(found) == 1 else None


def count_text(value: str | None, words: Iterable[str] = COUNT_WORDS) -> str | None:
    """The printed count itself ("458 episodes") in `value`, or None."""
    if not value:
        return None
    found = _count_pattern(tuple(words)).search(value)
    return found.group(0) if found else None


# Cloudflare sits in front of several platforms (Podimo, Podtail; a CDN change elsewhere).

_CF_TITLE = re.compile(
    r"<title>\s*(?:Just a moment\.\.\.|Attention Required! \| Cloudflare|"
    r"Checking your browser before accessing)",
    re.I,
)
# Only the challenge itself: ordinary pages behind Cloudflare also load
# /cdn-cgi/challenge-platform/scripts/jsd/main.js, which must not count.
_CF_CHALLENGE_MARKERS = ("window._cf_chl_opt", "/cdn-cgi/challenge-platform/h/", "cf-chl-widget",
                         "challenge-error-text")


def _header(capture: Capture, name: str) -> str:
    for key, value in capture.headers.items():
        if key.lower() == name:
            return value
    return ""


def cloudflare_challenge(capture: Capture) -> str | None:
    """Why `capture` is a Cloudflare challenge rather than the page, or None.

    Recognised by the markup (so a browser-rendered challenge is caught too): the
    "Just a moment..." title, the challenge script (`_cf_chl_opt`, the
    `/cdn-cgi/challenge-platform/h/...` orchestrator); or by `cf-mitigated: challenge`.
    On a 403/503 any `challenge-platform` or `cf-chl` trace is enough."""
    if _header(capture, "cf-mitigated").strip().lower() == "challenge":
        return "Cloudflare challenge (cf-mitigated: challenge)"
    head = capture.body[:300_000].decode("utf-8", errors="replace")
    if _CF_TITLE.search(head):
        return "Cloudflare challenge page ('Just a moment...')"
    if any(marker in head for marker in _CF_CHALLENGE_MARKERS):
        return "Cloudflare challenge page (cf-chl challenge script)"
    if capture.status in (403, 503) and ("challenge-platform" in head or "cf-chl" in head):
        return f"Cloudflare challenge (HTTP {capture.status})"
    return None


@dataclass(frozen=True)
class BlockMarker:
    """A page that is not the page asked for (captcha, bot wall, consent-only, region wall),
    recognised by a literal string or a regex in the first 300 kB of the body. `what` may use
    `{status}` and `{host}`; `min_status` limits it to error answers; `unless` is a string
    whose presence means the real page is there after all."""

    marker: str | re.Pattern[str]
    what: str
    min_status: int = 0
    unless: str | None = None

    def found(self, capture: Capture, head: str) -> str | None:
        if capture.status < self.min_status or (self.unless and self.unless in head):
            return None
        hit = (self.marker.search(head) if isinstance(self.marker, re.Pattern)
               else self.marker in head)
        if not hit:
            return None
        return self.what.format(status=capture.status, host=urlsplit(capture.url).netloc)


#: Where a show page's facts are read, most stable signal first.
SIGNALS = ("canonical", "meta", "json_ld", "state", "text", "url")


@dataclass(frozen=True)
class Fact:
    """One fact a show page must (or may) yield, and where each signal holds it.

    canonical / url: a regex on the canonical link (or og:url) / the page URL, group 1 (or
    the group named after the fact); meta: meta names tried in order; json_ld: (@type, key);
    state: a key path into the embedded state, found anywhere in it (`("broadcast", "id")`);
    selector: a CSS selector whose visible text holds it (counts: read with the count words;
    without a selector the page text is searched); clean: a regex removed from values
    (a site suffix on titles)."""

    name: str
    required: bool = True
    canonical: re.Pattern[str] | None = None
    meta: tuple[str, ...] = ()
    json_ld: tuple[str, str] | None = None
    state: tuple[str, ...] = ()
    selector: str | None = None
    url: re.Pattern[str] | None = None
    clean: re.Pattern[str] | None = None
    #: "count" facts are integers read from printed text ("52 episodes").
    count: bool = False


@dataclass
class PageFacts:
    """What a show page yielded: fact -> value, and for each the signal it came from."""

    values: dict[str, Any] = field(default_factory=dict)
    signals: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    #: The printed text a count was read from ("458 episodes"), for `inspect`.
    printed: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> Any:
        return self.values.get(name)


def layout_drift(what: str, tried: Iterable[str], *, outcome: str = "the list came from the API"
                 ) -> str:
    """The warning recorded when the page changed but the listing is still complete."""
    return f"layout_drift: {what} (tried: {', '.join(tried)}); {outcome}"


class Adapter:
    """Base class. Subclasses set `name` and `url_patterns` and implement `parse`."""

    #: Platform name (a contract: rss, audible, radionet, castbox, podimo, podtail).
    name: ClassVar[str] = ""
    #: Regexes (searched in the full URL) that identify this platform's pages: strings
    #: (compiled once with `url_flags`) or compiled patterns (their own flags kept).
    url_patterns: ClassVar[tuple[str | re.Pattern[str], ...]] = ()
    url_flags: ClassVar[int] = re.I
    #: `url_patterns` compiled, once per class.
    url_regexes: ClassVar[tuple[re.Pattern[str], ...]] = ()
    #: Date language/order per site key (`date_style_key`); "" is the default.
    date_styles: ClassVar[Mapping[str, DateStyle]] = {}
    #: Pages that are not the page asked for, recognised by `check_response`.
    block_markers: ClassVar[tuple[BlockMarker, ...]] = ()
    #: Words printed after an episode count ("52 episodes", "55 Episoder").
    count_words: ClassVar[tuple[str, ...]] = COUNT_WORDS
    #: The facts a show page must yield, read by `read_facts` in the order of `SIGNALS`.
    page_facts: ClassVar[tuple[Fact, ...]] = ()
    #: "http" or "browser": how this platform's pages are fetched unless a source says.
    fetch_mode: ClassVar[str] = "http"
    #: A hard cap on pages fetched for one source in one run (runaway pagination guard).
    max_pages: ClassVar[int] = 500
    #: CSS selector the browser fetcher waits for before handing over the rendered page.
    browser_wait_for: ClassVar[str | None] = None
    #: CSS selector of a "next page" / "load more" control the browser clicks, if any.
    browser_next: ClassVar[str | None] = None
    #: True where the platform's bot wall answers plain clients with a bare 403.
    forbidden_is_bot_wall: ClassVar[bool] = False
    #: When a list (set by `scraper inspect`), every `read_facts` result is appended to it:
    #: the hook through which inspect sees what the page-facts reader found.
    facts_seen: list[PageFacts] | None = None
    #: The platform's name for people ("Apple Podcasts"); defaults to `name`.
    label: ClassVar[str] = ""
    #: The adapter's row of README's platform table: (pages, what it can see, what it cannot).
    doc_row: ClassVar[tuple[str, str, str] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "url_patterns" in cls.__dict__ or not cls.url_regexes:
            cls.url_regexes = tuple(
                p if isinstance(p, re.Pattern) else re.compile(p, cls.url_flags)
                for p in cls.url_patterns
            )

    @classmethod
    def suitable(cls, url: str) -> bool:
        return any(pattern.search(url) for pattern in cls.url_regexes)

    def canonical_url(self, url: str) -> str:
        """The URL as stored: tracking parameters and fragments removed."""
        return strip_tracking(url)

    def start_urls(self, url: str) -> list[str]:
        """URLs to fetch first for a source. Further pages come from `Listing.next`."""
        return [self.canonical_url(url)]

    def optional_page(self, url: str) -> bool:
        """True for a page that only enriches the listing (Apple's show page beside its API):
        when it cannot be fetched or read, the source still succeeds, with a warning."""
        return False

    def date_style_key(self, url: str) -> str:
        """The key into `date_styles` for the page at `url` (its storefront, site or
        region); "" when the platform prints one style everywhere."""
        return ""

    def date_style(self, url: str) -> DateStyle:
        """The date language/order of the page at `url` (per storefront or region)."""
        styles = self.date_styles
        return styles.get(self.date_style_key(url)) or styles.get("") or ENGLISH

    def check_response(self, capture: Capture) -> None:
        """Called before `parse`. Raise `BlockedError` for captcha / bot-wall / consent /
        region pages (override to recognise the platform's own, then call this), and
        `FetchError` for other error statuses. This recognises the declared
        `block_markers`, then a Cloudflare challenge."""
        head = capture.body[:300_000].decode("utf-8", errors="replace")
        for marker in self.block_markers:
            found = marker.found(capture, head)
            if found:
                raise self.blocked_error(capture, found)
        reason = cloudflare_challenge(capture)
        if reason:
            raise self.blocked_error(
                capture, f'{reason} instead of the page; fetch it through a browser '
                         f'(fetch = "browser")')
        if capture.status == 403 and self.forbidden_is_bot_wall:
            raise self.blocked_error(
                capture, f"HTTP 403 ({self.name}'s bot wall answers plain clients with 403); "
                         f'fetch it through a browser (fetch = "browser")')
        if capture.status >= 400:
            raise FetchError(
                f"{self.name}: HTTP {capture.status} for {capture.url}",
                url=capture.url,
                status=capture.status,
            )

    def parse(self, capture: Capture) -> Listing:  # pragma: no cover - abstract
        """Read one capture. Raise `LayoutError` when required parts are missing (never
        return an empty listing for a page that should have episodes)."""
        raise NotImplementedError

    # Helpers shared by adapters -------------------------------------------------------------

    def read_facts(self, capture: Capture, tree: Any = None, state: Any = None) -> PageFacts:
        """Read `page_facts` from a show page, each from the most stable signal that has it
        (`SIGNALS`: canonical link, og:/meta, JSON-LD, embedded state, visible text, URL)."""
        tree = tree if tree is not None else LexborHTMLParser(capture.text)
        facts = PageFacts()
        canonical = canonical_link(tree)
        ld_items: list[dict[str, Any]] | None = None
        page_text: str | None = None
        for fact in self.page_facts:
            for signal in SIGNALS:
                value: Any = None
                if signal == "canonical" and fact.canonical and canonical:
                    value = _group(fact.canonical.search(canonical), fact.name)
                elif signal == "meta" and fact.meta:
                    value = meta(tree, *fact.meta)
                    if value and fact.count:
                        value = count_from_text(value, self.count_words)
                    elif value and fact.canonical and fact.name != "title":
                        value = _group(fact.canonical.search(value), fact.name)
                elif signal == "json_ld" and fact.json_ld:
                    if ld_items is None:
                        ld_items = json_ld(tree)
                    kind, key = fact.json_ld
                    for item in ld_items:
                        if kind in _types(item) and item.get(key) not in (None, ""):
                            value = item[key]
                            break
                elif signal == "state" and fact.state and state is not None:
                    for holder in find_objects(state, {fact.state[0]}):
                        value = dig(holder, *fact.state)
                        if value not in (None, ""):
                            break
                elif signal == "text" and (fact.selector or fact.count):
                    node_text = text(tree.css_first(fact.selector)) if fact.selector else None
                    value = (count_from_text(node_text, self.count_words) if fact.count
                             else node_text)
                    if fact.count and value is not None:
                        facts.printed[fact.name] = count_text(node_text, self.count_words) or ""
                    if value is None and fact.count:  # the count's hook renamed: the text
                        if page_text is None:
                            page_text = text(tree.body) or ""
                        only = only_count_in_text(page_text, self.count_words)
                        if only is not None:
                            value, facts.printed[fact.name] = only
                elif signal == "url" and fact.url:
                    value = _group(fact.url.search(capture.url), fact.name)
                if fact.count and isinstance(value, str):
                    value = int(value) if value.isdecimal() else count_from_text(
                        value, self.count_words)
                if isinstance(value, str):
                    value = text(fact.clean.sub("", value) if fact.clean else value)
                if value is not None and not isinstance(value, dict | list | bool):
                    facts.values[fact.name] = value
                    facts.signals[fact.name] = signal
                    break
            else:
                if fact.required:
                    facts.missing.append(fact.name)
        if self.facts_seen is not None:
            self.facts_seen.append(facts)
        return facts

    @classmethod
    def facts_doc(cls) -> str:
        """The page facts as one line each (for docstrings, `inspect` and the README)."""
        lines = []
        for fact in cls.page_facts:
            where = [s for s in SIGNALS if _fact_has(fact, s)]
            need = "required" if fact.required else "optional"
            lines.append(f"{fact.name} ({need}): {' > '.join(where)}")
        return "\n".join(lines)

    def layout_error(self, capture: Capture, what: str) -> LayoutError:
        return LayoutError(f"{self.name}: {what} at {capture.url} (has the page layout changed?)")

    def blocked_error(self, capture: Capture, what: str) -> BlockedError:
        return BlockedError(f"{self.name}: {what} at {capture.url}")

    def own_states(self, html: str) -> list[StateFound]:
        """Embedded state this platform carries beyond what `survey_state` knows (Castbox's
        `window.__INITIAL_STATE__`), for `scraper inspect`."""
        return []

    def older_forms(self, request: str | Request) -> list[str | Request]:
        """Earlier forms of the same request (a GET this adapter used to send where it now
        sends a POST), so `scraper reparse` still finds captures stored before the change."""
        return []


def _group(match: re.Match[str] | None, name: str) -> str | None:
    if match is None:
        return None
    if name in match.re.groupindex:
        return match.group(name)
    return match.group(1) if match.re.groups else match.group(0)


def _fact_has(fact: Fact, signal: str) -> bool:
    return {
        "canonical": fact.canonical is not None,
        "meta": bool(fact.meta),
        "json_ld": fact.json_ld is not None,
        "state": bool(fact.state),
        "text": bool(fact.selector) or fact.count,
        "url": fact.url is not None,
    }[signal]
