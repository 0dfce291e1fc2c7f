"""Every read the reports make, in one place: the CLI (`episodes`, `diff`, `changes`,
`sources`), the drift report and Datasette's coverage query all read through here.

Reads name the columns they need and stream: functions that can return many rows are
generators over a cursor, so a report holds one chunk (or one source) at a time. Each query
filters and orders through an index (tests/test_query_plans.py checks the plans).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import sqlite_utils

from scraper.matching import platform_rank

# Listing statuses whose episodes were stored: the source's picture as of that capture.
GOOD_STATUSES = ("ok", "unchanged", "partial")
CHUNK = 500


def open_for_reading(path: str | Path) -> sqlite_utils.Database:
    """An existing archive, for reports: waits for a sync's write lock instead of failing."""
    database = sqlite_utils.Database(path)
    database.execute("PRAGMA busy_timeout = 10000")
    return database


def _in(ids: Sequence[object]) -> str:
    return ", ".join("?" for _ in ids)


def _has(db: sqlite_utils.Database, table: str) -> bool:
    return db[table].exists()


# ---------------------------------------------------------------------------------------------
# Sources


def sources_status(db: sqlite_utils.Database) -> dict[str, dict[str, Any]]:
    """url -> the source's latest listing: status, listed, claimed, captured, warnings."""
    if not _has(db, "listings"):
        return {}
    last: dict[str, dict[str, Any]] = {}
    # An archive not synced since migration m004 has no warnings column yet.
    warnings = ("l.warnings" if "warnings" in db["listings"].columns_dict
                else "NULL as warnings")
    for row in db.query(
        "select s.url, l.status, l.listed_count as listed, l.claimed_count as claimed, "
        f"l.fetched_at as captured, {warnings} from sources s join listings l on l.id = "
        "(select max(id) from listings where source_id = s.id)"
    ):
        row["warnings"] = row["warnings"].split("\n") if row["warnings"] else []
        last[row.pop("url")] = row
    return last


def podcasts(db: sqlite_utils.Database, podcast: int | str | None) -> list[dict[str, Any]]:
    if podcast is None:
        return list(db.query("SELECT id, name FROM podcasts ORDER BY id"))
    column = "id" if isinstance(podcast, int) else "name"
    return list(db.query(f"SELECT id, name FROM podcasts WHERE {column} = ?", [podcast]))


def podcast_sources(db: sqlite_utils.Database, podcast_id: int) -> list[dict[str, Any]]:
    """A podcast's sources in the fixed order (publisher feed first, then by platform)."""
    rows = db.query("SELECT id, platform, url FROM sources WHERE podcast_id = ?", [podcast_id])
    return sorted(rows, key=lambda s: (*platform_rank(s["platform"]), s["id"]))


def latest_good_listing(db: sqlite_utils.Database, source_id: int) -> dict[str, Any] | None:
    # An archive written before migrations m004/m005 lacks these columns (NULL until synced).
    present = db["listings"].columns_dict
    optional = ", ".join(c if c in present else f"NULL AS {c}"
                         for c in ("warnings", "window", "window_from"))
    rows = list(db.query(
        f"SELECT id, run_id, status, fetched_at, claimed_count, listed_count, pages, {optional} "
        f"FROM listings WHERE source_id = ? AND status IN ({_in(list(GOOD_STATUSES))}) "
        "ORDER BY fetched_at DESC, id DESC LIMIT 1",
        [source_id, *GOOD_STATUSES],
    ))
    return rows[0] if rows else None


def latest_listing_status(db: sqlite_utils.Database, podcast_id: int) -> Iterator[dict[str, Any]]:
    """Each source of the podcast with its latest listing's status and error, by source id."""
    yield from db.query(
        "SELECT s.id, s.platform, s.url, l.status, l.error FROM sources s "
        "JOIN listings l ON l.id = (SELECT max(id) FROM listings WHERE source_id = s.id) "
        "WHERE s.podcast_id = ? ORDER BY s.id", [podcast_id])


