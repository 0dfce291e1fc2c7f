"""The SQLite archive: schema, migrations and every write a sync makes.

Writes for one source happen in one transaction (`record_source`), so a crash or kill
mid-sync leaves each source either fully recorded or untouched. Nothing is deleted when a
page fails: episodes that vanish from a complete listing are marked `listed = 0` with a
`removed` version row, and come back as `returned`.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils
from sqlite_utils.migrations import Migrations

from scraper.models import Capture, Episode, Listing, Request, Show

migrations = Migrations("scraper")

# Fields whose change makes a new platform_episode_versions row.
TRACKED_FIELDS = (
    "title", "published", "published_flag", "duration_seconds", "description",
    "description_truncated", "url", "audio_url",
)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    db.table("podcasts").create({"id": int, "name": str, "created_at": str}, pk="id")
    db.table("podcasts").create_index(["name"], unique=True)
    db.table("sources").create(
        {"id": int, "podcast_id": int, "platform": str, "url": str, "fetch_mode": str,
         "added_at": str},
        pk="id", foreign_keys=[("podcast_id", "podcasts", "id")],
    )
    db.table("sources").create_index(["podcast_id", "url"], unique=True)
    db.table("runs").create(
        {"id": int, "kind": str, "started_at": str, "finished_at": str, "status": str,
         "pid": int, "sources_ok": int, "sources_failed": int, "episodes_new": int,
         "episodes_changed": int, "episodes_removed": int, "error": str},
        pk="id",
    )
    db.table("bodies").create({"sha256": str, "size": int, "compressed": bytes}, pk="sha256")
    db.table("captures").create(
        {"id": int, "run_id": int, "source_id": int, "url": str, "final_url": str,
         "status": int, "fetched_at": str, "sha256": str, "content_type": str, "etag": str,
         "last_modified": str, "via": str},
        pk="id",
        foreign_keys=[("run_id", "runs", "id"), ("source_id", "sources", "id"),
                      ("sha256", "bodies", "sha256")],
    )
    db.table("captures").create_index(["url", "fetched_at"])
    db.table("captures").create_index(["source_id", "run_id"])
    db.table("listings").create(
        {"id": int, "run_id": int, "source_id": int, "status": str, "error_kind": str,
         "error": str, "claimed_count": int, "listed_count": int, "pages": int,
         "fetched_at": str, "show_title": str, "show_author": str, "show_description": str,
         "incomplete_reason": str},
        pk="id",
        foreign_keys=[("run_id", "runs", "id"), ("source_id", "sources", "id")],
    )
    db.table("listings").create_index(["source_id", "run_id"])
    db.table("platform_episodes").create(
        {"id": int, "source_id": int, "podcast_id": int, "platform": str, "episode_id": str,
         "title": str, "published": str, "published_raw": str, "published_flag": str,
         "duration_seconds": int, "duration_precision": int, "description": str,
         "description_truncated": int, "url": str, "audio_url": str, "extra": str,
         "first_seen_run": int, "last_seen_run": int, "first_seen_at": str,
         "last_seen_at": str, "listed": int},
        pk="id",
        foreign_keys=[("source_id", "sources", "id"), ("podcast_id", "podcasts", "id")],
    )
    db.table("platform_episodes").create_index(["source_id", "episode_id"], unique=True)
    db.table("platform_episodes").create_index(["podcast_id", "platform"])
    db.table("platform_episode_versions").create(
        {"id": int, "platform_episode_id": int, "run_id": int, "seen_at": str, "change": str,
         "changes": str},
        pk="id",
        foreign_keys=[("platform_episode_id", "platform_episodes", "id"),
                      ("run_id", "runs", "id")],
    )
    db.table("platform_episode_versions").create_index(["platform_episode_id"])
    db.table("platform_episode_versions").create_index(["run_id"])


@migrations()
def m002_capture_server_date(db: sqlite_utils.Database) -> None:
    # The server's Date header: the clock the page was rendered by (Capture.page_time).
    db.table("captures").add_column("server_date", str)


@migrations()
def m003_reconcile_marks(db: sqlite_utils.Database) -> None:
    # Per podcast: the episodes mark (see Archive.episodes_mark) its last reconcile saw.
    db.table("reconcile_marks").create({"podcast_id": int, "mark": int}, pk="podcast_id")


@migrations()
def m004_listing_warnings(db: sqlite_utils.Database) -> None:
    # What an adapter could not read on a listing that is still complete ("layout_drift: ...");
    # one warning per line, NULL when none.
    db.table("listings").add_column("warnings", str)


@migrations()
def m005_capture_requests(db: sqlite_utils.Database) -> None:
    # The request a capture answers when it was not a plain GET (an API POST): its method,
    # its body (stored in `bodies` by hash) and the headers that describe it. Conditional
    # reuse and reparse look captures up by url + method + body hash.
    db.table("captures").add_column("method", str)
    db.table("captures").add_column("request_sha256", str)
    db.table("captures").add_column("request_headers", str)
    db.table("captures").create_index(["url", "method", "request_sha256"])


# m006, not m005: the podimo branch's m005_capture_requests comes first when both are merged.
@migrations()
def m006_listing_window(db: sqlite_utils.Database) -> None:
    # A platform that lists only its newest N episodes by design (Apple's lookup API: 200):
    # N, and the publish date of the oldest episode the window reached. Older episodes are
    # beyond the window: never marked removed, reported apart from "missing".
    db.table("listings").add_column("window", int)
    db.table("listings").add_column("window_from", str)


@migrations()
def m007_capture_incomplete(db: sqlite_utils.Database) -> None:
    # Why a capture holds less than the whole list (a browser paginator stopped early):
    # kept so a reparse of it is partial too, as the sync that made it was.
    db.table("captures").add_column("incomplete_reason", str)


@migrations()
def m008_listing_show_image(db: sqlite_utils.Database) -> None:
    # The show's artwork as each platform gives it (the rebuilt feed's itunes:image).
    db.table("listings").add_column("show_image", str)


@migrations()
def m020_alerts(db: sqlite_utils.Database) -> None:
    # Drift already alerted (scraper.notify): a key per drift item per podcast, kept while
    # the drift lasts, so the same report is never sent twice and drift that comes back is.
    db.table("alerts_sent").create(
        {"podcast_id": int, "key": str, "kind": str, "source_id": int, "episode_id": int,
         "run_id": int, "sent_at": str},
        pk=("podcast_id", "key"), foreign_keys=[("podcast_id", "podcasts", "id")],
    )


# Canonical episodes (written by reconcile through scraper.archive_match) and the match
# index that lets reconcile look at only what changed: features of every platform episode
# (title key, usable day, guid, link keys), per-source counts of link keys and description
# words (boilerplate detection), and a queue that triggers fill with every platform episode
# added, changed or deleted since the podcast's last reconcile.
RECONCILE_SCHEMA = (
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
    # Reports list canonical episodes newest first: these give that order without a sort.
    "CREATE INDEX IF NOT EXISTS idx_episodes_order "
    "ON episodes(published IS NULL, published DESC, id DESC)",
    "CREATE INDEX IF NOT EXISTS idx_episodes_podcast_order "
    "ON episodes(podcast_id, published IS NULL, published DESC, id DESC)",
    "CREATE INDEX IF NOT EXISTS idx_conflicts_field ON conflicts(field, episode_id)",
    "CREATE INDEX IF NOT EXISTS idx_episode_links_republication "
    "ON episode_links(republication, episode_id)",
    "CREATE TABLE IF NOT EXISTS match_podcasts (podcast_id INTEGER PRIMARY KEY)",
    """CREATE TABLE IF NOT EXISTS match_items (
        platform_episode_id INTEGER PRIMARY KEY, podcast_id INTEGER, tkey TEXT, day TEXT,
        guid TEXT)""",
    "CREATE INDEX IF NOT EXISTS idx_match_items_tkey ON match_items(podcast_id, tkey)",
    "CREATE INDEX IF NOT EXISTS idx_match_items_day ON match_items(podcast_id, day)",
    "CREATE INDEX IF NOT EXISTS idx_match_items_guid ON match_items(podcast_id, guid)",
    """CREATE TABLE IF NOT EXISTS match_keys (
        podcast_id INTEGER, key TEXT, platform_episode_id INTEGER,
        PRIMARY KEY (podcast_id, key, platform_episode_id)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS match_counts (
        podcast_id INTEGER, kind TEXT, value TEXT, source_id INTEGER, n INTEGER,
        PRIMARY KEY (podcast_id, kind, value, source_id)) WITHOUT ROWID""",
    # indexed: the row's old features are in the match tables (old_* hold them).
    """CREATE TABLE IF NOT EXISTS reconcile_queue (
        platform_episode_id INTEGER PRIMARY KEY, podcast_id INTEGER, source_id INTEGER,
        indexed INTEGER, deleted INTEGER DEFAULT 0, old_description TEXT, old_extra TEXT,
        old_episode_id INTEGER)""",
    "CREATE INDEX IF NOT EXISTS idx_reconcile_queue_podcast ON reconcile_queue(podcast_id)",
    """CREATE TRIGGER IF NOT EXISTS reconcile_queue_insert AFTER INSERT ON platform_episodes
    BEGIN
        -- A reused row id keeps the deleted row's old features (they are still indexed).
        INSERT INTO reconcile_queue (platform_episode_id, podcast_id, source_id, indexed)
        VALUES (NEW.id, NEW.podcast_id, NEW.source_id, 0)
        ON CONFLICT (platform_episode_id) DO UPDATE SET deleted = 0;
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS reconcile_queue_update AFTER UPDATE ON platform_episodes
    WHEN {" OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in (
        "title", "published", "published_flag", "duration_seconds", "duration_precision",
        "description", "description_truncated", "url", "extra", "first_seen_at", "podcast_id",
        "source_id", "platform", "episode_id"))}
    BEGIN
        INSERT OR IGNORE INTO reconcile_queue (platform_episode_id, podcast_id, source_id,
            indexed, old_description, old_extra)
        VALUES (OLD.id, OLD.podcast_id, OLD.source_id, 1, OLD.description, OLD.extra);
    END""",
    # Deleting a platform episode unlinks it here (index-driven, foreign keys on or off) and
    # queues the canonical episode it leaves.
    """CREATE TRIGGER IF NOT EXISTS reconcile_queue_delete BEFORE DELETE ON platform_episodes
    BEGIN
        INSERT OR IGNORE INTO reconcile_queue (platform_episode_id, podcast_id, source_id,
            indexed, old_description, old_extra)
        VALUES (OLD.id, OLD.podcast_id, OLD.source_id, 1, OLD.description, OLD.extra);
        UPDATE reconcile_queue SET deleted = 1, old_episode_id = coalesce(
            (SELECT episode_id FROM episode_links WHERE platform_episode_id = OLD.id),
            old_episode_id) WHERE platform_episode_id = OLD.id;
        DELETE FROM episode_links WHERE platform_episode_id = OLD.id;
    END""",
    """CREATE TRIGGER IF NOT EXISTS reconcile_queue_unlink AFTER DELETE ON episode_links
    BEGIN
        INSERT OR IGNORE INTO reconcile_queue (platform_episode_id, podcast_id, source_id,
            indexed, old_description, old_extra)
        SELECT id, podcast_id, source_id, 1, description, extra FROM platform_episodes
        WHERE id = OLD.platform_episode_id;
        UPDATE reconcile_queue SET old_episode_id = coalesce(old_episode_id, OLD.episode_id)
        WHERE platform_episode_id = OLD.platform_episode_id;
    END""",
)


REPORT_INDEXES = (
    # Truncated descriptions per platform, newest first; also the list of platforms.
    "CREATE INDEX IF NOT EXISTS idx_platform_episodes_platform "
    "ON platform_episodes(platform, published DESC, id DESC)",
    "CREATE INDEX IF NOT EXISTS idx_platform_episode_versions_seen_at "
    "ON platform_episode_versions(seen_at)",
    "CREATE INDEX IF NOT EXISTS idx_sources_platform ON sources(platform)",
    # Listing lag: each source's first run, and what was first listed after it, newest
    # first (the first page without reading every row: the first run's rows are skipped).
    "CREATE INDEX IF NOT EXISTS idx_platform_episodes_first_seen "
    "ON platform_episodes(source_id, first_seen_run)",
    "CREATE INDEX IF NOT EXISTS idx_platform_episodes_first_seen_run "
    "ON platform_episodes(first_seen_run)",
)


def ensure_reconcile_schema(db: sqlite_utils.Database) -> None:
    """The canonical tables, match index and queue (idempotent). Run by migration m010; also
    by reconcile on a database built without the archive (tests' hand-made tables)."""
    if not db["platform_episodes"].exists() or db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = 'reconcile_queue_unlink'"
    ).fetchone():
        return
    for statement in RECONCILE_SCHEMA:
        db.execute(statement)
    ensure_link_presence(db)
    # Links left by platform rows deleted before the delete trigger existed (once).
    db.execute(
        "DELETE FROM episode_links WHERE NOT EXISTS "
        "(SELECT 1 FROM platform_episodes pe WHERE pe.id = platform_episode_id)"
    )


