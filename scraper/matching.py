"""Matching platform episodes into clusters of one real episode each (no database here).

Candidates come from three indexes (normalised title, publish date +-2 days, shared link
keys such as arXiv ids); rapidfuzz scores only those, never all pairs. The rules and their
scores are listed in `scraper.reconcile`'s docstring.
"""

from __future__ import annotations

import functools
import heapq
import html
import json
import re
import sys
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from rapidfuzz import fuzz, process

from scraper.normalize import strip_truncation_tail

PUBLISHER = "rss"
# Days two absolute dates may differ and still be "the same" (time zones); relative dates
# ("I går", "2 days ago") were resolved against a capture time and get more slack.
DATE_TOLERANCE = 1
RELATIVE_DATE_TOLERANCE = 2
UNUSABLE_DATE_FLAGS = frozenset({"unparsed", "ambiguous"})
# A link key or description word seen in more of one source's episodes than this is
# boilerplate (show site, socials, the template every description starts with).
MAX_KEY_PER_SOURCE = 2
# Description evidence: a cut text must keep this much to count as a prefix; word overlap
# needs this many distinctive words in common, read from this much of the opening.
MIN_PREFIX_CHARS = 80
MIN_SHARED_WORDS = 5
DESCRIPTION_WINDOW = 800

_TITLE_PREFIX = re.compile(
    r"^(?:(?:episode|episodio|épisode|folge|afsnit|avsnitt|aflevering|eps?)\.?\s*#?\s*\d*"
    r"|#\s*\d+|e\d+)\s*[:\-–—|.]\s+",
    re.IGNORECASE,
)
_TAGS = re.compile(r"<[^>]+>")
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
_DIGITS = re.compile(r"\d+")
_ARXIV = re.compile(r"(?<![\d.])(\d{4}\.\d{4,5})(?:v\d+)?(?![\d])")
_DOI = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>]+)", re.IGNORECASE)
_URL = re.compile(r"https?://[^\s<>\"')\]]+", re.IGNORECASE)


def _fold(text: str) -> str:
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


@functools.lru_cache(maxsize=1 << 16)  # the same titles recur across platforms
def normalize_title(title: str | None) -> str:
    """Matching key of a title: entities decoded, "Episode: " / "Ep. 12:" / "#12 -" prefixes
    and a trailing ellipsis removed, accents and case folded, punctuation to spaces."""
    if not title:
        return ""
    text = html.unescape(_TAGS.sub(" ", html.unescape(title))).strip()
    for _ in range(2):  # "Episode: Ep. 4: ..." happens
        text = _TITLE_PREFIX.sub("", text, count=1)
    text = strip_truncation_tail(text)
    return " ".join(_NON_WORD.sub(" ", _fold(text)).split())


def squash(text: str | None) -> str:
    """Whitespace collapsed, case folded, trailing ellipsis removed: for description overlap."""
    if not text:
        return ""
    return " ".join(strip_truncation_tail(text).split()).rstrip(" ,;:").casefold()


def _normal_url(url: str) -> str | None:
    url = url.rstrip(".,;:!?")
    match = re.match(r"https?://(?:www\.)?([^/?#]+)([^?#]*)", url, re.IGNORECASE)
    if not match:
        return None
    host, path = match.group(1).lower(), match.group(2).rstrip("/")
    return f"url:{host}{path}"


def link_keys(description: str | None, links: Iterable[str] = ()) -> set[str]:
    """Evidence keys found in a description and its links: `arxiv:2512.21323` (version
    dropped), `doi:...`, and `url:host/path` (scheme, www, query and fragment dropped)."""
    keys: set[str] = set()
    texts = [description or "", *links]
    for text in texts:
        keys.update(f"arxiv:{m}" for m in _ARXIV.findall(text))
        if "10." in text:
            keys.update(f"doi:{m.rstrip('.,;').lower()}" for m in _DOI.findall(text))
        if "http" not in text:
            continue
        for url in _URL.findall(text):
            normal = _normal_url(url)
            if normal and "arxiv.org" not in normal:  # arXiv URLs are covered by their id
                keys.add(normal)
    return keys


