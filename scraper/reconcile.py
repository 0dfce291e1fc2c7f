"""Canonical episodes: every platform episode of a podcast linked to exactly one real episode.

`reconcile(db)` reads `platform_episodes` (written by the archive) and owns three tables:

- `episodes`: one row per real episode, each field with its provenance (`*_source` is
  `"<platform>:<platform_episodes.id>"`, e.g. `"rss:17"`). Ids come from an AUTOINCREMENT
  sequence: never renumbered, never reused.
- `episode_links`: `platform_episode_id` -> `episode_id`, with `score` (confidence **0-1**),
  the `rule` that made the link and `republication` (1 when the same source lists the real
  episode more than once, e.g. under two GUIDs).
- `conflicts`: one row per (episode, field) where sources disagree beyond tolerance; `values`
  is JSON `[{"platform", "platform_episode_id", "value"}]`.

Matching never compares all pairs. Candidates come from three indexes (normalised title,
publish date +-2 days, shared link keys such as arXiv ids); rapidfuzz scores only those.
Sources are processed in a fixed order (publisher feed first, then platforms by name, then
source id); within a source all candidate pairs are ranked and assigned greedily, so one
source never lands twice on a canonical episode unless the republication rules say so.
Links already stored are kept, which makes re-runs idempotent and ids stable.

Rules (first that fits; score in brackets):
- `new` (1.0): nothing matched; the row starts a canonical episode.
- `same-guid` (1.0): the same RSS GUID on both sides.
- `exact-title+date` (1.0): equal normalised titles, dates within 1 day (2 if relative).
- `exact-title` (0.9 undated / 0.8): equal distinctive titles, dates unknown, or apart by
  up to 7 days, or further with corroboration (links, exact duration, description); the
  date difference is then recorded in `conflicts`.
- `fuzzy-title+date` (~0.72-0.95): token_sort_ratio >= 90 with matching dates (>= 80 with
  corroboration); never when the numbers in the titles differ ("Part 1" / "Part 2") or
  durations clash.
- `shared-links` (0.875-0.95): most arXiv ids/DOIs/URLs in common (boilerplate links
  dropped), with a related title or dates within 3 days.
- `description` (~0.77-0.85): same date and the same description (one a prefix of the
  other, or most distinctive words shared).
- `fuzzy-title` (0.85): no usable date on either side, titles >= 95 similar.
- `republication` (0.8-0.95): the same source already lists this real episode (same
  distinctive title, same arXiv links, or same description); every row of that source on
  the episode gets `republication = 1`.
"""

from __future__ import annotations

import functools
import heapq
import html
import itertools
import json
import re
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import sqlite_utils
from rapidfuzz import fuzz, process

