"""Every canned query and every report query reads big tables through an index.

The archive is a real sync of the recordings (so it has the archive's migrations and
indexes). Each Datasette canned query (with and without its filters) and every statement
the reports run (captured with sqlite-utils' tracer while they run) goes through
`EXPLAIN QUERY PLAN`: no step may be a plain `SCAN` of a big table (a scan of an index,
covering or in index order, is allowed: it is what serves a first page without sorting).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlite_utils

from scraper import reads
from scraper.datasette import metadata_for
from scraper.demo import demo_config
from scraper.drift import changes_report, diff_report, render_markdown
from scraper.fixtures import load_cases
from scraper.replay import ReplayServer
from scraper.sync import sync

BIG_TABLES = {
    "platform_episodes", "platform_episode_versions", "episode_links", "episodes", "conflicts",
    "captures", "bodies", "listings", "match_items", "match_keys", "match_counts",
    "reconcile_queue",
}
_TABLE_REF = re.compile(r"\b(?:FROM|JOIN)\s+\[?(\w+)\]?(?:\s+(?:AS\s+)?(\w+))?", re.IGNORECASE)
_KEYWORDS = {"on", "where", "join", "left", "inner", "group", "order", "limit", "using", "cross"}


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    path: Path = tmp_path_factory.mktemp("plans") / "archive.db"
    with ReplayServer(load_cases()) as server:
        summary = sync(demo_config(server, path), path)
    assert summary.ok
    return path


def full_scans(db: sqlite_utils.Database, sql: str, params) -> list[str]:
    aliases: dict[str, str] = {}
    for table, alias in _TABLE_REF.findall(sql):
        aliases[table] = table
        if alias and alias.lower() not in _KEYWORDS:
            aliases[alias] = table
    bad = []
    for row in db.execute("EXPLAIN QUERY PLAN " + sql, params or []).fetchall():
        detail = row[-1]
        match = re.match(r"SCAN (\w+)(.*)", detail)
        if not match or "USING" in match.group(2):
            continue
        if aliases.get(match.group(1), match.group(1)) in BIG_TABLES:
            bad.append(detail)
    return bad


def test_canned_queries_use_indexes(archive: Path) -> None:
    db = sqlite_utils.Database(archive)
    queries = next(iter(metadata_for(archive)["databases"].values()))["queries"]
    assert len(queries) >= 6
    podcast = db.execute("SELECT name FROM podcasts").fetchone()[0]
    checked = 0
    for name, query in queries.items():
        sql = query["sql"]
        names = [p for p in ("podcast", "platform", "since") if f":{p}" in sql]
        for values in ({p: "" for p in names},
                       {p: {"podcast": podcast, "platform": "rss", "since": "2026-01-01"}[p]
                        for p in names}):
            assert full_scans(db, sql, values) == [], (name, values)
            db.execute(sql, values).fetchmany(5)  # and it runs
            checked += 1
    assert checked == 2 * len(queries)


def test_report_queries_use_indexes(archive: Path) -> None:
    seen: list[tuple[str, object]] = []

    def trace(sql: str, params) -> None:
        if sql.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append((sql, params))

    db = sqlite_utils.Database(archive, tracer=trace)
    render_markdown(diff_report(db))
    diff_report(db, podcast=1, platforms=["rss"])
    list(reads.canonical_episodes(db))
    list(reads.canonical_episodes(db, "AI Post Transformers"))
    changes_report(db, "run:1")
    changes_report(db, "2026-01-01", podcast="AI Post Transformers", platforms=["rss"])
    reads.sources_status(db)
    reads.present_platforms(db)
    assert len(seen) > 20
    plain = sqlite_utils.Database(archive)
    problems = {sql: scans for sql, params in seen
                if (scans := full_scans(plain, sql, params))}
    assert problems == {}


def test_the_checker_sees_a_table_scan(archive: Path) -> None:
    db = sqlite_utils.Database(archive)
    assert full_scans(db, "SELECT * FROM platform_episodes WHERE title = ?", ["x"]) == [
        "SCAN platform_episodes"]
    assert full_scans(db, "SELECT * FROM platform_episodes pe WHERE pe.platform = ?",
                      ["rss"]) == []
