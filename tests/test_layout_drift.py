"""Degrade, don't die: a show page whose rows and state can no longer be read, while the
platform's API still gives the whole list, archives the complete listing as `ok` with a
`layout_drift` warning that sync, `scraper sources`, `scraper diff` and Datasette show; a
page that names no podcast fails the source as `layout` with the page kept and history
untouched. Real loopback HTTP servers, real SQLite files."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from httpserver import LocalServer, Request

from scraper.config import parse_config
from scraper.drift import diff_report, render_markdown
from scraper.fixtures import load_cases
from scraper.sync import sync

CASES = {c.name: c for c in load_cases() if c.platform == "radionet"}
SLUG = "ai-post-transformers"
FAST = {"min_delay": 0.0, "retries": 1, "timeout": 5.0}


def api_handler(req: Request) -> None:
    """The episodes API: the recorded pages by offset."""
    query = dict(parse_qsl(req.hit.target.partition("?")[2]))
    case = CASES.get(f"api-offset-{int(query.get('offset', 0)):04d}")
    if case is None or query.get("podcastIds") != SLUG:
        req.reply(404, b"{}", {"Content-Type": "application/json"})
        return
    req.reply(200, case.path.read_bytes(), {"Content-Type": "application/json"})


@pytest.fixture
def radio():
    with LocalServer() as server:
        server.on("/podcasts/episodes/by-podcast-ids", api_handler)
        yield server


def serve_page(server: LocalServer, body: bytes) -> None:
    server.static(f"/podcast/{SLUG}", 200, body, {"Content-Type": "text/html; charset=utf-8"})


def config(server: LocalServer, tmp_path: Path):
    data = {
        "podcasts": [{"name": "AI Post Transformers", "sources": [
            {"url": f"https://nz.radio.net/podcast/{SLUG}"}]}],
        "routes": {"https://nz.radio.net": server.base, "https://prod.radio-api.net": server.base},
        "fetch": FAST,
    }
    path = tmp_path / "scraper.toml"
    lines = ['[[podcasts]]', 'name = "AI Post Transformers"',
             f'sources = [{{ url = "https://nz.radio.net/podcast/{SLUG}" }}]',
             "[routes]", f'"https://nz.radio.net" = "{server.base}"',
             f'"https://prod.radio-api.net" = "{server.base}"', "[fetch]",
             *(f"{k} = {v}" for k, v in FAST.items())]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return parse_config(data), path


def rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def test_page_without_rows_gives_the_whole_list_with_a_warning(radio, tmp_path):
    serve_page(radio, CASES["show-layout-drift"].path.read_bytes())
    settings, toml = config(radio, tmp_path)
    db = tmp_path / "a.db"
    summary = sync(settings, db)
    source = summary.sources[0]
    assert (source.status, source.listed, source.claimed) == ("ok", 458, 458)
    assert summary.ok
    assert len(source.warnings) == 1 and source.warnings[0].startswith(
        "layout_drift: no episode rows found on the show page (tried: ")
    assert source.warnings[0].endswith("the list came from the API")
    assert radio.count("/podcasts/episodes/by-podcast-ids") == 5
    assert rows(db, "select status, listed_count, warnings from listings") == [
        ("ok", 458, source.warnings[0])]
    assert rows(db, "select count(*) from platform_episodes where listed = 1") == [(458,)]

    database = __import__("sqlite_utils").Database(db)
    report = diff_report(database)
    radio_report = report["podcasts"][0]["sources"][0]
    assert radio_report["warnings"] == source.warnings
    assert f"- {source.warnings[0]}" in render_markdown(report)

    listed = subprocess.run(
        [sys.executable, "-m", "scraper", "sources", "--config", str(toml), "--db", str(db),
         "--json"], capture_output=True, text=True, timeout=60, check=False)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)[0]["warnings"] == source.warnings
    table = subprocess.run(
        [sys.executable, "-m", "scraper", "sources", "--config", str(toml), "--db", str(db)],
        capture_output=True, text=True, timeout=60, check=False)
    assert "layout_drift: no episode rows" in " ".join(table.stdout.split())


def test_readable_page_has_no_warning(radio, tmp_path):
    serve_page(radio, CASES["show"].path.read_bytes())
    summary = sync(config(radio, tmp_path)[0], tmp_path / "a.db")
    assert summary.sources[0].status == "ok" and summary.sources[0].listed == 458
    assert summary.sources[0].warnings == []
    assert rows(tmp_path / "a.db", "select warnings from listings") == [(None,)]


def test_page_naming_no_podcast_fails_as_layout_and_keeps_history(radio, tmp_path):
    db = tmp_path / "a.db"
    serve_page(radio, CASES["show"].path.read_bytes())
    settings = config(radio, tmp_path)[0]
    assert sync(settings, db).sources[0].listed == 458
    serve_page(radio, CASES["layout-no-title"].path.read_bytes())
    failed = sync(settings, db).sources[0]
    assert failed.status == "layout" and "no podcast title" in failed.error
    assert rows(db, "select count(*) from platform_episodes where listed = 1") == [(458,)]
    assert rows(db, "select status from listings order by id") == [("ok",), ("layout",)]
    kept = rows(db, "select c.url from captures c join listings l on l.run_id = c.run_id "
                    "where l.status = 'layout'")
    assert kept == [(f"https://nz.radio.net/podcast/{SLUG}",)]


def test_api_listing_nothing_fails_instead_of_archiving_zero(radio, tmp_path):
    radio.on("/podcasts/episodes/by-podcast-ids", lambda req: req.reply(
        200, b'{"totalCount": 0, "episodes": []}', {"Content-Type": "application/json"}))
    serve_page(radio, CASES["show-layout-drift"].path.read_bytes().replace(
        b"458 episodes", b"episodes"))
    summary = sync(config(radio, tmp_path)[0], tmp_path / "a.db")
    assert summary.sources[0].status == "layout"
    assert "lists no episodes" in summary.sources[0].error
    assert rows(tmp_path / "a.db", "select count(*) from platform_episodes") == [(0,)]
