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

import itertools
import json
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlite_utils

from scraper.canonical import canonical_row, cluster_conflicts
from scraper.matching import (
    DESCRIPTION_WINDOW,
    MAX_KEY_PER_SOURCE,
    Cluster,
    Item,
    Matcher,
    item_from_row,
    platform_rank,
)

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
    items = [item_from_row(row) for row in rows]
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
