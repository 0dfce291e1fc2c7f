"""Alerts on new drift, end to end: real syncs of the recordings (one of them edited between
runs) and Apprise's `json://` posting to a receiver on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlite_utils

from scraper.config import NotifyConfig, parse_config
from scraper.demo import demo_config
from scraper.errors import ConfigError
from scraper.fixtures import load_cases
from scraper.replay import ReplayServer
from scraper.sync import sync

PODCAST = "AI Post Transformers"


class Receiver:
    """Collects the JSON bodies POSTed to it."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                length = int(self.headers.get("Content-Length", 0))
                receiver.messages.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"json://127.0.0.1:{self._server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rss_page(server: ReplayServer):
    """The recorded feed page that holds the most items, and its items."""
    pages = [(key, page) for key, page in server.pages.items() if b"<item>" in page.body]
    key, page = max(pages, key=lambda kp: kp[1].body.count(b"<item>"))
    return page, re.findall(rb"<item>.*?</item>", page.body, re.S)


def _set_body(page, body: bytes) -> None:
    import hashlib

    page.body = body
    page.etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _run(server: ReplayServer, db: Path, settings: NotifyConfig):
    config = demo_config(server, db)
    config.notify = settings
    summary = sync(config, db)
    assert summary.ok, [s.error for s in summary.sources if s.error]
    return summary


