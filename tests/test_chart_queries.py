"""The /chart page's two canned queries stay exact while reading little (issue 11).

`episodes_per_month` reads the counts the archive keeps in `chart_months` (recounted by
the writer for the month buckets its triggers marked dirty; dirty buckets not yet recounted
are counted live, through the view `chart_months_now`). `listing_lag` walks platform rows
newest first through an index, skipping each source's first run. Both are compared with
the plain aggregate over every row that they replace (REFERENCE below), through syncs that
add, drop, re-date and bring back episodes, reconciled incrementally, and with writes
nobody recounted.
"""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils
from test_reconcile_incremental import PLATFORMS, Show_, record

from scraper.archive import Archive, migrate, refresh_chart_months

METADATA = Path(__file__).resolve().parent.parent / "data" / "metadata.json"
QUERIES = json.loads(METADATA.read_text("utf-8"))["databases"]["archive"]["queries"]

# What the queries were before the counts and the index: every row, aggregated.
REFERENCE_PER_MONTH = """
SELECT substr(e.published, 1, 7) AS month, pe.platform AS series,
  count(DISTINCT e.id) AS episodes
FROM podcasts p
CROSS JOIN episodes e ON e.podcast_id = p.id AND e.published IS NOT NULL
JOIN episode_links l ON l.episode_id = e.id
JOIN platform_episodes pe ON pe.id = l.platform_episode_id
WHERE e.platforms > 0 AND coalesce(pe.listed, 1) = 1
  AND (:podcast = '' OR p.name = :podcast)
GROUP BY 1, 2
UNION ALL
SELECT substr(e.published, 1, 7), 'canonical', count(*)
FROM podcasts p
CROSS JOIN episodes e ON e.podcast_id = p.id AND e.published IS NOT NULL
WHERE e.platforms > 0 AND (:podcast = '' OR p.name = :podcast)
GROUP BY 1
ORDER BY 1, 2"""
REFERENCE_LAG = """
WITH first_runs AS (
  SELECT source_id, min(first_seen_run) AS run FROM platform_episodes GROUP BY source_id
)
SELECT pe.platform, e.id AS episode, e.title, e.published, pe.first_seen_at,
  round(julianday(substr(pe.first_seen_at, 1, 19)) - julianday(e.published), 1) AS lag_days
FROM podcasts p
CROSS JOIN episodes e ON e.podcast_id = p.id AND e.published IS NOT NULL
JOIN episode_links l ON l.episode_id = e.id
JOIN platform_episodes pe ON pe.id = l.platform_episode_id
JOIN first_runs f ON f.source_id = pe.source_id
WHERE e.platforms > 0 AND pe.first_seen_run > f.run
  AND (:podcast = '' OR p.name = :podcast)"""


def _rows(db, sql: str, podcast: str) -> list[tuple]:
    return db.execute(sql, {"podcast": podcast}).fetchall()


def assert_chart_exact(db, podcasts: list[str]) -> None:
    for podcast in ["", *podcasts]:
        assert _rows(db, QUERIES["episodes_per_month"]["sql"], podcast) == _rows(
            db, REFERENCE_PER_MONTH, podcast), podcast
        lag = _rows(db, QUERIES["listing_lag"]["sql"], podcast)
        assert sorted(lag) == sorted(_rows(db, REFERENCE_LAG, podcast)), podcast


def _stored_counts(db) -> list[tuple]:
    return db.execute("SELECT podcast_id, month, series, episodes FROM chart_months "
                      "ORDER BY 1, 2, 3").fetchall()


def _recounted(db: sqlite_utils.Database) -> list[tuple]:
    """chart_months as a recount of every bucket from scratch would leave it."""
    conn = db.conn
    conn.execute("SAVEPOINT recount")
    try:
        conn.execute("DELETE FROM chart_months")
        conn.execute("INSERT OR IGNORE INTO chart_months_dirty SELECT DISTINCT podcast_id, "
                     "substr(published, 1, 7) FROM episodes WHERE published IS NOT NULL")
        refresh_chart_months(db)
        return _stored_counts(db)
    finally:
        conn.execute("ROLLBACK TO recount")
        conn.execute("RELEASE recount")


