"""scraper.fetch against real HTTP servers on 127.0.0.1 (no mocked transport)."""

from __future__ import annotations

import asyncio
import gzip
import socket
import threading
import time
import tracemalloc
import warnings
import zlib
from collections.abc import Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any, TypeVar

import pytest
from httpserver import LocalServer, Request

from scraper.errors import FetchError, RobotsDisallowed
from scraper.fetch import DEFAULT_USER_AGENT, Fetcher, FetchPolicy, parse_retry_after
from scraper.models import Capture
from scraper.routes import Routes

T = TypeVar("T")
TEXT = {"Content-Type": "text/plain; charset=utf-8"}


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def policy(**overrides: Any) -> FetchPolicy:
    """A policy fast enough for tests: tiny delays and backoff, short timeouts."""
    # The test servers are on 127.0.0.1: loopback must be allowed (the guard has its tests).
    values: dict[str, Any] = dict(min_delay=0.01, timeout=5.0, retries=2, backoff_base=0.01,
                                  allow_private=True)
    values.update(overrides)
    return FetchPolicy(**values)


def ignoring_robots(**overrides: Any) -> FetchPolicy:
    return policy(obey_robots=False, **overrides)


async def fetch_one(
    url: str, pol: FetchPolicy | None = None, routes: Routes | None = None, **kwargs: Any
) -> Capture:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the obey_robots=False warning has its own test
        fetcher = Fetcher(pol or policy(), routes)
    async with fetcher:
        return await fetcher.fetch(url, **kwargs)


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as srv:
        yield srv


def sequence(*replies: tuple[int, bytes, dict[str, str]]):
    """A handler answering with `replies` in turn, then repeating the last one."""
    calls = iter(range(10**9))

    def handler(req: Request) -> None:
        n = next(calls)
        req.reply(*replies[min(n, len(replies) - 1)])

    return handler


# -- basics -------------------------------------------------------------------------------------


def test_capture_fields_and_request_headers(server: LocalServer) -> None:
    server.static("/page", 200, b"hello", {**TEXT, "X-Custom": "Yes"})
    before = datetime.now(UTC)
    cap = run(fetch_one(server.url("/page")))
    assert (cap.url, cap.final_url, cap.status, cap.body) == (
        server.url("/page"), server.url("/page"), 200, b"hello"
    )
    assert cap.headers["x-custom"] == "Yes" and cap.content_type == "text/plain"
    assert all(name == name.lower() for name in cap.headers)
    assert cap.fetched_at.tzinfo is not None and cap.fetched_at >= before
    assert cap.via == "http" and not cap.not_modified
    (robots,) = server.hits_for("/robots.txt")
    (page,) = server.hits_for("/page")
    for hit in (robots, page):
        assert hit.headers["user-agent"] == DEFAULT_USER_AGENT
    assert page.headers["accept-encoding"].replace(" ", "").split(",")[:2] == ["gzip", "deflate"]


def test_requests_made_counts_robots_and_retries(server: LocalServer) -> None:
    server.on("/flaky", sequence((503, b"", {}), (200, b"ok", TEXT)))

    async def go() -> int:
        async with Fetcher(policy()) as fetcher:
            await fetcher.fetch(server.url("/flaky"))
            return fetcher.requests_made

    assert run(go()) == 3  # robots.txt + 503 + 200


def _gzip_members(data: bytes) -> bytes:
    half = len(data) // 2
    return gzip.compress(data[:half]) + gzip.compress(data[half:])


def _raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("gzip", _gzip_members),
        ("deflate", zlib.compress),
        ("deflate", _raw_deflate),
    ],
    ids=["gzip", "gzip-multi-member", "deflate-zlib", "deflate-raw"],
)
def test_compressed_bodies_are_decoded(server: LocalServer, encoding: str, encode: Any) -> None:
    # Big enough to need several decoder steps and several network reads.
    data = b"".join(b"episode %d of a long listing\n" % i for i in range(60_000))
    server.static("/z", 200, encode(data), {**TEXT, "Content-Encoding": encoding})
    cap = run(fetch_one(server.url("/z"), ignoring_robots()))
    assert cap.body == data


# -- retries ------------------------------------------------------------------------------------


def test_503_retried_then_success(server: LocalServer) -> None:
    server.on("/p", sequence((503, b"busy", {}), (503, b"busy", {}), (200, b"ok", TEXT)))
    cap = run(fetch_one(server.url("/p"), policy(retries=3)))
    assert (cap.status, cap.body) == (200, b"ok")
    assert server.count("/p") == 3


@pytest.mark.parametrize("status", [429, 408])
def test_429_and_408_retried(server: LocalServer, status: int) -> None:
    server.on("/p", sequence((status, b"", {}), (200, b"ok", TEXT)))
    cap = run(fetch_one(server.url("/p")))
    assert cap.status == 200 and server.count("/p") == 2


def test_retry_after_seconds_honoured(server: LocalServer) -> None:
    server.on("/p", sequence((503, b"", {"Retry-After": "1"}), (200, b"ok", TEXT)))
    cap = run(fetch_one(server.url("/p"), policy(backoff_base=0.01)))
    first, second = server.hits_for("/p")
    assert cap.status == 200
    # Backoff alone would wait at most 0.01 s.
    assert second.start - first.start >= 1.0


@pytest.mark.parametrize("kind", ["seconds", "http-date"])
def test_retry_after_clamped(server: LocalServer, kind: str) -> None:
    hour = (
        "3600"
        if kind == "seconds"
        else format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    )
    server.on("/p", sequence((429, b"", {"Retry-After": hour}), (200, b"ok", TEXT)))
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        if seconds > 5:  # fail fast instead of hanging when clamping is broken
            raise AssertionError(f"asked to sleep {seconds} s")
        await asyncio.sleep(seconds)

    async def go() -> Capture:
        async with Fetcher(policy(max_retry_after=0.3), sleep=sleep) as fetcher:
            return await fetcher.fetch(server.url("/p"))

    assert run(go()).status == 200
    assert slept and max(slept) <= 0.3
    first, second = server.hits_for("/p")
    assert second.start - first.start >= 0.25  # the clamped value is still waited


def test_parse_retry_after() -> None:
    now = datetime(2015, 10, 21, 7, 27, tzinfo=UTC)
    assert parse_retry_after("5") == 5.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now) == 60.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now) == 0.0
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


@pytest.mark.parametrize("status", [404, 403, 410])
def test_client_errors_are_returned_not_raised(server: LocalServer, status: int) -> None:
    server.static("/gone", status, b"no such show", TEXT)
    cap = run(fetch_one(server.url("/gone")))
    assert (cap.status, cap.body) == (status, b"no such show")
    assert server.count("/gone") == 1  # not retried


def test_500_forever_raises_after_all_attempts(server: LocalServer) -> None:
    server.static("/p", 500, b"oops")
    with pytest.raises(FetchError, match="HTTP 500") as info:
        run(fetch_one(server.url("/p"), policy(retries=2)))
    assert info.value.status == 500
    assert server.count("/p") == 3


def test_read_timeout_retried_then_raised(server: LocalServer) -> None:
    server.on("/slow", lambda req: (time.sleep(1.5), req.reply(200, b"late")))
    with pytest.raises(FetchError, match="timed out"):
        run(fetch_one(server.url("/slow"), ignoring_robots(timeout=0.3, retries=1)))
    assert server.count("/slow") == 2


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_connection_refused_raises_with_cause() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/x"

    async def go() -> Fetcher:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fetcher = Fetcher(ignoring_robots(retries=2))
        async with fetcher:
            with pytest.raises(FetchError, match="connection failed") as info:
                await fetcher.fetch(url)
        assert info.value.__cause__ is not None and info.value.status is None
        return fetcher

    assert run(go()).requests_made == 3


# -- conditional requests -----------------------------------------------------------------------


def test_not_modified(server: LocalServer) -> None:
    stamp = "Wed, 21 Oct 2015 07:28:00 GMT"

    def handler(req: Request) -> None:
        if req.headers.get("if-none-match") == '"v1"':
            req.reply(304, b"", {"ETag": '"v1"'})
        else:
            req.reply(200, b"full body", {**TEXT, "ETag": '"v1"', "Last-Modified": stamp})

    server.on("/feed", handler)
    first = run(fetch_one(server.url("/feed")))
    assert (first.status, first.body, first.headers["etag"]) == (200, b"full body", '"v1"')
    again = run(
        fetch_one(server.url("/feed"), etag=first.headers["etag"], last_modified=stamp)
    )
    assert again.status == 304 and again.not_modified and again.body == b""
    last = server.hits_for("/feed")[-1]
    assert last.headers["if-modified-since"] == stamp


# -- robots.txt ---------------------------------------------------------------------------------


def test_robots_disallow(server: LocalServer) -> None:
    server.static("/robots.txt", 200, b"User-agent: *\nDisallow: /private\n", TEXT)
    server.static("/private/x", 200, b"secret")
    server.static("/public", 200, b"ok")

    async def go() -> None:
        async with Fetcher(policy()) as fetcher:
            with pytest.raises(RobotsDisallowed):
                await fetcher.fetch(server.url("/private/x"))
            assert (await fetcher.fetch(server.url("/public"))).body == b"ok"

    run(go())
    assert server.count("/private/x") == 0
    assert server.count("/robots.txt") == 1  # once per host per Fetcher
    assert server.hits_for("/robots.txt")[0].headers["user-agent"] == DEFAULT_USER_AGENT


def test_robots_group_for_our_user_agent(server: LocalServer) -> None:
    robots = b"User-agent: otherbot\nAllow: /\n\nUser-agent: scraper\nDisallow: /\n"
    server.static("/robots.txt", 200, robots, TEXT)
    server.static("/page", 200, b"ok")
    with pytest.raises(RobotsDisallowed):
        run(fetch_one(server.url("/page")))
    assert server.count("/page") == 0


def test_robots_checked_on_every_redirect_hop(server: LocalServer) -> None:
    server.static("/robots.txt", 200, b"User-agent: *\nDisallow: /private\n", TEXT)
    server.static("/go", 302, b"", {"Location": "/private/y"})
    server.static("/private/y", 200, b"secret")
    with pytest.raises(RobotsDisallowed):
        run(fetch_one(server.url("/go")))
    assert server.count("/go") == 1 and server.count("/private/y") == 0


def test_robots_5xx_means_disallow_all(server: LocalServer) -> None:
    server.static("/robots.txt", 503, b"")
    server.static("/page", 200, b"ok")
    with pytest.raises(RobotsDisallowed, match="robots.txt unreachable"):
        run(fetch_one(server.url("/page"), policy(retries=1)))
    assert server.count("/page") == 0
    assert server.count("/robots.txt") == 2


def test_a_host_that_is_down_is_a_connection_failure_not_a_robots_refusal() -> None:
    # The host is down, so the page itself cannot be had either: say that, once.
    url = f"http://127.0.0.1:{_closed_port()}/page"
    with pytest.raises(FetchError, match="connection failed") as caught:
        run(fetch_one(url, policy(retries=0)))
    assert not isinstance(caught.value, RobotsDisallowed)
    assert str(caught.value).count(url) == 1 and "robots" not in str(caught.value)


def test_robots_opt_out_fetches_and_warns(server: LocalServer) -> None:
    server.static("/robots.txt", 200, b"User-agent: *\nDisallow: /\n", TEXT)
    server.static("/page", 200, b"ok")

    async def go() -> Capture:
        with pytest.warns(UserWarning, match="robots.txt is being ignored"):
            fetcher = Fetcher(policy(obey_robots=False))
        async with fetcher:
            return await fetcher.fetch(server.url("/page"))

    assert run(go()).body == b"ok"
    assert server.count("/robots.txt") == 0


def test_robots_crawl_delay_slows_the_host(server: LocalServer) -> None:
    server.static("/robots.txt", 200, b"User-agent: *\nCrawl-delay: 0.5\n", TEXT)
    server.static("/a", 200, b"a")
    server.static("/b", 200, b"b")

    async def go() -> None:
        async with Fetcher(policy(min_delay=0.01)) as fetcher:
            await fetcher.fetch(server.url("/a"))
            await fetcher.fetch(server.url("/b"))

    run(go())
    (a,) = server.hits_for("/a")
    (b,) = server.hits_for("/b")
    assert a.end is not None and b.start - a.end >= 0.45