def listed_episodes(db: sqlite_utils.Database, podcast_id: int) -> Iterator[dict[str, Any]]:
    """id, title, published of the podcast's canonical episodes that a platform lists,
    newest first."""
    yield from db.query(
        "SELECT id, title, published FROM episodes WHERE podcast_id = ? AND platforms > 0 "
        "ORDER BY published IS NULL, published DESC, id DESC", [podcast_id])


def present_platforms(db: sqlite_utils.Database) -> list[str]:
    if not _has(db, "platform_episodes"):
        return []
    # A skip-scan of the platform index: one probe per platform, not a pass over the rows.
    rows = db.execute(
        "WITH RECURSIVE p(name) AS (SELECT min(platform) FROM platform_episodes "
        "UNION ALL SELECT (SELECT min(platform) FROM platform_episodes WHERE platform > name) "
        "FROM p WHERE name IS NOT NULL) SELECT name FROM p WHERE name IS NOT NULL").fetchall()
    return sorted((r[0] for r in rows if r[0]), key=platform_rank)


# ---------------------------------------------------------------------------------------------
# Canonical episodes (`scraper episodes`)

EPISODE_KEYS = (
    "id", "podcast", "title", "published", "duration_seconds", "description",
    "description_source", "description_truncated", "title_source", "published_source",
    "duration_source", "platforms",
)


def canonical_episodes(
    db: sqlite_utils.Database, podcast: int | str | None = None
) -> Iterator[dict[str, Any]]:
    """Canonical episodes, newest first (then by id), one at a time:

    `{"id", "podcast", "title", "published", "duration_seconds", "description",
    "description_source", "description_truncated", "title_source", "published_source",
    "duration_source", "platforms", "conflicts": [{"field", "values", "detail"}],
    "links": [{"platform", "episode_id", "url", "score", "rule"}]}`

    `podcast` is a podcast id or name. `score` is 0-1; `*_source` is "platform:row id".
    Links and conflicts are read per chunk of episodes.
    """
    if not _has(db, "episodes"):
        return
    where, params = "WHERE e.platforms > 0", list[Any]()
    if isinstance(podcast, int):
        where, params = where + " AND e.podcast_id = ?", [podcast]
    elif podcast is not None:
        where = where + " AND e.podcast_id = (SELECT id FROM podcasts WHERE name = ?)"
        params = [podcast]
    columns = ", ".join(f"e.{k}" for k in EPISODE_KEYS if k != "podcast")
    cursor = db.execute(
        f"SELECT {columns}, p.name AS podcast FROM episodes e LEFT JOIN podcasts p "
        f"ON p.id = e.podcast_id {where} "
        "ORDER BY e.published IS NULL, e.published DESC, e.id DESC",
        params,
    )
    names = [d[0] for d in cursor.description]
    while True:
        chunk = [dict(zip(names, row, strict=True)) for row in cursor.fetchmany(CHUNK)]
        if not chunk:
            return
        ids = [e["id"] for e in chunk]
        links = _links(db, ids)
        conflicts = _conflicts(db, ids)
        for e in chunk:
            yield {**{k: e[k] for k in EPISODE_KEYS}, "conflicts": conflicts.get(e["id"], []),
                   "links": links.get(e["id"], [])}