@pytest.mark.parametrize("seed", range(4))
def test_random_syncs_keep_both_chart_queries_exact(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    archive = Archive(tmp_path / "archive.db")
    shows = {name: Show_(rng) for name in ("Show A", "Show B")}
    pods = {name: archive.ensure_podcast(name) for name in shows}
    try:
        for round_ in range(7):
            for name, show in shows.items():
                for _ in range(rng.randint(1, 5)):
                    show.add(rng.sample(PLATFORMS, rng.randint(1, len(PLATFORMS))))
                for _ in range(rng.randint(0, 4)):
                    show.edit()  # removes, re-titles, re-dates (months move), re-describes
                record(archive, pods[name], show,
                       rng.sample(PLATFORMS, rng.randint(1, len(PLATFORMS))))
                if round_ % 2:  # later syncs: lag rows appear
                    archive.db.execute(
                        "UPDATE platform_episodes SET first_seen_at = '2026-03-09T00:00:00' "
                        "WHERE first_seen_run = (SELECT max(id) FROM runs)")
            # Before reconcile: new platform rows, links not yet made.
            assert_chart_exact(archive.db, list(shows))
            for pod in pods.values():
                archive.reconcile(pod)
            # The writer recounted what it touched: nothing left dirty, counts as a recount.
            assert archive.db.execute("SELECT count(*) FROM chart_months_dirty").fetchone() == (0,)
            assert _stored_counts(archive.db) == _recounted(archive.db)
            assert_chart_exact(archive.db, list(shows))
        assert _rows(archive.db, QUERIES["listing_lag"]["sql"], "")  # the lag was exercised
    finally:
        archive.close()


def _month_of(db: sqlite_utils.Database, where: str) -> str:
    return db.execute("SELECT substr(e.published, 1, 7) FROM episodes e JOIN episode_links l "
                      f"ON l.episode_id = e.id WHERE {where}").fetchone()[0]


def test_a_write_nobody_recounted_is_counted_live(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "archive.db")
    show = Show_(random.Random(3))
    pod = archive.ensure_podcast("Show")
    db = archive.db
    try:
        for _ in range(12):
            show.add(list(PLATFORMS))
        record(archive, pod, show, list(PLATFORMS))
        archive.reconcile(pod)
        stored = _stored_counts(db)
        assert stored and {s for _, _, s, _ in stored} == {"canonical", *PLATFORMS}
        first = "l.platform_episode_id = (SELECT min(platform_episode_id) FROM episode_links)"
        last = "l.platform_episode_id = (SELECT max(platform_episode_id) FROM episode_links"
        last_listed = f"{last} WHERE listed = 1)"
        last += ")"
        # Writes outside the archive's methods (hand edits), one at a time: the triggers
        # mark exactly the buckets each touches, and the query counts those live.
        edits = [
            (lambda: {_month_of(db, first), "2025-12"},
             "UPDATE episodes SET published = '2025-12-31' WHERE id = "
             "(SELECT min(episode_id) FROM episode_links)"),
            (lambda: {_month_of(db, last)},
             "UPDATE platform_episodes SET listed = 0 WHERE id = "
             "(SELECT max(platform_episode_id) FROM episode_links)"),
            (lambda: {_month_of(db, first)},
             "DELETE FROM episode_links WHERE platform_episode_id = "
             "(SELECT min(platform_episode_id) FROM episode_links)"),
            (lambda: {_month_of(db, first), _month_of(db, last_listed)},
             "UPDATE episode_links SET episode_id = (SELECT episode_id FROM episode_links "
             "ORDER BY platform_episode_id LIMIT 1) WHERE platform_episode_id = "
             "(SELECT max(platform_episode_id) FROM episode_links WHERE listed = 1)"),
            (lambda: {"2024-05"},
             "INSERT INTO episodes (podcast_id, title, published, platforms) "
             "SELECT id, 'By hand', '2024-05-01', 1 FROM podcasts"),
            (lambda: {"2024-05"}, "DELETE FROM episodes WHERE title = 'By hand'"),
        ]
        for expected_months, statement in edits:
            months = expected_months()
            with db.atomic():
                db.execute(statement)
            assert {m for (m,) in db.execute("SELECT month FROM chart_months_dirty")} == months
            assert _stored_counts(db) == stored  # nothing recounted yet ...
            assert_chart_exact(db, ["Show"])  # ... and the query is exact all the same
            with db.atomic():
                refresh_chart_months(db)
            assert _stored_counts(db) != stored  # the edit changed a count ...
            assert _stored_counts(db) == _recounted(db)  # ... and the recount has it
            stored = _stored_counts(db)
        months = {r[0] for r in _rows(db, QUERIES["episodes_per_month"]["sql"], "")}
        assert "2025-12" in months
    finally:
        archive.close()


def test_an_archive_from_before_the_counts_gets_them_when_served(tmp_path: Path) -> None:
    path = tmp_path / "archive.db"
    archive = Archive(path)
    show = Show_(random.Random(5))
    pod = archive.ensure_podcast("Show")
    try:
        for _ in range(10):
            show.add(list(PLATFORMS))
        record(archive, pod, show, list(PLATFORMS))
        archive.reconcile(pod)
        expected = _stored_counts(archive.db)
        for statement in [
            *(f"DROP TRIGGER {name}" for (name,) in archive.db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                "AND name LIKE 'chart_months_%'").fetchall()),
            "DROP VIEW chart_months_now", "DROP VIEW chart_months_live",
            "DROP TABLE chart_months", "DROP TABLE chart_months_dirty",
            "DROP INDEX idx_platform_episodes_first_seen_run",
            "DELETE FROM _sqlite_migrations WHERE name IN "
            "('m050_chart_months', 'm051_chart_views', 'm013_report_indexes')",
        ]:
            archive.db.execute(statement)
    finally:
        archive.close()
    db = sqlite_utils.Database(path)
    try:
        migrate(db)  # what `scraper serve` does before it serves
        assert _stored_counts(db) == expected
        assert_chart_exact(db, ["Show"])
    finally:
        db.close()