@migrations()
def m010_reconcile_index(db: sqlite_utils.Database) -> None:
    ensure_reconcile_schema(db)


# Full-text search over titles and descriptions (Datasette's search box), kept current by
# the triggers sqlite-utils creates.
SEARCHABLE = {"episodes": ("title", "description"), "platform_episodes": ("title", "description")}


def ensure_search(db: sqlite_utils.Database, *, rebuild: bool = False) -> list[str]:
    """FTS5 tables for SEARCHABLE (idempotent; `rebuild` recreates them). Returns the tables
    that have search."""
    enabled = []
    for table, columns in SEARCHABLE.items():
        if not db[table].exists():
            continue
        if rebuild or not db[f"{table}_fts"].exists():
            db.table(table).enable_fts(columns, create_triggers=True, replace=True)
        enabled.append(table)
    return enabled


@migrations()
def m011_search(db: sqlite_utils.Database) -> None:
    # Archives made before this migration got search from `scraper serve`/sync: rebuild.
    ensure_search(db, rebuild=True)


@migrations()
def m012_report_indexes(db: sqlite_utils.Database) -> None:
    # What the reports and Datasette's canned queries filter and order by.
    for statement in REPORT_INDEXES:
        db.execute(statement)


@migrations()
def m013_report_indexes(db: sqlite_utils.Database) -> None:
    # REPORT_INDEXES grew (listing lag) after m012 ran on existing archives.
    m012_report_indexes(db)


