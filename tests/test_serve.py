"""`scraper serve` for real: Datasette stops with it under SIGTERM, SIGINT and SIGHUP (and
when it is killed outright), a busy port is an error, and no temporary folder is left."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from feeds import FeedServer, items, render
from httpserver import LocalServer

from scraper.config import parse_config
from scraper.datasette import STOP_GRACE
from scraper.sync import sync

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("serve") / "archive.db"
    with LocalServer() as server:
        url = FeedServer(server).serve("show", render(items(3)))
        config = parse_config({
            "podcasts": [{"name": "Show", "sources": [{"url": url, "platform": "rss"}]}],
            "fetch": {"min_delay": 0, "allow_private": True}})
        assert sync(config, db).ok
    return db


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_serve(db: Path, port: int, tmp: Path, *, nohup: bool = False) -> subprocess.Popen:
    """`scraper serve`, with SIGHUP at its default (whatever the test run inherited), or
    ignored as `nohup` leaves it."""
    tmp.mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp)}
    hangup = signal.SIG_IGN if nohup else signal.SIG_DFL
    return subprocess.Popen([sys.executable, "-m", "scraper", "serve", "--db", str(db),
                             "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGHUP, hangup))


def wait_until_up(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/-/versions.json", timeout=2).raise_for_status()
            return
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"serve did not come up: {process.stderr.read()!r}") from None
            time.sleep(0.2)


def reap(process: subprocess.Popen) -> None:
    """However a test ended: `serve` gone (killed if it is still there), its pipe closed."""
    if process.poll() is None:
        process.kill()
        process.wait()
    process.stderr.close()


def port_closed(port: int, within: float = 15.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) != 0:
                return True
        time.sleep(0.2)
    return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP],
                         ids=["SIGTERM", "SIGINT", "SIGHUP"])
def test_datasette_stops_with_serve(archive, tmp_path, sig):
    port = free_port()
    process = start_serve(archive, port, tmp_path / "tmp")
    try:
        wait_until_up(port, process)
        assert list((tmp_path / "tmp").iterdir())  # the metadata folder, while serving
        process.send_signal(sig)
        code = process.wait(timeout=30)
    finally:
        reap(process)
    assert code in (0, 128 + sig), code
    assert port_closed(port)
    assert list((tmp_path / "tmp").iterdir()) == []


def test_under_nohup_a_hangup_is_ignored_by_both(archive, tmp_path):
    port = free_port()
    process = start_serve(archive, port, tmp_path / "tmp", nohup=True)
    try:
        wait_until_up(port, process)
        process.send_signal(signal.SIGHUP)
        # Past the grace after which a forwarded signal gets Datasette killed.
        time.sleep(STOP_GRACE + 2)
        assert process.poll() is None  # still serving, and so is Datasette
        httpx.get(f"http://127.0.0.1:{port}/-/versions.json", timeout=5).raise_for_status()
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    finally:
        reap(process)
    assert code in (0, 128 + signal.SIGTERM), code
    assert port_closed(port)


def test_datasette_dies_with_a_killed_serve(archive, tmp_path):
    port = free_port()
    process = start_serve(archive, port, tmp_path / "tmp")
    try:
        wait_until_up(port, process)
        process.kill()  # no chance to clean up: the child must still go
        process.wait(timeout=30)
    finally:
        process.stderr.close()
    assert port_closed(port)


def test_a_busy_port_is_an_error(archive, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        process = start_serve(archive, port, tmp_path / "tmp")
        try:
            code = process.wait(timeout=60)
            error = process.stderr.read().decode()
        finally:
            process.stderr.close()
    assert code != 0 and f"port {port}" in error and "in use" in error
    assert list((tmp_path / "tmp").iterdir()) == []
