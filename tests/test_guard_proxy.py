"""The browser's address guard (scraper/guard_proxy.py): every request of headless Chromium,
redirect hops included, is checked before it connects.

A public page that redirects to a private address is the case page routing cannot see
(Playwright routes only a redirect chain's first request). The tests call a loopback
server "public" under the name `public.test` (a resolver that answers 127.0.0.1 for that
name and asks the real check for anything else); everything else on loopback stays private,
as it is in production. Real Chromium, real sockets, nothing beyond 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

import scraper.guard_proxy
from scraper.browser import DEFAULT_CHROMIUM, INSTALL_HINT, BrowserFetcher, BrowserOptions
from scraper.errors import FetchError
from scraper.fetch import public_addresses
from scraper.guard_proxy import REFUSED_HEADER, GuardProxy
from scraper.models import Request
from scraper.routes import Routes

PAGE = b"<html><body><ul><li class='episode'>Episode 1</li></ul></body></html>"


class Server:
    """Loopback server: /page (a page), /to-secret (302 to /secret by 127.0.0.1), /secret
    (what must never be fetched); records the paths it served."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                outer.paths.append(self.path)
                if self.path.startswith("/to-secret"):
                    self.send_response(302)
                    self.send_header("Location", f"http://127.0.0.1:{outer.port}/secret")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = b"internal secret" if self.path.startswith("/secret") else PAGE
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = _answer

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._answer()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def server() -> Iterator[Server]:
    with Server() as srv:
        yield srv


async def public_test(host: str, url: str) -> list[str] | None:
    """`public.test` is a public host that lives on 127.0.0.1; the rest, as checked."""
    if host == "public.test":
        return ["127.0.0.1"]
    return await public_addresses(host, url)


@pytest.fixture
def public_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scraper.guard_proxy, "public_addresses", public_test)


def test_the_proxy_checks_each_request_and_connects_to_the_checked_address(server, public_name):
    async def run() -> tuple[httpx.Response, httpx.Response, list[str]]:
        async with GuardProxy() as proxy, httpx.AsyncClient(proxy=proxy.url) as client:
            public = await client.get(f"http://public.test:{server.port}/page")
            private = await client.get(f"http://127.0.0.1:{server.port}/secret")
            return public, private, proxy.refused

    public, private, refused = asyncio.run(run())
    assert public.status_code == 200 and public.content == PAGE
    assert private.status_code == 403
    assert "127.0.0.1 is a loopback address" in private.headers[REFUSED_HEADER]
    assert server.paths == ["/page"]  # the private one never reached the server
    assert len(refused) == 1


async def _connect(proxy: GuardProxy, target: str) -> tuple[asyncio.StreamReader,
                                                            asyncio.StreamWriter, bytes]:
    host, port = proxy.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    await writer.drain()
    status = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    return reader, writer, status


def test_tunnels_are_checked_too(server, public_name):
    """HTTPS goes through CONNECT: refused before it opens for a private target, and
    carries the bytes both ways for a public one."""
    async def run() -> tuple[bytes, bytes, bytes]:
        async with GuardProxy() as proxy:
            reader, writer, refused = await _connect(proxy, f"127.0.0.1:{server.port}")
            refused += await asyncio.wait_for(reader.read(), 10)
            writer.close()
            reader, writer, opened = await _connect(proxy, f"public.test:{server.port}")
            writer.write(b"GET /page HTTP/1.1\r\nHost: public.test\r\n"
                         b"Connection: close\r\n\r\n")
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), 10)
            writer.close()
            return refused, opened, answer

    refused, opened, answer = asyncio.run(run())
    assert refused.startswith(b"HTTP/1.1 403") and b"loopback address" in refused
    assert opened.startswith(b"HTTP/1.1 200")
    assert answer.startswith(b"HTTP/1.0 200") and answer.endswith(PAGE)
    assert server.paths == ["/page"]


def test_trusted_route_targets_pass(server):
    async def run() -> httpx.Response:
        async with GuardProxy({("127.0.0.1", server.port)}) as proxy, \
                httpx.AsyncClient(proxy=proxy.url) as client:
            return await client.get(f"http://127.0.0.1:{server.port}/page")

    assert asyncio.run(run()).content == PAGE


# --- through real Chromium ---------------------------------------------------------------


def _browser(**options: object) -> BrowserFetcher:
    if not os.access(DEFAULT_CHROMIUM, os.X_OK):
        pytest.fail(f"{DEFAULT_CHROMIUM} is missing: install Chromium with `{INSTALL_HINT}`")
    return BrowserFetcher(BrowserOptions(executable_path=DEFAULT_CHROMIUM, timeout=10.0,
                                         min_delay=0.0, **options),  # type: ignore[arg-type]
                          Routes({"https://podcasts.example": "http://127.0.0.1:1"}))


def test_chromium_following_a_redirect_to_a_private_address_is_refused(server, public_name):
    async def run() -> tuple[str, str]:
        async with _browser() as browser:
            page = await browser.fetch(f"http://public.test:{server.port}/page")
            with pytest.raises(FetchError) as refused:
                await browser.fetch(f"http://public.test:{server.port}/to-secret")
            return page.text, str(refused.value)

    text, error = asyncio.run(run())
    assert "Episode 1" in text  # the public page itself is fetched through the guard
    assert "refused" in error and "127.0.0.1 is a loopback address" in error
    assert "/secret" not in server.paths and "/to-secret" in server.paths


def test_an_api_request_redirected_to_a_private_address_is_refused(server, public_name):
    async def run() -> str:
        async with _browser() as browser:
            with pytest.raises(FetchError) as refused:
                await browser.fetch_request(Request(
                    url=f"http://public.test:{server.port}/to-secret", method="POST",
                    body=b"{}", headers=(("content-type", "application/json"),)))
            return str(refused.value)

    assert "127.0.0.1 is a loopback address" in asyncio.run(run())
    assert "/secret" not in server.paths


def test_without_the_guard_chromium_does_follow_it(server):
    """What the guard prevents (allow_private = true is the user's own choice)."""
    async def run() -> str:
        async with _browser(allow_private=True) as browser:
            capture = await browser.fetch(f"http://127.0.0.1:{server.port}/to-secret")
            return capture.text

    assert "internal secret" in asyncio.run(run())
    assert "/secret" in server.paths