def platform_rank(platform: str) -> tuple[int, str]:
    """The fixed processing and preference order: publisher feed first, then by name."""
    return (0 if platform == PUBLISHER else 1, platform)


# ---------------------------------------------------------------------------------------------
# In-memory model


@dataclass(eq=False)
class Item:
    """The matching features of one platform episode."""

    id: int
    source_id: int
    podcast_id: int
    platform: str
    episode_id: str
    title: str | None
    tkey: str
    published: date | None
    flag: str | None
    duration: int | None
    precision: int | None
    description: str | None
    desc_key: str
    # Distinctive words of the description's opening (boilerplate removed per source).
    words: frozenset[str]
    truncated: bool
    keys: set[str]
    guid: str | None
    url: str | None
    first_seen_at: str | None
    order: tuple[Any, ...]

    @property
    def distinctive(self) -> bool:
        # "Trailer" or "Q&A" alone proves nothing; a real sentence of a title does.
        return len(self.tkey) >= 15 and len(self.tkey.split()) >= 3

    @property
    def tolerance(self) -> int:
        return RELATIVE_DATE_TOLERANCE if self.flag == "relative" else DATE_TOLERANCE

    @property
    def usable_date(self) -> date | None:
        return None if self.flag in UNUSABLE_DATE_FLAGS else self.published

    @property
    def ref(self) -> str:
        return f"{self.platform}:{self.id}"


@dataclass(eq=False)
class Cluster:
    """One canonical episode and the platform episodes linked to it."""

    id: int
    podcast_id: int
    key: str
    members: list[Item] = field(default_factory=list)
    links: dict[int, tuple[float, str]] = field(default_factory=dict)

    def sources(self) -> set[int]:
        return {m.source_id for m in self.members}


_WORD = re.compile(r"\w{3,}")


def raw_keys(description: str | None, extra: Any) -> set[str]:
    """Link keys of a description and the `links` in a row's `extra`, boilerplate kept."""
    links = (_json(extra) or {}).get("links") or []
    return link_keys(description, [str(u) for u in links if u])


def opening_words(description: str | None) -> tuple[str, ...]:
    """The distinct words of a description's opening, boilerplate kept (see reconcile's
    boilerplate). Small and shared: a cold reconcile holds every row's words at once, and
    the same words open the same episode on every platform (so they are interned)."""
    words = _WORD.findall(squash(description)[:DESCRIPTION_WINDOW])
    return tuple(dict.fromkeys(map(sys.intern, words)))


def item_from_row(row: dict[str, Any]) -> Item:
    extra = _json(row.get("extra")) or {}
    description = row.get("description")
    return Item(
        id=row["id"],
        source_id=row["source_id"],
        podcast_id=row["podcast_id"],
        platform=row["platform"],
        episode_id=row["episode_id"],
        title=row.get("title"),
        tkey=normalize_title(row.get("title")),
        published=_date(row.get("published")),
        flag=row.get("published_flag"),
        duration=row.get("duration_seconds"),
        precision=row.get("duration_precision") or extra.get("duration_precision"),
        description=description,
        desc_key=squash(description),
        words=frozenset(),
        truncated=bool(row.get("description_truncated")),
        keys=raw_keys(description, extra),
        guid=extra.get("guid"),
        url=row.get("url"),
        first_seen_at=row.get("first_seen_at"),
        order=(),
    )


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


def _json(value: Any) -> Any:
    if not value:
        return None
    if isinstance(value, dict | list):
        return value
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------
# Evidence between one platform episode and a candidate canonical episode


def _title_similarity(a: str, b: str) -> float:
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    short, long_ = sorted((a, b), key=len)
    if len(short) >= 25 and long_.startswith(short):  # a platform cut the title
        return 0.95
    return fuzz.token_sort_ratio(a, b) / 100