from scraper.normalize import clean_title, is_strict_prefix

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

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS episodes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        podcast_id INTEGER REFERENCES podcasts(id),
        title TEXT, title_source TEXT,
        published TEXT, published_source TEXT,
        duration_seconds INTEGER, duration_source TEXT,
        description TEXT, description_source TEXT, description_truncated INTEGER,
        platforms INTEGER, first_seen_at TEXT, key TEXT)""",
    """CREATE TABLE IF NOT EXISTS episode_links (
        platform_episode_id INTEGER PRIMARY KEY
            REFERENCES platform_episodes(id) ON DELETE CASCADE,
        episode_id INTEGER REFERENCES episodes(id),
        score REAL, rule TEXT, republication INTEGER)""",
    """CREATE TABLE IF NOT EXISTS conflicts (
        episode_id INTEGER REFERENCES episodes(id),
        field TEXT, "values" TEXT, detail TEXT,
        PRIMARY KEY (episode_id, field))""",
    "CREATE INDEX IF NOT EXISTS idx_episodes_podcast ON episodes(podcast_id, published)",
    "CREATE INDEX IF NOT EXISTS idx_episode_links_episode ON episode_links(episode_id)",
)

EPISODE_COLUMNS = (
    "podcast_id", "title", "title_source", "published", "published_source", "duration_seconds",
    "duration_source", "description", "description_source", "description_truncated",
    "platforms", "first_seen_at", "key",
)


# ---------------------------------------------------------------------------------------------
# Normalisation used for matching (also by drift reports)

_TITLE_PREFIX = re.compile(
    r"^(?:(?:episode|episodio|épisode|folge|afsnit|avsnitt|aflevering|eps?)\.?\s*#?\s*\d*"
    r"|#\s*\d+|e\d+)\s*[:\-–—|.]\s+",
    re.IGNORECASE,
)
_ELLIPSIS_TAIL = re.compile(r"(\.\.\.|…|\[\.\.\.\]|\[…\])\s*$")
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
    text = _ELLIPSIS_TAIL.sub("", text)
    return " ".join(_NON_WORD.sub(" ", _fold(text)).split())


def squash(text: str | None) -> str:
    """Whitespace collapsed, case folded, trailing ellipsis removed: for description overlap."""
    if not text:
        return ""
    return " ".join(_ELLIPSIS_TAIL.sub("", text).split()).rstrip(" ,;:").casefold()


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


@dataclass
class ReconcileReport:
    """What one `reconcile` call did. Counts are of rows written (0 on an idempotent re-run)."""

    podcasts: int = 0
    platform_episodes: int = 0
    episodes: int = 0
    episodes_created: int = 0
    episodes_updated: int = 0
    links_created: int = 0
    links_updated: int = 0
    conflicts: int = 0
    conflicts_changed: int = 0
    rules: dict[str, int] = field(default_factory=dict)
    # [{"episode_id", "platform", "source_id", "platform_episode_ids": [...]}]
    republications: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _item(row: dict[str, Any]) -> Item:
    extra = _json(row.get("extra")) or {}
    links = extra.get("links") or []
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
        keys=link_keys(description, [str(u) for u in links if u]),
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

    def candidates(self, item: Item) -> list[Cluster]:
        """Blocking: the only canonical episodes `item` is ever scored against."""
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
        if not item.usable_date and item.tkey and not found and self.titles:
            # No date to block on: one C-speed scan of the distinct titles.
            for _, _, index in process.extract(
                item.tkey, self.titles, scorer=fuzz.token_sort_ratio, score_cutoff=95, limit=5
            ):
                for cluster in self.title_owners[self.titles[index]]:
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
        exact = {c.id: c for c in self.by_title.get(item.tkey, ())}
        results: list[tuple[Cluster, float, str]] = []
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


def _first(items: Iterable[Item]) -> Item | None:
    return min(items, key=lambda m: m.order, default=None)


def _majority(items: list[Item], value) -> Item | None:
    """The member carrying the value most platforms agree on (fixed order breaks ties)."""
    platforms: dict[Any, set[str]] = defaultdict(set)
    for item in items:
        platforms[value(item)].add(item.platform)
    if not platforms:
        return None
    first_seen = {value(m): m.order for m in sorted(items, key=lambda m: m.order, reverse=True)}
    best = min(platforms, key=lambda v: (-len(platforms[v]), first_seen[v]))
    return _first(m for m in items if value(m) == best)


def _pick_title(members: list[Item]) -> Item | None:
    titled = [m for m in members if m.title]
    publisher = [m for m in titled if m.platform == PUBLISHER]
    return _first(publisher) if publisher else _majority(titled, lambda m: m.tkey)


def _pick_date(members: list[Item]) -> Item | None:
    usable = [m for m in members if m.usable_date]
    absolute = [m for m in usable if m.flag is None]
    publisher = [m for m in absolute if m.platform == PUBLISHER]
    if publisher:
        return _first(publisher)
    return _majority(absolute or usable, lambda m: m.usable_date)


def _pick_duration(members: list[Item]) -> Item | None:
    timed = [m for m in members if m.duration is not None]
    return min(
        timed,
        key=lambda m: (m.precision or 60, m.platform != PUBLISHER, m.order),
        default=None,
    )


def _is_cut(item: Item, others: list[Item]) -> bool:
    if item.truncated:
        return True
    for other in others:
        # Cheap screen before the exact check: same opening and a longer text.
        if (
            other is not item
            and len(other.desc_key) > len(item.desc_key)
            and other.desc_key[:40] == item.desc_key[:40]
            and is_strict_prefix(item.description, other.description)
        ):
            return True
    return False


def _pick_description(members: list[Item]) -> tuple[Item | None, bool]:
    described = [m for m in members if m.description]
    complete = [m for m in described if not _is_cut(m, described)]
    publisher = [m for m in complete if m.platform == PUBLISHER]
    if publisher:
        return _first(publisher), False
    pool = complete or described
    best = min(pool, key=lambda m: (-len(m.description or ""), m.order), default=None)
    return best, bool(best) and not complete


def canonical_row(cluster: Cluster) -> dict[str, Any]:
    members = cluster.members
    title, when, length = _pick_title(members), _pick_date(members), _pick_duration(members)
    text, cut = _pick_description(members)
    seen = [m.first_seen_at for m in members if m.first_seen_at]
    return {
        "podcast_id": cluster.podcast_id,
        "title": clean_title(title.title) if title else None,
        "title_source": title.ref if title else None,
        "published": when.usable_date.isoformat() if when and when.usable_date else None,
        "published_source": when.ref if when else None,
        "duration_seconds": length.duration if length else None,
        "duration_source": length.ref if length else None,
        "description": text.description if text else None,
        "description_source": text.ref if text else None,
        "description_truncated": int(cut),
        "platforms": len({m.platform for m in members}),
        "first_seen_at": min(seen) if seen else None,
        "key": cluster.key,
    }


def _values(members: list[Item], value) -> str:
    rows = [
        {"platform": m.platform, "platform_episode_id": m.id, "value": value(m)}
        for m in sorted(members, key=lambda m: m.order)
    ]
    return json.dumps(rows, ensure_ascii=False)


def _closest_per_source(members: list[Item], distance) -> list[Item]:
    """One representative per source, so a republication's own date is not a conflict."""
    best: dict[int, Item] = {}
    for member in sorted(members, key=lambda m: m.order):
        current = best.get(member.source_id)
        if current is None or distance(member) < distance(current):
            best[member.source_id] = member
    return list(best.values())


