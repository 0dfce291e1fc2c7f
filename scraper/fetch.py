"""The HTTP fetcher every sync uses: polite, retrying, size-capped, robots-aware.

Requests go to `routes.apply(url)` while everything the caller sees (Capture.url,
Capture.final_url, robots decisions, per-host politeness) stays in the platform's URL space,
so a replay or test server can stand in for a platform without changing its behaviour.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import socket
import time
import warnings
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpcore
import httpx
from protego import Protego

from scraper.errors import FetchError, RobotsDisallowed
from scraper.models import Capture, Request
from scraper.routes import Routes
from scraper.settings import DEFAULT_USER_AGENT as DEFAULT_USER_AGENT  # re-exported
from scraper.settings import FetchPolicy

log = logging.getLogger("scraper.fetch")

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
RETRY_STATUSES = frozenset({408, 429})  # plus every 5xx
MAX_CRAWL_DELAY = 60.0
# Google reads at most 500 KiB of robots.txt and ignores the rest; so do we.
ROBOTS_MAX_BYTES = 500 * 1024
# Output step of the zlib decoder: bounds the memory one compressed chunk can expand into.
DECODE_STEP = 64 * 1024
# Headers that must not follow a redirect to another host.
CREDENTIAL_HEADERS = ("authorization", "cookie", "proxy-authorization")

# Only what our bounded decoders read: a server that sends br or zstd anyway is refused.
ACCEPT_ENCODING = "gzip, deflate"
DECODABLE = frozenset({"gzip", "x-gzip", "deflate"})
# A body compressed more than twice is a bomb, not a web page.
MAX_ENCODING_LAYERS = 2

Sleep = Callable[[float], Awaitable[None]]


class RetryBudget:
    """Seconds of retry waiting left to one source; shared by all its fetches."""

    def __init__(self, seconds: float):
        self.left = seconds

    def take(self, wait: float) -> bool:
        """Spend `wait` seconds if they are left; False once the budget cannot pay for it."""
        if wait > self.left:
            return False
        self.left -= wait
        return True


class _Progress:
    """Bytes read so far in one request, for the message when its deadline expires."""

    def __init__(self) -> None:
        self.received = 0


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


class AddressRefused(FetchError):
    """The URL's host is (or resolves to) a loopback, private, link-local or metadata
    address and the sources file does not allow those."""


def refused_reason(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why `ip` is not a public internet address, or None when it is."""
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:  # ::ffff:127.0.0.1 is 127.0.0.1
        ip = mapped
    for test, what in (("is_loopback", "a loopback"), ("is_link_local", "a link-local"),
                       ("is_unspecified", "an unspecified"), ("is_multicast", "a multicast"),
                       ("is_private", "a private"), ("is_reserved", "a reserved")):
        if getattr(ip, test):
            return f"{what} address"
    if not ip.is_global:
        return "a non-public address"
    return None


async def public_addresses(host: str, url: str) -> list[str] | None:
    """The addresses `host` resolves to, all public, or AddressRefused naming the first that
    is not (a name with one private answer is refused). None when it does not resolve:
    unresolvable here is unreachable there too, so the request fails (and is retried) like
    any connection failure."""
    try:
        addresses = [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, None, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            log.debug("%s: cannot resolve %s (%s)", url, host, exc)
            return None
        # IPv6 link-local answers carry a zone ("fe80::1%eth0").
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    for address in addresses:
        reason = refused_reason(address)
        if reason:
            shown = host if str(address) == host else f"{host} ({address})"
            raise AddressRefused(
                f"{url}: refused: {shown} is {reason}; set [fetch] allow_private = true "
                f"or route it ([routes]) if you mean to fetch it", url=url)
    return list(dict.fromkeys(str(a) for a in addresses))


async def check_address(url: str) -> None:
    """Refuse `url` when its host is, or resolves to, a non-public address."""
    await public_addresses(urlsplit(url).hostname or "", url)


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to public addresses, except to the hosts routes point at: the name is
    resolved here and the connection made to the address that was checked, so a name that
    answers differently the second time (DNS rebinding) cannot slip past the check made
    before the request."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend, trusted: set[tuple[str, int]]):
        self._inner = inner
        self._trusted = trusted

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Any = None) -> httpcore.AsyncNetworkStream:
        addresses = None
        if (host.lower(), port) not in self._trusted:
            addresses = await public_addresses(host, f"connecting to {host}:{port}")
        last: Exception | None = None
        for address in addresses or [host]:
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address,
                                                     socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Any = None) -> httpcore.AsyncNetworkStream:
        return await self._inner.connect_unix_socket(path, timeout, socket_options)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _guarded_transport(routes: Routes) -> httpx.AsyncHTTPTransport:
    """httpx's transport with the connection-time address guard (httpx has no public hook
    for it: the pool's backend is swapped; without that pool the pre-request check stands
    alone)."""
    transport = httpx.AsyncHTTPTransport()
    pool = getattr(transport, "_pool", None)
    inner = getattr(pool, "_network_backend", None)
    if inner is not None:
        pool._network_backend = _GuardedBackend(  # type: ignore[union-attr]
            inner, route_targets(routes))
    return transport