def _links(db: sqlite_utils.Database, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    links: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in db.execute(
        "SELECT l.episode_id, pe.platform, pe.episode_id, pe.url, l.score, l.rule "
        "FROM episode_links l JOIN platform_episodes pe ON pe.id = l.platform_episode_id "
        f"WHERE l.episode_id IN ({_in(ids)}) "
        "ORDER BY l.episode_id, pe.platform != 'rss', pe.platform, pe.id", ids):
        links[row[0]].append({"platform": row[1], "episode_id": row[2], "url": row[3],
                              "score": row[4], "rule": row[5]})
    return links


def _conflicts(db: sqlite_utils.Database, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    conflicts: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in db.execute(
        f'SELECT episode_id, field, "values", detail FROM conflicts '
        f"WHERE episode_id IN ({_in(ids)}) ORDER BY episode_id, field", ids):
        conflicts[row[0]].append(
            {"field": row[1], "values": json.loads(row[2]), "detail": row[3]})
    return conflicts


def canonical_episodes_json(
    db: sqlite_utils.Database, podcast: int | str | None = None
) -> list[dict[str, Any]]:
    """`canonical_episodes` as a list (small archives, tests)."""
    return list(canonical_episodes(db, podcast))


# ---------------------------------------------------------------------------------------------
# Drift (`scraper diff`)


def diff_episodes(db: sqlite_utils.Database, podcast_id: int) -> dict[int, dict[str, Any]]:
    """The podcast's canonical episodes that some platform lists, with what the diff
    compares (the description only for truncation checks)."""
    return {
        row["id"]: row for row in db.query(
            "SELECT id, title, published, first_seen_at, description, description_source "
            "FROM episodes WHERE podcast_id = ? AND platforms > 0", [podcast_id])
    }


def holders(db: sqlite_utils.Database, podcast_id: int) -> dict[int, set[int]]:
    """Canonical episode id -> the sources currently listing it."""
    out: dict[int, set[int]] = defaultdict(set)
    for episode_id, source_id in db.execute(
        "SELECT l.episode_id, pe.source_id FROM platform_episodes pe "
        "JOIN episode_links l ON l.platform_episode_id = pe.id "
        "WHERE pe.podcast_id = ? AND coalesce(pe.listed, 1) = 1", [podcast_id]):
        out[episode_id].add(source_id)
    return out


def source_rows(db: sqlite_utils.Database, source_id: int) -> Iterator[dict[str, Any]]:
    """A source's listed, linked platform rows (the columns the diff reads), by row id."""
    cursor = db.execute(
        "SELECT pe.id, pe.platform, pe.episode_id, pe.title, pe.published, pe.published_raw, "
        "pe.published_flag, pe.description_truncated, pe.description, "
        "l.episode_id AS canonical_id FROM platform_episodes pe "
        "JOIN episode_links l ON l.platform_episode_id = pe.id "
        "WHERE pe.source_id = ? AND coalesce(pe.listed, 1) = 1 ORDER BY pe.id", [source_id])
    names = [d[0] for d in cursor.description]
    for row in cursor:
        yield dict(zip(names, row, strict=True))


# ---------------------------------------------------------------------------------------------
# Changes over time (`scraper changes`)


def version_rows(
    db: sqlite_utils.Database, *, run_from: int | None = None, seen_from: str | None = None,
    podcast: int | str | None = None, platforms: list[str] | None = None,
) -> Iterator[dict[str, Any]]:
    """Platform episode versions, oldest first, with the episode's current title."""
    where, params = ["1 = 1"], list[Any]()
    if run_from is not None:
        where.append("v.run_id >= ?")
        params.append(run_from)
    if seen_from is not None:
        where.append("v.seen_at >= ?")
        params.append(seen_from)
    if podcast is not None:
        where.append("pe.podcast_id = ?" if isinstance(podcast, int) else "p.name = ?")
        params.append(podcast)
    if platforms:
        where.append(f"pe.platform IN ({', '.join('?' for _ in platforms)})")
        params.extend(platforms)
    yield from db.query(
        "SELECT pe.platform, s.url AS source_url, p.name AS podcast, pe.episode_id, pe.title, "
        "v.change, v.changes, v.run_id, v.seen_at FROM platform_episode_versions v "
        "JOIN platform_episodes pe ON pe.id = v.platform_episode_id "
        "JOIN sources s ON s.id = pe.source_id LEFT JOIN podcasts p ON p.id = pe.podcast_id "
        f"WHERE {' AND '.join(where)} ORDER BY v.seen_at, v.id",
        params,
    )


# ---------------------------------------------------------------------------------------------
# Datasette's coverage matrix


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def coverage_sql(platforms: list[str] | tuple[str, ...]) -> str:
    """Canonical episode x platform: one column per platform, "✓" when listed there,
    "✓×2" for a republication, "gone" when only an unlisted row remains.

    Newest first through idx_episodes_order, each cell a probe of the episode's links per
    source of the platform in idx_episode_links_presence (the link's copy of its source and
    listed flag, migration m040), so the first page never aggregates the whole archive."""
    def count(platform: str, listed: bool) -> str:
        only_listed = " AND l.listed = 1" if listed else ""
        return (
            "(SELECT count(*) FROM episode_links l WHERE l.episode_id = e.id AND l.source_id "
            f"IN (SELECT id FROM sources WHERE platform = {_literal(platform)}){only_listed})"
        )

    columns = [
        f"CASE {count(platform, True)} WHEN 1 THEN '✓' "
        f"WHEN 0 THEN CASE WHEN {count(platform, False)} > 0 THEN 'gone' ELSE '' END "
        f"ELSE '✓×' || {count(platform, True)} END AS {_quote(platform)}"
        for platform in platforms
    ]
    select = ",\n  ".join(["e.id AS episode", "e.published", "e.title", "e.platforms", *columns])
    return (
        f"SELECT\n  {select}\n"
        "FROM episodes e\n"
        "JOIN podcasts p ON p.id = e.podcast_id\n"
        "WHERE e.platforms > 0 AND (:podcast = '' OR p.name = :podcast)\n"
        "ORDER BY e.published IS NULL, e.published DESC, e.id DESC"
    )


# ---------------------------------------------------------------------------------------------
# Feed and alerts (scraper.feed, scraper.notify) -- kept apart from the report reads above.


def reconciled_podcasts(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """id, name of the podcasts that have canonical episodes, by id (the feed's podcasts)."""
    if not _has(db, "episodes"):
        return []
    return list(db.query(
        "SELECT p.id, p.name FROM podcasts p WHERE EXISTS "
        "(SELECT 1 FROM episodes e WHERE e.podcast_id = p.id) ORDER BY p.id"))


def show_listings(db: sqlite_utils.Database, podcast_id: int) -> list[dict[str, Any]]:
    """Each source of the podcast that has a good listing, with that latest listing's show
    title, author, description and image; in no particular order."""
    return list(db.query(
        "SELECT s.platform, s.url, s.id AS source_id, l.show_title, l.show_author, "
        "l.show_description, l.show_image FROM sources s JOIN listings l ON l.id = ("
        "  SELECT max(id) FROM listings WHERE source_id = s.id "
        f"  AND status IN ({_in(list(GOOD_STATUSES))})) "
        "WHERE s.podcast_id = ?", [*GOOD_STATUSES, podcast_id]))


def feed_episodes(db: sqlite_utils.Database, podcast_id: int) -> list[dict[str, Any]]:
    """The podcast's listed canonical episodes with what a feed item shows, newest first."""
    return list(db.query(
        "SELECT id, title, published, published_source, duration_seconds, description "
        "FROM episodes WHERE podcast_id = ? AND platforms > 0 "
        "ORDER BY published IS NULL, published DESC, id DESC", [podcast_id]))


def feed_links(db: sqlite_utils.Database, podcast_id: int) -> Iterator[dict[str, Any]]:
    """Every linked platform row of the podcast (canonical_id, id, source_id, platform,
    episode_id, url, audio_url, extra, listed, published_raw), in no particular order."""
    yield from db.query(
        "SELECT l.episode_id AS canonical_id, pe.id, pe.source_id, pe.platform, pe.episode_id, "
        "pe.url, pe.audio_url, pe.extra, coalesce(pe.listed, 1) AS listed, pe.published_raw "
        "FROM episode_links l JOIN platform_episodes pe ON pe.id = l.platform_episode_id "
        "WHERE pe.podcast_id = ?", [podcast_id])


def episode_keys(db: sqlite_utils.Database, podcast_id: int) -> list[tuple[int, str | None]]:
    """(id, key) of every canonical episode of the podcast, also unlisted ones, by id."""
    return [(r[0], r[1]) for r in db.execute(
        "SELECT id, key FROM episodes WHERE podcast_id = ? ORDER BY id", [podcast_id])]


def podcast_name(db: sqlite_utils.Database, podcast_id: int) -> str | None:
    row = db.execute("SELECT name FROM podcasts WHERE id = ?", [podcast_id]).fetchone()
    return row[0] if row else None


def alerted_keys(db: sqlite_utils.Database, podcast_id: int) -> set[str]:
    """Keys of the drift items already alerted for the podcast (scraper.notify)."""
    if not _has(db, "alerts_sent"):
        return set()
    return {r[0] for r in db.execute(
        "SELECT key FROM alerts_sent WHERE podcast_id = ?", [podcast_id])}


# One episode (`scraper episode ID|TITLE`)


class EpisodeNotFound(LookupError):
    """No episode, or several, match; the message says which and what to do."""


def find_episode_id(db: sqlite_utils.Database, wanted: str) -> int:
    """A canonical id from an id or a title (exact, then case-insensitive, then a part).
    A title typed by a person is looked for across the episodes table (one scan, once)."""
    if wanted.strip().isdigit():
        row = db.execute("SELECT id FROM episodes WHERE id = ?", [int(wanted)]).fetchone()
        if row is None:
            raise EpisodeNotFound(f"no canonical episode #{wanted}; `scraper episodes` "
                                  "lists them")
        return row[0]
    for sql, value in (
        ("SELECT id, title FROM episodes WHERE title = ?", wanted),
        ("SELECT id, title FROM episodes WHERE lower(title) = lower(?)", wanted),
        ("SELECT id, title FROM episodes WHERE title LIKE ? ESCAPE '\\'",
         "%" + wanted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"),
    ):
        rows = db.execute(sql + " AND platforms > 0 ORDER BY published DESC, id DESC",
                          [value]).fetchall()
        if len(rows) == 1:
            return rows[0][0]
        if len(rows) > 1:
            shown = "; ".join(f"#{i} {t}" for i, t in rows[:5])
            more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
            raise EpisodeNotFound(f"{len(rows)} episodes match {wanted!r}: {shown}{more}; "
                                  "give the id")
    raise EpisodeNotFound(f"no canonical episode titled like {wanted!r}; `scraper episodes` "
                          "lists them")


def episode_record(db: sqlite_utils.Database, episode_id: int) -> dict[str, Any]:
    """The canonical row, its platform listings, conflicts and history (oldest first)."""
    episode = next(db.query(
        "SELECT e.*, p.name AS podcast FROM episodes e JOIN podcasts p ON p.id = e.podcast_id "
        "WHERE e.id = ?", [episode_id]))
    listings = list(db.query(
        "SELECT pe.id, pe.platform, pe.episode_id, pe.title, pe.published_raw, pe.published, "
        "pe.published_flag, pe.duration_seconds, pe.description, pe.description_truncated, "
        "pe.url, pe.listed, l.score, l.rule, l.republication FROM episode_links l "
        "JOIN platform_episodes pe ON pe.id = l.platform_episode_id WHERE l.episode_id = ? "
        "ORDER BY pe.platform != 'rss', pe.platform, pe.id", [episode_id]))
    conflicts = [
        {"field": row["field"], "values": json.loads(row["values"]), "detail": row["detail"]}
        for row in db.query('SELECT field, "values", detail FROM conflicts WHERE episode_id = ? '
                            "ORDER BY field", [episode_id])]
    history = [
        {**row, "changes": json.loads(row["changes"]) if row["changes"] else {}}
        for row in db.query(
            "SELECT v.seen_at, v.run_id, pe.platform, pe.episode_id, v.change, v.changes "
            "FROM platform_episode_versions v JOIN episode_links l "
            "ON l.platform_episode_id = v.platform_episode_id "
            "JOIN platform_episodes pe ON pe.id = v.platform_episode_id "
            "WHERE l.episode_id = ? ORDER BY v.seen_at, v.id", [episode_id])]
    return {"episode": episode, "listings": listings, "conflicts": conflicts,
            "history": history}


def drift_reported_keys(db: sqlite_utils.Database) -> set[str]:
    """Every drift key a `diff --fail-on` check has recorded (scraper.drift_alerts)."""
    return {row["key"] for row in db.query("SELECT key FROM drift_reported")}
