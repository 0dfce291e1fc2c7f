"""The replay server behind a Cloudflare-style JavaScript challenge, like Podimo's bot wall.

    with ChallengeServer(cases) as server:
        routes = server.routes_for([url])   # "https://podimo.com" = "<base>/podimo.com", ...

Every recorded page is served at its real URL path under `/<host>/` (see
scraper.replay.ReplayServer), but only to a client that sends the host's clearance cookie
`cf_clearance=<token>`. Anyone else gets HTTP 403 with the challenge page recorded in
fixtures/podimo (blocked-dk: "Just a moment...", `window._cf_chl_opt`, the challenge-platform
orchestrator script), re-targeted at the requested path, plus a small inline script that plays
the part of the solved challenge: after a short delay it sets `cf_clearance` for the page's
own host and reloads. So a plain HTTP client never gets past the wall, and a real browser
does, one host at a time (the token differs per host; cookies are not shared between
podimo.com and graphql.podimo.com).

The orchestrator script is answered (an empty script, with or without the cookie, as
Cloudflare serves it to uncleared visitors): its `onload` is what puts the original URL back
after the challenge's `history.replaceState`, so the reload asks for the page, not the
challenge token URL. Every request is logged in `server.log`.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlsplit

from scraper.fixtures import FixtureCase, load_cases
from scraper.replay import ReplayServer

COOKIE = "cf_clearance"
CHALLENGE_CASE = ("podimo", "blocked-dk")
ORCHESTRATOR = "/cdn-cgi/challenge-platform/"


@dataclass(frozen=True)
class Seen:
    path: str  # as requested: /<host>/<path>?<query>
    host: str  # the platform host (first path segment)
    cleared: bool  # sent the host's clearance cookie
    status: int
    method: str = "GET"


def _recorded_challenge() -> FixtureCase:
    platform, name = CHALLENGE_CASE
    return next(c for c in load_cases() if (c.platform, c.name) == (platform, name))


class ChallengeServer(ReplayServer):
    def __init__(self, cases: Iterable[FixtureCase], *, solve_delay_ms: int = 150):
        self._secret = secrets.token_hex(16)
        self.solve_delay_ms = solve_delay_ms
        self.log: list[Seen] = []
        self._log_lock = threading.Lock()
        challenge = _recorded_challenge()
        self.challenge_case = challenge
        self.challenge_markup = challenge.path.read_text("utf-8")
        self.challenge_path = urlsplit(challenge.url).path  # what the recording names
        super().__init__(cases)

    def token(self, host: str) -> str:
        """The clearance token for one host (a cookie of another host does not pass)."""
        return hashlib.sha256(f"{self._secret}:{host.lower()}".encode()).hexdigest()[:40]

    def seen(self) -> list[Seen]:
        with self._log_lock:
            return list(self.log)

    def challenge_page(self, host: str, path_and_query: str) -> bytes:
        """The recorded challenge, aimed at `path_and_query` on `host`, plus the solver."""
        escaped = json.dumps(path_and_query)[1:-1].replace("/", "\\/")
        recorded = self.challenge_path.replace("/", "\\/")
        markup = self.challenge_markup.replace(recorded, escaped)
        markup = markup.replace(
            '<h1 class="zone-name-title h1">podimo.com</h1>',
            f'<h1 class="zone-name-title h1">{host}</h1>',
        )
        # "Solved": set the cookie and reload, once the orchestrator's onload has put the
        # page's own URL back (reloading the __cf_chl_rt_tk URL would ask for another page).
        solver = (
            "<script>setTimeout(function solve() {"
            'if (location.search.indexOf("__cf_chl_rt_tk=") !== -1) '
            "return setTimeout(solve, 50);"
            f'document.cookie = "{COOKIE}={self.token(host)}; path=/";'
            f"location.reload();}}, {int(self.solve_delay_ms)});</script>"
        )
        assert "</body>" in markup
        return markup.replace("</body>", solver + "</body>", 1).encode("utf-8")

    def _handler(self):
        server = self
        Replay = super()._handler()  # noqa: N806 - a class

        class Handler(Replay):
            def do_POST(self):  # noqa: N802 - http.server naming
                # An API request with a body: the wall answers it like a page (403 challenge
                # without the host's cookie); it cannot run the challenge's script itself.
                parts = urlsplit(self.path)
                host, _, rest = parts.path.lstrip("/").partition("/")
                cleared = self._cookie(COOKIE) == server.token(host)
                self._status = 0
                try:
                    if cleared:
                        super().do_POST()
                    else:
                        length = int(self.headers.get("Content-Length") or 0)
                        if length:
                            self.rfile.read(length)
                        self.page = None
                        target = "/" + rest + (f"?{parts.query}" if parts.query else "")
                        self._challenge(server.challenge_page(host, target))
                finally:
                    with server._log_lock:
                        server.log.append(Seen(self.path, host.lower(), cleared, self._status,
                                               "POST"))

            def do_GET(self):  # noqa: N802 - http.server naming
                parts = urlsplit(self.path)
                host, _, rest = parts.path.lstrip("/").partition("/")
                cleared = self._cookie(COOKIE) == server.token(host)
                self._status = 0
                try:
                    if ("/" + rest).startswith(ORCHESTRATOR):
                        self.page = None
                        self._send(200, b"/* challenge orchestrator */\n",
                                   "text/javascript; charset=UTF-8")
                    elif cleared:
                        super().do_GET()
                    else:
                        self.page = None
                        target = "/" + rest + (f"?{parts.query}" if parts.query else "")
                        body = server.challenge_page(host, target)
                        self._challenge(body)
                finally:
                    with server._log_lock:
                        server.log.append(Seen(self.path, host.lower(), cleared, self._status))

            def version_string(self):
                return "cloudflare"  # every answer comes through Cloudflare, as on Podimo

            def send_response(self, code, message=None):
                self._status = code
                super().send_response(code, message)

            def _cookie(self, name: str) -> str | None:
                jar = SimpleCookie()
                for header in self.headers.get_all("Cookie") or []:
                    try:
                        jar.load(header)
                    except CookieError:
                        continue
                morsel = jar.get(name)
                return morsel.value if morsel is not None else None

            def _challenge(self, body: bytes) -> None:
                self.send_response(403)
                self.send_header("Content-Type", "text/html; charset=UTF-8")
                for name, value in server.challenge_case.headers.items():
                    if name.lower() != "server":  # sent by send_response
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler
