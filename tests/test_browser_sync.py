"""`fetch = "browser"` end to end: a real sync, real Debian Chromium, real SQLite.

The Podimo recordings are served on 127.0.0.1 behind a Cloudflare-style JavaScript challenge
(tests/challenge_server.py): without the host's `cf_clearance` cookie every request gets the
recorded 403 challenge page, whose script sets the cookie and reloads. So a plain fetch
provably sees none of the episodes, and only a browser that runs the page's JavaScript gets
the show page and the 7 GraphQL pages (662 episodes). Routes send every recorded host to the
server; the browser must honour them for the page and for everything the page loads.
"""

from __future__ import annotations

import html
import os
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import date
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from challenge_server import ChallengeServer, Seen

import adapters
from scraper.archive import Archive
from scraper.browser import INSTALL_HINT, BrowserOptions
from scraper.config import parse_config
from scraper.fixtures import load_cases
from scraper.parsing import parse_capture
from scraper.routes import Routes
from scraper.sync import SyncSummary, sync

PODIMO = [case for case in load_cases() if case.platform == "podimo"]
SHOW = next(case for case in PODIMO if case.demo_source)
GRAPHQL = sorted((c for c in PODIMO if urlsplit(c.url).netloc == "graphql.podimo.com"),
                 key=lambda c: c.name)
HOSTS = sorted({urlsplit(case.url).netloc for case in PODIMO})
TOTAL = 662
RECORDED_DATE = format_datetime(SHOW.fetched_at, usegmt=True)  # Fri, 29 May 2026 08:15:00 GMT

FETCH = {"min_delay": 0.0, "retries": 1, "timeout": 20.0}
BROWSER = {"timeout": 20.0, "min_delay": 0.0}


def _titles() -> set[str]:
    titles = set()
    for case in PODIMO:
        expected = case.expected_json() or {}
        titles.update(episode["title"] for episode in expected.get("episodes", []))
    return titles


TITLES = _titles()


def routed_path(url: str) -> str:
    """Where the server sees a request for platform `url` (ReplayServer's `/<host>` form)."""
    parts = urlsplit(url)
    return f"/{parts.netloc}{parts.path}" + (f"?{parts.query}" if parts.query else "")


def rows(db: Path, sql: str, params=()) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def config_for(server: ChallengeServer, *, browser: bool):
    source = {"url": SHOW.url, **({"fetch": "browser"} if browser else {})}
    return parse_config({
        "podcasts": [{"name": SHOW.podcast, "sources": [source]}],
        "routes": server.routes_for([SHOW.url]),
        "fetch": FETCH,
        "browser": BROWSER,
    })


@dataclass
class Run:
    summary: SyncSummary
    db: Path
    seen: list[Seen]
    routes: dict[str, str]


@pytest.fixture(scope="module")
def chromium() -> str:
    """The Chromium the sync will launch. Missing is a failure, not a skip: CI must run these."""
    path = BrowserOptions().executable_path  # $SCRAPER_CHROMIUM or /usr/bin/chromium
    found = shutil.which(path) if os.sep not in path else path
    if not found or not os.path.isfile(found) or not os.access(found, os.X_OK):
        pytest.fail(f"Chromium not found at {path!r}: install it with `{INSTALL_HINT}` "
                    "(or set SCRAPER_CHROMIUM); the browser sync tests need a real browser")
    return found


@pytest.fixture(scope="module")
def browser_run(chromium, tmp_path_factory) -> Run:
    """One `fetch = "browser"` sync of the Podimo show behind the challenge."""
    db = tmp_path_factory.mktemp("browser-sync") / "archive.db"
    with ChallengeServer(PODIMO) as server:
        config = config_for(server, browser=True)
        summary = sync(config, db)
        return Run(summary, db, server.seen(), server.routes_for([SHOW.url]))


def test_plain_fetch_sees_no_episodes(tmp_path):
    db = tmp_path / "archive.db"
    with ChallengeServer(PODIMO) as server:
        summary = sync(config_for(server, browser=False), db)
        seen = server.seen()
        # The bytes a plain client gets for the show page and the first GraphQL page.
        routes = Routes(server.routes_for([SHOW.url]))
        plain = [httpx.get(routes.apply(case.url), timeout=10.0) for case in (SHOW, GRAPHQL[0])]
        # The wall is the only obstacle: with a host's clearance cookie the recorded page comes
        # back as recorded; the cookie of one host does not clear another.
        show_token = {"cf_clearance": server.token("podimo.com")}
        cleared = httpx.get(routes.apply(SHOW.url), cookies=show_token, timeout=10.0)
        other_host = httpx.get(routes.apply(GRAPHQL[0].url), cookies=show_token, timeout=10.0)

    (report,) = summary.sources
    assert report.status == "blocked", report.error
    assert "Cloudflare" in report.error
    assert report.listed is None and not summary.ok
    assert rows(db, "select count(*) from platform_episodes") == [(0,)]
    assert rows(db, "select status, listed_count from listings") == [("blocked", None)]
    assert rows(db, "select via, status from captures") == [("http", 403)]
    # Nothing got past the wall: every request was challenged.
    assert seen and all(not s.cleared and s.status == 403 for s in seen)
    assert routed_path(SHOW.url) in [s.path for s in seen]

    assert cleared.status_code == 200 and cleared.content == SHOW.path.read_bytes()
    assert cleared.headers["date"] == RECORDED_DATE
    assert other_host.status_code == 403

    for response in plain:
        assert response.status_code == 403
        assert response.headers["cf-mitigated"] == "challenge"
        assert "Just a moment..." in response.text and "_cf_chl_opt" in response.text
        present = [t for t in TITLES if t in response.text or html.escape(t) in response.text]
        assert present == []


