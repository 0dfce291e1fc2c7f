"""The archive's side of reconcile: reads and writes of the canonical tables and of the
match index (tables created by migration m010 in `scraper.archive`).

Reconcile computes; every statement that touches `episodes`, `episode_links`, `conflicts`,
`match_*` or `reconcile_queue` lives here, so the archive stays the one owner of the data.
All lookups go through an index: the match index is keyed by podcast first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

import sqlite_utils

from scraper.archive import ensure_reconcile_schema

EPISODE_COLUMNS = (
    "podcast_id", "title", "title_source", "published", "published_source", "duration_seconds",
    "duration_source", "description", "description_source", "description_truncated",
    "platforms", "first_seen_at", "key",
)
KEY, WORD = "k", "w"
# Counts: (kind, value, source_id) -> number of a source's platform episodes carrying it.
Counts = Counter[tuple[str, str, int]]


class MatchStore:
    """Reconcile's reads and writes, for one database (inside the caller's transaction)."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        ensure_reconcile_schema(db)

    # Which podcasts, and what changed --------------------------------------------------------

    def podcast_ids(self) -> list[int]:
        if not self.db["platform_episodes"].exists():
            return []
        ids = {r[0] for r in self.db.execute(
            "SELECT p.id FROM podcasts p WHERE EXISTS "
            "(SELECT 1 FROM platform_episodes pe WHERE pe.podcast_id = p.id)")}
        # Platform rows of a podcast id without a podcasts row (hand-made archives).
        ids |= {r[0] for r in self.db.execute(
            "SELECT DISTINCT podcast_id FROM reconcile_queue WHERE podcast_id IS NOT NULL")}
        return sorted(ids)

    def indexed(self, podcast_id: int) -> bool:
        return self.db.execute("SELECT 1 FROM match_podcasts WHERE podcast_id = ?",
                               [podcast_id]).fetchone() is not None

    def queue(self, podcast_id: int) -> list[dict[str, Any]]:
        return list(self.db.query(
            "SELECT * FROM reconcile_queue WHERE podcast_id = ? ORDER BY platform_episode_id",
            [podcast_id]))

    def clear_queue(self, podcast_id: int) -> None:
        self.db.execute("DELETE FROM reconcile_queue WHERE podcast_id = ?", [podcast_id])

    def platform_rows(self, ids: list[int]) -> Iterator[dict[str, Any]]:
        return _query_in(self.db, "SELECT * FROM platform_episodes WHERE id IN ({})", ids)

    def all_platform_rows(self, podcast_id: int) -> Iterator[dict[str, Any]]:
        return self.db.query(
            "SELECT * FROM platform_episodes WHERE podcast_id = ? ORDER BY id", [podcast_id])

    def linked(self, ids: list[int]) -> dict[int, int]:
        """platform episode id -> canonical episode id, for those of `ids` that are linked."""
        return {r["platform_episode_id"]: r["episode_id"] for r in _query_in(
            self.db, "SELECT platform_episode_id, episode_id FROM episode_links "
            "WHERE platform_episode_id IN ({})", ids)}

    # Canonical episodes as stored ------------------------------------------------------------

    def podcast_links(self, podcast_id: int) -> Iterator[dict[str, Any]]:
        return self.db.query(
            "SELECT l.platform_episode_id, l.episode_id, l.score, l.rule, e.key "
            "FROM episode_links l JOIN episodes e ON e.id = l.episode_id "
            "WHERE e.podcast_id = ? ORDER BY l.episode_id, l.platform_episode_id",
            [podcast_id])

    def podcast_episode_keys(self, podcast_id: int) -> Iterator[dict[str, Any]]:
        return self.db.query("SELECT id, key FROM episodes WHERE podcast_id = ?", [podcast_id])

    def episode_keys(self, ids: list[int]) -> dict[int, str]:
        return {r["id"]: r["key"] for r in _query_in(
            self.db, "SELECT id, key FROM episodes WHERE id IN ({})", ids)}

    def cluster_rows(self, episode_ids: list[int]) -> Iterator[dict[str, Any]]:
        """Every linked platform row of these canonical episodes, with its link."""
        return _query_in(
            self.db,
            "SELECT pe.*, l.episode_id AS link_episode_id, l.score AS link_score, "
            "l.rule AS link_rule FROM episode_links l JOIN platform_episodes pe "
            "ON pe.id = l.platform_episode_id WHERE l.episode_id IN ({}) "
            "ORDER BY l.episode_id, l.platform_episode_id", episode_ids)

    def count_episodes(self, podcast_id: int) -> int:
        return self.db.execute(
            "SELECT count(*) FROM episodes WHERE podcast_id = ? AND platforms > 0",
            [podcast_id]).fetchone()[0]

    def next_episode_id(self) -> int:
        top = self.db.execute("SELECT coalesce(max(id), 0) FROM episodes").fetchone()[0]
        row = None
        if self.db["sqlite_sequence"].exists():  # AUTOINCREMENT's mark outlives deletes
            row = self.db.execute(
                "SELECT seq FROM sqlite_sequence WHERE name = 'episodes'").fetchone()
        return max(top, row[0] if row and row[0] else 0) + 1

    # Candidate lookups through the match index -----------------------------------------------

    def episodes_by_title(self, podcast_id: int, tkey: str) -> set[int]:
        return self._linked_episodes(
            "SELECT l.episode_id FROM match_items i JOIN episode_links l "
            "ON l.platform_episode_id = i.platform_episode_id "
            "WHERE i.podcast_id = ? AND i.tkey = ?", [podcast_id, tkey])

    def episodes_by_guid(self, podcast_id: int, guid: str) -> set[int]:
        return self._linked_episodes(
            "SELECT l.episode_id FROM match_items i JOIN episode_links l "
            "ON l.platform_episode_id = i.platform_episode_id "
            "WHERE i.podcast_id = ? AND i.guid = ?", [podcast_id, guid])

    def episodes_by_days(self, podcast_id: int, first: str, last: str) -> set[int]:
        return self._linked_episodes(
            "SELECT l.episode_id FROM match_items i JOIN episode_links l "
            "ON l.platform_episode_id = i.platform_episode_id "
            "WHERE i.podcast_id = ? AND i.day BETWEEN ? AND ?", [podcast_id, first, last])

    def episodes_by_keys(self, podcast_id: int, keys: Iterable[str]) -> set[int]:
        found: set[int] = set()
        for key in sorted(keys):
            found |= self._linked_episodes(
                "SELECT l.episode_id FROM match_keys k JOIN episode_links l "
                "ON l.platform_episode_id = k.platform_episode_id "
                "WHERE k.podcast_id = ? AND k.key = ?", [podcast_id, key])
        return found

    def linked_titles(self, podcast_id: int) -> Iterator[str]:
        """Title keys of linked platform episodes in (episode, platform row) order."""
        for row in self.db.execute(
            "SELECT i.tkey FROM episodes e JOIN episode_links l ON l.episode_id = e.id "
            "JOIN match_items i ON i.platform_episode_id = l.platform_episode_id "
            "WHERE e.podcast_id = ? AND i.tkey != '' "
            "ORDER BY l.episode_id, l.platform_episode_id", [podcast_id]):
            yield row[0]

    def _linked_episodes(self, sql: str, params: list[Any]) -> set[int]:
        return {r[0] for r in self.db.execute(sql, params)}

    def noisy(self, podcast_id: int, kind: str, values: Iterable[str], limit: int) -> set[str]:
        """Those of `values` that more than `limit` episodes of one source carry."""
        found: set[str] = set()
        values = sorted(set(values))
        for start in range(0, len(values), 500):
            chunk = values[start:start + 500]
            found.update(r[0] for r in self.db.execute(
                "SELECT DISTINCT value FROM match_counts WHERE podcast_id = ? AND kind = ? "
                f"AND value IN ({', '.join('?' for _ in chunk)}) AND n > ?",
                [podcast_id, kind, *chunk, limit]))
        return found

    # Writes to the match index ---------------------------------------------------------------

    def replace_index(self, podcast_id: int, features: list[tuple[int, str, str | None,
                      str | None, set[str]]], counts: Counts) -> None:
        """The podcast's whole match index: features are (id, tkey, day, guid, keys)."""
        for table in ("match_items", "match_keys", "match_counts"):
            self.db.execute(f"DELETE FROM {table} WHERE podcast_id = ?", [podcast_id])
        self.put_features(podcast_id, features)
        self.db.conn.executemany(
            "INSERT INTO match_counts (podcast_id, kind, value, source_id, n) "
            "VALUES (?, ?, ?, ?, ?)",
            ((podcast_id, kind, value, source, n)
             for (kind, value, source), n in sorted(counts.items())))
        self.db.execute("INSERT OR IGNORE INTO match_podcasts (podcast_id) VALUES (?)",
                        [podcast_id])

    def put_features(self, podcast_id: int, features) -> None:
        self.db.conn.executemany(
            "INSERT OR REPLACE INTO match_items (platform_episode_id, podcast_id, tkey, day, "
            "guid) VALUES (?, ?, ?, ?, ?)",
            ((pe, podcast_id, tkey, day, guid) for pe, tkey, day, guid, _ in features))
        self.db.conn.executemany(
            "INSERT OR IGNORE INTO match_keys (podcast_id, key, platform_episode_id) "
            "VALUES (?, ?, ?)",
            ((podcast_id, key, pe) for pe, _, _, _, keys in features for key in sorted(keys)))

    def drop_features(self, podcast_id: int, old: list[tuple[int, set[str]]]) -> None:
        self.db.conn.executemany("DELETE FROM match_items WHERE platform_episode_id = ?",
                                 [(pe,) for pe, _ in old])
        self.db.conn.executemany(
            "DELETE FROM match_keys WHERE podcast_id = ? AND key = ? AND platform_episode_id = ?",
            [(podcast_id, key, pe) for pe, keys in old for key in sorted(keys)])

    def add_counts(self, podcast_id: int, delta: Counts) -> None:
        rows = [(podcast_id, kind, value, source, n)
                for (kind, value, source), n in sorted(delta.items()) if n]
        self.db.conn.executemany(
            "INSERT INTO match_counts (podcast_id, kind, value, source_id, n) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (podcast_id, kind, value, source_id) "
            "DO UPDATE SET n = n + excluded.n", rows)
        self.db.conn.executemany(
            "DELETE FROM match_counts WHERE podcast_id = ? AND kind = ? AND value = ? "
            "AND source_id = ? AND n <= 0", [r[:4] for r in rows if r[4] < 0])

    # Writes to the canonical tables ----------------------------------------------------------

    def stored_episodes(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        return {r["id"]: r for r in _query_in(
            self.db, "SELECT * FROM episodes WHERE id IN ({})", ids)}

    def stored_links(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        return {r["platform_episode_id"]: r for r in _query_in(
            self.db, "SELECT * FROM episode_links WHERE episode_id IN ({})", ids)}

    def stored_conflicts(self, ids: list[int]) -> dict[tuple[int, str], tuple[str, str]]:
        return {(r["episode_id"], r["field"]): (r["values"], r["detail"]) for r in _query_in(
            self.db, "SELECT * FROM conflicts WHERE episode_id IN ({})", ids)}

    def write(self, new_episodes, changed_episodes, link_rows, conflict_rows, stale) -> None:
        columns = ("id", *EPISODE_COLUMNS)
        placeholders = ", ".join("?" for _ in columns)
        conn = self.db.conn
        conn.executemany(
            f"INSERT INTO episodes ({', '.join(columns)}) VALUES ({placeholders})",
            [tuple(r[c] for c in columns) for r in new_episodes],
        )
        assignments = ", ".join(f"{c} = ?" for c in EPISODE_COLUMNS)
        conn.executemany(
            f"UPDATE episodes SET {assignments} WHERE id = ?",
            [(*(r[c] for c in EPISODE_COLUMNS), r["id"]) for r in changed_episodes],
        )
        conn.executemany(
            "INSERT OR REPLACE INTO episode_links "
            "(platform_episode_id, episode_id, score, rule, republication) VALUES (?, ?, ?, ?, ?)",
            link_rows,
        )
        conn.executemany(
            'INSERT OR REPLACE INTO conflicts (episode_id, field, "values", detail) '
            "VALUES (?, ?, ?, ?)",
            conflict_rows,
        )
        conn.executemany("DELETE FROM conflicts WHERE episode_id = ? AND field = ?", stale)


def _query_in(db: sqlite_utils.Database, sql: str, ids: list[int]) -> Iterator[dict[str, Any]]:
    # Chunked IN (...) lists stay under SQLite's variable limit.
    ids = list(ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        yield from db.query(sql.format(", ".join("?" for _ in chunk)), chunk)