def test_listing_lag_lists_the_newest_listings_first(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "archive.db")
    show = Show_(random.Random(11))
    pod = archive.ensure_podcast("Show")
    try:
        for _ in range(4):
            for _ in range(3):
                show.add(list(PLATFORMS))
            record(archive, pod, show, list(PLATFORMS))
            archive.reconcile(pod)
        rows = archive.db.execute(
            "SELECT pe.first_seen_run, pe.id FROM platform_episodes pe "
            "JOIN episode_links l ON l.platform_episode_id = pe.id "
            "WHERE pe.first_seen_run > 1 ORDER BY 1 DESC, 2 DESC").fetchall()
        conn: sqlite3.Connection = archive.db.conn
        lag = conn.execute(QUERIES["listing_lag"]["sql"], {"podcast": ""}).fetchall()
        assert len(lag) == len(rows) == 9 * len(PLATFORMS)  # 3 syncs after the first
        runs = [r[0] for r in rows]
        assert runs == sorted(runs, reverse=True) and runs[0] == 4
        newest = {r[1] for r in lag[:3 * len(PLATFORMS)]}  # the last sync's episodes
        assert newest == {r[0] for r in conn.execute(
            "SELECT l.episode_id FROM platform_episodes pe JOIN episode_links l "
            "ON l.platform_episode_id = pe.id WHERE pe.first_seen_run = 4")}
    finally:
        archive.close()