def _provenance(column: str) -> str:
    """'rss:210' (platform:row id) as the platform and its own episode id."""
    row = f"CAST(substr(e.{column}, instr(e.{column}, ':') + 1) AS INTEGER)"
    return (f"(SELECT pe.platform || ' ' || pe.episode_id FROM platform_episodes pe "
            f"WHERE pe.id = {row}) AS {column.removesuffix('_source')}_from")


# Labelled views for people browsing the archive (Datasette): names instead of row ids.
VIEWS = {
    "episodes_labelled": (
        "SELECT e.id, p.name AS podcast, e.title, e.published, e.duration_seconds, "
        "e.platforms, e.description_truncated, "
        + ", ".join(_provenance(c) for c in (
            "title_source", "published_source", "duration_source", "description_source"))
        + " FROM episodes e JOIN podcasts p ON p.id = e.podcast_id"
    ),
    "episode_links_labelled": (
        "SELECT l.episode_id AS episode, e.title AS canonical_title, pe.platform, "
        "pe.episode_id AS platform_episode_id, pe.title AS platform_title, pe.published, "
        "pe.published_raw, pe.url, l.score, l.rule, l.republication, pe.listed "
        "FROM episode_links l JOIN platform_episodes pe ON pe.id = l.platform_episode_id "
        "JOIN episodes e ON e.id = l.episode_id"
    ),
    "recent_changes": (
        "SELECT v.id AS version, v.seen_at, v.run_id, pe.platform, p.name AS podcast, "
        "pe.episode_id AS platform_episode_id, pe.title, v.change, v.changes "
        "FROM platform_episode_versions v "
        "JOIN platform_episodes pe ON pe.id = v.platform_episode_id "
        "JOIN podcasts p ON p.id = pe.podcast_id ORDER BY v.id DESC"
    ),
}


@migrations()
def m030_views(db: sqlite_utils.Database) -> None:
    # After m010_reconcile_index: the reconciled tables the views read exist.
    create_views(db)


def create_views(db: sqlite_utils.Database) -> None:
    for name, sql in VIEWS.items():
        db.execute(f"DROP VIEW IF EXISTS {name}")
        db.execute(f"CREATE VIEW {name} AS {sql}")


@migrations()
def m031_drift_reported(db: sqlite_utils.Database) -> None:
    # Drift already reported by `scraper diff --fail-on`: only drift not in here is new.
    db.table("drift_reported").create({"key": str, "kind": str, "podcast_id": int,
                                       "first_reported_at": str}, pk="key")


# Per-source presence on each link: the platform episode's source and whether that source
# lists it now (platform_episodes.listed, NULL read as 1). "Missing per platform" asks, for
# each canonical episode, "does source S list it?": with these copied onto the link that is
# one probe of idx_episode_links_presence, not a look at every platform row of the episode.
# Triggers keep the copy current whoever writes links or platform rows.
LINK_PRESENCE = (
    "CREATE INDEX IF NOT EXISTS idx_episode_links_presence "
    "ON episode_links(episode_id, source_id, listed)",
    """CREATE TRIGGER IF NOT EXISTS episode_links_presence_insert AFTER INSERT ON episode_links
    WHEN NEW.source_id IS NULL OR NEW.listed IS NULL
    BEGIN
        UPDATE episode_links SET
            source_id = (SELECT source_id FROM platform_episodes
                         WHERE id = NEW.platform_episode_id),
            listed = (SELECT coalesce(listed, 1) FROM platform_episodes
                      WHERE id = NEW.platform_episode_id)
        WHERE platform_episode_id = NEW.platform_episode_id;
    END""",
    """CREATE TRIGGER IF NOT EXISTS episode_links_presence_update
    AFTER UPDATE OF source_id, listed ON platform_episodes
    WHEN OLD.source_id IS NOT NEW.source_id OR OLD.listed IS NOT NEW.listed
    BEGIN
        UPDATE episode_links SET source_id = NEW.source_id, listed = coalesce(NEW.listed, 1)
        WHERE platform_episode_id = NEW.id;
    END""",
)


