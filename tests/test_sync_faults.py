"""What `scraper sync` promises when things go wrong, against real loopback servers and real
SQLite files: deadlines, one crashing adapter between two good sources, a listing cut by the
page cap, and database faults (one line, exit code 5, the run closed as failed)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from feeds import FeedServer, items, render
from httpserver import LocalServer, Request

import adapters
from adapters.rss import RssAdapter
from scraper.archive import Archive
from scraper.config import parse_config
from scraper.errors import ArchiveError
from scraper.sync import sync

FAST = {"min_delay": 0.0, "retries": 1, "timeout": 5.0, "allow_private": True}
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def feeds():
    with LocalServer() as server:
        yield FeedServer(server)


def config_for(sources: list[tuple[str, str]], platform: str = "rss", **fetch):
    """One podcast per (name, url)."""
    return parse_config({
        "podcasts": [{"name": name, "sources": [{"url": url, "platform": platform}]}
                     for name, url in sources],
        "fetch": {**FAST, **fetch},
    })


def write_config(tmp_path: Path, sources: list[tuple[str, str]], **fetch) -> Path:
    lines = []
    for name, url in sources:
        lines += ["[[podcasts]]", f'name = "{name}"',
                  f'sources = [{{ url = "{url}", platform = "rss" }}]']
    lines += ["[fetch]"] + [f"{k} = {json.dumps(v)}" for k, v in {**FAST, **fetch}.items()]
    path = tmp_path / "scraper.toml"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def run_cli(*args: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([*prefix, sys.executable, "-m", "scraper", *args],
                          capture_output=True, text=True, timeout=120, env=env)


def rows(db: Path, sql: str, params=()) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


# -- deadlines ------------------------------------------------------------------------------------


def drip(request: Request) -> None:
    h = request.handler
    h.send_response(200)
    h.send_header("Content-Type", "application/rss+xml")
    h.send_header("Content-Length", "1000")
    h.end_headers()
    for _ in range(30):
        h.wfile.write(b"<")
        h.wfile.flush()
        time.sleep(1)
    request._replied = True


def test_a_dripping_source_fails_at_the_request_deadline_and_the_run_goes_on(feeds, tmp_path):
    good = feeds.serve("good", render(items(5)))
    feeds.server.on("/drip.xml", drip)
    db = tmp_path / "a.db"
    summary = sync(config_for([("Drip", feeds.server.url("/drip.xml")), ("Good", good)],
                              request_deadline=2), db)
    by_name = {s.podcast: s for s in summary.sources}
    assert by_name["Good"].status == "ok" and by_name["Good"].listed == 5
    assert by_name["Drip"].status == "failed"
    assert "sent" in by_name["Drip"].error and "request deadline of 2 s" in by_name["Drip"].error
    assert summary.status == "partial" and not summary.ok
    assert rows(db, "select error_kind from listings l join sources s on s.id = l.source_id "
                    "where s.url like '%drip%'") == [("fetch",)]


def paged_feed(server: LocalServer, *, delay: float = 0.0, endless: bool = True) -> str:
    """/paged.xml?page=N: one episode a page, each page pointing at the next, forever."""

    def handler(request: Request) -> None:
        time.sleep(delay)
        page = int(request.hit.target.partition("page=")[2] or 0)
        body = render(items(1, prefix=f"Page{page}"))
        link = (f'<atom:link xmlns:atom="http://www.w3.org/2005/Atom" rel="next" '
                f'href="{server.url(f"/paged.xml?page={page + 1}")}"/>')
        if endless:
            body = body.replace(b"<channel>", b"<channel>" + link.encode(), 1)
        request.reply(200, body, {"Content-Type": "application/rss+xml"})

    server.on("/paged.xml", handler)
    return server.url("/paged.xml")


def test_the_source_deadline_cuts_a_slow_listing_as_partial(feeds, tmp_path):
    url = paged_feed(feeds.server, delay=0.4)
    summary = sync(config_for([("Slow", url)], source_deadline=1.5), tmp_path / "a.db")
    (report,) = summary.sources
    assert report.status == "partial"
    assert "source deadline of 1.5 s" in report.error and "none marked removed" in report.error
    assert 1 <= report.listed < 10


def test_the_run_deadline_fails_the_remaining_sources_cleanly(feeds, tmp_path, monkeypatch):
    monkeypatch.setattr("scraper.sync.MAX_CONCURRENT_SOURCES", 1)  # one source at a time
    slow = paged_feed(feeds.server, delay=0.4)
    later = [(f"Later {n}", feeds.serve(f"later{n}", render(items(2)))) for n in range(2)]
    db = tmp_path / "a.db"
    summary = sync(config_for([("Slow", slow), *later], run_deadline=1.5), db)
    statuses = {s.podcast: (s.status, s.error or "") for s in summary.sources}
    assert statuses["Slow"][0] == "partial" and "run deadline" in statuses["Slow"][1]
    for name, _ in later:
        assert statuses[name][0] == "failed" and "run deadline of 1.5 s" in statuses[name][1]
    # No source complete: the run failed (closed, not left running).
    assert rows(db, "select status from runs") == [("failed",)]


# -- incomplete is not complete -------------------------------------------------------------------


def test_a_never_ending_next_is_partial_and_marks_nothing_removed(feeds, tmp_path, monkeypatch):
    monkeypatch.setattr(RssAdapter, "max_pages", 5)
    feeds.serve("show", render(items(50)))
    config = write_config(tmp_path, [("Show", feeds.server.url("/show.xml"))])
    db = tmp_path / "a.db"
    assert run_cli("sync", "--config", str(config), "--db", str(db)).returncode == 0
    # The feed turns into pages whose `next` never ends.
    endless = paged_feed(feeds.server)
    feeds.bodies["show"] = render(items(1)).replace(
        b"<channel>", b'<channel><atom:link xmlns:atom="http://www.w3.org/2005/Atom" '
        b'rel="next" href="' + f"{endless}?page=1".encode() + b'"/>', 1)
    # max_pages is patched in this process only: the page cap is read in-process here.
    summary = sync(config_for([("Show", feeds.server.url("/show.xml"))]), db)
    (report,) = summary.sources
    assert report.status == "partial" and not summary.ok
    assert "stopped after 5 pages" in report.error and "none marked removed" in report.error
    assert report.removed == 0
    assert rows(db, "select count(*) from platform_episodes where listed = 1") == [(54,)]
    assert rows(db, "select count(*) from platform_episode_versions where change = 'removed'"
                ) == [(0,)]
    assert rows(db, "select status, error_kind from listings order by id desc limit 1") == [
        ("partial", "incomplete")]


def test_a_partial_listing_exits_1_and_says_so(feeds, tmp_path):
    good = feeds.serve("good", render(items(3)))
    config = write_config(tmp_path, [("Good", good)], source_deadline=1)
    db = tmp_path / "a.db"
    feeds.delay = 0.0
    paged = paged_feed(feeds.server, delay=0.3)
    config = write_config(tmp_path, [("Good", good), ("Paged", paged)], source_deadline=1)
    result = run_cli("sync", "--config", str(config), "--db", str(db), "--json")
    assert result.returncode == 1, result.stderr
    summary = json.loads(result.stdout)
    statuses = {s["podcast"]: s["status"] for s in summary["sources"]}
    assert statuses == {"Good": "ok", "Paged": "partial"} and summary["ok"] is False
    table = run_cli("sync", "--config", str(config), "--db", str(db))
    assert table.returncode == 1 and "partial" in table.stdout
    assert "source deadline" in table.stdout


# -- one bad source never stops the run ---------------------------------------------------------


class CrashingAdapter(RssAdapter):
    """A feed adapter with a bug: a title with "boom" in it crashes it."""

    name = "crashing"

    def parse(self, capture):
        listing = super().parse(capture)
        for episode in listing.episodes:
            if "boom" in (episode.title or ""):
                int(episode.title)  # ValueError, as a careless adapter would raise
        return listing


def test_a_crashing_adapter_between_two_good_sources(feeds, tmp_path, monkeypatch):
    monkeypatch.setitem(adapters._registry(), "crashing", CrashingAdapter)
    first = feeds.serve("first", render(items(3, prefix="First")))
    bad = feeds.serve("bad", render(items(2, prefix="boom")))
    last = feeds.serve("last", render(items(4, prefix="Last")))
    db = tmp_path / "a.db"
    summary = sync(config_for([("First", first), ("Bad", bad), ("Last", last)],
                              platform="crashing"), db)
    reports = {s.podcast: s for s in summary.sources}
    assert (reports["First"].status, reports["First"].listed) == ("ok", 3)
    assert (reports["Last"].status, reports["Last"].listed) == ("ok", 4)
    assert reports["Bad"].status == "failed"
    error = reports["Bad"].error
    assert "ValueError" in error and "the page is kept" in error
    assert f"tests/{Path(__file__).name}:" in error  # where it was raised
    assert summary.status == "partial"
    assert rows(db, "select status from runs") == [("partial",)]
    assert rows(db, "select l.error_kind, count(c.id) from listings l join sources s on "
                    "s.id = l.source_id left join captures c on c.source_id = s.id "
                    "where s.url = ? group by l.id", [bad]) == [("parse", 1)]
    assert rows(db, "select count(*) from platform_episodes") == [(7,)]


def test_control_characters_are_removed_and_flagged_never_cut(feeds, tmp_path):
    body = render(items(2)).replace(b"Episode number 0", b"Episode&#x1; num\x1bber 0", 1)
    url = feeds.serve("nul", body)
    db = tmp_path / "a.db"
    summary = sync(config_for([("Show", url)]), db)
    assert summary.ok, summary.sources[0].error
    titles = rows(db, "select title, extra from platform_episodes order by title")
    assert titles[0][0] == "Episode number 0"
    assert json.loads(titles[0][1])["control_characters_removed"] == ["title"]


def test_strip_control_characters_keeps_text_after_a_nul():
    from scraper.models import Episode, Listing
    from scraper.sync import strip_control_characters

    listing = Listing(platform="rss", url="https://x.example/",
                      episodes=[Episode(id="1", title="before\x00after", description="ok\n")])
    strip_control_characters(listing)
    episode = listing.episodes[0]
    assert (episode.title, episode.description) == ("beforeafter", "ok\n")
    assert episode.control_characters_removed == ["title"]


# -- database faults ------------------------------------------------------------------------------


@pytest.fixture
def one_feed(feeds, tmp_path):
    url = feeds.serve("show", render(items(5)))
    return write_config(tmp_path, [("Show", url)])


def fault(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 5, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_a_db_that_is_not_sqlite(one_feed, tmp_path):
    db = tmp_path / "notes.txt"
    db.write_text("my shopping list\n" * 50, "utf-8")
    message = fault(run_cli("sync", "--config", str(one_feed), "--db", str(db)))
    assert "is not a SQLite file" in message
    assert not Path(f"{db}.lock").exists()
    assert db.read_text("utf-8").startswith("my shopping list")
    assert fault(run_cli("episodes", "--db", str(db)))


def test_another_programs_sqlite_file_is_left_alone(one_feed, tmp_path):
    db = tmp_path / "other.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table notes (body text)")
    before = db.read_bytes()
    message = fault(run_cli("sync", "--config", str(one_feed), "--db", str(db)))
    assert "is not a scraper archive" in message and "notes" in message
    assert db.read_bytes() == before
    assert not Path(f"{db}.lock").exists() and not Path(f"{db}-wal").exists()


def test_a_truncated_archive(one_feed, tmp_path):
    db = tmp_path / "a.db"
    assert run_cli("sync", "--config", str(one_feed), "--db", str(db)).returncode == 0
    data = db.read_bytes()
    assert not Path(f"{db}-wal").exists()  # checkpointed on close
    db.write_bytes(data[: len(data) // 3])
    message = fault(run_cli("sync", "--config", str(one_feed), "--db", str(db)))
    assert "truncated" in message and "backup" in message


def without_root_powers() -> tuple[str, ...]:
    """As root, permission bits bind only once the capabilities are dropped."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.fail("running as root needs setpriv (util-linux) to test read-only files")
    return (setpriv, "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all")


