"""Every platform: a page whose markup changed, or a bot wall, fails the source loudly in a
real sync and the archive keeps its history."""

from __future__ import annotations

import dataclasses
import sqlite3

import pytest

import adapters
from scraper.demo import demo_config
from scraper.fixtures import load_cases
from scraper.replay import ReplayServer
from scraper.sync import sync

CASES = load_cases()


def _first_required_page(case):
    """The recording of the first page a source cannot do without (Apple's show page is
    optional: its lookup API answer is the page that must not break)."""
    adapter = adapters.get(case.platform)
    url = next(u for u in adapter.start_urls(adapter.canonical_url(case.url))
               if not adapter.optional_page(u))
    return next(c for c in CASES if c.platform == case.platform and c.url == url)


START_PAGES = {c.platform: _first_required_page(c) for c in CASES if c.demo_source}


def _error_case(platform: str, kind: str):
    """The platform's recorded page that must raise `kind`, preferring a page of the same
    shape as the start page (a show page rather than an API response)."""
    found = [c for c in CASES if c.platform == platform and c.error
             and c.error["type"] == kind]
    same_type = START_PAGES[platform].content_type.split(";")[0]
    found.sort(key=lambda c: not c.content_type.startswith(same_type))
    return found[0] if found else None


def _counts(db) -> dict[str, tuple[int, int]]:
    with sqlite3.connect(db) as conn:
        return {row[0]: (row[1], row[2]) for row in conn.execute(
            "select platform, count(*), sum(listed) from platform_episodes group by platform")}


@pytest.mark.parametrize("kind, status", [("LayoutError", "layout"), ("BlockedError", "blocked")])
@pytest.mark.parametrize("platform", sorted(START_PAGES))
def test_a_broken_start_page_fails_the_source_and_keeps_history(platform, kind, status, tmp_path):
    bad = _error_case(platform, kind)
    assert bad is not None, f"{platform} has no recorded {kind} page"
    start = START_PAGES[platform]
    cases = [c for c in CASES if c.platform == platform]
    db = tmp_path / "archive.db"
    with ReplayServer(cases) as server:
        config = demo_config(server, db)
        config.podcasts[0].sources = [s for s in config.podcasts[0].sources
                                      if s.platform == platform]
        first = sync(config, db)
    assert first.ok, first.sources[0].error
    before = _counts(db)
    assert before[platform][0] == before[platform][1] > 0
    # The same URL now answers with the broken page.
    swapped = [dataclasses.replace(c, path=bad.path, status=bad.status,
                                   content_type=bad.content_type) if c is start else c
               for c in cases]
    with ReplayServer(swapped) as server:
        config.routes = type(config.routes)(server.routes_for([]))
        second = sync(config, db)
    report = second.sources[0]
    assert (report.status, second.ok) == (status, False), report.error
    assert report.error and platform in report.error
    assert _counts(db) == before, "a failed page must not change or remove any episode"
    with sqlite3.connect(db) as conn:
        statuses = [r[0] for r in conn.execute("select status from listings order by id")]
        removed = conn.execute("select count(*) from platform_episode_versions "
                               "where change = 'removed'").fetchone()[0]
    assert statuses == ["ok", status] and removed == 0


def test_an_unreachable_rest_of_the_list_is_archived_as_partial_with_how_much(tmp_path):
    # Castbox's episode_list endpoint refuses the signed request for everything past the
    # first 20: the run keeps those 20, says how much of the claimed 451 it got, and
    # removes nothing.
    cases = [c for c in CASES if c.platform == "castbox"]
    refusal = next(c for c in cases if c.name == "episode-list-invalid-sign")
    first_api_page = next(c for c in cases if "skip=20&" in c.url and not c.error)
    broken = [dataclasses.replace(c, path=refusal.path) if c is first_api_page else c
              for c in cases]
    db = tmp_path / "archive.db"
    with ReplayServer(broken) as server:
        config = demo_config(server, db)
        config.podcasts[0].sources = [s for s in config.podcasts[0].sources
                                      if s.platform == "castbox"]
        summary = sync(config, db)
    report = summary.sources[0]
    assert report.status == "partial" and not summary.ok
    assert "archived 20 episodes of the 451 the platform claims" in report.error
    assert "invalid sign" in report.error
    assert _counts(db) == {"castbox": (20, 20)}
    with sqlite3.connect(db) as conn:
        assert conn.execute("select status, claimed_count, listed_count from listings"
                            ).fetchall() == [("partial", 451, 20)]
