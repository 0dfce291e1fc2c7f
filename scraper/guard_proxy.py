"""The browser's address guard: a small HTTP proxy on 127.0.0.1 that every request of the
headless browser goes through when private addresses are refused.

Page routing (Playwright's `route`) sees a page's first request but not the hops of a
redirect Chromium follows itself, nor what the context's request API follows; a public page
answering `302 Location: http://169.254.169.254/` would be fetched and archived. A proxy sees
every hop: a plain-HTTP request names its target, an HTTPS one asks to `CONNECT` to it. Each
target is resolved here, refused when any of its addresses is private, loopback, link-local
or a metadata address (`scraper.fetch.public_addresses`), and the connection is made to the
address that was checked, so a name answering differently the second time (DNS rebinding)
cannot slip past. Route targets (`[routes]`) are trusted, as they are for plain fetches.

A refused request is answered `403` with the reason in `X-Scraper-Refused`; the browser
turns that into the source's error (it reads the header on the page's own response).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from scraper.errors import FetchError
from scraper.fetch import public_addresses

log = logging.getLogger(__name__)

REFUSED_HEADER = "x-scraper-refused"
# A request head larger than this is not a browser's.
MAX_HEAD = 64 * 1024
# Reading a request head or connecting upstream: a deadline for each wait.
HEAD_TIMEOUT = 30.0
CONNECT_TIMEOUT = 30.0
CHUNK = 64 * 1024

Resolver = Callable[[str, str], Awaitable[list[str] | None]]


class GuardProxy:
    """`async with GuardProxy(trusted) as proxy:` serves on `proxy.url` until closed."""

    def __init__(self, trusted: set[tuple[str, int]] | None = None,
                 resolve: Resolver | None = None) -> None:
        self.trusted = trusted or set()
        self.resolve = resolve
        self.refused: list[str] = []  # the reasons, newest last (for logs and tests)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    async def start(self) -> GuardProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 5)

    async def __aenter__(self) -> GuardProxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # One client connection ----------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                TimeoutError, ValueError) as exc:
            log.debug("guard proxy: %s", exc)
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async with asyncio.timeout(HEAD_TIMEOUT):
            head = await reader.readuntil(b"\r\n\r\n")
        if len(head) > MAX_HEAD:
            raise ValueError("request head too large")
        request_line, _, header_block = head.partition(b"\r\n")
        method, target, version = request_line.decode("latin-1").split(" ", 2)
        if method.upper() == "CONNECT":
            host, _, port_text = target.rpartition(":")
            port, url = int(port_text), f"https://{target}/"
            forward = b""
        else:
            parts = urlsplit(target)
            if parts.scheme != "http" or not parts.hostname:
                await _answer(writer, 400, f"not a proxy request: {target[:200]}")
                return
            host, port, url = parts.hostname, parts.port or 80, target
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            forward = _origin_form(method, path, version, header_block)
        host = host.strip("[]")
        try:
            addresses = await self._addresses(host, port, url)
        except FetchError as refused:
            self.refused.append(str(refused))
            log.warning("browser: %s", refused)
            await _answer(writer, 403, str(refused), refused=True)
            return
        if not addresses:
            await _answer(writer, 502, f"{host} does not resolve")
            return
        upstream = await _connect(addresses, port)
        if upstream is None:
            await _answer(writer, 502, f"cannot connect to {host}:{port}")
            return
        up_reader, up_writer = upstream
        try:
            if forward:
                up_writer.write(forward)
            else:
                writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                await writer.drain()
            await _pipe_both(reader, writer, up_reader, up_writer)
        finally:
            up_writer.close()
            with contextlib.suppress(Exception):
                await up_writer.wait_closed()

    async def _addresses(self, host: str, port: int, url: str) -> list[str] | None:
        if (host.lower(), port) in self.trusted:
            return [host]
        return await (self.resolve or public_addresses)(host, url)


def _origin_form(method: str, path: str, version: str, header_block: bytes) -> bytes:
    """The request as sent to the origin: path only, no proxy headers, and one request per
    connection (the next may be for another host, which must be checked too)."""
    kept = [line for line in header_block.split(b"\r\n") if line and not line.lower().startswith(
        (b"proxy-connection:", b"proxy-authorization:", b"connection:", b"keep-alive:"))]
    lines = [f"{method} {path} {version}".encode("latin-1"), *kept, b"Connection: close"]
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def _connect(addresses: list[str], port: int
                   ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
    for address in addresses:
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                return await asyncio.open_connection(address, port)
        except (OSError, TimeoutError) as exc:
            log.debug("guard proxy: connect %s:%s: %s", address, port, exc)
    return None


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while chunk := await source.read(CHUNK):
            sink.write(chunk)
            await sink.drain()
    finally:
        with contextlib.suppress(Exception):
            if sink.can_write_eof():
                sink.write_eof()


async def _pipe_both(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter,
                     up_reader: asyncio.StreamReader, up_writer: asyncio.StreamWriter) -> None:
    """Copy both ways until the upstream is done (its answer is what ends an exchange)."""
    upward = asyncio.create_task(_pipe(client_reader, up_writer))
    try:
        await _pipe(up_reader, client_writer)
    finally:
        upward.cancel()
        with contextlib.suppress(asyncio.CancelledError, OSError):
            await upward


async def _answer(writer: asyncio.StreamWriter, status: int, reason: str, *,
                  refused: bool = False) -> None:
    body = reason.encode("utf-8", "replace")
    phrase = {400: "Bad Request", 403: "Forbidden", 502: "Bad Gateway"}[status]
    lines = [f"HTTP/1.1 {status} {phrase}", "Content-Type: text/plain; charset=utf-8",
             f"Content-Length: {len(body)}", "Connection: close"]
    if refused:
        # Header values are one line of latin-1.
        lines.append(f"{REFUSED_HEADER}: " + reason.replace("\r", " ").replace("\n", " ")
                     .encode("latin-1", "replace").decode("latin-1"))
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
    with contextlib.suppress(Exception):
        await writer.drain()


__all__ = ["GuardProxy", "REFUSED_HEADER"]
