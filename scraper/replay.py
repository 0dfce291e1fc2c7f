"""A replay server on 127.0.0.1 that serves recorded pages at their real URL paths.

A request for `/<host>/<path>?<query>` gets the fixture recorded for
`https://<host>/<path>?<query>`; pair it with routes such as
`"https://www.audible.in" = "http://127.0.0.1:PORT/www.audible.in"`. It answers
conditional requests (ETag / If-None-Match, Last-Modified) with 304 like a real server, and
serves an allow-all robots.txt for hosts that have none recorded. A recording of an API answer
to a request with a body (a GraphQL POST) is served for a request with the same method and
body (JSON bodies compared as JSON); a GET of such an endpoint is refused with 400, as
Apollo Server refuses it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

from scraper.fixtures import FixtureCase, load_cases


def _key(host: str, path: str, query: str, method: str = "GET",
         body: bytes | None = None) -> tuple[str, ...]:
    return (host.lower(), path or "/",
            urlencode(sorted(parse_qsl(query, keep_blank_values=True))), method.upper(),
            _body_key(body))


def _body_key(body: bytes | None) -> str:
    """Bodies compared by meaning where they are JSON (key order and spacing aside)."""
    if not body:
        return ""
    try:
        return json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"))
    except ValueError:
        return hashlib.sha256(body).hexdigest()


class _Page:
    def __init__(self, case: FixtureCase):
        self.body = case.path.read_bytes()
        self.status = case.status
        self.content_type = case.content_type
        self.etag = '"' + hashlib.sha256(self.body).hexdigest()[:32] + '"'
        self.last_modified = format_datetime(case.fetched_at, usegmt=True)
        # A recording answers with the clock of the day it was recorded (its Date header).
        self.date = self.last_modified
        self.headers = case.headers


class ReplayServer:
    """`with ReplayServer() as server:` serves on `server.base` until the block ends."""

    def __init__(self, cases: Iterable[FixtureCase] | None = None, port: int = 0):
        self.pages: dict[tuple[str, ...], _Page] = {}
        # Endpoints recorded only for requests with a body: a GET there is refused.
        self.post_only: set[tuple[str, str]] = set()
        for case in cases if cases is not None else load_cases():
            parts = urlsplit(case.url)
            method = case.request.method if case.request else "GET"
            body = case.request.body if case.request else None
            self.pages.setdefault(_key(parts.netloc, parts.path, parts.query, method, body),
                                  _Page(case))
            if method != "GET":
                self.post_only.add((parts.netloc.lower(), parts.path or "/"))
        self.hits: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def routes_for(self, urls: Iterable[str]) -> dict[str, str]:
        """Routes sending every host of `urls` (and every recorded host) here."""
        hosts = {urlsplit(u).netloc for u in urls} | {k[0] for k in self.pages}
        routes = {}
        for host in sorted(hosts):
            for scheme in ("https", "http"):
                routes[f"{scheme}://{host}"] = f"{self.base}/{host}"
        return routes

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test and demo output clean
                pass

            page: _Page | None = None

            def date_time_string(self, timestamp=None):
                return self.page.date if self.page is not None else super().date_time_string()

            def do_GET(self):  # noqa: N802 - http.server naming
                self._serve("GET", None)

            def do_POST(self):  # noqa: N802 - http.server naming
                length = int(self.headers.get("Content-Length") or 0)
                self._serve("POST", self.rfile.read(length) if length else b"")

            def _serve(self, method, body):
                server.hits.append(self.path if method == "GET" else f"{method} {self.path}")
                self.page = None
                parts = urlsplit(self.path)
                host, _, rest = parts.path.lstrip("/").partition("/")
                page = server.pages.get(_key(host, "/" + rest, parts.query, method, body))
                self.page = page
                if page is None and rest == "robots.txt":
                    return self._send(200, b"User-agent: *\nAllow: /\n", "text/plain")
                if page is None and (host.lower(), "/" + rest) in server.post_only:
                    return self._send(400, b'{"errors":[{"message":"This operation was not '
                                           b'recorded (a POST with a recorded body is)."}]}\n',
                                      "application/json")
                if page is None:
                    return self._send(404, b"not recorded\n", "text/plain")
                if method != "GET":
                    return self._send(page.status, page.body, page.content_type, page)
                if self.headers.get("If-None-Match") == page.etag or (
                    self.headers.get("If-Modified-Since") == page.last_modified
                    and "If-None-Match" not in self.headers
                ):
                    return self._send(304, b"", None, page)
                return self._send(page.status, page.body, page.content_type, page)

            def _send(self, status, body, content_type, page=None):
                self.send_response(status)
                if content_type:
                    self.send_header("Content-Type", content_type)
                if page is not None:
                    self.send_header("ETag", page.etag)
                    self.send_header("Last-Modified", page.last_modified)
                    for name, value in page.headers.items():
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body:
                    self.wfile.write(body)

        return Handler

    def start(self) -> ReplayServer:
        # A short poll so `stop` returns at once (tests start hundreds of these).
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
