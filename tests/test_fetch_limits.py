"""The fetcher's hard limits against hostile servers on 127.0.0.1: the request deadline (a
body or headers dripping one byte a second), stacked encodings, refused addresses and the
retry budget."""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import time
import tracemalloc
import warnings
import zlib
from typing import Any

import pytest
from httpserver import LocalServer, Request

from scraper.config import parse_config
from scraper.errors import ConfigError, FetchError
from scraper.fetch import AddressRefused, Fetcher, FetchPolicy, refused_reason
from scraper.routes import Routes

TEXT = {"Content-Type": "text/plain; charset=utf-8"}


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def policy(**overrides: Any) -> FetchPolicy:
    values: dict[str, Any] = dict(min_delay=0.0, timeout=5.0, retries=1, backoff_base=0.01,
                                  obey_robots=False, allow_private=True)
    values.update(overrides)
    return FetchPolicy(**values)


def fetch(url: str, pol: FetchPolicy, routes: Routes | None = None, **kwargs: Any):
    async def go():
        async with Fetcher(pol, routes, **kwargs) as fetcher:
            return await fetcher.fetch(url)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # obey_robots=False warns; tested elsewhere
        return asyncio.run(go())


@pytest.fixture
def server():
    with LocalServer() as srv:
        yield srv


# -- the drip -----------------------------------------------------------------------------------


def drip_body(req: Request) -> None:
    """Headers at once, then one byte a second of a 100-byte body."""
    h = req.handler
    h.send_response(200)
    h.send_header("Content-Type", "text/plain")
    h.send_header("Content-Length", "100")
    h.end_headers()
    h.wfile.flush()
    for _ in range(100):
        h.wfile.write(b"x")
        h.wfile.flush()
        time.sleep(1)
    req._replied = True


