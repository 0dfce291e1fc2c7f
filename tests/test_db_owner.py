"""One owner of the database, checked mechanically (issue 11).

The rule: every table, index and trigger is made by the archive's migrations and every write
is an `Archive` method (scraper/archive.py, with reconcile's statements in
scraper/archive_match.py); every read for a report, the feed or alerts is in scraper/reads.py.
So no other module of the package holds an SQL statement or calls `.execute(`, `.query(`,
`.executemany(` or `.executescript(`, and only the archive writes through sqlite-utils
tables (`db["t"].insert(...)`). An AST scan of scraper/*.py enforces it.

Also here: the per-source presence that migration m040 copies onto `episode_links`
(`source_id`, `listed`) stays equal to the platform rows it copies, through syncs that add,
drop and bring back episodes, since "missing per platform" reads only the copy.
"""

from __future__ import annotations

import ast
import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlite_utils

from scraper.archive import Archive, SourceOutcome, migrate
from scraper.models import Capture, Episode, Listing, Show

PACKAGE = Path(__file__).resolve().parent.parent / "scraper"
METADATA = PACKAGE.parent / "data" / "metadata.json"

# Modules allowed to hold SQL and run statements, and why.
SQL_OWNERS = {
    # The archive: migrations (every table, index, trigger, FTS table) and every write.
    "archive.py": "owns the schema and every write",
    # Reconcile's reads and writes of the canonical tables and match index, as an Archive
    # part (reconcile computes; this module runs the statements).
    "archive_match.py": "reconcile's statements, on the archive's behalf",
    # The read side: reports, Datasette's generated queries, the feed and alerts.
    "reads.py": "every read for reports, feed and alerts",
    # Tells a file that is not an archive (or is one from a newer version) before anything
    # opens it through Archive, which would migrate it: a read-only look at sqlite_master
    # and the migrations table, no writes.
    "dbfaults.py": "read-only check of a file before the archive opens it",
}
# Of those, the ones allowed to write (SQL writes or sqlite-utils table writes).
WRITERS = {"archive.py", "archive_match.py"}

_SQL = re.compile(
    r"^\s*(select\s+(distinct\s+)?[\w*(\[\"'].*?\bfrom\s+[\w\[\"(]"
    r"|insert\s+(or\s+\w+\s+)?into\s"
    r"|replace\s+into\s"
    r"|update\s+[\w\[\"]+\s+set\s"
    r"|delete\s+from\s"
    r"|create\s+(unique\s+|virtual\s+|temp\s+|temporary\s+)?(table|index|trigger|view)\s"
    r"|drop\s+(table|index|trigger|view)\s"
    r"|alter\s+table\s"
    r"|pragma\s+\w+"
    r"|with\s+(recursive\s+)?\w+(\s*\([^)]*\))?\s+as\s*(materialized\s*)?\()",
    re.IGNORECASE | re.DOTALL,
)
_WRITE_SQL = re.compile(
    r"^\s*(insert|replace|update|delete|create|drop|alter)\b", re.IGNORECASE)
_RUN_CALLS = {"execute", "executemany", "executescript", "query"}
# sqlite-utils Table methods that change the database.
_TABLE_WRITES = {
    "insert", "insert_all", "upsert", "upsert_all", "update", "delete", "delete_where",
    "create", "create_index", "add_column", "add_foreign_key", "transform", "drop",
    "enable_fts", "disable_fts", "populate_fts", "rebuild_fts", "create_view",
}


def _findings(path: Path) -> dict[str, list[str]]:
    """sql: SQL string constants; runs: .execute/.query/... calls; writes: SQL writes and
    sqlite-utils table writes (`db[...].insert(...)`) -- each as 'line: text'."""
    found: dict[str, list[str]] = {"sql": [], "runs": [], "writes": []}
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if _SQL.match(node.value):
                found["sql"].append(f"{node.lineno}: {node.value[:60]!r}")
                if _WRITE_SQL.match(node.value):
                    found["writes"].append(f"{node.lineno}: {node.value[:60]!r}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in _RUN_CALLS:
                found["runs"].append(f"{node.lineno}: .{node.func.attr}(")
            if node.func.attr in _TABLE_WRITES and isinstance(node.func.value, ast.Subscript):
                found["writes"].append(f"{node.lineno}: [...].{node.func.attr}(")
    return found


def _modules() -> list[Path]:
    return sorted(PACKAGE.glob("*.py"))


def test_the_scan_sees_sql_and_calls():
    # The scanner itself: what it must catch and what it must leave alone.
    for sql in ("SELECT id FROM podcasts", "select count(*) from t where x = 1",
                "INSERT OR REPLACE INTO alerts_sent (a) VALUES (?)", "update sources set x = 1",
                "DELETE FROM t WHERE id = ?", "CREATE INDEX IF NOT EXISTS i ON t(a)",
                "PRAGMA busy_timeout = 10000", "WITH RECURSIVE p(name) AS (SELECT 1)",
                "\n  SELECT s.platform FROM sources s"):
        assert _SQL.match(sql), sql
    for text in ("Select the podcast with --podcast", "update the archive", "with --csv",
                 "Delete nothing", "created at"):
        assert not _SQL.match(text), text
    found = _findings(PACKAGE / "archive.py")
    assert found["sql"] and found["runs"] and found["writes"]


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.name)
def test_only_the_archive_and_the_read_side_run_sql(path: Path):
    found = _findings(path)
    if path.name in SQL_OWNERS:
        # An allowance nobody uses is a hole in the rule: drop it from SQL_OWNERS.
        assert found["sql"] or found["runs"], f"{path.name} no longer needs its allowance"
    else:
        assert not found["sql"] and not found["runs"], (
            f"{path.name} runs its own SQL; move reads to scraper/reads.py and writes to an "
            f"Archive method: {found['sql'] + found['runs']}")
    if path.name not in WRITERS:
        assert not found["writes"], (
            f"{path.name} writes to the database; make it an Archive method: {found['writes']}")