def ensure_link_presence(db: sqlite_utils.Database) -> None:
    """episode_links.source_id/listed, filled from platform_episodes, their index and the
    triggers that keep them current (idempotent)."""
    if not db["episode_links"].exists() or not db["platform_episodes"].exists():
        return
    if not {"source_id", "listed"} <= set(db["platform_episodes"].columns_dict):
        return  # hand-made tables without them (tests of reconcile alone)
    columns = db["episode_links"].columns_dict
    added = [c for c in ("source_id", "listed") if c not in columns]
    for column in added:
        db.execute(f"ALTER TABLE episode_links ADD COLUMN {column} INTEGER")
    if added:
        db.execute(
            "UPDATE episode_links SET (source_id, listed) = (SELECT pe.source_id, "
            "coalesce(pe.listed, 1) FROM platform_episodes pe "
            "WHERE pe.id = episode_links.platform_episode_id)")
    for statement in LINK_PRESENCE:
        db.execute(statement)


@migrations()
def m040_link_presence(db: sqlite_utils.Database) -> None:
    ensure_link_presence(db)


# Episodes per month per platform (the /chart page), kept as counts so the chart reads a few
# thousand rows, not every link of the archive. Triggers mark the (podcast, month) buckets
# any write touches as dirty; `refresh_chart_months` recounts just those, in the writer's
# transaction (record_source, reconcile). Readers go through the view `chart_months_now`,
# which counts dirty buckets live, so it is exact even before a refresh. A bucket: canonical
# episodes with a date and a listing (platforms > 0), per platform still listing them, and
# in all ('canonical').
CHART_MONTH_COUNTS = """
SELECT d.podcast_id, d.month, pe.platform AS series, count(DISTINCT e.id) AS episodes
FROM chart_months_dirty d
CROSS JOIN episodes e ON e.podcast_id = d.podcast_id
    AND e.published >= d.month AND e.published < d.month || char(1114111)
    AND substr(e.published, 1, 7) = d.month
CROSS JOIN episode_links l ON l.episode_id = e.id
JOIN platform_episodes pe ON pe.id = l.platform_episode_id
WHERE e.platforms > 0 AND coalesce(pe.listed, 1) = 1
GROUP BY 1, 2, 3
UNION ALL
SELECT d.podcast_id, d.month, 'canonical', count(*)
FROM chart_months_dirty d
CROSS JOIN episodes e ON e.podcast_id = d.podcast_id
    AND e.published >= d.month AND e.published < d.month || char(1114111)
    AND substr(e.published, 1, 7) = d.month
WHERE e.platforms > 0
GROUP BY 1, 2"""


def _dirty_month(episode: str) -> str:
    """Mark the month of canonical episode `episode` (an SQL expression for its id) dirty."""
    return ("INSERT OR IGNORE INTO chart_months_dirty (podcast_id, month) "
            "SELECT podcast_id, substr(published, 1, 7) FROM episodes "
            f"WHERE id = {episode} AND published IS NOT NULL;")


CHART_MONTHS = (
    """CREATE TABLE IF NOT EXISTS chart_months (
        podcast_id INTEGER, month TEXT, series TEXT, episodes INTEGER,
        PRIMARY KEY (podcast_id, month, series)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS chart_months_dirty (
        podcast_id INTEGER, month TEXT, PRIMARY KEY (podcast_id, month)) WITHOUT ROWID""",
    """CREATE TRIGGER IF NOT EXISTS chart_months_episode_insert AFTER INSERT ON episodes
    WHEN NEW.published IS NOT NULL
    BEGIN
        INSERT OR IGNORE INTO chart_months_dirty VALUES
            (NEW.podcast_id, substr(NEW.published, 1, 7));
    END""",
    """CREATE TRIGGER IF NOT EXISTS chart_months_episode_delete AFTER DELETE ON episodes
    WHEN OLD.published IS NOT NULL
    BEGIN
        INSERT OR IGNORE INTO chart_months_dirty VALUES
            (OLD.podcast_id, substr(OLD.published, 1, 7));
    END""",
    """CREATE TRIGGER IF NOT EXISTS chart_months_episode_update
    AFTER UPDATE OF podcast_id, published, platforms ON episodes
    WHEN OLD.podcast_id IS NOT NEW.podcast_id OR OLD.published IS NOT NEW.published
        OR (OLD.platforms > 0) IS NOT (NEW.platforms > 0)
    BEGIN
        INSERT OR IGNORE INTO chart_months_dirty SELECT OLD.podcast_id,
            substr(OLD.published, 1, 7) WHERE OLD.published IS NOT NULL;
        INSERT OR IGNORE INTO chart_months_dirty SELECT NEW.podcast_id,
            substr(NEW.published, 1, 7) WHERE NEW.published IS NOT NULL;
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS chart_months_link_insert AFTER INSERT ON episode_links
    BEGIN {_dirty_month("NEW.episode_id")} END""",
    f"""CREATE TRIGGER IF NOT EXISTS chart_months_link_delete AFTER DELETE ON episode_links
    BEGIN {_dirty_month("OLD.episode_id")} END""",
    f"""CREATE TRIGGER IF NOT EXISTS chart_months_link_update
    AFTER UPDATE OF episode_id ON episode_links
    WHEN OLD.episode_id IS NOT NEW.episode_id
    BEGIN {_dirty_month("OLD.episode_id")} {_dirty_month("NEW.episode_id")} END""",
    # A platform row's listing or platform changes the per-platform count of its episode.
    f"""CREATE TRIGGER IF NOT EXISTS chart_months_platform_update
    AFTER UPDATE OF listed, platform ON platform_episodes
    WHEN coalesce(OLD.listed, 1) IS NOT coalesce(NEW.listed, 1)
        OR OLD.platform IS NOT NEW.platform
    BEGIN {_dirty_month(
        "(SELECT episode_id FROM episode_links WHERE platform_episode_id = NEW.id)")} END""",
)