def cluster_conflicts(cluster: Cluster, row: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """{field: (values JSON, detail)} where sources disagree beyond tolerance."""
    members, out = cluster.members, {}
    if row["published"]:
        canon = date.fromisoformat(row["published"])
        dated = [m for m in members if m.usable_date]
        reps = _closest_per_source(dated, lambda m: abs((m.usable_date - canon).days))
        off = [m for m in reps if abs((m.usable_date - canon).days) > m.tolerance]
        if off:
            detail = "; ".join(
                f"{m.platform} {m.usable_date.isoformat()} "
                f"({(m.usable_date - canon).days:+d} d, tolerance {m.tolerance})"
                for m in off
            )
            value = lambda m: m.published.isoformat() if m.published else None  # noqa: E731
            out["published"] = (_values(members, value), f"canonical {canon}: {detail}")
    canon_key = normalize_title(row["title"])
    titled = [m for m in members if m.title]
    reps = _closest_per_source(titled, lambda m: m.tkey != canon_key)
    if len({m.tkey for m in reps}) > 1:
        others = sorted({m.tkey for m in reps if m.tkey != canon_key})
        out["title"] = (
            _values(titled, lambda m: m.title),
            f"normalised titles differ from {canon_key!r}: {others}",
        )
    if row["duration_seconds"] is not None:
        canon_s = row["duration_seconds"]
        source = next(m for m in members if m.ref == row["duration_source"])
        timed = [m for m in members if m.duration is not None]
        reps = _closest_per_source(timed, lambda m: abs(m.duration - canon_s))
        off = [
            m for m in reps
            if abs(m.duration - canon_s) > max(m.precision or 60, source.precision or 60)
        ]
        if off:
            detail = "; ".join(f"{m.platform} {m.duration - canon_s:+d} s" for m in off)
            out["duration_seconds"] = (
                _values(timed, lambda m: m.duration),
                f"canonical {canon_s} s: {detail}",
            )
    return out


# ---------------------------------------------------------------------------------------------
# Database


def ensure_tables(db: sqlite_utils.Database) -> None:
    for statement in SCHEMA:
        db.execute(statement)


def _podcast_ids(db: sqlite_utils.Database, podcast_id: int | None) -> list[int]:
    if podcast_id is not None:
        return [podcast_id]
    rows = db.execute(
        "SELECT DISTINCT podcast_id FROM platform_episodes "
        "WHERE podcast_id IS NOT NULL ORDER BY podcast_id"
    ).fetchall()
    return [r[0] for r in rows]


def _load_items(db: sqlite_utils.Database, podcast_id: int) -> list[Item]:
    rows = db.query(
        "SELECT * FROM platform_episodes WHERE podcast_id = ? ORDER BY id", [podcast_id]
    )
    items = [_item(row) for row in rows]
    for item in items:
        item.order = (
            *platform_rank(item.platform),
            item.source_id,
            item.usable_date or date.max,
            item.id,
        )
    items.sort(key=lambda i: i.order)
    _drop_boilerplate(items)
    return items


_WORD = re.compile(r"\w{3,}")


def _drop_boilerplate(items: list[Item]) -> None:
    """Keep only link keys and description words that few episodes of a source share."""
    opening = {item.id: set(_WORD.findall(item.desc_key[:DESCRIPTION_WINDOW])) for item in items}
    by_source: dict[int, list[Item]] = defaultdict(list)
    for item in items:
        by_source[item.source_id].append(item)
    # Boilerplate in any one source is boilerplate everywhere (a small source cannot tell).
    noisy_keys: set[str] = set()
    noisy_words: set[str] = set()
    for members in by_source.values():
        keys = Counter(itertools.chain.from_iterable(m.keys for m in members))
        words = Counter(itertools.chain.from_iterable(opening[m.id] for m in members))
        noisy_keys.update(k for k, n in keys.items() if n > MAX_KEY_PER_SOURCE)
        noisy_words.update(w for w, n in words.items() if n > MAX_KEY_PER_SOURCE)
    for item in items:
        item.keys -= noisy_keys
        item.words = frozenset(opening[item.id] - noisy_words)


def _id_sequence(db: sqlite_utils.Database) -> Iterator[int]:
    top = db.execute("SELECT coalesce(max(id), 0) FROM episodes").fetchone()[0]
    row = None
    if db["sqlite_sequence"].exists():  # the AUTOINCREMENT high-water mark outlives deletes
        row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'episodes'").fetchone()
    start = max(top, row[0] if row else 0) + 1
    while True:
        yield start
        start += 1


def _match_podcast(
    db: sqlite_utils.Database, podcast_id: int, ids: Iterator[int]
) -> tuple[Matcher, list[Item]]:
    items = _load_items(db, podcast_id)
    by_id = {item.id: item for item in items}
    matcher = Matcher(ids)
    existing = db.query(
        "SELECT l.platform_episode_id, l.episode_id, l.score, l.rule, e.key "
        "FROM episode_links l JOIN episodes e ON e.id = l.episode_id "
        "WHERE e.podcast_id = ? ORDER BY l.episode_id, l.platform_episode_id",
        [podcast_id],
    )
    for link in existing:
        item = by_id.get(link["platform_episode_id"])
        if item is None:
            continue
        cluster = matcher.clusters.get(link["episode_id"])
        if cluster is None:
            cluster = Cluster(link["episode_id"], podcast_id, link["key"])
            matcher.add_cluster(cluster)
        matcher.attach(item, cluster, link["score"], link["rule"])
    for row in db.query("SELECT id, key FROM episodes WHERE podcast_id = ?", [podcast_id]):
        if row["id"] not in matcher.clusters:  # an episode whose platform rows are gone
            matcher.add_cluster(Cluster(row["id"], podcast_id, row["key"]))
    linked = {m.id for c in matcher.clusters.values() for m in c.members}
    pending: dict[int, list[Item]] = defaultdict(list)
    for item in items:
        if item.id not in linked:
            pending[item.source_id].append(item)
    for source_items in pending.values():  # dict keeps the fixed source order
        matcher.link_source(source_items)
    return matcher, items


def _write_podcast(
    db: sqlite_utils.Database, matcher: Matcher, report: ReconcileReport
) -> None:
    ids = list(matcher.clusters)
    stored_episodes = _rows_by(db, "SELECT * FROM episodes WHERE id IN ({})", ids, "id")
    stored_links = _rows_by(
        db, "SELECT * FROM episode_links WHERE episode_id IN ({})", ids, "platform_episode_id"
    )
    stored_conflicts = {
        (r["episode_id"], r["field"]): (r["values"], r["detail"])
        for r in _query_in(db, "SELECT * FROM conflicts WHERE episode_id IN ({})", ids)
    }
    new_episodes, changed_episodes, link_rows, conflict_rows = [], [], [], []
    wanted_conflicts: set[tuple[int, str]] = set()
    for cluster in sorted(matcher.clusters.values(), key=lambda c: c.id):
        stored = stored_episodes.get(cluster.id)
        if not cluster.members:
            if stored and stored["platforms"] != 0:
                changed_episodes.append({**{k: stored[k] for k in EPISODE_COLUMNS},
                                         "platforms": 0, "id": cluster.id})
            continue
        row = {**canonical_row(cluster), "id": cluster.id}
        if stored is None:
            new_episodes.append(row)
        elif any(stored[k] != row[k] for k in EPISODE_COLUMNS):
            changed_episodes.append(row)
        link_rows.extend(_cluster_links(cluster, stored_links, report))
        for name, (values, detail) in cluster_conflicts(cluster, row).items():
            wanted_conflicts.add((cluster.id, name))
            if stored_conflicts.get((cluster.id, name)) != (values, detail):
                conflict_rows.append((cluster.id, name, values, detail))
    report.episodes += sum(1 for c in matcher.clusters.values() if c.members)
    report.episodes_created += len(new_episodes)
    report.episodes_updated += len(changed_episodes)
    report.conflicts += len(wanted_conflicts)
    report.conflicts_changed += len(conflict_rows)
    stale = [key for key in stored_conflicts if key not in wanted_conflicts]
    report.conflicts_changed += len(stale)
    _execute_writes(db, new_episodes, changed_episodes, link_rows, conflict_rows, stale)


def _cluster_links(
    cluster: Cluster, stored: dict[int, dict[str, Any]], report: ReconcileReport
) -> list[tuple[int, int, float, str, int]]:
    per_source = Counter(m.source_id for m in cluster.members)
    rows = []
    for member in sorted(cluster.members, key=lambda m: m.order):
        score, rule = cluster.links[member.id]
        republication = int(per_source[member.source_id] > 1)
        report.rules[rule] = report.rules.get(rule, 0) + 1
        old = stored.get(member.id)
        wanted = (member.id, cluster.id, score, rule, republication)
        if old is None:
            report.links_created += 1
            rows.append(wanted)
        elif (old["episode_id"], old["score"], old["rule"], old["republication"]) != wanted[1:]:
            report.links_updated += 1
            rows.append(wanted)
    for source_id in sorted(s for s, n in per_source.items() if n > 1):
        same = [m for m in cluster.members if m.source_id == source_id]
        report.republications.append({
            "episode_id": cluster.id,
            "platform": same[0].platform,
            "source_id": source_id,
            "platform_episode_ids": sorted(m.id for m in same),
        })
    return rows


def _execute_writes(db, new_episodes, changed_episodes, link_rows, conflict_rows, stale) -> None:
    columns = ("id", *EPISODE_COLUMNS)
    placeholders = ", ".join("?" for _ in columns)
    db.conn.executemany(
        f"INSERT INTO episodes ({', '.join(columns)}) VALUES ({placeholders})",
        [tuple(r[c] for c in columns) for r in new_episodes],
    )
    assignments = ", ".join(f"{c} = ?" for c in EPISODE_COLUMNS)
    db.conn.executemany(
        f"UPDATE episodes SET {assignments} WHERE id = ?",
        [(*(r[c] for c in EPISODE_COLUMNS), r["id"]) for r in changed_episodes],
    )
    db.conn.executemany(
        "INSERT OR REPLACE INTO episode_links "
        "(platform_episode_id, episode_id, score, rule, republication) VALUES (?, ?, ?, ?, ?)",
        link_rows,
    )
    db.conn.executemany(
        'INSERT OR REPLACE INTO conflicts (episode_id, field, "values", detail) '
        "VALUES (?, ?, ?, ?)",
        conflict_rows,
    )
    db.conn.executemany("DELETE FROM conflicts WHERE episode_id = ? AND field = ?", stale)


def _query_in(db: sqlite_utils.Database, sql: str, ids: list[int]) -> Iterator[dict[str, Any]]:
    # Chunked IN (...) lists stay under SQLite's variable limit.
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        yield from db.query(sql.format(", ".join("?" for _ in chunk)), chunk)


def _rows_by(db, sql: str, ids: list[int], key: str) -> dict[int, dict[str, Any]]:
    return {row[key]: row for row in _query_in(db, sql, ids)}


def reconcile(db: sqlite_utils.Database, podcast_id: int | None = None) -> ReconcileReport:
    """Link every platform episode of one podcast (or all, with None) to a canonical episode,
    refresh canonical fields and conflicts. One transaction; idempotent; deterministic."""
    started = time.perf_counter()
    report = ReconcileReport()
    with db.atomic():
        ensure_tables(db)
        if not db["platform_episodes"].exists():  # nothing synced yet
            return report
        # Links whose platform row was deleted (foreign keys may be off).
        db.execute(
            "DELETE FROM episode_links WHERE platform_episode_id NOT IN "
            "(SELECT id FROM platform_episodes)"
        )
        ids = _id_sequence(db)
        for podcast in _podcast_ids(db, podcast_id):
            matcher, items = _match_podcast(db, podcast, ids)
            report.podcasts += 1
            report.platform_episodes += len(items)
            _write_podcast(db, matcher, report)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


# ---------------------------------------------------------------------------------------------
# `scraper episodes --json`


def canonical_episodes_json(
    db: sqlite_utils.Database, podcast: int | str | None = None
) -> list[dict[str, Any]]:
    """Canonical episodes, newest first (then by id):

    `[{"id", "podcast", "title", "published", "duration_seconds", "description",
    "description_source", "description_truncated", "title_source", "published_source",
    "duration_source", "platforms", "conflicts": [{"field", "values", "detail"}],
    "links": [{"platform", "episode_id", "url", "score", "rule"}]}]`

    `podcast` is a podcast id or name. `score` is 0-1; `*_source` is "platform:row id".
    """
    if not db["episodes"].exists():
        return []
    where, params = "WHERE e.platforms > 0", []
    if isinstance(podcast, int):
        where, params = where + " AND e.podcast_id = ?", [podcast]
    elif podcast is not None:
        where, params = where + " AND p.name = ?", [podcast]
    episodes = list(db.query(
        "SELECT e.*, p.name AS podcast FROM episodes e LEFT JOIN podcasts p "
        f"ON p.id = e.podcast_id {where} "
        "ORDER BY e.published IS NULL, e.published DESC, e.id DESC",
        params,
    ))
    ids = [e["id"] for e in episodes]
    links: dict[int, list[dict[str, Any]]] = defaultdict(list)
    link_sql = (
        "SELECT l.episode_id, pe.platform, pe.episode_id AS platform_episode, pe.url, "
        "l.score, l.rule FROM episode_links l JOIN platform_episodes pe "
        "ON pe.id = l.platform_episode_id WHERE l.episode_id IN ({}) "
        "ORDER BY l.episode_id, pe.platform != 'rss', pe.platform, pe.id"
    )
    for row in _query_in(db, link_sql, ids):
        links[row["episode_id"]].append({
            "platform": row["platform"],
            "episode_id": row["platform_episode"],
            "url": row["url"],
            "score": row["score"],
            "rule": row["rule"],
        })
    conflicts: dict[int, list[dict[str, Any]]] = defaultdict(list)
    conflict_sql = "SELECT * FROM conflicts WHERE episode_id IN ({}) ORDER BY episode_id, field"
    for row in _query_in(db, conflict_sql, ids):
        conflicts[row["episode_id"]].append(
            {"field": row["field"], "values": json.loads(row["values"]), "detail": row["detail"]}
        )
    keys = ("id", "podcast", "title", "published", "duration_seconds", "description",
            "description_source", "description_truncated", "title_source", "published_source",
            "duration_source", "platforms")
    return [
        {**{k: e[k] for k in keys}, "conflicts": conflicts[e["id"]], "links": links[e["id"]]}
        for e in episodes
    ]
