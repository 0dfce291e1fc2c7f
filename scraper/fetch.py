"""The HTTP fetcher every sync uses: polite, retrying, size-capped, robots-aware.

Requests go to `routes.apply(url)` while everything the caller sees (Capture.url,
Capture.final_url, robots decisions, per-host politeness) stays in the platform's URL space,
so a replay or test server can stand in for a platform without changing its behaviour.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import random
import time
import warnings
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
from protego import Protego

from scraper.errors import FetchError, RobotsDisallowed
from scraper.models import Capture
from scraper.routes import Routes

log = logging.getLogger("scraper.fetch")

DEFAULT_USER_AGENT = (
    "scraper/0.1 (+https://github.com/scraper-archive/scraper; podcast listing archiver)"
)
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
RETRY_STATUSES = frozenset({408, 429})  # plus every 5xx
MAX_CRAWL_DELAY = 60.0
# Google reads at most 500 KiB of robots.txt and ignores the rest; so do we.
ROBOTS_MAX_BYTES = 500 * 1024
# Output step of the zlib decoder: bounds the memory one compressed chunk can expand into.
DECODE_STEP = 64 * 1024
# Headers that must not follow a redirect to another host.
CREDENTIAL_HEADERS = ("authorization", "cookie", "proxy-authorization")

_HAS_BROTLI = any(importlib.util.find_spec(m) is not None for m in ("brotli", "brotlicffi"))
ACCEPT_ENCODING = "gzip, deflate, br" if _HAS_BROTLI else "gzip, deflate"

Sleep = Callable[[float], Awaitable[None]]


@dataclass
class FetchPolicy:
    user_agent: str = DEFAULT_USER_AGENT
    min_delay: float = 1.0  # seconds between two requests to the same host
    timeout: float = 20.0  # connect/read/write timeout
    retries: int = 3  # extra attempts on connection errors, 5xx, 429 (and 408)
    backoff_base: float = 0.5  # exponential backoff base, with full jitter
    backoff_max: float = 30.0
    max_retry_after: float = 120.0  # a Retry-After longer than this is clamped
    max_bytes: int = 50 * 2**20  # cap on the DECOMPRESSED body
    max_redirects: int = 5
    obey_robots: bool = True


@dataclass
class _Host:
    """Politeness state of one platform host."""

    delay: float
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Monotonic time before which the next request to this host must not start.
    not_before: float = 0.0


@dataclass
class _Response:
    status: int
    headers: dict[str, str]
    body: bytes
    fetched_at: datetime


@dataclass
class _Robots:
    parser: Protego | None  # None: allow everything
    # Set when robots.txt could not be read (5xx, connection failure): disallow everything.
    deny_reason: str | None = None
    # Set when the host could not be reached at all: every fetch fails with this.
    unreachable: str | None = None


class _RedirectError(FetchError):
    """Redirect loop, too many hops or a non-http(s) Location (robots.txt treats it as 404)."""


class _TooLarge(FetchError):
    """The body went over the cap."""


def _host_key(url: str) -> str:
    """host[:port] of a URL, lower-cased, without credentials."""
    return urlsplit(url).netloc.rpartition("@")[2].lower()


def _check_scheme(url: str, what: str) -> None:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise _RedirectError(
            f"{what} {url!r}: unsupported scheme {scheme or '(none)'!r}, only http(s)", url=url
        )
    if not parts.hostname:
        raise _RedirectError(f"{what} {url!r}: no host", url=url)


def _strip_fragment(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(fragment="")) if parts.fragment else url


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # HTTP-dates are GMT by definition
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class _ZlibDecoder:
    """Incremental gzip/deflate decoding with bounded output per step, so a compression bomb
    never expands further than one step past the cap (httpx's own decoders inflate a whole
    network chunk at once, ~64 MB for 64 KB of zeros)."""

    def __init__(self, encoding: str):
        self.gzip = encoding in ("gzip", "x-gzip")
        # deflate is meant to be zlib-wrapped, but some servers send raw deflate.
        self._raw_fallback = not self.gzip
        self._d = self._new()

    def _new(self, wbits: int | None = None) -> zlib._Decompress:
        if wbits is None:
            wbits = 16 + zlib.MAX_WBITS if self.gzip else zlib.MAX_WBITS
        return zlib.decompressobj(wbits)

    def feed(self, data: bytes) -> Iterator[bytes]:
        while True:
            try:
                out = self._d.decompress(data, DECODE_STEP)
            except zlib.error:
                if not self._raw_fallback:
                    raise
                self._raw_fallback = False
                self._d = self._new(-zlib.MAX_WBITS)
                out = self._d.decompress(data, DECODE_STEP)
            self._raw_fallback = False
            if out:
                yield out
            if self._d.eof:
                rest = self._d.unused_data
                # Concatenated gzip members are one body; other trailing bytes are padding.
                if self.gzip and rest[:2] == b"\x1f\x8b":
                    self._d = self._new()
                    data = rest
                    continue
                return
            data = self._d.unconsumed_tail
            # A full step may leave output pending inside zlib even with no input left.
            if not data and len(out) < DECODE_STEP:
                return

    def flush(self) -> bytes:
        return b"" if self._d.eof else self._d.flush()


class Fetcher:
    """`async with Fetcher(policy, routes) as f: capture = await f.fetch(url)`."""

    def __init__(
        self,
        policy: FetchPolicy | None = None,
        routes: Routes | None = None,
        *,
        sleep: Sleep | None = None,
    ):
        self.policy = policy or FetchPolicy()
        self.routes = routes or Routes()
        # Injectable so tests can observe (or shorten) every wait.
        self._sleep: Sleep = sleep or asyncio.sleep
        self.requests_made = 0
        self._hosts: dict[str, _Host] = {}
        self._robots: dict[str, _Robots] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}
        self._client = httpx.AsyncClient(
            follow_redirects=False,  # every hop is re-checked for scheme and robots
            timeout=httpx.Timeout(self.policy.timeout),
            headers={"User-Agent": self.policy.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
        )
        if not self.policy.obey_robots:
            message = "robots.txt is being ignored (obey_robots=False)"
            log.warning(message)
            warnings.warn(message, stacklevel=2)

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    # -- public -----------------------------------------------------------------------------

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Capture:
        """GET `url` (a platform URL), following redirects. 4xx answers come back as
        captures; connection failures, exhausted retries, oversized bodies, bad redirects
        and robots.txt refusals raise FetchError (RobotsDisallowed for the latter)."""
        request_headers = dict(headers or {})
        if etag:
            request_headers["If-None-Match"] = etag
        if last_modified:
            request_headers["If-Modified-Since"] = last_modified
        try:
            final_url, response = await self._follow(
                url, request_headers, max_bytes=self.policy.max_bytes, check_robots=True
            )
        except FetchError as error:
            last = getattr(error, "response", None)
            if last is not None:
                error.capture = Capture(url=url, status=last.status, body=last.body,
                                        fetched_at=last.fetched_at, headers=last.headers,
                                        final_url=url, via="http")
            raise
        return Capture(
            url=url,
            status=response.status,
            body=response.body,
            fetched_at=response.fetched_at,
            headers=response.headers,
            final_url=final_url,
            not_modified=response.status == 304,
            via="http",
        )

    # -- redirects ----------------------------------------------------------------------------

    async def _follow(
        self,
        url: str,
        headers: dict[str, str],
        *,
        max_bytes: int,
        check_robots: bool,
        truncate: bool = False,
    ) -> tuple[str, _Response]:
        """Request `url` and the redirects it leads to; returns (final platform URL, response)."""
        current = _strip_fragment(url)
        _check_scheme(current, "URL")
        visits = {current: 1}
        hops = 0
        while True:
            if check_robots and self.policy.obey_robots:
                await self._check_robots(current)
            routed = self.routes.apply(current)
            _check_scheme(routed, "routed URL")
            response = await self._request(
                current, routed, headers, max_bytes=max_bytes, truncate=truncate
            )
            location = response.headers.get("location")
            if response.status not in REDIRECT_STATUSES or not location:
                return current, response
            hops += 1
            if hops > self.policy.max_redirects:
                raise _RedirectError(
                    f"{url}: too many redirects (more than {self.policy.max_redirects})", url=url
                )
            # Relative Locations resolve against the URL actually requested.
            target = _strip_fragment(self.routes.unapply(urljoin(routed, location.strip())))
            _check_scheme(target, f"{current}: redirect to")
            # One revisit is allowed: some sites redirect to the same URL after setting a
            # cookie (the client keeps cookies); a third visit is a loop.
            visits[target] = visits.get(target, 0) + 1
            if visits[target] > 2:
                raise _RedirectError(f"{url}: redirect loop at {target}", url=url)
            if _host_key(target) != _host_key(current):
                headers = {k: v for k, v in headers.items() if k.lower() not in CREDENTIAL_HEADERS}
            log.debug("redirect %s %s -> %s", response.status, current, target)
            current = target

    # -- one hop, with politeness and retries -----------------------------------------------

    def _host(self, key: str) -> _Host:
        host = self._hosts.get(key)
        if host is None:
            host = self._hosts[key] = _Host(delay=self.policy.min_delay)
        return host

    @asynccontextmanager
    async def _slot(self, key: str) -> AsyncIterator[_Host]:
        """One request at a time per host, starting no earlier than `not_before`."""
        host = self._host(key)
        async with host.lock:
            wait = host.not_before - time.monotonic()
            if wait > 0:
                await self._sleep(wait)
            try:
                yield host
            finally:
                # The delay counts from the end of this request to the start of the next.
                host.not_before = max(host.not_before, time.monotonic() + host.delay)

    def _backoff(self, attempt: int) -> float:
        cap = min(self.policy.backoff_max, self.policy.backoff_base * 2**attempt)
        return random.uniform(0, cap)  # full jitter

    async def _request(
        self,
        url: str,
        routed: str,
        headers: dict[str, str],
        *,
        max_bytes: int,
        truncate: bool,
    ) -> _Response:
        """One GET of `routed` (standing for platform URL `url`), retried on connection
        errors, 5xx, 408 and 429. Politeness is keyed on the platform host."""
        attempts = self.policy.retries + 1
        last_error: httpx.TransportError | None = None
        status: int | None = None
        for attempt in range(attempts):
            more = attempt + 1 < attempts
            async with self._slot(_host_key(url)) as host:
                self.requests_made += 1
                log.debug("GET %s%s (attempt %d)", url, f" via {routed}" if routed != url else "",
                          attempt + 1)
                try:
                    response = await self._get(
                        routed, url, headers, max_bytes=max_bytes, truncate=truncate
                    )
                except httpx.TransportError as exc:
                    last_error, status = exc, None
                    wait = self._backoff(attempt)
                    log.warning("%s: %s (attempt %d of %d)", url, _describe(exc), attempt + 1,
                                attempts)
                else:
                    status = response.status
                    if status < 500 and status not in RETRY_STATUSES:
                        return response
                    retry_after = parse_retry_after(response.headers.get("retry-after"))
                    if retry_after is not None:
                        if retry_after > self.policy.max_retry_after:
                            log.warning("%s: Retry-After %.0f s clamped to %.0f s", url,
                                        retry_after, self.policy.max_retry_after)
                        wait = min(retry_after, self.policy.max_retry_after)
                        # The server asked the whole host to back off: hold back every
                        # request to it, even when this fetch has no attempts left.
                        host.not_before = max(host.not_before, time.monotonic() + wait)
                    else:
                        wait = self._backoff(attempt)
                    log.warning("%s: HTTP %d (attempt %d of %d)", url, status, attempt + 1,
                                attempts)
                if more:
                    # Backing off here also holds back other requests to the struggling host.
                    host.not_before = max(host.not_before, time.monotonic() + wait)
        if status is not None:
            error = FetchError(
                f"{url}: HTTP {status} after {attempts} attempt(s)", url=url, status=status
            )
            error.response = response  # type: ignore[attr-defined]  # becomes error.capture
            raise error
        assert last_error is not None
        raise FetchError(
            f"{url}: {_describe(last_error)} after {attempts} attempt(s)", url=url
        ) from last_error

    async def _get(
        self,
        routed: str,
        url: str,
        headers: dict[str, str],
        *,
        max_bytes: int,
        truncate: bool,
    ) -> _Response:
        """Send one GET and read its body, decompressed, up to `max_bytes`."""
        try:
            async with self._client.stream("GET", routed, headers=headers) as response:
                fetched_at = datetime.now(UTC)
                response_headers = {k.lower(): v for k, v in response.headers.items()}
                status = response.status_code
                # Redirects and not-modified answers: the body is not wanted. Error bodies
                # are read (capped): the last one may be a bot wall the adapter recognises.
                if (status in REDIRECT_STATUSES and "location" in response_headers) or (
                    status == 304
                ):
                    body = b""
                else:
                    body = await self._read_body(response, url, max_bytes, truncate)
        except httpx.InvalidURL as exc:
            raise FetchError(f"{url}: invalid URL ({exc})", url=url) from exc
        except httpx.UnsupportedProtocol as exc:  # not worth retrying
            raise FetchError(f"{url}: {exc}", url=url) from exc
        return _Response(status, response_headers, body, fetched_at)

    async def _read_body(
        self, response: httpx.Response, url: str, max_bytes: int, truncate: bool
    ) -> bytes:
        encodings = [
            e.strip().lower()
            for e in response.headers.get("content-encoding", "").split(",")
            if e.strip() and e.strip().lower() != "identity"
        ]
        too_large = f"{url}: response body larger than {max_bytes} bytes"
        length = response.headers.get("content-length", "")
        if not encodings and length.isdigit() and int(length) > max_bytes and not truncate:
            raise _TooLarge(
                f"{url}: Content-Length {length} is larger than {max_bytes} bytes", url=url
            )

        chunks: list[bytes] = []
        size = 0

        def take(piece: bytes) -> bool:
            """Keep `piece`; False once the cap is reached (raises unless truncating)."""
            nonlocal size
            if size + len(piece) > max_bytes:
                if not truncate:
                    raise _TooLarge(too_large, url=url, status=response.status_code)
                chunks.append(piece[: max_bytes - size])
                size = max_bytes
                return False
            chunks.append(piece)
            size += len(piece)
            return True

        if len(encodings) == 1 and encodings[0] in ("gzip", "x-gzip", "deflate"):
            # Our own bounded decoder; the raw stream skips httpx's unbounded one.
            decoder = _ZlibDecoder(encodings[0])
            try:
                async for raw in response.aiter_raw():
                    for piece in decoder.feed(raw):
                        if not take(piece):
                            return b"".join(chunks)
                take(decoder.flush())
            except zlib.error as exc:
                raise FetchError(f"{url}: cannot decode {encodings[0]} body ({exc})",
                                 url=url) from exc
        else:
            # Identity, br or stacked encodings: httpx decodes (one network chunk at a time).
            try:
                async for piece in response.aiter_bytes():
                    if not take(piece):
                        break
            except httpx.DecodingError as exc:
                raise FetchError(f"{url}: cannot decode body ({exc})", url=url) from exc
        return b"".join(chunks)

    # -- robots.txt ---------------------------------------------------------------------------

    async def _check_robots(self, url: str) -> None:
        parts = urlsplit(url)
        key = f"{parts.scheme.lower()}://{_host_key(url)}"
        robots = self._robots.get(key)
        if robots is None:
            lock = self._robots_locks.setdefault(key, asyncio.Lock())
            async with lock:  # concurrent first fetches of a host read robots.txt once
                robots = self._robots.get(key)
                if robots is None:
                    robots = self._robots[key] = await self._load_robots(key)
        if robots.unreachable:
            raise FetchError(f"{url}: {robots.unreachable}", url=url)
        if robots.deny_reason:
            raise RobotsDisallowed(f"{url}: {robots.deny_reason}", url=url)
        if robots.parser is not None and not robots.parser.can_fetch(url, self.policy.user_agent):
            log.info("robots.txt disallows %s", url)
            raise RobotsDisallowed(f"{url}: disallowed by {key}/robots.txt", url=url)

    async def _load_robots(self, base: str) -> _Robots:
        robots_url = f"{base}/robots.txt"
        try:
            _, response = await self._follow(
                robots_url, {}, max_bytes=ROBOTS_MAX_BYTES, check_robots=False, truncate=True
            )
        except _RedirectError as exc:
            # RFC 9309: unresolvable redirects count as "unavailable", i.e. allow all.
            log.info("%s: %s; allowing all", robots_url, exc)
            return _Robots(None)
        except FetchError as exc:
            if exc.status is None and isinstance(exc.__cause__, httpx.TransportError):
                # The host is down, not refusing: report the connection failure itself.
                failure = str(exc).removeprefix(f"{robots_url}: ")
                return _Robots(None, unreachable=failure)
            # 5xx, 429: RFC 9309 and Google say assume complete disallow.
            reason = (
                f"robots.txt unreachable ({exc}); assuming everything on the host is disallowed"
            )
            log.warning("%s", reason)
            return _Robots(None, deny_reason=reason)
        if 400 <= response.status < 500:
            log.debug("%s: HTTP %d, allowing all", robots_url, response.status)
            return _Robots(None)
        if response.status != 200:
            log.info("%s: unexpected HTTP %d, allowing all", robots_url, response.status)
            return _Robots(None)
        parser = Protego.parse(response.body.decode("utf-8", errors="replace"))
        crawl_delay = parser.crawl_delay(self.policy.user_agent)
        if crawl_delay is not None:
            delay = min(float(crawl_delay), MAX_CRAWL_DELAY)
            host = self._host(_host_key(base))
            if delay > host.delay:
                log.info("%s: Crawl-delay %.1f s", base, delay)
                host.delay = delay
        return _Robots(parser)


def _describe(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})"
    return f"connection failed ({type(exc).__name__}: {exc})"


__all__ = ["DEFAULT_USER_AGENT", "FetchPolicy", "Fetcher", "parse_retry_after"]
