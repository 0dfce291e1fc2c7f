"""Datasette for real: `datasette serve` on a test archive with the generated metadata,
canned queries over HTTP, and the coverage matrix rendered in headless Chromium."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from archive_rows import (
    EXPECTED_DRIFT,
    GROUND_TRUTH,
    TABLES,
    add_version,
    build_ground_truth,
    create_archive,
)

from scraper.archive import create_views
from scraper.datasette import (
    METADATA_PATH,
    enable_search,
    free_port,
    load_template,
    metadata_for,
    serve,
)
from scraper.reconcile import reconcile

CHROMIUM = os.environ.get("SCRAPER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
PLATFORMS = ["rss", "audible", "castbox", "podimo", "podtail", "radionet"]
TITLE = {label: title for label, (_, title, _) in GROUND_TRUTH.items()}


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def wait_until_up(base: str, process, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"datasette exited early with {process.returncode}")
        try:
            get_json(f"{base}/-/versions.json")
            return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    raise AssertionError("datasette did not start within 30 s")


@pytest.fixture(scope="module")
def archive_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("archive") / "archive.db"
    db = create_archive(str(path))
    build_ground_truth(db)
    reconcile(db)
    create_views(db)
    ids = {r["episode_id"]: r["id"] for r in db["platform_episodes"].rows}
    add_version(db, ids["g-e1"], 1, "2026-03-08T06:00:00+00:00", "added")
    add_version(db, ids["B0E8"], 1, "2026-03-09T06:00:00+00:00", "changed",
                {"published": ["2026-02-14", "2026-02-10"]})
    db.close()
    return path


@pytest.fixture(scope="module")
def server(archive_path):
    port = free_port()
    process = serve(archive_path, "127.0.0.1", port, wait=False)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, process)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except Exception:
            process.kill()
            process.wait()


def query(server: str, name: str, **params: str) -> list[dict]:
    qs = urllib.parse.urlencode({"_shape": "array", **params})
    return get_json(f"{server}/archive/{name}.json?{qs}")


# ---------------------------------------------------------------------------------------------
# Metadata


def test_metadata_describes_every_table_and_column():
    template = load_template(METADATA_PATH)
    assert template["title"] and template["description"]
    tables = template["databases"]["archive"]["tables"]
    owned = {
        "episodes": ["id", "podcast_id", "title", "title_source", "published",
                     "published_source", "duration_seconds", "duration_source", "description",
                     "description_source", "description_truncated", "platforms",
                     "first_seen_at", "key"],
        "episode_links": ["platform_episode_id", "episode_id", "score", "rule",
                          "republication"],
        "conflicts": ["episode_id", "field", "values", "detail"],
    }
    expected = {**{name: list(cols) for name, cols in TABLES.items()}, **owned}
    for table, columns in expected.items():
        assert tables[table]["description"], table
        missing = [c for c in columns if not tables[table]["columns"].get(c)]
        assert not missing, (table, missing)
    assert tables["platform_episodes"]["fts_table"] == "platform_episodes_fts"
    assert tables["episodes"]["fts_table"] == "episodes_fts"
    assert "platform" in tables["platform_episodes"]["facets"]
    assert "published_flag" in tables["platform_episodes"]["facets"]
    assert "status" in tables["listings"]["facets"]


def test_metadata_for_names_the_database_and_present_platforms(tmp_path):
    db = create_archive(str(tmp_path / "demo.db"))
    build_ground_truth(db, ("rss", "castbox"))
    db.close()
    metadata = metadata_for(tmp_path / "demo.db")
    assert list(metadata["databases"]) == ["demo"]
    sql = metadata["databases"]["demo"]["queries"]["coverage_matrix"]["sql"]
    assert 'AS "rss"' in sql and 'AS "castbox"' in sql and 'AS "audible"' not in sql


def test_enable_search_is_idempotent(tmp_path):
    db = create_archive(str(tmp_path / "a.db"))
    build_ground_truth(db, ("rss",))
    reconcile(db)
    assert enable_search(db) == ["episodes", "platform_episodes"]
    assert enable_search(db) == ["episodes", "platform_episodes"]
    hits = db.execute(
        "SELECT rowid FROM episodes_fts WHERE episodes_fts MATCH 'FlashOptim'"
    ).fetchall()
    assert len(hits) == 1
    # Triggers keep the index current when reconcile rewrites a canonical row.
    db.execute("UPDATE episodes SET title = 'Renamed Zebra Episode' WHERE id = ?", [hits[0][0]])
    assert db.execute(
        "SELECT count(*) FROM episodes_fts WHERE episodes_fts MATCH 'zebra'"
    ).fetchone()[0] == 1


# ---------------------------------------------------------------------------------------------
# Over HTTP


def test_served_mutable_with_metadata(server):
    databases = get_json(f"{server}/-/databases.json")
    assert [(d["name"], d["is_mutable"]) for d in databases] == [("archive", True)]
    metadata = get_json(f"{server}/-/metadata.json")
    assert metadata["title"] == "Podcast listings archive"


def test_coverage_matrix(server):
    rows = query(server, "coverage_matrix")
    assert len(rows) == len(GROUND_TRUTH)
    assert list(rows[0]) == ["episode", "published", "title", "platforms", *PLATFORMS]
    by_title = {r["title"]: r for r in rows}
    e3 = by_title[TITLE["E3"]]
    assert (e3["rss"], e3["castbox"], e3["radionet"]) == ("✓", "✓×2", "")
    e5 = by_title[TITLE["E5"]]
    assert [p for p in PLATFORMS if e5[p]] == ["podimo"]
    assert query(server, "coverage_matrix", podcast="Nobody") == []
    assert len(query(server, "coverage_matrix", podcast="AI Post Transformers")) == 10


def test_missing_per_platform(server):
    rows = query(server, "missing_per_platform")
    found = {(r["platform"], r["title"]) for r in rows}
    expected = {
        (platform, TITLE[label])
        for platform, kinds in EXPECTED_DRIFT.items()
        for label in kinds["missing"]
    }
    assert found == expected
    assert {r["platform"] for r in query(server, "missing_per_platform", platform="radionet")} \
        == {"radionet"}


def test_date_conflicts(server):
    (row,) = query(server, "date_conflicts")
    assert row["title"] == TITLE["E8"] and row["canonical"] == "2026-02-10"
    assert "audible 2026-02-14" in row["platform_dates"]


def test_truncated_descriptions(server):
    rows = query(server, "truncated_descriptions")
    found = {(r["platform"], r["title"], r["how"]) for r in rows}
    assert found == {
        ("audible", TITLE["E1"], "flagged"),
        ("audible", TITLE["E10"], "flagged"),
        ("castbox", TITLE["E1"], "prefix of canonical"),
        ("castbox", TITLE["E10"], "prefix of canonical"),
    }


def test_recent_changes_and_republications(server):
    rows = query(server, "recent_changes")
    assert [(r["change"], r["platform_episode_id"]) for r in rows] == [("changed", "B0E8"),
                                                                       ("added", "g-e1")]
    assert json.loads(rows[0]["changes"]) == {"published": ["2026-02-14", "2026-02-10"]}
    assert len(query(server, "recent_changes", seen_at__gte="2026-03-09")) == 1
    reps = query(server, "republications")
    assert {(r["platform"], r["title"]) for r in reps} == {("castbox", TITLE["E3"])}
    assert len(reps) == 2


def test_search_and_facets(server):
    found = get_json(f"{server}/archive/episodes.json?_search=FlashOptim&_shape=array")
    assert [r["title"] for r in found] == [TITLE["E1"]]
    table = get_json(f"{server}/archive/platform_episodes.json?_size=1")
    assert {"platform", "published_flag"} <= set(table["facet_results"])


# ---------------------------------------------------------------------------------------------
# In a real browser


def test_coverage_matrix_renders_in_chromium(server):
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install Debian's chromium "
            "(apt-get install chromium) or set SCRAPER_CHROMIUM; never `playwright install`."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{server}/archive/coverage_matrix", wait_until="load")
            page.wait_for_selector("table.rows-and-columns")
            cells = page.locator("table.rows-and-columns th").all_inner_texts()
            headers = [h.strip() for h in cells]
            body = page.locator("table.rows-and-columns tbody").inner_text()
            heading = page.locator("h1").inner_text()
        finally:
            browser.close()
    assert "Coverage matrix" in heading
    assert headers[:4] == ["episode", "published", "title", "platforms"]
    assert headers[4:] == PLATFORMS
    for title in TITLE.values():
        assert title in body
    assert "✓×2" in body