def test_browser_source_syncs_end_to_end(browser_run):
    db = browser_run.db
    (report,) = browser_run.summary.sources
    assert report.status == "ok", report.error  # the error names the install hint if needed
    assert browser_run.summary.ok
    assert (report.claimed, report.listed, report.new) == (TOTAL, TOTAL, TOTAL)
    assert report.pages == 1 + len(GRAPHQL)

    assert rows(db, "select count(*) from platform_episodes where platform = 'podimo' "
                    "and listed = 1") == [(TOTAL,)]
    assert {r[0] for r in rows(db, "select title from platform_episodes")} == TITLES
    assert rows(db, "select status, claimed_count, listed_count, pages from listings") == [
        ("ok", TOTAL, TOTAL, 1 + len(GRAPHQL))]
    assert rows(db, "select fetch_mode from sources") == [("browser",)]

    # Every page came through Chromium, past the challenge, stamped with the recorded Date.
    captures = rows(db, "select url, final_url, via, status, server_date from captures "
                        "order by id")
    assert [c[0] for c in captures] == [SHOW.url, *(c.url for c in GRAPHQL)]
    assert [c[1] for c in captures] == [c[0] for c in captures]  # platform URLs, not 127.0.0.1
    assert {(c[2], c[3], c[4]) for c in captures} == {("browser", 200, RECORDED_DATE)}

    for title, published in [
        ("Beluga: CXL Memory Pooling for LLM KV Cache", "2026-05-27"),
        ("After Titans: Behrouz on Nested Learning and Hope", "2026-05-22"),
        ("Generative Recursive Reasoning in Latent Space", "2026-05-28"),
    ]:
        found = rows(db, "select published from platform_episodes where title = ?", [title])
        assert found == [(published,)], title

    # The stored show page is the rendered DOM (not the challenge); its "I går" row resolves
    # against the page's Date header (the recorded 2026-05-29), not against today.
    archive = Archive(db)
    try:
        stored = archive.latest_capture(SHOW.url)
    finally:
        archive.close()
    assert stored is not None and stored.via == "browser"
    assert "Just a moment" not in stored.text and "EpisodeListItem" in stored.text
    listing = parse_capture(adapters.get("podimo"), stored)
    generative = next(e for e in listing.episodes
                      if e.title == "Generative Recursive Reasoning in Latent Space")
    assert (generative.published_raw, generative.published, generative.published_flag) == (
        "I går", date(2026, 5, 28), "relative")


def test_browser_requests_follow_the_routes(browser_run):
    seen = browser_run.seen
    prefixes = [urlsplit(base).path + "/" for base in set(browser_run.routes.values())]
    assert sorted({p.strip("/") for p in prefixes}) == HOSTS
    outside = [s.path for s in seen if not s.path.startswith(tuple(prefixes))]
    assert outside == []

    # Each host challenged the browser first, then served every recorded page to it once
    # cleared by that host's own cookie.
    for host in HOSTS:
        ours = [s for s in seen if s.host == host]
        assert ours and not ours[0].cleared and ours[0].status == 403, host
    served = {s.path for s in seen if s.cleared and s.status == 200}
    for case in [SHOW, *GRAPHQL]:
        assert routed_path(case.url) in served, case.name
    # The GraphQL pages are POSTs sent through the browser context (its clearance cookie):
    # first refused by the wall, then, once a page visit cleared the host, each one served.
    posts = [s for s in seen if s.method == "POST"]
    assert posts and not posts[0].cleared and posts[0].status == 403
    assert len([s for s in posts if s.cleared and s.status == 200]) == len(GRAPHQL)
    # The reload asked for the page itself, not the challenge's token URL.
    assert not [s.path for s in seen if "__cf_chl_" in s.path]
    # Not just the navigations: what the rendered page loads itself (its Next.js scripts, the
    # challenge orchestrator) went through the routes as well.
    assert any(s.path.startswith("/podimo.com/_next/static/") for s in seen)
    assert any(s.path.startswith("/graphql.podimo.com/cdn-cgi/challenge-platform/")
               for s in seen)