# The counts as they stand now, for readers (the `episodes_per_month` canned query): the
# kept ones, and the dirty buckets counted live (`chart_months_live`, also what a refresh
# stores). One definition of the count, whoever reads it.
CHART_VIEWS = {
    "chart_months_live": CHART_MONTH_COUNTS,
    "chart_months_now": (
        "SELECT c.podcast_id, c.month, c.series, c.episodes FROM chart_months c "
        "WHERE NOT EXISTS (SELECT 1 FROM chart_months_dirty d "
        "WHERE d.podcast_id = c.podcast_id AND d.month = c.month) "
        "UNION ALL SELECT podcast_id, month, series, episodes FROM chart_months_live"),
}


def create_chart_views(db: sqlite_utils.Database) -> None:
    for name, sql in CHART_VIEWS.items():
        db.execute(f"DROP VIEW IF EXISTS {name}")
        db.execute(f"CREATE VIEW {name} AS {sql}")


def ensure_chart_months(db: sqlite_utils.Database) -> None:
    """The chart's month counts, their triggers and views (idempotent), every bucket
    counted."""
    if not db["episodes"].exists() or not db["episode_links"].exists():
        return
    for statement in CHART_MONTHS:
        db.execute(statement)
    create_chart_views(db)
    db.execute("INSERT OR IGNORE INTO chart_months_dirty (podcast_id, month) "
               "SELECT DISTINCT podcast_id, substr(published, 1, 7) FROM episodes "
               "WHERE published IS NOT NULL")
    refresh_chart_months(db)


def refresh_chart_months(db: sqlite_utils.Database) -> None:
    """Recount the dirty month buckets (in the caller's transaction)."""
    if not db["chart_months_dirty"].exists() or db.execute(
            "SELECT 1 FROM chart_months_dirty LIMIT 1").fetchone() is None:
        return
    db.execute("DELETE FROM chart_months WHERE (podcast_id, month) IN "
               "(SELECT podcast_id, month FROM chart_months_dirty)")
    db.execute("INSERT INTO chart_months (podcast_id, month, series, episodes) "
               "SELECT podcast_id, month, series, episodes FROM chart_months_live")
    db.execute("DELETE FROM chart_months_dirty")


@migrations()
def m050_chart_months(db: sqlite_utils.Database) -> None:
    ensure_chart_months(db)


@migrations()
def m051_chart_views(db: sqlite_utils.Database) -> None:
    # Archives that ran m050 before the views existed (the canned query reads them).
    if db["chart_months"].exists():
        create_chart_views(db)


def migrate(db: sqlite_utils.Database) -> None:
    """Apply the migrations not yet applied (what opening an `Archive` does), for a reader
    that serves an archive a sync of an older version wrote (`scraper serve`). A database
    without the migrations table was not made by `Archive` (tests' hand-made tables): its
    schema is left alone."""
    if db[migrations.migrations_table].exists():
        migrations.apply(db)


@dataclass
class SourceOutcome:
    """What a sync learned about one source, ready to be written in one transaction."""

    source_id: int
    status: str  # ok | unchanged | partial | failed | blocked | layout
    captures: list[Capture] = field(default_factory=list)
    listing: Listing | None = None
    error_kind: str | None = None
    error: str | None = None
    pages: int = 0
    # For an unchanged source (every page answered 304): the last good listing's counts.
    previous_listed: int | None = None
    previous_claimed: int | None = None
    previous_window: int | None = None
    previous_window_from: str | None = None
    # Counts filled in by record_source.
    new: int = 0
    changed: int = 0
    removed: int = 0

    @property
    def listed(self) -> int | None:
        if self.listing is not None:
            return len(self.listing.episodes)
        return self.previous_listed if self.status == "unchanged" else None

    @property
    def window(self) -> int | None:
        """N when the platform listed only its newest N episodes (by design)."""
        if self.listing is not None:
            return self.listing.window
        return self.previous_window if self.status == "unchanged" else None

    @property
    def window_from(self) -> str | None:
        """The publish date of the oldest episode inside the window."""
        if self.listing is not None:
            if not self.listing.window:
                return None
            days = [e.published for e in self.listing.episodes if e.published]
            return min(days).isoformat() if days else None
        return self.previous_window_from if self.status == "unchanged" else None

    @property
    def claimed(self) -> int | None:
        if self.listing is not None:
            return self.listing.show.claimed_count if self.listing.show else None
        return self.previous_claimed if self.status == "unchanged" else None


# Tables every archive has from its first migration: a file without them is not ours.
ARCHIVE_TABLES = ("podcasts", "sources", "listings", "platform_episodes")


def open_existing(path: Path | str) -> sqlite_utils.Database:
    """Open an archive for reading, or raise ArchiveError with one line saying why.

    Never creates anything: no file, no lock, no migration (a read command must not turn a
    mistyped path into an empty archive)."""
    from scraper.dbfaults import check_archive_file
    from scraper.errors import ArchiveError

    path = Path(path)
    check_archive_file(path, writing=False)  # ArchiveError: one line saying what it is
    db = sqlite_utils.Database(path)
    db.execute("PRAGMA busy_timeout = 10000")
    if not set(ARCHIVE_TABLES) <= set(db.table_names()):  # an empty file or empty SQLite
        db.close()
        raise ArchiveError(f"{path} is not a scraper archive (it has no archive tables yet); "
                           "run `scraper sync` with it, or give --db an archive")
    return db


