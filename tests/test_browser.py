"""BrowserFetcher against real Debian Chromium and a real loopback HTTP server (no mocks).

The browser is launched once for the module. Playwright objects belong to the event loop
that created them, so the module shares one `asyncio.Runner` (asyncio.run with a loop that
outlives a single call) instead of calling asyncio.run per test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from adapters.base import Adapter
from scraper.archive import Archive
from scraper.browser import DEFAULT_CHROMIUM, INSTALL_HINT, BrowserFetcher, BrowserOptions
from scraper.errors import FetchError
from scraper.models import Capture, Episode, Listing, Request, Show
from scraper.routes import Routes
from scraper.sync import collect_source

PAGES = Path(__file__).parent / "browser_pages"
TOTAL, PAGE_SIZE = 25, 10
PAGE_COUNT = -(-TOTAL // PAGE_SIZE)
TITLES = [f"Episode {n:02d}" for n in range(1, TOTAL + 1)]
ROUTED = "https://podcasts.example"
# The route points at a sub-path so routed requests are recognisable in the server log.
MOUNT = "/podcasts.example"
MIN_DELAY = 0.2

ROW = re.compile(r'<li class="episode"[^>]*>([^<]*)</li>')


def rows(body: bytes) -> list[str]:
    return ROW.findall(body.decode("utf-8"))


class PageServer:
    """Serves tests/browser_pages plus a JSON episode API; records every request's path and
    its start/end times (time.monotonic, the same clock the fetcher paces with)."""

    ROUTES = {
        "/show": "episodes_js.html",
        "/load-more": "load_more.html",
        "/paginator": "paginator.html",
        "/blocked": "blocked.html",
    }

    def __init__(self) -> None:
        self.log: list[dict] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def paths(self) -> list[str]:
        with self._lock:
            return [entry["path"] for entry in self.log]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server naming
                start = time.monotonic()
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                if query.get("slow"):
                    time.sleep(0.3)  # widens the window in which unserialised pages would overlap
                mount = MOUNT if parts.path.startswith(MOUNT + "/") else ""
                self._answer(parts.path.removeprefix(mount), query, mount)
                with server._lock:
                    server.log.append(
                        {
                            "path": self.path,
                            "tag": query.get("tag"),
                            "start": start,
                            "end": time.monotonic(),
                        }
                    )

            def _answer(self, path: str, query: dict[str, str], mount: str) -> None:
                if path == "/api/episodes":
                    time.sleep(0.05)  # rows arrive after the click, as on a real site
                    page = int(query.get("page", "1"))
                    chunk = TITLES[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
                    data = {
                        "page": page,
                        "pages": PAGE_COUNT,
                        "episodes": [{"id": t.split()[1], "title": t} for t in chunk],
                    }
                    return self._send(200, json.dumps(data).encode(), "application/json")
                if path == "/redirect":
                    # Absolute loopback Location: the fetcher must map it back through routes.
                    location = f"{server.base}{mount}/show"
                    return self._send(302, b"", "text/plain", {"Location": location})
                if path in PageServer.ROUTES:
                    body = (PAGES / PageServer.ROUTES[path]).read_bytes()
                    status = 403 if path == "/blocked" else 200
                    return self._send(status, body, "text/html; charset=utf-8", {"X-Test": "yes"})
                return self._send(404, b"not found\n", "text/plain")

            def _send(
                self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                for name, value in (extra or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler

    def __enter__(self) -> PageServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def server() -> Iterator[PageServer]:
    with PageServer() as srv:
        yield srv


@pytest.fixture(scope="module")
def runner() -> Iterator[asyncio.Runner]:
    with asyncio.Runner() as loop_runner:
        yield loop_runner


@pytest.fixture(scope="module")
def browser(server: PageServer, runner: asyncio.Runner) -> Iterator[BrowserFetcher]:
    if not os.access(DEFAULT_CHROMIUM, os.X_OK):
        pytest.fail(f"{DEFAULT_CHROMIUM} is missing: install Chromium with `{INSTALL_HINT}`")
    options = BrowserOptions(
        executable_path=DEFAULT_CHROMIUM, timeout=10.0, min_delay=MIN_DELAY, max_clicks=50,
        allow_private=True,  # the page server is on 127.0.0.1, reached unrouted too
    )
    fetcher = BrowserFetcher(options, Routes({ROUTED: server.base + MOUNT}))
    try:
        yield fetcher
    finally:
        runner.run(fetcher.aclose())


@contextlib.contextmanager
def overridden(fetcher: BrowserFetcher, **values: float) -> Iterator[None]:
    """Temporarily change options of the shared fetcher (read at every fetch)."""
    saved = {name: getattr(fetcher.options, name) for name in values}
    for name, value in values.items():
        setattr(fetcher.options, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(fetcher.options, name, value)


def test_js_rendered_list_needs_the_browser(server, runner, browser):
    url = f"{server.base}/show"
    plain = httpx.get(url).text
    assert '<ul id="episodes"></ul>' in plain
    assert not any(title in plain for title in TITLES)  # browser-only page

    capture = runner.run(browser.fetch(url, wait_for="li.episode"))
    assert rows(capture.body) == TITLES
    assert capture.status == 200
    assert capture.url == url and capture.final_url == url
    assert capture.via == "browser"
    assert capture.headers["content-type"] == "text/html; charset=utf-8"
    assert capture.headers["x-test"] == "yes"  # the document's own headers, lower-cased
    assert "content-length" not in capture.headers  # described the wire body, not the DOM
    assert capture.fetched_at.tzinfo is UTC
    assert capture.text.count("Episode ") == TOTAL


def test_load_more_appends_until_button_disappears(server, runner, browser):
    before = len(server.paths())
    capture = runner.run(
        browser.fetch(f"{server.base}/load-more", wait_for="li.episode", click_next="#more")
    )
    assert rows(capture.body) == TITLES
    assert 'id="more"' not in capture.text
    assert capture.incomplete_reason is None  # the control went away: the whole list
    api = [p for p in server.paths()[before:] if p.startswith("/api/")]
    assert api == [f"/api/episodes?page={n}" for n in range(1, PAGE_COUNT + 1)]


def test_max_clicks_caps_pagination_with_a_warning(server, runner, browser, caplog):
    with overridden(browser, max_clicks=1), caplog.at_level(logging.WARNING, "scraper.browser"):
        capture = runner.run(
            browser.fetch(f"{server.base}/load-more", wait_for="li.episode", click_next="#more")
        )
    assert rows(capture.body) == TITLES[: 2 * PAGE_SIZE]
    assert "max_clicks" in caplog.text
    # The capture says it is cut short, so a listing read from it is partial.
    assert capture.incomplete_reason is not None
    reason = capture.incomplete_reason
    assert "max_clicks = 1" in reason and "more to load" in reason


class LoadMoreAdapter(Adapter):
    """The load-more test page as a platform: one episode per row."""

    name = "loadmore"
    browser_wait_for = "li.episode"
    browser_next = "#more"

    def parse(self, capture: Capture) -> Listing:
        return Listing(platform=self.name, url=capture.url, show=Show(title="Load more"),
                       episodes=[Episode(id=t, title=t) for t in rows(capture.body)])


def test_a_listing_cut_by_max_clicks_is_partial_and_removes_nothing(
        server, runner, browser, tmp_path):
    adapter = LoadMoreAdapter()
    url = f"{server.base}/load-more"

    async def fetch(page_url: str | Request) -> list[Capture]:
        return await browser.fetch_pages(Request.of(page_url).url,
                                         wait_for=adapter.browser_wait_for,
                                         click_next=adapter.browser_next)

    archive = Archive(tmp_path / "archive.db")
    try:
        source = archive.ensure_source(archive.ensure_podcast("Show"), "loadmore", url, "browser")
        run = archive.start_run("sync", 1)
        whole = runner.run(collect_source(adapter, url, source, fetch, None))
        assert whole.status == "ok" and whole.listed == TOTAL
        archive.record_source(run, whole)
        with overridden(browser, max_clicks=1):
            cut = runner.run(collect_source(adapter, url, source, fetch,
                                            archive.last_good_listing(source)))
        assert cut.status == "partial" and cut.error_kind == "incomplete"
        assert cut.listed == 2 * PAGE_SIZE and "max_clicks = 1" in (cut.error or "")
        archive.record_source(run, cut)
        assert cut.removed == 0
        listed = archive.db.execute("SELECT count(*) FROM platform_episodes WHERE "
                                    "coalesce(listed, 1) = 1").fetchone()[0]
        assert listed == TOTAL  # the five it did not load are still listed
        # Stored with the capture, so a reparse of it is partial too.
        stored = archive.latest_capture(f"{url}#page=2", source)
        assert stored is not None and stored.incomplete_reason == cut.captures[-1].incomplete_reason
        archive.finish_run(run, [])
    finally:
        archive.close()


def test_reparse_reads_every_page_state_the_browser_captured(
        server, runner, browser, tmp_path, monkeypatch):
    """A paginator's states are stored as `<url>`, `<url>#page=2`, ...; a reparse parses
    them all, as the sync did (the first alone would look like a listing that shrank)."""
    import adapters as registry
    from scraper.sync import reparse

    adapter = LoadMoreAdapter()
    original = registry.get
    monkeypatch.setattr(registry, "get",
                        lambda name: adapter if name == adapter.name else original(name))
    url = f"{server.base}/load-more"
    path = tmp_path / "archive.db"

    async def fetch(page_url: str | Request) -> list[Capture]:
        return await browser.fetch_pages(Request.of(page_url).url,
                                         wait_for=adapter.browser_wait_for,
                                         click_next=adapter.browser_next)

    def record(max_clicks: int) -> None:
        archive = Archive(path)
        try:
            source = archive.ensure_source(archive.ensure_podcast("Show"), adapter.name, url,
                                           "browser")
            run = archive.start_run("sync", 1)
            with overridden(browser, max_clicks=max_clicks):
                outcome = runner.run(collect_source(adapter, url, source, fetch,
                                                    archive.last_good_listing(source)))
            archive.record_source(run, outcome)
            archive.finish_run(run, [outcome])
        finally:
            archive.close()

    record(50)
    (whole,) = reparse(path).sources
    assert (whole.status, whole.listed, whole.pages, whole.removed) == ("ok", TOTAL, 3, 0)
    record(1)  # cut short: its stored states say so, and so does their reparse
    (cut,) = reparse(path).sources
    assert (cut.status, cut.listed, cut.removed) == ("partial", 2 * PAGE_SIZE, 0)
    assert "max_clicks = 1" in (cut.error or "")


def test_replacing_paginator_gives_one_capture_per_page(server, runner, browser):
    url = f"{server.base}/paginator"
    captures = runner.run(browser.fetch_pages(url, wait_for="li.episode", click_next="button.next"))
    assert [c.url for c in captures] == [url, f"{url}#page=2", f"{url}#page=3"]
    assert [rows(c.body) for c in captures] == [
        TITLES[:10],
        TITLES[10:20],
        TITLES[20:],
    ]
    assert all(c.status == 200 and c.final_url == url for c in captures)
    assert all(c.incomplete_reason is None for c in captures)

    # `fetch` on the same paginator keeps only the final state.
    last = runner.run(browser.fetch(url, wait_for="li.episode", click_next="button.next"))
    assert rows(last.body) == TITLES[20:]


def test_routes_keep_platform_urls_and_route_page_api_calls(server, runner, browser):
    before = len(server.paths())
    capture = runner.run(browser.fetch(f"{ROUTED}/show", wait_for="li.episode"))
    assert capture.url == f"{ROUTED}/show"
    assert capture.final_url == f"{ROUTED}/show"
    assert rows(capture.body) == TITLES
    # The page ran at the platform origin, and its fetch("/api/...") reached the loopback
    # server through the route.
    assert f'data-origin="{ROUTED}"' in capture.text
    hits = server.paths()[before:]
    assert f"{MOUNT}/show" in hits and f"{MOUNT}/api/episodes?page=1" in hits


def test_routed_redirect_is_mapped_back(server, runner, browser):
    capture = runner.run(browser.fetch(f"{ROUTED}/redirect", wait_for="li.episode"))
    assert capture.url == f"{ROUTED}/redirect"
    assert capture.final_url == f"{ROUTED}/show"
    assert capture.status == 200
    assert rows(capture.body) == TITLES


def test_bot_wall_status_is_visible(server, runner, browser):
    capture = runner.run(browser.fetch(f"{server.base}/blocked"))
    assert capture.status == 403
    assert "Just a moment" in capture.text


def test_missing_rows_return_the_page_and_warn(server, runner, browser, caplog):
    with overridden(browser, timeout=1.0), caplog.at_level(logging.WARNING, "scraper.browser"):
        capture = runner.run(
            browser.fetch(f"{server.base}/blocked", wait_for="li.episode", click_next="#more")
        )
    assert capture.status == 403
    assert "cf-challenge" in capture.text
    assert "'li.episode' did not appear" in caplog.text


def test_unreachable_routed_server_is_a_fetch_error(runner, browser):
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    saved = browser.routes
    browser.routes = saved.merged([("https://down.example", f"http://127.0.0.1:{port}")])
    try:
        with pytest.raises(FetchError, match=rf"down\.example/show: routed to .*:{port}/show"):
            runner.run(browser.fetch("https://down.example/show"))
    finally:
        browser.routes = saved


def test_missing_executable_names_the_install_command():
    fetcher = BrowserFetcher(BrowserOptions(executable_path="/nonexistent/chromium"))

    async def attempt() -> None:
        async with fetcher:
            await fetcher.fetch("http://127.0.0.1:9/")

    with pytest.raises(FetchError) as info:
        asyncio.run(attempt())
    message = str(info.value)
    assert INSTALL_HINT in message
    assert "SCRAPER_CHROMIUM" in message and "/nonexistent/chromium" in message


def test_executable_defaults_from_environment(monkeypatch):
    monkeypatch.setenv("SCRAPER_CHROMIUM", "/opt/chromium/chrome")
    assert BrowserOptions().executable_path == "/opt/chromium/chrome"
    monkeypatch.delenv("SCRAPER_CHROMIUM")
    assert BrowserOptions().executable_path == DEFAULT_CHROMIUM


def test_same_host_fetches_are_serialised(server, runner, browser):
    async def both():
        return await asyncio.gather(
            browser.fetch(f"{server.base}/show?tag=a&slow=1", wait_for="li.episode"),
            browser.fetch(f"{server.base}/show?tag=b&slow=1", wait_for="li.episode"),
        )

    first, second = runner.run(both())
    assert rows(first.body) == TITLES and rows(second.body) == TITLES

    with server._lock:
        entries = [e for e in server.log if e["tag"] in ("a", "b")]
    spans = {
        tag: (
            min(e["start"] for e in entries if e["tag"] == tag),
            max(e["end"] for e in entries if e["tag"] == tag),
        )
        for tag in ("a", "b")
    }
    # Each page made its document request plus its API requests.
    assert sum(e["tag"] == "a" for e in entries) == 1 + PAGE_COUNT
    earlier, later = sorted(spans.values())
    # Every request of one page finished before the other page's first request began,
    # and the politeness delay separated them.
    assert earlier[1] <= later[0]
    assert later[0] - earlier[1] >= MIN_DELAY - 0.02


def test_heavy_resources_are_not_downloaded(server, runner, browser):
    # episodes_js.html has an <img src="/cover.png">: it must be blocked, not fetched.
    capture = runner.run(browser.fetch(f"{server.base}/show", wait_for="li.episode"))
    assert rows(capture.body) == TITLES
    assert "/cover.png" not in server.paths()


def test_a_json_document_comes_back_as_sent_not_as_the_viewer_page(server, runner, browser):
    # A bot-walled API (Podimo's GraphQL) is fetched through the browser too: the adapter
    # must get the JSON bytes, not Chromium's <pre> viewer around them.
    url = f"{server.base}/api/episodes?page=1"
    capture = runner.run(browser.fetch(url))
    assert capture.headers["content-type"].startswith("application/json")
    assert capture.body == httpx.get(url).content
    assert json.loads(capture.body)
