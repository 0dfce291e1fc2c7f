"""A scriptable HTTP/1.1 server on 127.0.0.1 for tests, recording every request it sees.

    with LocalServer() as server:
        server.on("/page", lambda req: req.reply(200, b"hi", {"Content-Type": "text/plain"}))
        ... fetch server.url("/page") ...
        assert server.count("/page") == 1

Paths without a handler answer 404 (so robots.txt means "allow all" unless a test serves one).
Handlers run in server threads; `Hit.start`/`Hit.end` are `time.monotonic()` values, comparable
with each other and with the test's own clock.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass
class Hit:
    path: str  # without the query string
    target: str  # as requested, with the query string
    headers: dict[str, str]  # lower-cased names
    start: float
    # Set once the handler returns, which can be just after the client has the response:
    # read it only for requests that finished well before the one being looked at.
    end: float | None = None
    method: str = "GET"
    body: bytes = b""  # a POST's body


@dataclass
class Request:
    """What a handler gets: the request, and ways to answer it."""

    handler: BaseHTTPRequestHandler
    hit: Hit
    server: LocalServer
    _replied: bool = field(default=False, repr=False)

    @property
    def path(self) -> str:
        return self.hit.path

    @property
    def headers(self) -> dict[str, str]:
        return self.hit.headers

    def reply(
        self,
        status: int,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        *,
        content_length: bool = True,
    ) -> None:
        """Send a whole response. Without `content_length` the body runs until the
        connection closes (HTTP/1.0 style), so the client cannot know its size up front."""
        h = self.handler
        h.send_response(status)
        for name, value in (headers or {}).items():
            h.send_header(name, value)
        if content_length:
            h.send_header("Content-Length", str(len(body)))
        else:
            h.send_header("Connection", "close")
            h.close_connection = True
        h.end_headers()
        if body:
            h.wfile.write(body)
        self._replied = True

    def reply_chunks(self, status: int, chunks: Iterable[bytes], headers: dict[str, str]) -> None:
        """Stream `chunks` until the connection closes (no Content-Length)."""
        h = self.handler
        h.send_response(status)
        for name, value in headers.items():
            h.send_header(name, value)
        h.send_header("Connection", "close")
        h.close_connection = True
        h.end_headers()
        for chunk in chunks:
            h.wfile.write(chunk)
        self._replied = True


Handler = Callable[[Request], None]


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        # Clients that abort (size cap, timeout) reset kept-alive connections: not an error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class LocalServer:
    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {}
        self.hits: list[Hit] = []
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True  # a sleeping handler must not block teardown
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def on(self, path: str, handler: Handler) -> None:
        self.handlers[path] = handler

    def static(
        self, path: str, status: int = 200, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> None:
        self.on(path, lambda req: req.reply(status, body, headers))

    def hits_for(self, path: str) -> list[Hit]:
        with self._lock:
            return sorted((h for h in self.hits if h.path == path), key=lambda h: h.start)

    def count(self, path: str) -> int:
        return len(self.hits_for(path))

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server naming
                self._serve("GET", b"")

            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                length = int(self.headers.get("Content-Length") or 0)
                self._serve("POST", self.rfile.read(length) if length else b"")

            def _serve(self, method: str, body: bytes) -> None:
                hit = Hit(
                    path=urlsplit(self.path).path,
                    target=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    start=time.monotonic(),
                    method=method,
                    body=body,
                )
                with server._lock:
                    server.hits.append(hit)
                request = Request(self, hit, server)
                try:
                    handler = server.handlers.get(hit.path)
                    if handler is None:
                        request.reply(404, b"not found\n", {"Content-Type": "text/plain"})
                    else:
                        handler(request)
                        if not request._replied:
                            request.reply(204)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    # The client gave up (size cap, timeout): expected in these tests.
                    self.close_connection = True
                finally:
                    hit.end = time.monotonic()

        return _Handler

    def start(self) -> LocalServer:
        # A short poll interval keeps shutdown (and so every test's teardown) quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