# -- size cap -----------------------------------------------------------------------------------


def test_oversized_body_with_content_length(server: LocalServer) -> None:
    server.static("/big", 200, b"x" * (2 * 2**20), TEXT)
    with pytest.raises(FetchError, match="Content-Length"):
        run(fetch_one(server.url("/big"), ignoring_robots(max_bytes=2**20)))


def test_oversized_body_without_content_length(server: LocalServer) -> None:
    server.on("/big", lambda req: req.reply_chunks(200, [b"x" * 65536] * 32, TEXT))
    with pytest.raises(FetchError, match="larger than"):
        run(fetch_one(server.url("/big"), ignoring_robots(max_bytes=2**20)))


def test_body_at_the_cap_is_accepted(server: LocalServer) -> None:
    server.on("/exact", lambda req: req.reply_chunks(200, [b"x" * 65536] * 16, TEXT))
    cap = run(fetch_one(server.url("/exact"), ignoring_robots(max_bytes=2**20)))
    assert len(cap.body) == 2**20


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """100 MB of zeros, gzip-compressed to ~100 KB, built without holding the 100 MB."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(2**20)
    return b"".join([compressor.compress(zeros) for _ in range(100)] + [compressor.flush()])


def test_gzip_bomb_stopped_without_inflating(server: LocalServer, gzip_bomb: bytes) -> None:
    assert len(gzip_bomb) < 2**20
    server.static(
        "/bomb", 200, gzip_bomb, {"Content-Type": "text/html", "Content-Encoding": "gzip"}
    )
    tracemalloc.start()
    try:
        with pytest.raises(FetchError, match="larger than"):
            run(fetch_one(server.url("/bomb"), ignoring_robots(max_bytes=2**20)))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # Inflating even one 64 KB network read of this body at once would take ~64 MB.
    assert peak < 16 * 2**20, f"peak traced memory {peak / 2**20:.1f} MB"


# -- redirects ----------------------------------------------------------------------------------


def test_relative_redirects_resolved(server: LocalServer) -> None:
    server.static("/dir/a", 301, b"", {"Location": "b"})
    server.static("/dir/b", 302, b"", {"Location": "/final?x=1"})
    server.static("/final", 200, b"done", TEXT)
    cap = run(fetch_one(server.url("/dir/a")))
    assert (cap.status, cap.body) == (200, b"done")
    assert cap.url == server.url("/dir/a") and cap.final_url == server.url("/final?x=1")


def test_redirect_loop(server: LocalServer) -> None:
    server.static("/a", 302, b"", {"Location": "/b"})
    server.static("/b", 302, b"", {"Location": "/a"})
    with pytest.raises(FetchError, match="redirect loop"):
        run(fetch_one(server.url("/a"), policy(max_redirects=10)))
    # Caught on the third visit of /a, long before max_redirects.
    assert server.count("/a") == 2 and server.count("/b") == 2


def test_redirect_to_self_after_setting_a_cookie(server: LocalServer) -> None:
    def handler(req: Request) -> None:
        if "seen=1" in req.headers.get("cookie", ""):
            req.reply(200, b"welcome", TEXT)
        else:
            req.reply(302, b"", {"Location": "/consent", "Set-Cookie": "seen=1; Path=/"})

    server.on("/consent", handler)
    cap = run(fetch_one(server.url("/consent")))
    assert (cap.status, cap.body) == (200, b"welcome")


def test_too_many_redirects(server: LocalServer) -> None:
    for n in range(10):
        server.static(f"/r{n}", 302, b"", {"Location": f"/r{n + 1}"})
    with pytest.raises(FetchError, match="redirect"):
        run(fetch_one(server.url("/r0"), policy(max_redirects=3)))
    assert [server.count(f"/r{n}") for n in range(6)] == [1, 1, 1, 1, 0, 0]


@pytest.mark.parametrize("target", ["ftp://127.0.0.1/file", "file:///etc/passwd"])
def test_redirect_to_other_scheme_refused(server: LocalServer, target: str) -> None:
    server.static("/go", 302, b"", {"Location": target})
    with pytest.raises(FetchError, match="scheme"):
        run(fetch_one(server.url("/go")))


@pytest.mark.parametrize(
    ("url", "reason"), [("file:///etc/passwd", "scheme"), ("ftp://example.org/x", "scheme"),
                        ("http:///no-host", "no host")]
)
def test_bad_urls_refused(url: str, reason: str) -> None:
    with pytest.raises(FetchError, match=reason) as info:
        run(fetch_one(url))
    assert not isinstance(info.value, RobotsDisallowed)


# -- routes -------------------------------------------------------------------------------------


def test_routes_keep_platform_urls(server: LocalServer) -> None:
    routes = Routes({"https://platform.example": server.url("/plat")})
    server.static("/plat/robots.txt", 200, b"User-agent: *\nDisallow: /private\n", TEXT)
    # An absolute platform URL in Location is routed too...
    server.static("/plat/x", 302, b"", {"Location": "https://platform.example/y"})
    # ...and a local one is mapped back to the platform's URL space.
    server.static("/plat/y", 301, b"", {"Location": "/plat/z?q=1"})
    server.static("/plat/z", 200, b"zed", TEXT)
    server.static("/plat/private", 200, b"secret")

    async def go() -> Capture:
        async with Fetcher(policy(), routes) as fetcher:
            with pytest.raises(RobotsDisallowed):
                await fetcher.fetch("https://platform.example/private")
            return await fetcher.fetch("https://platform.example/x")

    cap = run(go())
    assert cap.url == "https://platform.example/x"
    assert cap.final_url == "https://platform.example/z?q=1"
    assert cap.body == b"zed"
    assert [server.count(p) for p in ("/plat/robots.txt", "/plat/x", "/plat/y", "/plat/z")] == [
        1, 1, 1, 1
    ]
    assert server.count("/plat/private") == 0


# -- politeness ---------------------------------------------------------------------------------


def _slow(seconds: float):
    def handler(req: Request) -> None:
        time.sleep(seconds)
        req.reply(200, req.path.encode(), TEXT)

    return handler


def test_same_host_is_serialized_with_delay(server: LocalServer) -> None:
    routes = Routes({"https://a.example": server.url("/a")})
    server.on("/a/slow", _slow(0.2))

    async def go() -> None:
        async with Fetcher(policy(min_delay=0.3), routes) as fetcher:
            await asyncio.gather(
                fetcher.fetch("https://a.example/slow?n=1"),
                fetcher.fetch("https://a.example/slow?n=2"),
            )

    run(go())
    first, second = server.hits_for("/a/slow")
    (robots,) = server.hits_for("/a/robots.txt")
    assert first.end is not None and robots.end is not None
    assert first.start - robots.end >= 0.25  # robots.txt counts as a request to the host
    assert second.start - first.end >= 0.25  # min_delay 0.3, minus scheduling slack


def test_different_hosts_overlap_even_when_routed_to_one_server(server: LocalServer) -> None:
    routes = Routes({"https://a.example": server.url("/a"), "https://b.example": server.url("/b")})
    # Each request answers "together" only if the other one arrives while it is still open:
    # serialized requests would time out on the barrier. Robust to scheduling skew.
    barrier = threading.Barrier(2)

    def meet(req: Request) -> None:
        try:
            barrier.wait(timeout=2.0)
            req.reply(200, b"together", TEXT)
        except threading.BrokenBarrierError:
            req.reply(200, b"alone", TEXT)

    server.on("/a/page", meet)
    server.on("/b/page", meet)

    async def go() -> list[Capture]:
        async with Fetcher(policy(min_delay=0.3), routes) as fetcher:
            return await asyncio.gather(
                fetcher.fetch("https://a.example/page"), fetcher.fetch("https://b.example/page")
            )

    assert [cap.body for cap in run(go())] == [b"together", b"together"]
