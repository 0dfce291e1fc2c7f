"""A recorded page as Debian Chromium renders it (for "a browser-rendered page parses the
same" tests; an API recording of a request with a body is sent through Chromium's context).
Missing Chromium is a failure, not a skip: CI must run these."""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import replace

from scraper.browser import BrowserFetcher, BrowserOptions
from scraper.fixtures import FixtureCase
from scraper.models import Capture
from scraper.replay import ReplayServer
from scraper.routes import Routes


def browser_capture(case: FixtureCase, wait_for: str | None) -> Capture:
    """`case` fetched by Chromium from the replay server. Every host the page names is routed
    to the replay server, so nothing leaves 127.0.0.1."""
    options = BrowserOptions(timeout=20.0, min_delay=0.0)
    assert os.path.exists(options.executable_path), (
        f"no Chromium at {options.executable_path}: apt-get install -y chromium "
        f"(or set SCRAPER_CHROMIUM)")
    named = re.findall(r"https?://[A-Za-z0-9.-]+", case.path.read_text("utf-8"))
    with ReplayServer([case]) as server:
        routes = Routes(server.routes_for([case.url, *named]))

        async def run() -> Capture:
            async with BrowserFetcher(options, routes=routes) as browser:
                if case.request is not None and not case.request.is_get:
                    # An API request with a body: through the context's request API.
                    return await browser.fetch_request(case.request)
                return await browser.fetch(case.url, wait_for=wait_for)

        capture = asyncio.run(run())
    assert capture.via == "browser"
    return replace(capture, fetched_at=case.fetched_at)