class Archive:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite_utils.Database(self.path)
        self.db.execute("PRAGMA busy_timeout = 10000")
        self.db.execute("PRAGMA foreign_keys = ON")
        if self.db.journal_mode != "wal":
            self.db.enable_wal()
        self.db.execute("PRAGMA synchronous = NORMAL")
        migrations.apply(self.db)

    def close(self) -> None:
        self.db.close()

    # Podcasts and sources -------------------------------------------------------------------

    def ensure_podcast(self, name: str) -> int:
        row = self.db.execute("select id from podcasts where name = ?", [name]).fetchone()
        if row:
            return row[0]
        return _new_id(self.db.table("podcasts").insert({"name": name, "created_at": now_iso()}))

    def ensure_source(self, podcast_id: int, platform: str, url: str, fetch_mode: str) -> int:
        row = self.db.execute(
            "select id, platform, fetch_mode from sources where podcast_id = ? and url = ?",
            [podcast_id, url],
        ).fetchone()
        if row:
            if (row[1], row[2]) != (platform, fetch_mode):
                self.db.table("sources").update(
                    row[0], {"platform": platform, "fetch_mode": fetch_mode})
            return row[0]
        return _new_id(self.db.table("sources").insert(
            {"podcast_id": podcast_id, "platform": platform, "url": url, "fetch_mode": fetch_mode,
             "added_at": now_iso()}
        ))

    def all_sources(self) -> list[tuple[int, str, str, str, int]]:
        """(source id, url, platform, podcast name, podcast id) of every source, by id."""
        return self.db.execute(
            "select s.id, s.url, s.platform, p.name, p.id from sources s "
            "join podcasts p on p.id = s.podcast_id order by s.id").fetchall()

    def source(self, source_id: int) -> dict[str, Any]:
        return self.db.table("sources").get(source_id)

    # Runs -----------------------------------------------------------------------------------

    def start_run(self, kind: str, pid: int) -> int:
        # Only one sync holds the lock, so any run still "running" died mid-way.
        self.db.execute(
            "update runs set status = 'aborted', finished_at = coalesce(finished_at, ?) "
            "where status = 'running'",
            [now_iso()],
        )
        self.db.conn.commit()
        return _new_id(self.db.table("runs").insert(
            {"kind": kind, "started_at": now_iso(), "status": "running", "pid": pid}
        ))

    def finish_run(self, run_id: int, outcomes: Iterable[SourceOutcome], error: str | None = None):
        outcomes = list(outcomes)
        failed = sum(1 for o in outcomes if o.status not in ("ok", "unchanged"))
        status = "failed" if error else ("ok" if not failed else "partial")
        if outcomes and failed == len(outcomes):
            status = "failed"
        self.db.table("runs").update(
            run_id,
            {"finished_at": now_iso(), "status": status,
             "sources_ok": len(outcomes) - failed, "sources_failed": failed,
             "episodes_new": sum(o.new for o in outcomes),
             "episodes_changed": sum(o.changed for o in outcomes),
             "episodes_removed": sum(o.removed for o in outcomes), "error": error},
        )
        return status

    # Captures -------------------------------------------------------------------------------

    def _store_body(self, body: bytes, sha256: str) -> None:
        exists = self.db.execute("select 1 from bodies where sha256 = ?", [sha256]).fetchone()
        if not exists:
            self.db.table("bodies").insert(
                {"sha256": sha256, "size": len(body), "compressed": zlib.compress(body, 6)}
            )

    def _store_capture(self, run_id: int, source_id: int, capture: Capture) -> None:
        sha = capture.sha256
        self._store_body(capture.body, sha)
        request = capture.request
        if request.body is not None:
            self._store_body(request.body, request.body_sha256 or "")
        self.db.table("captures").insert(
            {"run_id": run_id, "source_id": source_id, "url": capture.url,
             "final_url": capture.final_url, "status": capture.status,
             "fetched_at": capture.fetched_at.isoformat(timespec="seconds"), "sha256": sha,
             "content_type": capture.headers.get("content-type"),
             "etag": capture.headers.get("etag"),
             "last_modified": capture.headers.get("last-modified"), "via": capture.via,
             "server_date": capture.headers.get("date"), "method": request.method.upper(),
             "request_sha256": request.body_sha256,
             "request_headers": json.dumps(capture.request_headers, sort_keys=True)
             if capture.request_headers else None,
             "incomplete_reason": capture.incomplete_reason}
        )

    # The columns a stored capture is read back from (`_capture_from_row`).
    _CAPTURE_SELECT = (
        "select c.url, c.final_url, c.status, c.fetched_at, c.content_type, c.etag, "
        "c.last_modified, c.via, b.compressed, c.server_date, c.method, c.request_sha256, "
        "c.request_headers, rb.compressed, c.incomplete_reason, c.run_id, c.source_id "
        "from captures c join bodies b on b.sha256 = c.sha256 "
        "left join bodies rb on rb.sha256 = c.request_sha256 ")

    def latest_capture(self, target: str | Request,
                       source_id: int | None = None) -> Capture | None:
        """The newest stored 2xx capture answering `target` (a URL: a GET; or a `Request`,
        matched on url + method + body hash), for 304 reuse and reparse."""
        row = self._latest_capture_row(target, source_id)
        return _capture_from_row(row) if row else None

    def latest_page_states(self, target: str | Request,
                           source_id: int | None = None) -> list[Capture]:
        """`latest_capture(target)` and, after it, the page states the browser captured in
        the same run from that page (`<url>#page=2`, ...: a paginator it clicked through),
        in order: what the sync parsed, for reparse."""
        row = self._latest_capture_row(target, source_id)
        if row is None:
            return []
        states = self.db.execute(
            self._CAPTURE_SELECT + "where c.run_id = ? and c.source_id = ? and "
            "substr(c.url, 1, ?) = ? and c.status between 200 and 299 order by c.id",
            [row[15], row[16], len(row[0]) + 6, row[0] + "#page="]).fetchall()
        return [_capture_from_row(r) for r in [row, *states]]

    def _latest_capture_row(self, target: str | Request,
                            source_id: int | None) -> tuple | None:
        request = Request.of(target)
        url, method, body_sha = request.key
        sql = (self._CAPTURE_SELECT + "where c.url = ? and c.status between 200 and 299 "
               "and coalesce(c.method, 'GET') = ? and c.request_sha256 is ?")
        params: list[Any] = [url, method, body_sha]
        if source_id is not None:
            sql += " and c.source_id = ?"
            params.append(source_id)
        return self.db.execute(sql + " order by c.id desc limit 1", params).fetchone()

    def last_good_chain(self, source_id: int) -> list[str | Request]:
        """The requests, in fetch order, of the source's last complete listing (a URL for a
        plain GET): a re-sync revalidates them first and, when all answer 304, parses
        nothing."""
        row = self.db.execute(
            "select run_id from listings where source_id = ? and status = 'ok' "
            "order by id desc limit 1", [source_id]).fetchone()
        if row is None:
            return []
        chain: dict[tuple, str | Request] = {}
        for url, method, request_sha in self.db.execute(
                "select url, method, request_sha256 from captures "
                "where source_id = ? and run_id = ? order by id", [source_id, row[0]]):
            if (method or "GET") == "GET" and request_sha is None:
                chain.setdefault((url, "GET", None), url)
            else:
                # A request with a body is never answered 304: revalidation cannot skip it.
                stored = self.latest_capture(
                    Request(url=url, method=method, body=self._body(request_sha)), source_id)
                if stored is not None:
                    chain.setdefault((url, method, request_sha), stored.request)
        return list(chain.values())

    def _body(self, sha256: str | None) -> bytes | None:
        if sha256 is None:
            return None
        row = self.db.execute("select compressed from bodies where sha256 = ?",
                              [sha256]).fetchone()
        return zlib.decompress(row[0]) if row else None

    # Reconciliation ---------------------------------------------------------------------------

    def reconcile(self, podcast_id: int | None = None, *, full: bool = False):
        """Canonical episodes for the podcast's queued changes (see scraper.reconcile); the
        writes go through scraper.archive_match."""
        from scraper import reconcile as reconciling

        with self.db.atomic():
            report = reconciling.reconcile(self.db, podcast_id, full=full)
            refresh_chart_months(self.db)
            for podcast in [podcast_id] if podcast_id is not None else []:
                self.set_reconciled_mark(podcast, self.episodes_mark())
        return report

    def needs_reconcile(self, podcast_id: int) -> bool:
        """Something is queued for the podcast, or it was never reconciled."""
        queued = self.db.execute("select 1 from reconcile_queue where podcast_id = ? limit 1",
                                 [podcast_id]).fetchone()
        indexed = self.db.execute("select 1 from match_podcasts where podcast_id = ?",
                                  [podcast_id]).fetchone()
        return bool(queued) or not indexed

    def episodes_mark(self) -> int:
        """The newest version row (all podcasts): a podcast's reconcile mark says every
        change up to it is reconciled. What is still to do is in `reconcile_queue`."""
        row = self.db.execute("select max(id) from platform_episode_versions").fetchone()
        return row[0] or 0

    def reconciled_mark(self, podcast_id: int) -> int | None:
        row = self.db.execute("select mark from reconcile_marks where podcast_id = ?",
                              [podcast_id]).fetchone()
        return row[0] if row else None

    def set_reconciled_mark(self, podcast_id: int, mark: int) -> None:
        self.db.table("reconcile_marks").upsert({"podcast_id": podcast_id, "mark": mark},
                                          pk="podcast_id")

    def last_good_listing(self, source_id: int) -> dict[str, Any] | None:
        rows = list(self.db.query(
            "select * from listings where source_id = ? and status in ('ok', 'unchanged') "
            "order by id desc limit 1", [source_id]))
        return rows[0] if rows else None

    # Alerts -----------------------------------------------------------------------------------

    def record_alerts(self, podcast_id: int, resolved: Iterable[str],
                      sent: Iterable[tuple[str, str, int | None, int | None]],
                      run_id: int | None) -> None:
        """Forget the podcast's alerted drift keys in `resolved`; remember `sent` items
        (key, kind, source id, episode id) as alerted by `run_id` (scraper.notify)."""
        now = now_iso()
        with self.db.atomic():
            self.db.conn.executemany(
                "DELETE FROM alerts_sent WHERE podcast_id = ? AND key = ?",
                [(podcast_id, key) for key in resolved])
            self.db.conn.executemany(
                "INSERT OR REPLACE INTO alerts_sent (podcast_id, key, kind, source_id, "
                "episode_id, run_id, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(podcast_id, key, kind, source_id, episode_id, run_id, now)
                 for key, kind, source_id, episode_id in sent])

    # The one write per source -----------------------------------------------------------------

    def record_source(self, run_id: int, outcome: SourceOutcome) -> SourceOutcome:
        """Write a source's captures, listing snapshot and episode changes atomically."""
        with self.db.atomic():
            for capture in outcome.captures:
                if not capture.not_modified:
                    self._store_capture(run_id, outcome.source_id, capture)
            listing = outcome.listing
            show = listing.show if listing else None
            previous = self.last_good_listing(outcome.source_id)
            if outcome.status == "unchanged" and previous:
                show = show or Show(
                    title=previous["show_title"], author=previous["show_author"],
                    description=previous["show_description"],
                    claimed_count=previous["claimed_count"], image=previous.get("show_image"),
                )
            first = outcome.captures[0] if outcome.captures else None
            warnings = "\n".join(listing.warnings) if listing and listing.warnings else None
            if outcome.status == "unchanged" and previous:
                warnings = previous.get("warnings")  # the same pages: the same warnings
            self.db.table("listings").insert(
                {"run_id": run_id, "source_id": outcome.source_id, "status": outcome.status,
                 "error_kind": outcome.error_kind, "error": outcome.error,
                 "claimed_count": show.claimed_count if show else None,
                 "listed_count": outcome.listed,
                 "pages": outcome.pages,
                 "fetched_at": first.page_time.isoformat(timespec="seconds") if first else None,
                 "show_title": show.title if show else None,
                 "show_author": show.author if show else None,
                 "show_description": show.description if show else None,
                 "show_image": show.image if show else None,
                 "incomplete_reason": listing.incomplete_reason if listing else None,
                 "warnings": warnings,
                 "window": outcome.window, "window_from": outcome.window_from}
            )
            if listing is not None and outcome.status in ("ok", "partial"):
                seen_at = first.page_time.isoformat(timespec="seconds") if first else now_iso()
                self._record_episodes(run_id, outcome, listing, seen_at,
                                      complete=outcome.status == "ok",
                                      window_from=outcome.window_from if listing.window
                                      else None, windowed=bool(listing.window))
            refresh_chart_months(self.db)
        return outcome

    def _record_episodes(self, run_id: int, outcome: SourceOutcome, listing: Listing,
                         seen_at: str, *, complete: bool, windowed: bool = False,
                         window_from: str | None = None) -> None:
        source = self.source(outcome.source_id)
        existing = {
            row["episode_id"]: row
            for row in self.db.query(
                "select * from platform_episodes where source_id = ?", [outcome.source_id]
            )
        }
        inserts: list[dict[str, Any]] = []
        versions: list[dict[str, Any]] = []
        for episode in listing.episodes:
            fields = _episode_fields(episode)
            row = existing.pop(episode.id, None)
            if row is None:
                inserts.append({
                    **fields, "source_id": outcome.source_id, "podcast_id": source["podcast_id"],
                    "platform": source["platform"], "episode_id": episode.id,
                    "first_seen_run": run_id, "last_seen_run": run_id,
                    "first_seen_at": seen_at, "last_seen_at": seen_at, "listed": 1,
                })
                continue
            changes = {
                name: [row[name], fields[name]]
                for name in TRACKED_FIELDS
                if row[name] != fields[name]
            }
            update = {**fields, "last_seen_run": run_id, "last_seen_at": seen_at, "listed": 1}
            self.db.table("platform_episodes").update(row["id"], update)
            if not row["listed"]:
                versions.append(_version(row["id"], run_id, seen_at, "returned", changes))
                outcome.new += 1
            elif changes:
                versions.append(_version(row["id"], run_id, seen_at, "changed", changes))
                outcome.changed += 1
        if inserts:
            table = self.db.table("platform_episodes")
            table.insert_all(inserts, batch_size=40)
            for row in self.db.query(
                "select id, episode_id, title, published from platform_episodes "
                "where source_id = ? and first_seen_run = ?",
                [outcome.source_id, run_id],
            ):
                versions.append(_version(row["id"], run_id, seen_at, "added",
                                         {"title": [None, row["title"]],
                                          "published": [None, row["published"]]}))
            outcome.new += len(inserts)
        if complete:
            # Only a complete listing can say an episode is gone; never delete it. A windowed
            # listing speaks only for episodes newer than its oldest one: older ones (and
            # undated ones) are beyond the window, not gone.
            for row in existing.values():
                if windowed and not (window_from and (row["published"] or "") > window_from):
                    continue
                if row["listed"]:
                    self.db.table("platform_episodes").update(row["id"], {"listed": 0})
                    versions.append(_version(row["id"], run_id, seen_at, "removed", {}))
                    outcome.removed += 1
        if versions:
            self.db.table("platform_episode_versions").insert_all(versions, batch_size=150)