def test_one_alert_per_new_drift_none_on_an_unchanged_resync(tmp_path, receiver):
    db = tmp_path / "archive.db"
    settings = NotifyConfig(urls=[receiver.url], serve_url="http://127.0.0.1:8001")
    with ReplayServer(load_cases()) as server:
        _run(server, db, settings)
        assert len(receiver.messages) == 1, "the first sync reports the drift it finds"
        first = receiver.messages[0]
        assert first["title"].startswith(f"{PODCAST}: ")
        # The README's table: audible 1, castbox 1, podtail 2, radionet 3 missing.
        assert "**missing**: 7 (audible 1, castbox 1, podtail 2, radionet 3)" in first["message"]
        assert "**new episodes**: 658" in first["message"]
        assert "… and 653 more" in first["message"]
        assert ("Report: http://127.0.0.1:8001/archive/missing_per_platform"
                "?podcast=AI%20Post%20Transformers") in first["message"]

        _run(server, db, settings)
        assert len(receiver.messages) == 1, "an unchanged re-sync sends nothing"

        page, items = _rss_page(server)
        original = page.body
        gone = items[len(items) // 2]
        title = re.search(rb"<title>(?:<!\[CDATA\[)?(.*?)(?:\]\]>)?</title>", gone).group(1)
        _set_body(page, original.replace(gone, b""))
        _run(server, db, settings)
        assert len(receiver.messages) == 2, "a newly missing episode: exactly one alert"
        alert = receiver.messages[1]
        assert alert["title"] == f"{PODCAST}: 1 missing"
        assert "**missing**: 1 (rss 1)" in alert["message"]
        assert title.decode() in alert["message"]

        _run(server, db, settings)
        assert len(receiver.messages) == 2, "still missing: not alerted again"

        _set_body(page, original)  # it comes back: no alert, the drift is forgotten ...
        _run(server, db, settings)
        assert len(receiver.messages) == 2
        _set_body(page, original.replace(gone, b""))  # ... so going again is new drift
        _run(server, db, settings)
        assert len(receiver.messages) == 3
        assert receiver.messages[2]["title"] == f"{PODCAST}: 1 missing"
    kept = sqlite_utils.Database(db).execute(
        "SELECT kind, count(*) FROM alerts_sent GROUP BY kind ORDER BY kind").fetchall()
    assert dict(kept) == {"missing": 8, "new": 658}


def test_a_failed_notification_is_logged_and_retried_never_failing_the_sync(
        tmp_path, receiver, caplog):
    db = tmp_path / "archive.db"
    dead = NotifyConfig(urls=[f"json://127.0.0.1:{_closed_port()}/hook"], on=("missing",))
    with ReplayServer(load_cases()) as server:
        with caplog.at_level(logging.WARNING, logger="scraper.notify"):
            summary = _run(server, db, dead)
        assert summary.status == "ok"
        warnings = [r.getMessage() for r in caplog.records if r.name == "scraper.notify"]
        assert len(warnings) == 1 and "not delivered" in warnings[0]
        assert "\n" not in warnings[0]
        # Not delivered, so not recorded: the next run with a working URL sends it.
        _run(server, db, NotifyConfig(urls=[receiver.url], on=("missing",)))
    assert len(receiver.messages) == 1
    assert receiver.messages[0]["title"] == f"{PODCAST}: 7 missing"
    assert "new episodes" not in receiver.messages[0]["message"]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scraper", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd)


def test_notify_test_sends_a_sample(tmp_path, receiver):
    config = tmp_path / "scraper.toml"
    config.write_text(f'[notify]\nurls = ["{receiver.url}"]\n', "utf-8")
    result = _cli("notify", "--test", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(receiver.messages) == 1
    assert receiver.messages[0]["title"].startswith("[test] Sample Podcast")
    config.write_text("", "utf-8")
    result = _cli("notify", "--test", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert "has no [notify] table: add one" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("table", "message"), [
    ({"urls": []}, "urls must be a list"),
    ({"urls": "json://x", "on": ["missing", "gone"]}, "on must list some of"),
    ({"urls": ["json://x"], "serve_url": "ftp://x"}, "serve_url"),
    ({"urls": ["json://x"], "every": 3}, "unknown setting 'every'"),
])
def test_bad_notify_tables_are_one_clear_error(table, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config({"notify": table})


def test_the_notify_table_defaults_to_every_kind():
    config = parse_config({"notify": {"urls": "json://127.0.0.1:1/x",
                                      "serve_url": "http://h:8001/"}})
    assert config.notify == NotifyConfig(
        urls=["json://127.0.0.1:1/x"],
        on=("missing", "date", "title", "new", "failed", "partial"),
        serve_url="http://h:8001")


def test_a_source_that_starts_failing_is_alerted_once(tmp_path, receiver):
    db = tmp_path / "archive.db"
    settings = NotifyConfig(urls=[receiver.url], on=("failed",))
    with ReplayServer(load_cases()) as server:
        _run(server, db, settings)
        assert receiver.messages == [], "nothing failed"
        page, _ = _rss_page(server)
        page.status = 500
        _set_body(page, b"down for maintenance")
        for _ in range(2):  # failing twice: alerted once
            config = demo_config(server, db)
            config.notify = settings
            summary = sync(config, db)
            assert [s.platform for s in summary.sources if s.status == "failed"] == ["rss"]
        assert len(receiver.messages) == 1
        assert receiver.messages[0]["title"] == f"{PODCAST}: 1 failed source"
        assert "**failed source**: 1 (rss 1)" in receiver.messages[0]["message"]
    from scraper.drift import drift_items

    items = drift_items(sqlite_utils.Database(db), 1)
    assert len({i.key for i in items}) == len(items), "drift keys are unique"
    assert {i.kind for i in items} >= {"missing", "new", "failed"}


def test_scraper_notify_checks_an_archive_now(tmp_path, receiver):
    db = tmp_path / "archive.db"
    with ReplayServer(load_cases()) as server:
        assert sync(demo_config(server, db), db).ok  # no [notify]: nothing sent
    assert receiver.messages == []
    config = tmp_path / "scraper.toml"
    config.write_text(f'[notify]\nurls = ["{receiver.url}"]\non = ["missing"]\n', "utf-8")
    # While a sync holds the archive, notify waits its turn (exit 3) and sends nothing: two
    # processes must not both alert the drift neither has recorded as alerted yet.
    from filelock import FileLock

    with FileLock(f"{db}.lock", timeout=0):
        locked = _cli("notify", "--config", str(config), "--db", str(db), cwd=tmp_path)
    assert locked.returncode == 3 and "another scraper sync is writing" in locked.stderr
    assert len(locked.stderr.strip().splitlines()) == 1 and receiver.messages == []
    first = _cli("notify", "--config", str(config), "--db", str(db), "--json", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == [{"podcast": PODCAST, "new": 7, "kinds": {"missing": 7},
                                         "resolved": 0, "delivered": 1, "errors": []}]
    again = _cli("notify", "--config", str(config), "--db", str(db), "--json", cwd=tmp_path)
    assert json.loads(again.stdout)[0]["new"] == 0
    assert len(receiver.messages) == 1
