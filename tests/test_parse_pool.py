"""Parsing off the event loop: `scraper.parsing.ParsePool` and a sync that uses it."""

from __future__ import annotations

import asyncio
import multiprocessing
import sqlite3
from datetime import UTC, datetime

import pytest
from feeds import FeedServer, items, render
from httpserver import LocalServer

import adapters
import scraper.sync
from scraper.config import parse_config
from scraper.errors import BlockedError, ScraperError
from scraper.fixtures import load_cases
from scraper.models import Capture
from scraper.parsing import ParsePool, parse_capture
from scraper.sync import sync

RSS = adapters.get("rss")


def feed_capture(count: int = 200) -> Capture:
    return Capture(url="https://feeds.example/show.xml", status=200, body=render(items(count)),
                   fetched_at=datetime(2026, 6, 1, tzinfo=UTC),
                   headers={"content-type": "application/rss+xml"})


def test_a_worker_parses_what_the_loop_would() -> None:
    capture = feed_capture()

    async def both():
        pool = ParsePool(workers=1, send_above=0.0)
        try:
            here = await pool.parse(RSS, capture)  # the first page is parsed here and timed
            there = await pool.parse(RSS, capture)
            return here, there, pool.sent, pool.started
        finally:
            pool.close()

    here, there, sent, started = asyncio.run(both())
    assert (sent, started) == (1, True)
    assert there == here == parse_capture(RSS, capture)
    assert len(there.episodes) == 200


def test_the_loop_runs_while_a_worker_parses() -> None:
    """With the pool another coroutine runs before the parse is done; in-process it cannot."""
    capture = feed_capture()

    async def order(send_above: float) -> list[str]:
        pool = ParsePool(workers=1, send_above=send_above)
        events: list[str] = []
        try:
            await pool.parse(RSS, capture)  # learn the cost (and start nothing yet)

            async def parse() -> None:
                await pool.parse(RSS, capture)
                events.append("parsed")

            async def tick() -> None:
                events.append("tick")

            await asyncio.gather(parse(), tick())
            return events
        finally:
            pool.close()

    assert asyncio.run(order(0.0)) == ["tick", "parsed"]
    assert asyncio.run(order(float("inf"))) == ["parsed", "tick"]


def test_errors_come_back_from_the_worker_as_raised() -> None:
    (case,) = [c for c in load_cases() if c.error and c.error["type"] == "BlockedError"
               and c.path.stat().st_size > 1000][:1]  # a page, not an empty refusal
    adapter = adapters.get(case.platform)

    async def parse_twice() -> None:
        pool = ParsePool(workers=1, send_above=0.0)
        try:
            with pytest.raises(BlockedError):
                await pool.parse(adapter, case.capture())  # here
            pool._learn(adapter, case.capture(), 1.0)  # as if it had been slow
            with pytest.raises(BlockedError, match=case.error["match"]):
                await pool.parse(adapter, case.capture())  # there
            assert pool.sent == 1
        finally:
            pool.close()

    asyncio.run(parse_twice())


def test_quick_pages_and_unpicklable_adapters_stay_in_process() -> None:
    class LocalAdapter(type(RSS)):  # defined in a function: cannot be pickled
        pass

    local = LocalAdapter()
    capture = feed_capture(50)

    async def run() -> tuple[int, bool]:
        pool = ParsePool(workers=1, send_above=0.0)
        try:
            for _ in range(3):
                await pool.parse(local, capture)
            quick = ParsePool(workers=1, send_above=60.0)  # nothing takes a minute
            for _ in range(3):
                await quick.parse(RSS, capture)
            assert (quick.sent, quick.started) == (0, False)
            return pool.sent, pool.started
        finally:
            pool.close()

    assert asyncio.run(run()) == (0, False)


def test_close_stops_every_worker() -> None:
    async def run() -> list[multiprocessing.Process]:
        pool = ParsePool(workers=2, send_above=0.0)
        await pool.parse(RSS, feed_capture())
        await pool.parse(RSS, feed_capture())
        workers = list(pool._executor._processes.values())  # type: ignore[union-attr]
        pool.close()
        return workers

    workers = asyncio.run(run())
    assert workers and not any(w.is_alive() for w in workers)


def test_a_sync_parses_big_feeds_in_workers_and_stops_them(tmp_path, monkeypatch) -> None:
    pools: list[ParsePool] = []
    real = scraper.sync.use_parse_pool

    def watched(pool: ParsePool | None = None) -> ParsePool:
        pools.append(real(ParsePool(workers=2, send_above=0.0)))
        return pools[-1]

    monkeypatch.setattr(scraper.sync, "use_parse_pool", watched)
    with LocalServer() as server:
        feeds = FeedServer(server)
        urls = {f"Show {n}": feeds.serve(f"show{n}", render(items(150 + n, prefix=f"S{n}")))
                for n in range(4)}
        config = parse_config({
            "podcasts": [{"name": name, "sources": [{"url": url, "platform": "rss"}]}
                         for name, url in urls.items()],
            "fetch": {"min_delay": 0.0, "retries": 1, "timeout": 10.0, "allow_private": True},
        })
        summary = sync(config, tmp_path / "a.db")
    assert summary.ok
    assert sorted(s.listed for s in summary.sources) == [150, 151, 152, 153]
    (pool,) = pools
    assert pool.sent >= 1 and not pool.started  # used, then closed with the run
    assert multiprocessing.active_children() == []
    with sqlite3.connect(tmp_path / "a.db") as conn:
        assert conn.execute("select count(*) from platform_episodes").fetchone() == (606,)


class DyingAdapter(type(RSS)):  # type: ignore[misc]
    """Parses like RSS, except in a worker process whose parent asked it to die."""

    name = "dying"

    def parse(self, capture: Capture):
        import multiprocessing as mp
        import os

        if capture.url.endswith("die.xml") and mp.parent_process() is not None:
            os._exit(1)  # as a worker killed by the OOM killer
        return super().parse(capture)


def test_a_dead_worker_fails_that_page_only() -> None:
    adapter = DyingAdapter()
    good = feed_capture(100)
    dying = Capture(url="https://feeds.example/die.xml", status=200, body=good.body,
                    fetched_at=good.fetched_at, headers=good.headers)

    async def run() -> tuple[int, int]:
        pool = ParsePool(workers=1, send_above=0.0)
        try:
            await pool.parse(adapter, good)  # here: learns the cost
            with pytest.raises(ScraperError, match="parser process died"):
                await pool.parse(adapter, dying)
            listing = await pool.parse(adapter, good)  # a fresh pool
            return len(listing.episodes), pool.sent
        finally:
            pool.close()

    assert asyncio.run(run()) == (100, 2)