@functools.lru_cache(maxsize=1 << 16)
def _numbers(tkey: str) -> frozenset[str]:
    return frozenset(_DIGITS.findall(tkey))


def _numbers_agree(a: str, b: str) -> bool:
    # "Part 1" vs "Part 2", "GPT-4" vs "GPT-5", "X" vs "X (Part 2)": similar strings,
    # different episodes.
    return _numbers(a) == _numbers(b)


def _desc_similarity(a: Item, b: Item) -> float:
    """1.0 when one text is the other cut short; otherwise the overlap of their
    distinctive words (a show's template text says nothing about which episode it is)."""
    x, y = a.desc_key, b.desc_key
    if not x or not y:
        return 0.0
    short, long_ = sorted((x, y), key=len)
    if len(short) >= MIN_PREFIX_CHARS and long_.startswith(short):
        return 1.0
    shared = len(a.words & b.words)
    if shared < MIN_SHARED_WORDS:
        return 0.0
    return shared / min(len(a.words), len(b.words))


def _jaccard(a: set[str], b: set[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


@dataclass
class Evidence:
    exact: bool
    title: float
    date_known: bool
    date_ok: bool
    gap: int
    links: float
    arxiv: bool
    duration_agree: bool
    duration_clash: bool
    numbers: bool


def _evidence(item: Item, others: list[Item]) -> Evidence:
    tkeys = {o.tkey for o in others if o.tkey}
    exact = bool(item.tkey) and item.tkey in tkeys
    title = 1.0 if exact else max((_title_similarity(item.tkey, k) for k in tkeys), default=0.0)
    date_known, date_ok, gap = False, False, 10**6
    if item.usable_date:
        for other in others:
            if other.usable_date:
                date_known = True
                days = abs((item.usable_date - other.usable_date).days)
                gap = min(gap, days)
                date_ok = date_ok or days <= max(item.tolerance, other.tolerance)
    keys = set().union(*(o.keys for o in others)) if others else set()
    agree = clash = False
    if item.duration:
        for other in others:
            if not other.duration:
                continue
            diff = abs(item.duration - other.duration)
            if item.precision == 1 and other.precision == 1 and diff <= 1:
                agree = True
            # Ads and intros move durations a little; a different episode moves them a lot.
            if diff > max(120, 0.15 * max(item.duration, other.duration)):
                clash = True
    shared = item.keys & keys
    return Evidence(
        exact=exact,
        title=title,
        date_known=date_known,
        date_ok=date_ok,
        gap=gap,
        links=_jaccard(item.keys, keys),
        arxiv=any(k.startswith("arxiv:") for k in shared),
        duration_agree=agree,
        duration_clash=clash and not agree,
        numbers=all(_numbers_agree(item.tkey, k) for k in tkeys) if tkeys else True,
    )


def _exact_and_dated(item: Item, others: list[Item]) -> bool:
    day = item.usable_date
    if not item.tkey or day is None:
        return False
    return any(
        o.tkey == item.tkey
        and o.usable_date is not None
        and abs((day - o.usable_date).days) <= max(item.tolerance, o.tolerance)
        for o in others
    )


def _match(item: Item, cluster: Cluster) -> tuple[float, str] | None:
    """Score (0-1) and rule linking `item` to a canonical episode no member of its source is in."""
    if item.guid and any(m.guid == item.guid for m in cluster.members):
        return 1.0, "same-guid"
    if _exact_and_dated(item, cluster.members):  # the common case, without the rest
        return 1.0, "exact-title+date"
    ev = _evidence(item, cluster.members)
    if ev.exact and ev.date_ok:
        return 1.0, "exact-title+date"
    if ev.exact and not ev.date_known and item.distinctive:
        return 0.9, "exact-title"
    fuzzy_ok = ev.date_ok and ev.numbers and not ev.duration_clash
    if fuzzy_ok and ev.title >= 0.9:
        return round(ev.title * 0.95, 3), "fuzzy-title+date"
    desc = max((_desc_similarity(item, m) for m in cluster.members), default=0.0)
    if fuzzy_ok and ev.title >= 0.8 and (ev.links >= 0.5 or ev.duration_agree or desc >= 0.8):
        return round(ev.title * 0.9, 3), "fuzzy-title+date"
    if ev.links >= 0.5 and (ev.title >= 0.5 or ev.gap <= 3) and not ev.duration_clash:
        return round(0.8 + 0.15 * ev.links, 3), "shared-links"
    corroborated = ev.links >= 0.5 or ev.duration_agree or desc >= 0.9
    if ev.exact and item.distinctive and (ev.gap <= 7 or corroborated):
        return 0.8, "exact-title"
    if ev.date_ok and not ev.duration_clash and desc >= 0.9:
        return round(0.85 * desc, 3), "description"
    if not ev.date_known and item.distinctive and ev.numbers and ev.title >= 0.95:
        return 0.85, "fuzzy-title"
    return None


def _republication(item: Item, cluster: Cluster) -> tuple[float, str] | None:
    """Score when `item` is the same real episode as a member of its own source in `cluster`:
    same normalised title, or the same links, or the same description (dates may differ)."""
    best = 0.0
    for other in cluster.members:
        if other.source_id != item.source_id:
            continue
        if item.tkey == other.tkey and item.distinctive:
            best = max(best, 0.95)
            continue
        # Cheap tests first: most same-source candidates are simply other episodes.
        linked = _jaccard(item.keys, other.keys) >= 0.5 and any(
            k.startswith("arxiv:") for k in item.keys & other.keys
        )
        described = _desc_similarity(item, other) >= 0.95
        if not (linked or described):
            continue
        title = _title_similarity(item.tkey, other.tkey)
        if linked and title >= 0.6:
            best = max(best, 0.85)
        elif described and (title >= 0.6 or _gap(item, other) <= 14):
            best = max(best, 0.8)
    return (best, "republication") if best else None


def _gap(a: Item, b: Item) -> int:
    if a.usable_date is None or b.usable_date is None:
        return 10**6
    return abs((a.usable_date - b.usable_date).days)


# ---------------------------------------------------------------------------------------------
# Matching one podcast


class Matcher:
    """Canonical episodes of one podcast with the blocking indexes over them."""

    def __init__(self, next_id: Iterator[int]) -> None:
        self.clusters: dict[int, Cluster] = {}
        self.next_id = next_id
        self.by_title: dict[str, list[Cluster]] = defaultdict(list)
        self.by_date: dict[date, list[Cluster]] = defaultdict(list)
        self.by_key: dict[str, list[Cluster]] = defaultdict(list)
        self.by_guid: dict[str, list[Cluster]] = defaultdict(list)
        self.titles: list[str] = []  # distinct title keys, for the rare undated fuzzy lookup
        self.title_owners: dict[str, list[Cluster]] = defaultdict(list)

    def add_cluster(self, cluster: Cluster) -> None:
        self.clusters[cluster.id] = cluster

    def new_cluster(self, item: Item) -> Cluster:
        published = item.usable_date.isoformat() if item.usable_date else ""
        cluster = Cluster(next(self.next_id), item.podcast_id, f"{item.tkey}|{published}")
        self.add_cluster(cluster)
        self.attach(item, cluster, 1.0, "new")
        return cluster

    def attach(self, item: Item, cluster: Cluster, score: float, rule: str) -> None:
        cluster.members.append(item)
        cluster.links[item.id] = (score, rule)
        self.index(item, cluster)

    def index(self, item: Item, cluster: Cluster) -> None:
        if item.tkey:
            if item.tkey not in self.title_owners:
                self.titles.append(item.tkey)
            self.by_title[item.tkey].append(cluster)
            self.title_owners[item.tkey].append(cluster)
        if item.usable_date:
            self.by_date[item.usable_date].append(cluster)
        for key in item.keys:
            self.by_key[key].append(cluster)
        if item.guid:
            self.by_guid[item.guid].append(cluster)

    def prepare(self, item: Item) -> None:
        """Hook: make every candidate of `item` present in memory (see reconcile's lazy
        matcher, which loads them from the match index)."""

    def title_pool(self) -> list[str]:
        return self.titles

    def owners(self, title: str) -> list[Cluster]:
        return self.title_owners[title]

    def candidates(self, item: Item) -> list[Cluster]:
        """Blocking: the only canonical episodes `item` is ever scored against."""
        self.prepare(item)
        found: dict[int, Cluster] = {}
        for cluster in self.by_title.get(item.tkey, ()):
            found[cluster.id] = cluster
        if item.guid:
            for cluster in self.by_guid.get(item.guid, ()):
                found[cluster.id] = cluster
        if item.usable_date:
            window = RELATIVE_DATE_TOLERANCE
            for offset in range(-window, window + 1):
                for cluster in self.by_date.get(item.usable_date + timedelta(days=offset), ()):
                    found[cluster.id] = cluster
        for key in item.keys:
            for cluster in self.by_key.get(key, ()):
                found[cluster.id] = cluster
        titles = self.title_pool() if not item.usable_date and item.tkey and not found else []
        if titles:
            # No date to block on: one C-speed scan of the distinct titles.
            for _, _, index in process.extract(
                item.tkey, titles, scorer=fuzz.token_sort_ratio, score_cutoff=95, limit=5
            ):
                for cluster in self.owners(titles[index]):
                    found[cluster.id] = cluster
        return [found[k] for k in sorted(found)]

    def link_source(self, items: list[Item]) -> None:
        """Link the new platform episodes of one source: best pairs first, one member of
        the source per canonical episode unless it is a republication."""
        heap: list[tuple[float, int, int, str]] = []
        for position, item in enumerate(items):
            for cluster, score, rule in self._scored(item):
                heapq.heappush(heap, (-score, position, cluster.id, rule))
        done: set[int] = set()
        while heap:
            negative, position, cluster_id, rule = heapq.heappop(heap)
            item, cluster = items[position], self.clusters[cluster_id]
            if item.id in done:
                continue
            if item.source_id in cluster.sources() and rule != "republication":
                again = _republication(item, cluster)
                if again:  # re-queue at the republication's own score
                    heapq.heappush(heap, (-again[0], position, cluster_id, again[1]))
                continue
            self.attach(item, cluster, -negative, rule)
            done.add(item.id)
        for item in items:  # leftovers, in the fixed order: republication or a new episode
            if item.id in done:
                continue
            options = [
                (score, cluster.id, cluster)
                for cluster in self.candidates(item)
                if item.source_id in cluster.sources()
                for score, _ in [_republication(item, cluster) or (0.0, "")]
                if score > 0
            ]
            if options:
                score, _, cluster = max(options, key=lambda o: (o[0], -o[1]))
                self.attach(item, cluster, score, "republication")
            else:
                self.new_cluster(item)

    def _scored(self, item: Item) -> list[tuple[Cluster, float, str]]:
        self.prepare(item)
        results: list[tuple[Cluster, float, str]] = []
        # The publisher's guid on both sides is proof: it wins over any title evidence.
        for cluster in self.by_guid.get(item.guid or "", ()):
            if item.source_id not in cluster.sources():
                results.append((cluster, 1.0, "same-guid"))
        if results:
            return results
        exact = {c.id: c for c in self.by_title.get(item.tkey, ())}
        # An exact title with a matching date cannot be beaten: skip the wider blocks.
        for cluster in (exact[k] for k in sorted(exact)):
            if item.source_id in cluster.sources():
                continue
            scored = _match(item, cluster)
            if scored and scored[0] >= 1.0:
                results.append((cluster, *scored))
        if results:
            return results
        for cluster in self.candidates(item):
            scored = (
                _republication(item, cluster)
                if item.source_id in cluster.sources()
                else _match(item, cluster)
            )
            if scored:
                results.append((cluster, *scored))
        return results


# ---------------------------------------------------------------------------------------------
# Canonical fields with provenance