def is_route_target(url: str, targets: set[tuple[str, int]]) -> bool:
    """`url` is on a host and port a route points at."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return False
    return parts.hostname is not None and (parts.hostname.lower(), port) in targets


def route_targets(routes: Routes) -> set[tuple[str, int]]:
    """(host, port) of every route's target: trusted by the address guard (a route is
    written on purpose)."""
    trusted = set()
    for _, base in routes.items():
        parts = urlsplit(base)
        if parts.hostname:
            default = 443 if parts.scheme == "https" else 80
            trusted.add((parts.hostname.lower(), parts.port or default))
    return trusted


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
        # Where routes point: trusted like a routed request (`[routes]` is written on
        # purpose), so a source may name its mirror's own URL (DESIGN.md's example).
        self._route_targets = route_targets(self.routes)
        # Injectable so tests can observe (or shorten) every wait.
        self._sleep: Sleep = sleep or asyncio.sleep
        self.requests_made = 0
        self._hosts: dict[str, _Host] = {}
        self._robots: dict[str, _Robots] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}
        self._client = httpx.AsyncClient(
            transport=None if self.policy.allow_private else _guarded_transport(self.routes),
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
        target: str | Request,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        headers: dict[str, str] | None = None,
        budget: RetryBudget | None = None,
    ) -> Capture:
        """GET `target` (a platform URL), or send it (a `Request` with method, headers and
        body), following redirects. 4xx answers come back as captures; connection failures,
        exhausted retries, oversized bodies, bad redirects, refused addresses, an expired
        request deadline and robots.txt refusals raise FetchError (RobotsDisallowed for the
        latter). Conditional headers (`etag`, `last_modified`) go only with a GET: on a POST
        they would ask something else. `budget` is the source's retry budget (one for this
        call alone when None)."""
        request = Request.of(target)
        url = request.url
        request_headers = {**dict(request.headers), **(headers or {})}
        if request.is_get:
            if etag:
                request_headers["If-None-Match"] = etag
            if last_modified:
                request_headers["If-Modified-Since"] = last_modified
        method = request.method.upper()
        sent_headers = dict(request.headers)
        try:
            final_url, response = await self._follow(
                url, request_headers, max_bytes=self.policy.max_bytes, check_robots=True,
                method=method, body=request.body,
                budget=budget or RetryBudget(self.policy.retry_budget),
            )
        except FetchError as error:
            last = getattr(error, "response", None)
            if last is not None:
                error.capture = Capture(url=url, status=last.status, body=last.body,
                                        fetched_at=last.fetched_at, headers=last.headers,
                                        final_url=url, via="http", method=method,
                                        request_body=request.body,
                                        request_headers=sent_headers)
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
            method=method,
            request_body=request.body,
            request_headers=sent_headers,
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
        method: str = "GET",
        body: bytes | None = None,
        budget: RetryBudget | None = None,
    ) -> tuple[str, _Response]:
        """Request `url` and the redirects it leads to; returns (final platform URL, response)."""
        budget = budget or RetryBudget(self.policy.retry_budget)
        current = _strip_fragment(url)
        _check_scheme(current, "URL")
        visits = {current: 1}
        hops = 0
        while True:
            routed = self.routes.apply(current)
            _check_scheme(routed, "routed URL")
            # Checked before robots.txt is asked for, at every hop. A routed request's
            # target is trusted: a route is written on purpose.
            if (routed == current and not self.policy.allow_private
                    and not is_route_target(current, self._route_targets)):
                await check_address(current)
            if check_robots and self.policy.obey_robots:
                await self._check_robots(current)
            response = await self._request(
                current, routed, headers, max_bytes=max_bytes, truncate=truncate,
                method=method, body=body, budget=budget,
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
            if response.status in (301, 302, 303) and method != "GET":
                # As browsers do: 307/308 repeat the request, the others turn it into a GET.
                method, body = "GET", None
                headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
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
        method: str = "GET",
        body: bytes | None = None,
        budget: RetryBudget,
    ) -> _Response:
        """One request (a GET unless told) of `routed` (standing for platform URL `url`),
        retried on connection errors, 5xx, 408 and 429 while the source's retry budget
        lasts. Politeness is keyed on the platform host."""
        attempts = self.policy.retries + 1
        last_error: httpx.TransportError | None = None
        status: int | None = None
        for attempt in range(attempts):
            more = attempt + 1 < attempts
            async with self._slot(_host_key(url)) as host:
                self.requests_made += 1
                log.debug("%s %s%s (attempt %d)", method, url,
                          f" via {routed}" if routed != url else "", attempt + 1)
                try:
                    response = await self._get_within_deadline(
                        routed, url, headers, max_bytes=max_bytes, truncate=truncate,
                        method=method, content=body,
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
                if more and not budget.take(wait):
                    log.warning("%s: retry budget spent (%.0f s left, next wait %.0f s); "
                                "giving up", url, budget.left, wait)
                    attempts = attempt + 1
                    more = False
                if more:
                    # Backing off here also holds back other requests to the struggling host.
                    host.not_before = max(host.not_before, time.monotonic() + wait)
            if not more:
                break
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

    async def _get_within_deadline(
        self, routed: str, url: str, headers: dict[str, str], *, max_bytes: int, truncate: bool,
        method: str = "GET", content: bytes | None = None,
    ) -> _Response:
        """`_get` bounded from connect to last byte: httpx's timeout bounds each read, so a
        server dripping one byte at a time would otherwise hold the request forever."""
        limit = self.policy.request_deadline
        progress = _Progress()
        started = time.monotonic()
        try:
            async with asyncio.timeout(limit):
                return await self._get(routed, url, headers, max_bytes=max_bytes,
                                       truncate=truncate, method=method, content=content,
                                       progress=progress)
        except TimeoutError:
            took = time.monotonic() - started
            raise FetchError(
                f"{url} sent {progress.received} bytes in {took:.0f} s (request deadline "
                f"of {limit:g} s; [fetch] request_deadline)", url=url) from None

    async def _get(
        self,
        routed: str,
        url: str,
        headers: dict[str, str],
        *,
        max_bytes: int,
        truncate: bool,
        method: str = "GET",
        content: bytes | None = None,
        progress: _Progress,
    ) -> _Response:
        """Send one request and read its body, decompressed, up to `max_bytes`."""
        try:
            async with self._client.stream(method, routed, headers=headers,
                                           content=content) as response:
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
                    body = await self._read_body(response, url, max_bytes, truncate,
                                                 progress)
        except httpx.InvalidURL as exc:
            raise FetchError(f"{url}: invalid URL ({exc})", url=url) from exc
        except httpx.UnsupportedProtocol as exc:  # not worth retrying
            raise FetchError(f"{url}: {exc}", url=url) from exc
        return _Response(status, response_headers, body, fetched_at)

    async def _read_body(
        self, response: httpx.Response, url: str, max_bytes: int, truncate: bool,
        progress: _Progress,
    ) -> bytes:
        encodings = [
            e.strip().lower()
            for e in response.headers.get("content-encoding", "").split(",")
            if e.strip() and e.strip().lower() != "identity"
        ]
        too_large = f"{url}: response body larger than {max_bytes} bytes"
        length = response.headers.get("content-length", "")
        if not encodings and length.isdecimal() and int(length) > max_bytes and not truncate:
            raise _TooLarge(
                f"{url}: Content-Length {length} is larger than {max_bytes} bytes", url=url
            )
        if len(encodings) > MAX_ENCODING_LAYERS:
            raise FetchError(f"{url}: refused a body compressed {len(encodings)} times "
                             f"(Content-Encoding: {', '.join(encodings)})", url=url)
        unknown = [e for e in encodings if e not in DECODABLE]
        if unknown:
            raise FetchError(f"{url}: unsupported Content-Encoding {unknown[0]!r} (we ask "
                             f"for {ACCEPT_ENCODING} only)", url=url)

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

        # Layer by layer through bounded decoders (the last encoding applied comes off
        # first); the raw stream skips httpx's own decoders, which inflate a whole network
        # chunk at once. Every layer's output is cut into DECODE_STEP pieces, so the cap
        # holds however the layers are stacked.
        decoders = [_ZlibDecoder(e) for e in reversed(encodings)]

        def decode(data: bytes, layer: int = 0) -> Iterator[bytes]:
            if layer == len(decoders):
                if data:
                    yield data
                return
            for piece in decoders[layer].feed(data):
                yield from decode(piece, layer + 1)

        def flush() -> Iterator[bytes]:
            for layer, decoder in enumerate(decoders):
                yield from decode(decoder.flush(), layer + 1)

        try:
            async for raw in response.aiter_raw():
                progress.received += len(raw)
                for piece in decode(raw):
                    if not take(piece):
                        return b"".join(chunks)
            for piece in flush():
                if not take(piece):
                    break
        except zlib.error as exc:
            raise FetchError(f"{url}: cannot decode {', '.join(encodings)} body ({exc})",
                             url=url) from exc
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


__all__ = ["DEFAULT_USER_AGENT", "AddressRefused", "FetchPolicy", "Fetcher", "RetryBudget",
           "check_address", "parse_retry_after"]
