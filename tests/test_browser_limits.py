"""The browser fetcher's bounds, in real headless Chromium: one wall-clock deadline per
fetch however many waits it makes, and no unrouted request to a private address."""

from __future__ import annotations

import asyncio
import os

import pytest
from httpserver import LocalServer

from scraper.browser import DEFAULT_CHROMIUM, BrowserFetcher, BrowserOptions
from scraper.errors import FetchError
from scraper.routes import Routes

HTML = {"Content-Type": "text/html; charset=utf-8"}


@pytest.fixture
def server():
    if not os.access(DEFAULT_CHROMIUM, os.X_OK):
        pytest.fail(f"{DEFAULT_CHROMIUM} is missing: apt-get install -y chromium")
    with LocalServer() as srv:
        yield srv


def fetch(options: BrowserOptions, url: str, routes: Routes | None = None, **kwargs):
    async def go():
        async with BrowserFetcher(options, routes) as browser:
            return await browser.fetch(url, **kwargs)

    return asyncio.run(go())


def test_the_page_deadline_bounds_every_wait(server: LocalServer) -> None:
    # The list never renders: each wait alone would take `timeout` (10 s).
    server.static("/empty", 200, b"<html><body><p>loading</p></body></html>", HTML)
    options = BrowserOptions(executable_path=DEFAULT_CHROMIUM, timeout=10.0, min_delay=0.0,
                             page_deadline=2.0, allow_private=True)
    with pytest.raises(FetchError, match=r"did not finish within 2 s \(page deadline"):
        fetch(options, server.url("/empty"), wait_for="li.episode")


def test_unrouted_private_addresses_are_refused(server: LocalServer) -> None:
    server.static("/show", 200, b"<html><body><ul><li class=episode>1</li></ul></body></html>",
                  HTML)
    strict = BrowserOptions(executable_path=DEFAULT_CHROMIUM, timeout=10.0, min_delay=0.0)
    with pytest.raises(FetchError, match="127.0.0.1 is a loopback address"):
        fetch(strict, server.url("/show"))
    assert server.count("/show") == 0
    # Routed, the same server is trusted.
    routes = Routes({"https://show.example": server.base})
    capture = fetch(strict, "https://show.example/show", routes, wait_for="li.episode")
    assert b"episode" in capture.body
