"""The command line, run as a user runs it (subprocesses), against the recorded pages."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from scraper.fixtures import FIXTURES_DIR, load_cases
from scraper.replay import ReplayServer

CASES = load_cases()
PLATFORMS = {"rss", "audible", "radionet", "castbox", "podimo", "podtail", "apple"}


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scraper", *args], capture_output=True,
                          text=True, timeout=300, cwd=cwd)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("demo") / "demo.db"
    result = cli("demo", "--db", str(db), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert {s["platform"] for s in summary["sources"]} == PLATFORMS
    assert all(s["status"] == "ok" for s in summary["sources"])
    listed = {s["platform"]: s["listed"] for s in summary["sources"]}
    assert listed == {"rss": 658, "audible": 455, "radionet": 458, "castbox": 451,
                      "podimo": 662, "podtail": 635, "apple": 200}
    return db


def test_demo_twice_second_run_is_all_unchanged(demo_db):
    again = cli("demo", "--db", str(demo_db), "--json")
    assert again.returncode == 0, again.stderr
    statuses = {s["platform"]: s["status"] for s in json.loads(again.stdout)["sources"]}
    assert set(statuses.values()) == {"unchanged"}


def test_episodes_json_contract(demo_db):
    result = cli("episodes", "--db", str(demo_db), "--json")
    assert result.returncode == 0, result.stderr
    episodes = json.loads(result.stdout)
    assert len(episodes) == 658
    first = episodes[0]
    assert {"id", "title", "published", "duration_seconds", "description",
            "description_source", "links"} <= set(first)
    assert {"platform", "episode_id", "url", "score", "rule"} == set(first["links"][0])
    beluga = next(e for e in episodes if e["title"].startswith("Beluga"))
    assert {link["platform"] for link in beluga["links"]} == {"rss", "podimo", "apple"}
    table = cli("episodes", "--db", str(demo_db), "--limit", "5")
    assert table.returncode == 0 and "658 canonical episodes" in table.stdout


def test_diff_and_changes_reports(demo_db):
    report = json.loads(cli("diff", "--db", str(demo_db), "--json").stdout)
    sources = {s["platform"]: s for s in report["podcasts"][0]["sources"]}
    assert sources["podimo"]["claimed_count"] == 662
    assert sources["castbox"]["counts"]["not_yet_seen"] > 0
    only_two = json.loads(cli("diff", "--db", str(demo_db), "--json", "--platform", "rss",
                              "--platform", "castbox").stdout)
    assert {s["platform"] for s in only_two["podcasts"][0]["sources"]} == {"rss", "castbox"}
    markdown = cli("diff", "--db", str(demo_db), "--markdown").stdout
    assert "| platform | captured | claimed | listed |" in markdown
    changes = json.loads(cli("changes", "--db", str(demo_db), "--json", "--since", "1").stdout)
    assert changes and {c["change"] for c in changes} == {"added"}
    none_later = json.loads(cli("changes", "--db", str(demo_db), "--json", "--since", "99")
                            .stdout)
    assert none_later == []


def test_parse_prints_the_expected_parse_of_a_recording():
    case = next(c for c in CASES if c.platform == "podimo" and c.name == "episode-no")
    result = cli("parse", str(case.path), "--platform", "podimo", "--url", case.url,
                 "--fetched-at", case.fetched_at.isoformat())
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == case.expected_json()
    blocked = next(c for c in CASES if c.platform == "podimo" and c.error)
    failed = cli("parse", str(blocked.path), "--platform", "podimo", "--url", blocked.url)
    assert failed.returncode == 1 and "Error" in failed.stderr
    unknown = cli("parse", str(case.path), "--platform", "myspace")
    assert unknown.returncode == 2 and "unknown platform" in unknown.stderr


def test_add_checks_the_page_then_appends_and_sources_lists_it(tmp_path):
    config = tmp_path / "scraper.toml"
    config.write_text("# my podcasts\n", "utf-8")
    start = next(c for c in CASES if c.platform == "castbox" and c.demo_source)
    region_404 = next(c for c in CASES if c.name == "region404-couk")
    with ReplayServer(CASES) as server:
        routes = [f"--route={prefix}={base}" for prefix, base in server.routes_for([]).items()]
        assert "?" not in start.url
        added = cli("add", start.url + "?utm_source=share", "--podcast", "AI Post Transformers",
                    "--config", str(config), *routes)
        assert added.returncode == 0, added.stderr
        assert "checked: AI Post Transformers: 20 episodes on the first page" in added.stdout
        refused = cli("add", region_404.url, "--podcast", "AI Post Transformers",
                      "--config", str(config), *routes)
        assert refused.returncode == 1 and "region 404" in refused.stderr
    text = config.read_text("utf-8")
    assert text.startswith("# my podcasts") and "utm_source" not in text
    assert "audible.co.uk" not in text
    unchecked = cli("add", "https://mirror.example/show.rss", "--podcast", "Other",
                    "--config", str(config), "--no-check")
    assert unchecked.returncode == 0, unchecked.stderr
    listing = cli("sources", "--config", str(config), "--db", str(tmp_path / "none.db"),
                  "--json")
    assert listing.returncode == 0, listing.stderr
    rows = json.loads(listing.stdout)
    assert [(r["podcast"], r["platform"], r["status"]) for r in rows] == [
        ("AI Post Transformers", "castbox", "never synced"), ("Other", "rss", "never synced")]
    assert rows[0]["url"] == start.url  # tracking parameters stripped
    assert cli("sources", "--config", str(config), "--db", str(tmp_path / "n.db")).returncode == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_opens_the_archive_in_datasette(demo_db):
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "scraper", "serve", "--db", str(demo_db),
                                "--port", str(port)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/{demo_db.stem}/coverage_matrix.json"
                                     "?_shape=array&_size=3", timeout=5)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        assert response.status_code == 200
        rows = response.json()
        assert rows and {"title", "rss", "podimo"} <= set(rows[0])
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_help_lists_every_command():
    result = cli("--help")
    assert result.returncode == 0
    for command in ("sync", "parse", "sources", "add", "reparse", "demo", "episodes", "diff",
                    "changes", "serve"):
        assert command in result.stdout


def test_fixture_dirs_exist_for_every_platform():
    assert {p.name for p in FIXTURES_DIR.iterdir() if (p / "index.json").exists()} == PLATFORMS
