"""Degrade, don't die: a show page whose rows and state can no longer be read, while the
platform's API still gives the whole list, archives the complete listing as `ok` with a
`layout_drift` warning that sync, `scraper sources`, `scraper diff` and Datasette show; a
page that names no podcast fails the source as `layout` with the page kept and history
untouched. Real loopback HTTP servers, real SQLite files."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qsl, unquote

import pytest
from httpserver import LocalServer, Request

from scraper.config import parse_config
from scraper.drift import diff_report, render_markdown
from scraper.fixtures import load_cases
from scraper.sync import sync

CASES = {c.name: c for c in load_cases() if c.platform == "radionet"}
SLUG = "ai-post-transformers"
FAST = {"min_delay": 0.0, "retries": 1, "timeout": 5.0}


def answer(req: Request, body: bytes, content_type: str) -> None:
    """200 with an ETag, or 304 when the client already has this body."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
    if req.headers.get("if-none-match") == etag:
        req.reply(304, b"", {"ETag": etag})
    else:
        req.reply(200, body, {"Content-Type": content_type, "ETag": etag})


def api_handler(req: Request) -> None:
    """The episodes API: the recorded pages by offset."""
    query = dict(parse_qsl(req.hit.target.partition("?")[2]))
    case = CASES.get(f"api-offset-{int(query.get('offset', 0)):04d}")
    if case is None or query.get("podcastIds") != SLUG:
        req.reply(404, b"{}", {"Content-Type": "application/json"})
        return
    answer(req, case.path.read_bytes(), "application/json")


@pytest.fixture
def radio():
    with LocalServer() as server:
        server.on("/podcasts/episodes/by-podcast-ids", api_handler)
        yield server


def serve_page(server: LocalServer, body: bytes) -> None:
    server.on(f"/podcast/{SLUG}", lambda req: answer(req, body, "text/html; charset=utf-8"))


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

    again = sync(settings, db).sources[0]  # the same pages: unchanged, still drifted
    assert again.status == "unchanged"
    assert rows(db, "select status, warnings from listings order by id")[-1] == (
        "unchanged", source.warnings[0])


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


# --- the same on Audible (list pages) and Castbox (the signed API from skip=0) -------------------

def test_audible_show_page_without_rows_still_archives_every_episode(tmp_path):
    from dataclasses import replace

    from scraper.replay import ReplayServer

    cases = [c for c in load_cases() if c.platform == "audible"]
    show = next(c for c in cases if c.demo_source)
    drifted = tmp_path / "show.html"
    body = show.path.read_text("utf-8")
    without_rows = re.sub(r'<li class="bc-list-item productListItem".*?\n</li>', "", body,
                          flags=re.S)
    assert "productListItem" not in without_rows
    drifted.write_text(without_rows, "utf-8")
    with ReplayServer([replace(show, path=drifted), *cases]) as server:
        settings = parse_config({
            "podcasts": [{"name": "AI Post Transformers", "sources": [{"url": show.url}]}],
            "routes": server.routes_for([]), "fetch": FAST})
        summary = sync(settings, tmp_path / "a.db")
    source = summary.sources[0]
    assert (source.status, source.listed) == ("ok", 455)
    assert source.warnings == [
        "layout_drift: no episode rows found on the show page (tried: li.productListItem "
        "rows); the list came from the episode list pages"]


def _castbox_items() -> list[dict]:
    """Castbox's whole list as its recordings hold it: the page's 20, then the API pages."""
    cases = {c.name: c for c in load_cases() if c.platform == "castbox"}
    html = cases["channel"].path.read_text("utf-8")
    state = json.loads(unquote(re.search(r'__INITIAL_STATE__ = "([^"]*)"', html).group(1)))
    items = list(state["ch"]["eps"])
    for name in sorted(n for n in cases if re.fullmatch(r"episode-list-skip\d+", n)):
        items += json.loads(cases[name].path.read_text("utf-8"))["data"]["episode_list"]
    return items


def test_castbox_page_without_state_or_rows_gets_the_list_from_the_api(tmp_path):
    items = _castbox_items()
    assert len(items) == 451
    drift = next(c for c in load_cases() if c.platform == "castbox" and c.name == "layout-drift")

    def api(req: Request) -> None:
        query = dict(parse_qsl(req.hit.target.partition("?")[2]))
        skip, limit = int(query["skip"]), int(query["limit"])
        body = {"code": 0, "msg": "", "data": {"episode_list": items[skip:skip + limit]}}
        req.reply(200, json.dumps(body).encode(), {"Content-Type": "application/json"})

    with LocalServer() as server:
        server.static("/castbox/channel/id6571384", 200, drift.path.read_bytes(),
                      {"Content-Type": "text/html; charset=utf-8"})
        server.on("/everest/data/episode_list/v2", api)
        settings = parse_config({
            "podcasts": [{"name": "AI Post Transformers", "sources": [
                {"url": "https://castbox.fm/channel/id6571384"}]}],
            "routes": {"https://castbox.fm": f"{server.base}/castbox",
                       "https://everest.castbox.fm": f"{server.base}/everest"},
            "fetch": FAST})
        summary = sync(settings, tmp_path / "a.db")
        skips = [dict(parse_qsl(h.target.partition("?")[2]))["skip"]
                 for h in server.hits_for("/everest/data/episode_list/v2")]
    source = summary.sources[0]
    assert (source.status, source.listed, source.claimed) == ("ok", 451, 451)
    assert skips == ["0", "100", "200", "300", "400"]
    assert source.warnings and source.warnings[0].startswith(
        "layout_drift: no episodes found on the channel page")