def test_a_read_only_archive(one_feed, tmp_path):
    db = tmp_path / "a.db"
    assert run_cli("sync", "--config", str(one_feed), "--db", str(db)).returncode == 0
    db.chmod(0o444)
    try:
        message = fault(run_cli("sync", "--config", str(one_feed), "--db", str(db),
                                prefix=without_root_powers()))
    finally:
        db.chmod(0o644)
    assert "is read-only" in message


def test_a_read_only_folder(one_feed, tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        message = fault(run_cli("sync", "--config", str(one_feed), "--db",
                                str(folder / "a.db"), prefix=without_root_powers()))
    finally:
        folder.chmod(0o755)
    assert "read-only" in message and list(folder.iterdir()) == []


def fill_disk(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Every archive opened from now on sits on a "disk" with room for a handful of pages
    more than it already has; the function returned puts a normal disk back."""
    opened = Archive.__init__

    def tiny_disk(self, path):
        opened(self, path)
        pages = self.db.execute("PRAGMA page_count").fetchone()[0]
        self.db.execute(f"PRAGMA max_page_count = {pages + 3}")

    monkeypatch.setattr(Archive, "__init__", tiny_disk)
    return lambda: monkeypatch.setattr(Archive, "__init__", opened)


def test_disk_full_closes_the_run_as_failed_and_keeps_nothing_of_the_source(
        feeds, tmp_path, monkeypatch):
    small = feeds.serve("small", render(items(2)))
    db = tmp_path / "a.db"
    assert sync(config_for([("Small", small)]), db).ok
    # A "disk" with room for a handful of pages more: the next big source does not fit.
    normal_disk = fill_disk(monkeypatch)
    big = feeds.serve("big", render([*items(400, prefix="Big")]))
    with pytest.raises(ArchiveError, match=r"disk full while writing source .*big.xml: "
                                           r"nothing from it was kept"):
        sync(config_for([("Big", big)]), db)
    normal_disk()
    assert rows(db, "select status, error from runs order by id") [-1][0] == "failed"
    assert rows(db, "select count(*) from platform_episodes where title like 'Big%'") == [(0,)]


def test_disk_full_on_the_command_line(feeds, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from scraper.cli import app

    big = feeds.serve("big", render(items(400, prefix="Big")))
    config = write_config(tmp_path, [("Big", big)])
    db = tmp_path / "a.db"
    with sqlite3.connect(db):
        pass  # an empty file becomes a new archive
    fill_disk(monkeypatch)
    result = CliRunner().invoke(app, ["sync", "--config", str(config), "--db", str(db),
                                      "--json"])
    assert result.exit_code == 5
    assert "disk full while writing source" in result.output
    assert "Traceback" not in result.output
    debug = CliRunner().invoke(app, ["--debug", "sync", "--config", str(config), "--db",
                                     str(db), "--json"])
    assert debug.exit_code == 5 and "Traceback" in debug.output


def test_a_next_page_on_a_private_address_is_refused_and_the_listing_partial(feeds, tmp_path):
    feeds.serve("show", render(items(3)).replace(
        b"<channel>", b'<channel><atom:link xmlns:atom="http://www.w3.org/2005/Atom" '
        b'rel="next" href="http://169.254.169.254/latest/meta-data/"/>', 1))
    # The show is reached through a route (trusted); its `next` points at the metadata address.
    config = parse_config({
        "podcasts": [{"name": "Show", "sources": [
            {"url": "https://show.example/show.xml", "platform": "rss"}]}],
        "routes": {"https://show.example": feeds.server.base},
        "fetch": {**FAST, "allow_private": False},
    })
    db = tmp_path / "a.db"
    summary = sync(config, db)
    (report,) = summary.sources
    assert report.status == "partial" and report.listed == 3
    assert "169.254.169.254 is a link-local address" in report.error
    assert rows(db, "select url from captures") == [("https://show.example/show.xml",)]