def drip_headers(req: Request) -> None:
    """The status line and headers themselves, one byte a second."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Padding: " + b"p" * 100
    for byte in head:
        req.handler.wfile.write(bytes([byte]))
        req.handler.wfile.flush()
        time.sleep(1)
    req._replied = True


@pytest.mark.parametrize("handler", [drip_body, drip_headers], ids=["body", "headers"])
def test_a_dripping_server_is_cut_at_the_request_deadline(server: LocalServer, handler) -> None:
    # Each read gets a byte well within `timeout`: only the request deadline can stop it.
    server.on("/drip", handler)
    with pytest.raises(FetchError, match=r"sent \d+ bytes in \d+ s \(request deadline of 2 s")\
            as info:
        fetch(server.url("/drip"), policy(request_deadline=2.0, timeout=5.0, retries=3))
    assert info.value.url == server.url("/drip")
    # Not retried: a drip would drip again.
    assert server.count("/drip") == 1


# -- encodings ----------------------------------------------------------------------------------


def zeros_gzip(megabytes: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(2**20)
    return b"".join([compressor.compress(zeros) for _ in range(megabytes)]
                    + [compressor.flush()])


def test_a_stacked_gzip_bomb_is_capped_without_inflating(server: LocalServer) -> None:
    bomb = gzip.compress(zeros_gzip(1024))  # 1 GB of zeros in two layers
    assert len(bomb) < 100_000
    server.static("/bomb", 200, bomb, {"Content-Type": "text/html",
                                       "Content-Encoding": "gzip, gzip"})
    tracemalloc.start()
    try:
        with pytest.raises(FetchError, match="larger than 1048576 bytes"):
            fetch(server.url("/bomb"), policy(max_bytes=2**20))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20, f"peak traced memory {peak / 2**20:.1f} MB"


def test_two_layers_of_a_real_body_decode(server: LocalServer) -> None:
    body = "Ünïcode body\n".encode() * 1000
    server.static("/two", 200, zlib.compress(gzip.compress(body)),
                  {"Content-Type": "text/plain", "Content-Encoding": "gzip, deflate"})
    assert fetch(server.url("/two"), policy()).body == body


def test_three_layers_are_refused(server: LocalServer) -> None:
    server.static("/three", 200, gzip.compress(gzip.compress(gzip.compress(b"hi"))),
                  {"Content-Type": "text/plain", "Content-Encoding": "gzip, gzip, gzip"})
    with pytest.raises(FetchError, match="compressed 3 times"):
        fetch(server.url("/three"), policy())


@pytest.mark.parametrize("encoding", ["br", "zstd", "gzip, br", "compress"])
def test_encodings_we_never_asked_for_are_refused(server: LocalServer, encoding: str) -> None:
    server.static("/enc", 200, b"\x00\x01garbage", {"Content-Type": "text/plain",
                                                   "Content-Encoding": encoding})
    with pytest.raises(FetchError, match="unsupported Content-Encoding"):
        fetch(server.url("/enc"), policy())


# -- addresses ----------------------------------------------------------------------------------


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.9.9.9", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
    "169.254.169.254", "0.0.0.0", "::1", "fd00::1", "fe80::1", "::ffff:127.0.0.1",
    "100.64.0.1",
])
def test_non_public_addresses_have_a_reason(address: str) -> None:
    assert refused_reason(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "172.32.0.1", "2606:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert refused_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/", "http://[fd00::1]/x", "http://[::1]:9/x",
    "http://10.0.0.1/x", "http://0.0.0.0:9/x",
    # Other spellings of loopback resolve to it, and are refused as such.
    "http://2130706433:9/x", "http://0x7f.0.0.1:9/x", "http://localhost:9/x",
])
def test_a_source_on_a_private_address_is_refused(url: str) -> None:
    with pytest.raises(AddressRefused, match="allow_private = true"):
        fetch(url, policy(allow_private=False))


def test_a_redirect_to_a_private_address_is_refused_before_connecting(server: LocalServer):
    routes = Routes({"https://show.example": server.url("/show")})
    server.static("/show/meta", 302, b"", {"Location": "http://169.254.169.254/latest/"})
    # localhost is a name: it is resolved, and it resolves to loopback.
    server.static("/show/local", 302, b"",
                  {"Location": f"http://localhost:{server.port}/secret"})
    server.static("/secret", 200, b"internal", TEXT)
    strict = policy(allow_private=False)
    with pytest.raises(AddressRefused, match="169.254.169.254 is a link-local address"):
        fetch("https://show.example/meta", strict, routes)
    with pytest.raises(AddressRefused, match=r"localhost \(127.0.0.1\) is a loopback"):
        fetch("https://show.example/local", strict, routes)
    assert server.count("/secret") == 0
    # The routed request itself was made: a route's target is trusted.
    assert server.count("/show/meta") == 1


def test_the_connection_itself_is_guarded(server: LocalServer, monkeypatch) -> None:
    """A name may resolve to a public address when checked and to loopback when connected
    (DNS rebinding): the connection is made only to an address checked at connect time."""
    server.static("/inside", 200, b"internal", TEXT)

    async def fooled(url: str) -> None:  # the check before the request said "public"
        return None

    monkeypatch.setattr("scraper.fetch.check_address", fooled)
    with pytest.raises(AddressRefused, match=r"connecting to localhost:\d+: refused: localhost "
                                             r"\(127.0.0.1\) is a loopback address"):
        fetch(f"http://localhost:{server.port}/inside", policy(allow_private=False))
    assert server.count("/inside") == 0
    # A route's target host is trusted at connect time too.
    routes = Routes({"https://show.example": server.base})
    assert fetch("https://show.example/inside", policy(allow_private=False), routes).body \
        == b"internal"
    # And a source may name the route's target itself (a mirror written as its own URL,
    # as DESIGN.md's sources file does): the route says it is meant.
    assert fetch(f"{server.base}/inside", policy(allow_private=False), routes).body \
        == b"internal"
    # Only that host and port: another port on loopback is still refused.
    with pytest.raises(AddressRefused, match="loopback"):
        fetch(f"http://127.0.0.1:{_free_port()}/inside", policy(allow_private=False), routes)


def test_a_private_source_is_fetched_when_allowed(server: LocalServer) -> None:
    server.static("/open", 200, b"fine", TEXT)
    with pytest.raises(AddressRefused, match="127.0.0.1 is a loopback address"):
        fetch(server.url("/open"), policy(allow_private=False))
    assert server.count("/open") == 0
    assert fetch(server.url("/open"), policy(allow_private=True)).body == b"fine"


def test_robots_on_a_private_address_is_not_asked_for(server: LocalServer) -> None:
    with pytest.raises(AddressRefused):
        fetch(server.url("/page"), policy(allow_private=False, obey_robots=True))
    assert server.count("/robots.txt") == 0


# -- retries --------------------------------------------------------------------------------------


def test_the_retry_budget_bounds_a_429_storm(server: LocalServer) -> None:
    server.static("/storm", 429, b"slow down", {**TEXT, "Retry-After": "1"})
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    with pytest.raises(FetchError, match="HTTP 429 after 2 attempt"):
        fetch(server.url("/storm"), policy(retries=10, retry_budget=1.5), sleep=sleep)
    assert server.count("/storm") == 2
    assert sum(waits) <= 1.5


def test_fetch_settings_in_the_sources_file() -> None:
    settings = {"max_retry_after": 5, "retry_budget": 30, "request_deadline": 10.5,
                "source_deadline": 60, "run_deadline": 600, "allow_private": True}
    config = parse_config({"fetch": settings})
    chosen = FetchPolicy(**config.fetch)
    assert (chosen.max_retry_after, chosen.request_deadline, chosen.allow_private) == (
        5, 10.5, True)
    for bad, message in ((("request_deadline", 0), "above zero"),
                         (("allow_private", "yes"), "must be bool"),
                         (("retries", True), "must be int")):
        with pytest.raises(ConfigError, match=message):
            parse_config({"fetch": dict([bad])})
