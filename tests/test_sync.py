"""`scraper sync` end to end against real loopback servers and real SQLite files."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from feeds import FeedServer, items, render
from httpserver import LocalServer

from scraper.config import parse_config
from scraper.errors import LockedError
from scraper.sync import sync

# The feeds are served on 127.0.0.1, so loopback must be allowed.
FAST = {"min_delay": 0.0, "retries": 1, "timeout": 5.0, "allow_private": True}


@pytest.fixture
def feeds():
    with LocalServer() as server:
        yield FeedServer(server)


def config_for(urls: dict[str, str], **fetch):
    return parse_config({
        "podcasts": [{"name": name, "sources": [{"url": url, "platform": "rss"}]}
                     for name, url in urls.items()],
        "fetch": {**FAST, **fetch},
    })


def rows(db: Path, sql: str, params=()) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def test_first_sync_archives_everything_and_resync_is_conditional(feeds, tmp_path, monkeypatch):
    url = feeds.serve("show", render(items(12)))
    db = tmp_path / "new" / "folder" / "a.db"  # created on first use
    first = sync(config_for({"Show": url}), db)
    assert first.ok and first.status == "ok"
    assert (first.sources[0].listed, first.sources[0].new) == (12, 12)
    assert rows(db, "select count(*) from platform_episodes where listed = 1") == [(12,)]
    assert rows(db, "select count(*) from captures") == [(1,)]
    assert rows(db, "select status, listed_count from listings") == [("ok", 12)]
    titles = {r[0] for r in rows(db, "select title from platform_episodes")}
    assert "Episode number 3" in titles

    import scraper.sync

    parsed: list[str] = []
    real_parse = scraper.sync.parse_capture
    monkeypatch.setattr(scraper.sync, "parse_capture",
                        lambda adapter, capture: parsed.append(capture.url) or real_parse(
                            adapter, capture))
    second = sync(config_for({"Show": url}), db)
    assert second.sources[0].status == "unchanged"
    assert (second.sources[0].listed, second.sources[0].new) == (12, 0)
    assert parsed == [], "every page answered 304: nothing needs parsing"
    assert second.reconciled == {}, "nothing moved: nothing to reconcile"
    hits = feeds.server.hits_for("/show.xml")
    assert hits[-1].headers.get("if-none-match"), "re-sync must be a conditional request"
    # An unchanged source writes no capture, no episode change, no version.
    assert rows(db, "select count(*) from captures") == [(1,)]
    assert rows(db, "select count(*) from platform_episode_versions") == [(12,)]
    assert rows(db, "select status from runs order by id") == [("ok",), ("ok",)]


def test_changes_are_versioned_and_nothing_is_deleted(feeds, tmp_path):
    entries = items(12)
    url = feeds.serve("show", render(entries))
    db = tmp_path / "a.db"
    sync(config_for({"Show": url}), db)
    entries[0].title = "Episode number 0 (remastered)"
    gone = entries.pop(5)
    entries.insert(0, items(1, prefix="Fresh")[0])
    feeds.bodies["show"] = render(entries)
    summary = sync(config_for({"Show": url}), db)
    report = summary.sources[0]
    assert (report.new, report.changed, report.removed) == (1, 1, 1)
    assert rows(db, "select listed from platform_episodes where episode_id = ?", [gone.guid]) == [
        (0,)]
    assert rows(db, "select count(*) from platform_episodes") == [(13,)]
    changes = dict(rows(db, "select change, count(*) from platform_episode_versions "
                            "group by change"))
    assert changes == {"added": 13, "changed": 1, "removed": 1}
    (changed,) = rows(db, "select changes from platform_episode_versions where change = 'changed'")
    assert json.loads(changed[0])["title"] == ["Episode number 0", "Episode number 0 (remastered)"]
    # The episode comes back: "returned", not a second row.
    entries.append(gone)
    feeds.bodies["show"] = render(entries)
    sync(config_for({"Show": url}), db)
    assert rows(db, "select listed from platform_episodes where episode_id = ?", [gone.guid]) == [
        (1,)]
    assert rows(db, "select count(*) from platform_episode_versions where change = 'returned'"
                ) == [(1,)]


def test_layout_change_fails_loudly_and_keeps_history(feeds, tmp_path):
    url = feeds.serve("show", render(items(10)))
    db = tmp_path / "a.db"
    sync(config_for({"Show": url}), db)
    # The feed is swapped for an unrelated page.
    feeds.bodies["show"] = b"<html><head><title>Welcome</title></head><body>Hi</body></html>"
    feeds.content_types["show"] = "text/html"
    summary = sync(config_for({"Show": url}), db)
    report = summary.sources[0]
    assert not summary.ok and report.status == "layout"
    assert report.error
    assert rows(db, "select count(*) from platform_episodes where listed = 1") == [(10,)]
    assert rows(db, "select status, error_kind from listings order by id") == [
        ("ok", None), ("layout", "layout")]
    # The bad page is kept, so the adapter can be fixed and the run reparsed.
    assert rows(db, "select count(*) from captures") == [(2,)]


def test_far_fewer_episodes_than_last_time_is_an_adapter_failure(feeds, tmp_path):
    url = feeds.serve("show", render(items(10)))
    db = tmp_path / "a.db"
    sync(config_for({"Show": url}), db)
    feeds.bodies["show"] = render(items(2))
    summary = sync(config_for({"Show": url}), db)
    assert summary.sources[0].status == "layout"
    assert "far fewer" in summary.sources[0].error
    assert rows(db, "select count(*) from platform_episodes where listed = 1") == [(10,)]
    assert rows(db, "select count(*) from platform_episode_versions where change = 'removed'"
                ) == [(0,)]


def test_one_failing_source_does_not_stop_the_others(feeds, tmp_path):
    good = feeds.serve("good", render(items(3)))
    feeds.server.static("/down.xml", 503, b"down")
    down = feeds.server.url("/down.xml")
    summary = sync(config_for({"Good": good, "Down": down}), tmp_path / "a.db")
    statuses = {s.podcast: s.status for s in summary.sources}
    assert statuses == {"Good": "ok", "Down": "failed"}
    assert summary.status == "partial" and not summary.ok


def test_a_second_sync_is_refused_while_one_holds_the_lock(feeds, tmp_path):
    from filelock import FileLock

    url = feeds.serve("show", render(items(3)))
    db = tmp_path / "a.db"
    with FileLock(str(db) + ".lock"), pytest.raises(LockedError, match="another scraper sync"):
        sync(config_for({"Show": url}), db)


def write_config(tmp_path: Path, urls: dict[str, str], **fetch) -> Path:
    lines = []
    for name, url in urls.items():
        lines += ["[[podcasts]]", f'name = "{name}"',
                  f'sources = [{{ url = "{url}", platform = "rss" }}]']
    lines += ["[fetch]"] + [f"{k} = {json.dumps(v)}" for k, v in {**FAST, **fetch}.items()]
    path = tmp_path / "scraper.toml"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def run_cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scraper", *args], capture_output=True,
                          text=True, timeout=120, **kwargs)


def test_two_overlapping_cli_syncs(feeds, tmp_path):
    feeds.delay = 1.5  # keep the first sync busy while the second starts
    url = feeds.serve("show", render(items(3)))
    config = write_config(tmp_path, {"Show": url})
    db = tmp_path / "a.db"
    first = subprocess.Popen([sys.executable, "-m", "scraper", "sync", "--config", str(config),
                              "--db", str(db), "--json"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not feeds.server.hits_for("/show.xml") and time.monotonic() < deadline:
        time.sleep(0.05)
    second = run_cli("sync", "--config", str(config), "--db", str(db))
    out, _ = first.communicate(timeout=60)
    assert first.returncode == 0, out
    assert second.returncode == 3
    assert "another scraper sync" in second.stderr
    assert json.loads(out)["sources"][0]["listed"] == 3


def test_sync_killed_mid_run_leaves_a_consistent_archive(feeds, tmp_path):
    quick = feeds.serve("quick", render(items(5, prefix="Quick")))
    slow_server = LocalServer().start()
    try:
        slow = FeedServer(slow_server, delay=30)  # never answers before the kill
        slow_url = slow.serve("slow", render(items(4, prefix="Slow")))
        config = write_config(tmp_path, {"Quick": quick, "Slow": slow_url}, timeout=60.0)
        db = tmp_path / "a.db"
        process = subprocess.Popen([sys.executable, "-m", "scraper", "sync", "--config",
                                    str(config), "--db", str(db)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if db.exists():
                try:
                    if rows(db, "select count(*) from listings")[0][0] >= 1:
                        break
                except sqlite3.OperationalError:
                    pass
            time.sleep(0.05)
        else:
            process.kill()
            pytest.fail("the quick source was never recorded")
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        assert rows(db, "pragma integrity_check") == [("ok",)]
        assert rows(db, "select count(*) from platform_episodes") == [(5,)]
        assert rows(db, "select status from runs") == [("running",)]
        slow.delay = 0
        result = run_cli("sync", "--config", str(config), "--db", str(db), "--json")
        assert result.returncode == 0, result.stderr
        assert rows(db, "select status from runs order by id") == [("aborted",), ("ok",)]
        assert rows(db, "select count(*) from platform_episodes where listed = 1") == [(9,)]
    finally:
        slow_server.stop()


def test_reparse_rebuilds_listings_from_stored_captures_without_network(feeds, tmp_path):
    url = feeds.serve("show", render(items(6)))
    db = tmp_path / "a.db"
    sync(config_for({"Show": url}), db)
    feeds.server.stop()  # no network from here on
    result = run_cli("reparse", "--db", str(db), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["sources"][0]["status"] == "ok"
    assert summary["sources"][0]["listed"] == 6
    assert rows(db, "select kind, status from runs order by id") == [("sync", "ok"),
                                                                     ("reparse", "ok")]
    feeds.server = LocalServer().start()  # the fixture's teardown stops it again


def test_cli_sync_json_and_exit_codes(feeds, tmp_path):
    url = feeds.serve("show", render(items(2)))
    config = write_config(tmp_path, {"Show": url})
    db = tmp_path / "a.db"
    ok = run_cli("sync", "--config", str(config), "--db", str(db), "--json")
    assert ok.returncode == 0, ok.stderr
    summary = json.loads(ok.stdout)
    assert summary["status"] == "ok"
    assert summary["sources"][0]["platform"] == "rss"
    assert {"podcast", "url", "status", "claimed", "listed", "new"} <= set(summary["sources"][0])
    feeds.server.static("/broken.xml", 404, b"gone")
    bad = write_config(tmp_path, {"Broken": feeds.server.url("/broken.xml")})
    failed = run_cli("sync", "--config", str(bad), "--db", str(db))
    assert failed.returncode == 1
    usage = run_cli("sync", "--config", str(tmp_path / "missing.toml"))
    assert usage.returncode == 2 and "no sources file" in usage.stderr