# --- the per-source presence copy (m040) ---------------------------------------------------


def _record(archive: Archive, source: int, platform: str, numbers: list[int], day: int) -> None:
    url = f"https://{platform}.example/show"
    run = archive.start_run("sync", 1)
    episodes = [Episode(id=f"{platform}-{n}", title=f"Episode number {n} of the show",
                        published=date(2031, 1, 1 + n), duration_seconds=1800 + n,
                        description=f"Episode {n}.", url=f"{url}/{n}") for n in numbers]
    capture = Capture(url=url, status=200, body=f"{platform} {numbers}".encode(),
                      fetched_at=datetime(2031, 2, day, tzinfo=UTC))
    archive.record_source(run, SourceOutcome(source, "ok", [capture], Listing(
        platform=platform, url=url, show=Show(title="Show"), episodes=episodes)))
    archive.finish_run(run, [])


def _presence_mismatches(archive: Archive) -> list[tuple]:
    return archive.db.execute(
        "SELECT l.platform_episode_id FROM episode_links l "
        "LEFT JOIN platform_episodes pe ON pe.id = l.platform_episode_id "
        "WHERE l.source_id IS NOT pe.source_id OR l.listed IS NOT coalesce(pe.listed, 1)"
    ).fetchall()


def _missing(archive: Archive) -> list[tuple[str, str]]:
    sql = json.loads(METADATA.read_text("utf-8"))["databases"]["archive"]["queries"][
        "missing_per_platform"]["sql"]
    rows = archive.db.execute(sql, {"podcast": "", "platform": ""}).fetchall()
    return [(r[0], r[5]) for r in rows]


def _rss_and_castbox(archive: Archive) -> tuple[int, int]:
    """A show on rss and castbox, episodes 1-3 on both, reconciled: (podcast, castbox)."""
    podcast = archive.ensure_podcast("Show")
    rss = archive.ensure_source(podcast, "rss", "https://rss.example/show", "http")
    castbox = archive.ensure_source(podcast, "castbox", "https://castbox.example/show", "http")
    _record(archive, rss, "rss", [1, 2, 3], 1)
    _record(archive, castbox, "castbox", [1, 2, 3], 1)
    archive.reconcile(podcast)
    return podcast, castbox


def test_link_presence_follows_the_platform_rows(tmp_path: Path):
    archive = Archive(tmp_path / "archive.db")
    try:
        podcast, castbox = _rss_and_castbox(archive)
        assert archive.db.execute("SELECT count(*) FROM episode_links").fetchone()[0] == 6
        assert _presence_mismatches(archive) == []
        assert _missing(archive) == []
        # Castbox drops episode 2 (listed = 0 on its platform row, no reconcile needed).
        _record(archive, castbox, "castbox", [1, 3], 2)
        assert _presence_mismatches(archive) == []
        assert _missing(archive) == [("castbox", "Episode number 2 of the show")]
        archive.reconcile(podcast)
        assert _presence_mismatches(archive) == []
        assert _missing(archive) == [("castbox", "Episode number 2 of the show")]
        # It comes back.
        _record(archive, castbox, "castbox", [1, 2, 3], 3)
        archive.reconcile(podcast)
        assert _presence_mismatches(archive) == []
        assert _missing(archive) == []
    finally:
        archive.close()


def test_m040_fills_the_copy_in_an_older_archive(tmp_path: Path):
    # An archive written before m040: no copy, no index, no triggers. Serving it (the
    # migrations `scraper serve` applies) fills the copy from the platform rows.
    path = tmp_path / "archive.db"
    archive = Archive(path)
    try:
        podcast, castbox = _rss_and_castbox(archive)
        _record(archive, castbox, "castbox", [1, 3], 2)
        for statement in (
            "DROP TRIGGER episode_links_presence_insert",
            "DROP TRIGGER episode_links_presence_update",
            "DROP INDEX idx_episode_links_presence",
            "ALTER TABLE episode_links DROP COLUMN listed",
            "ALTER TABLE episode_links DROP COLUMN source_id",
            "DELETE FROM _sqlite_migrations WHERE name = 'm040_link_presence'",
        ):
            archive.db.execute(statement)
    finally:
        archive.close()
    db = sqlite_utils.Database(path)
    try:
        assert "source_id" not in db["episode_links"].columns_dict
        migrate(db)
        assert {"source_id", "listed"} <= set(db["episode_links"].columns_dict)
    finally:
        db.close()
    archive = Archive(path)
    try:
        assert _presence_mismatches(archive) == []
        assert _missing(archive) == [("castbox", "Episode number 2 of the show")]
    finally:
        archive.close()
