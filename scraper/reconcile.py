"""Canonical episodes: every platform episode of a podcast linked to exactly one real episode.

`reconcile(db)` reads `platform_episodes` (written by the archive) and computes three
tables, written through the archive (`scraper.archive_match`; schema in the archive's
migrations):

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

Incremental: triggers queue every platform episode added, changed or deleted
(`reconcile_queue`), and a match index keeps each episode's title key, usable day, guid and
link keys plus per-source counts of link keys and description words (what boilerplate
detection needs). A run matches only the queued rows, loading from the index exactly the
canonical episodes that share a title key, guid, day window or link key with them (the only
candidates a full run would score), and recomputes only the canonical episodes they touch;
the result equals a full run's (`full=True`, tests/test_reconcile_incremental.py).

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

import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import sqlite_utils

from scraper.archive_match import EPISODE_COLUMNS, KEY, WORD, Counts, MatchStore
from scraper.canonical import canonical_row, cluster_conflicts
from scraper.matching import (
    MAX_KEY_PER_SOURCE,
    RELATIVE_DATE_TOLERANCE,
    Cluster,
    Item,
    Matcher,
    item_from_row,
    opening_words,
    platform_rank,
    raw_keys,
)
from scraper.reads import canonical_episodes_json  # noqa: F401 (re-exported)

__all__ = ["EPISODE_COLUMNS", "ReconcileReport", "canonical_episodes_json", "reconcile"]


@dataclass
class ReconcileReport:
    """What one `reconcile` call did. Counts are of rows written (0 on an idempotent re-run)."""

    podcasts: int = 0
    # Platform episodes matched or refreshed: all of a podcast's on a full run, only the
    # queued ones (added, changed, deleted since the last run) on an incremental one.
    platform_episodes: int = 0
    episodes: int = 0  # canonical episodes that some platform lists, after the run
    episodes_created: int = 0
    episodes_updated: int = 0
    links_created: int = 0
    links_updated: int = 0
    conflicts: int = 0
    conflicts_changed: int = 0
    rules: dict[str, int] = field(default_factory=dict)  # rule -> links written with it
    # [{"episode_id", "platform", "source_id", "platform_episode_ids": [...]}]
    republications: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def ensure_tables(db: sqlite_utils.Database) -> None:
    """The canonical tables (owned by the archive's migrations; here for hand-made archives)."""
    MatchStore(db)


# ---------------------------------------------------------------------------------------------
# Features and boilerplate


def _item(row: dict[str, Any]) -> tuple[Item, set[str], tuple[str, ...]]:
    """An item with its raw (boilerplate kept) link keys and opening words."""
    item = item_from_row(row)
    item.order = (
        *platform_rank(item.platform),
        item.source_id,
        item.usable_date or date.max,
        item.id,
    )
    return item, set(item.keys), opening_words(item.description)


def _count(counts: Counts, source_id: int, keys: Iterable[str], words: Iterable[str],
           sign: int) -> None:
    for key in keys:
        counts[(KEY, key, source_id)] += sign
    for word in words:
        counts[(WORD, word, source_id)] += sign


def _feature(item: Item, keys: set[str]) -> tuple[int, str, str | None, str | None, set[str]]:
    day = item.usable_date.isoformat() if item.usable_date else None
    return item.id, item.tkey, day, item.guid, keys


class Noise:
    """Boilerplate: link keys and description words that more than MAX_KEY_PER_SOURCE
    episodes of any one source carry (a show's site, socials, template text). Boilerplate in
    any one source is boilerplate everywhere (a small source cannot tell)."""

    def __init__(self, store: MatchStore, podcast_id: int, counts: Counts | None = None):
        self.store, self.podcast_id = store, podcast_id
        self.known: dict[str, dict[str, bool]] = {KEY: {}, WORD: {}}
        if counts is not None:  # a full run knows every count
            noisy = {(kind, value) for (kind, value, _), n in counts.items()
                     if n > MAX_KEY_PER_SOURCE}
            for kind, value, _ in counts:
                self.known[kind][value] = (kind, value) in noisy
            self.complete = True
        else:
            self.complete = False

    def clean(self, items: list[tuple[Item, set[str], tuple[str, ...]]]) -> None:
        if not self.complete:
            for kind, groups in ((KEY, [e[1] for e in items]), (WORD, [e[2] for e in items])):
                known = self.known[kind]
                unknown = {v for group in groups for v in group if v not in known}
                noisy = self.store.noisy(self.podcast_id, kind, unknown, MAX_KEY_PER_SOURCE)
                known.update((v, v in noisy) for v in unknown)
        for item, keys, words in items:
            item.keys = {k for k in keys if not self.known[KEY].get(k, False)}
            item.words = frozenset(w for w in words if not self.known[WORD].get(w, False))


# ---------------------------------------------------------------------------------------------
# Matching: every platform episode of a podcast (full) or only the queued ones (incremental)


def _id_sequence(store: MatchStore) -> Iterator[int]:
    start = store.next_episode_id()
    while True:
        yield start
        start += 1


def _group_by_source(items: list[Item]) -> list[list[Item]]:
    pending: dict[int, list[Item]] = defaultdict(list)
    for item in sorted(items, key=lambda i: i.order):
        pending[item.source_id].append(item)
    return list(pending.values())  # dict keeps the fixed source order


def _match_full(store: MatchStore, podcast_id: int, ids: Iterator[int]) -> tuple[Matcher, int]:
    entries = [_item(row) for row in store.all_platform_rows(podcast_id)]
    counts: Counts = Counter()
    for item, keys, words in entries:
        _count(counts, item.source_id, keys, words, 1)
    Noise(store, podcast_id, counts).clean(entries)
    # The index keeps each item's raw link keys; the opening words were only for counting.
    features = [_feature(item, keys) for item, keys, _ in entries]
    items = sorted((entry[0] for entry in entries), key=lambda i: i.order)
    del entries
    by_id = {item.id: item for item in items}
    matcher = Matcher(ids)
    for link in store.podcast_links(podcast_id):
        member = by_id.get(link["platform_episode_id"])
        if member is None:
            continue
        cluster = matcher.clusters.get(link["episode_id"])
        if cluster is None:
            cluster = Cluster(link["episode_id"], podcast_id, link["key"])
            matcher.add_cluster(cluster)
        matcher.attach(member, cluster, link["score"], link["rule"])
    for row in store.podcast_episode_keys(podcast_id):
        if row["id"] not in matcher.clusters:  # an episode whose platform rows are gone
            matcher.add_cluster(Cluster(row["id"], podcast_id, row["key"]))
    linked = {m.id for c in matcher.clusters.values() for m in c.members}
    for source_items in _group_by_source([i for i in items if i.id not in linked]):
        matcher.link_source(source_items)
    store.replace_index(podcast_id, features, counts)
    return matcher, len(items)


class LazyMatcher(Matcher):
    """A Matcher that holds only the canonical episodes a run needs, loaded from the match
    index when a platform episode asks for its candidates. Every cluster that shares a title
    key, guid, day window or link key with the item is loaded whole before the item is
    scored, so the candidates (and so the results) are those of a full run."""

    def __init__(self, store: MatchStore, podcast_id: int, ids: Iterator[int], noise: Noise):
        super().__init__(ids)
        self.store, self.podcast_id, self.noise = store, podcast_id, noise
        self.prepared: set[int] = set()
        self.loading = False
        self.stored_titles: list[str] | None = None
        self.stored_title_set: set[str] = set()
        self.run_titles: dict[str, None] = {}

    def load(self, episode_ids: set[int]) -> None:
        missing = sorted(e for e in episode_ids if e not in self.clusters)
        if not missing:
            return
        keys = self.store.episode_keys(missing)
        for episode_id in missing:
            if episode_id in keys:
                self.add_cluster(Cluster(episode_id, self.podcast_id, keys[episode_id]))
        rows = [row for row in self.store.cluster_rows(missing)
                if row["link_episode_id"] in keys]
        entries = [_item(row) for row in rows]
        self.noise.clean(entries)
        self.loading = True
        for row, (item, _, _) in zip(rows, entries, strict=True):
            self.attach(item, self.clusters[row["link_episode_id"]], row["link_score"],
                        row["link_rule"])
        self.loading = False

    def attach(self, item: Item, cluster: Cluster, score: float, rule: str) -> None:
        super().attach(item, cluster, score, rule)
        if not self.loading and item.tkey:
            self.run_titles.setdefault(item.tkey)

    def prepare(self, item: Item) -> None:
        if item.id in self.prepared:
            return
        self.prepared.add(item.id)
        store, podcast = self.store, self.podcast_id
        found: set[int] = set()
        if item.tkey:
            found |= store.episodes_by_title(podcast, item.tkey)
        if item.guid:
            found |= store.episodes_by_guid(podcast, item.guid)
        if item.usable_date:
            window = timedelta(days=RELATIVE_DATE_TOLERANCE)
            found |= store.episodes_by_days(podcast, (item.usable_date - window).isoformat(),
                                            (item.usable_date + window).isoformat())
        if item.keys:
            found |= store.episodes_by_keys(podcast, item.keys)
        self.load(found)

    def title_pool(self) -> list[str]:
        if self.stored_titles is None:  # rare: an undated item nothing else matched
            self.stored_titles = list(dict.fromkeys(self.store.linked_titles(self.podcast_id)))
            self.stored_title_set = set(self.stored_titles)
        return self.stored_titles + [
            t for t in self.run_titles if t not in self.stored_title_set
        ]

    def owners(self, title: str) -> list[Cluster]:
        self.load(self.store.episodes_by_title(self.podcast_id, title))
        return self.title_owners[title]


def _match_incremental(
    store: MatchStore, podcast_id: int, ids: Iterator[int]
) -> tuple[Matcher, int] | None:
    queue = store.queue(podcast_id)
    if not queue:
        return None
    delta: Counts = Counter()
    dropped: list[tuple[int, set[str]]] = []
    touched: set[int] = set()
    for entry in queue:
        if entry["old_episode_id"] is not None:
            touched.add(entry["old_episode_id"])
        if entry["indexed"]:
            keys = raw_keys(entry["old_description"], entry["old_extra"])
            words = opening_words(entry["old_description"])
            _count(delta, entry["source_id"], keys, words, -1)
            dropped.append((entry["platform_episode_id"], keys))
    live = [e["platform_episode_id"] for e in queue if not e["deleted"]]
    entries = [_item(row) for row in store.platform_rows(live)]
    for item, keys, words in entries:
        _count(delta, item.source_id, keys, words, 1)
    store.drop_features(podcast_id, dropped)
    store.add_counts(podcast_id, delta)
    store.put_features(podcast_id, [_feature(i, k) for i, k, _ in entries])
    noise = Noise(store, podcast_id)
    noise.clean(entries)
    matcher = LazyMatcher(store, podcast_id, ids, noise)
    linked = store.linked([item.id for item, _, _ in entries])
    matcher.load(touched | set(linked.values()))  # clusters whose members changed or left
    pending = [item for item, _, _ in entries if item.id not in linked]
    for source_items in _group_by_source(pending):
        matcher.link_source(source_items)
    return matcher, len(queue)


# ---------------------------------------------------------------------------------------------
# Writing what changed


def _write_podcast(store: MatchStore, matcher: Matcher, report: ReconcileReport) -> None:
    ids = list(matcher.clusters)
    stored_episodes = store.stored_episodes(ids)
    stored_links = store.stored_links(ids)
    stored_conflicts = store.stored_conflicts(ids)
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
    report.episodes_created += len(new_episodes)
    report.episodes_updated += len(changed_episodes)
    report.conflicts += len(wanted_conflicts)
    report.conflicts_changed += len(conflict_rows)
    stale = [key for key in stored_conflicts if key not in wanted_conflicts]
    report.conflicts_changed += len(stale)
    store.write(new_episodes, changed_episodes, link_rows, conflict_rows, stale)


def _cluster_links(
    cluster: Cluster, stored: dict[int, dict[str, Any]], report: ReconcileReport
) -> list[tuple[int, int, float, str, int]]:
    per_source = Counter(m.source_id for m in cluster.members)
    rows = []
    for member in sorted(cluster.members, key=lambda m: m.order):
        score, rule = cluster.links[member.id]
        republication = int(per_source[member.source_id] > 1)
        old = stored.get(member.id)
        wanted = (member.id, cluster.id, score, rule, republication)
        if old is None:
            report.links_created += 1
        elif (old["episode_id"], old["score"], old["rule"], old["republication"]) != wanted[1:]:
            report.links_updated += 1
        else:
            continue
        rows.append(wanted)
        report.rules[rule] = report.rules.get(rule, 0) + 1  # of links written
    for source_id in sorted(s for s, n in per_source.items() if n > 1):
        same = [m for m in cluster.members if m.source_id == source_id]
        report.republications.append({
            "episode_id": cluster.id,
            "platform": same[0].platform,
            "source_id": source_id,
            "platform_episode_ids": sorted(m.id for m in same),
        })
    return rows


def reconcile(
    db: sqlite_utils.Database, podcast_id: int | None = None, *, full: bool = False
) -> ReconcileReport:
    """Link every platform episode of one podcast (or all, with None) to a canonical episode,
    refresh canonical fields and conflicts. One transaction; idempotent; deterministic.

    Incremental unless `full` (or the podcast has no match index yet): only the platform
    episodes queued since the podcast's last reconcile are matched, and only the canonical
    episodes they touch are recomputed; the result is the same as a full run's."""
    started = time.perf_counter()
    report = ReconcileReport()
    with db.atomic():
        store = MatchStore(db)
        if not db["platform_episodes"].exists():  # nothing synced yet
            return report
        ids = _id_sequence(store)
        podcasts = [podcast_id] if podcast_id is not None else store.podcast_ids()
        for podcast in podcasts:
            report.podcasts += 1
            if full or not store.indexed(podcast):
                matcher, seen = _match_full(store, podcast, ids)
            else:
                done = _match_incremental(store, podcast, ids)
                if done is None:
                    report.episodes += store.count_episodes(podcast)
                    continue
                matcher, seen = done
            report.platform_episodes += seen
            _write_podcast(store, matcher, report)
            store.clear_queue(podcast)
            report.episodes += store.count_episodes(podcast)
    report.seconds = round(time.perf_counter() - started, 3)
    return report