def _capture_from_row(row: tuple) -> Capture:
    """A capture as `Archive._CAPTURE_SELECT` reads it back."""
    headers = {k: v for k, v in (("content-type", row[4]), ("etag", row[5]),
                                 ("last-modified", row[6]), ("date", row[9])) if v}
    return Capture(url=row[0], final_url=row[1], status=row[2],
                   fetched_at=datetime.fromisoformat(row[3]), headers=headers,
                   body=zlib.decompress(row[8]), via=row[7] or "http",
                   method=row[10] or "GET",
                   request_body=zlib.decompress(row[13]) if row[13] is not None else None,
                   request_headers=json.loads(row[12]) if row[12] else {},
                   incomplete_reason=row[14])


def _new_id(inserted: sqlite_utils.db.Table) -> int:
    """The id of the row `Table.insert` just wrote."""
    assert inserted.last_pk is not None
    return int(inserted.last_pk)


def _episode_fields(episode: Episode) -> dict[str, Any]:
    # The typed values without a column of their own are kept in `extra` (matching reads
    # guid and links from there).
    extra = dict(episode.extra)
    if episode.guid:
        extra["guid"] = episode.guid
    if episode.links:
        extra["links"] = list(episode.links)
    if episode.duration_flag:
        extra["duration_flag"] = episode.duration_flag
    if episode.control_characters_removed:
        extra["control_characters_removed"] = list(episode.control_characters_removed)
    return {
        "title": episode.title,
        "published": episode.published.isoformat() if episode.published else None,
        "published_raw": episode.published_raw,
        "published_flag": episode.published_flag,
        "duration_seconds": episode.duration_seconds,
        "duration_precision": episode.duration_precision,
        "description": episode.description,
        "description_truncated": int(episode.description_truncated),
        "url": episode.url,
        "audio_url": episode.audio_url,
        "extra": json.dumps(extra, sort_keys=True, ensure_ascii=False, default=str)
        if extra else None,
    }


def _version(pe_id: int, run_id: int, seen_at: str, change: str, changes: dict) -> dict[str, Any]:
    return {"platform_episode_id": pe_id, "run_id": run_id, "seen_at": seen_at,
            "change": change,
            "changes": json.dumps(changes, ensure_ascii=False, default=str) if changes else None}


def record_drift_reported(db: sqlite_utils.Database, rows: list[dict[str, Any]]) -> None:
    """Record the drift keys one `diff --fail-on` check saw, in one transaction (keys already
    there are kept as first reported)."""
    with db.conn:
        db.table("drift_reported").insert_all(rows, ignore=True)
