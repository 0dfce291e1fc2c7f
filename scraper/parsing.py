"""The one path from a capture to a normalised listing, shared by sync, reparse and
`scraper parse` (so fixtures test exactly what a sync does), and the pool of worker
processes a sync parses in so that fetching goes on while a feed is parsed."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import multiprocessing
import os
import pickle
import signal
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextvars import ContextVar
from multiprocessing import resource_tracker

from adapters.base import Adapter
from scraper.errors import ScraperError
from scraper.models import Capture, Listing
from scraper.normalize import normalize_listing

# A page goes to a worker when parsing it here is expected to take longer than this. The
# round trip (the body there, the listing back) costs 0.3-2 ms, about what selectolax needs
# for a whole HTML page, while feedparser spends ~50 ms on a 100 KiB feed (benchmark 1):
# worth sending are the feeds, not the pages (bench/RESULTS.md, benchmark 4).
SEND_ABOVE = 0.005


def parse_capture(adapter: Adapter, capture: Capture) -> Listing:
    adapter.check_response(capture)
    listing = adapter.parse(capture)
    return normalize_listing(listing, adapter.date_style(capture.url), capture.page_time)


def _timed_parse(adapter: Adapter, capture: Capture) -> tuple[Listing, float]:
    """`parse_capture` and the seconds it took (in a worker: what the pool learns from)."""
    started = time.perf_counter()
    listing = parse_capture(adapter, capture)
    return listing, time.perf_counter() - started


def _worker_start() -> None:
    """Ctrl-C reaches the whole process group: the sync process handles it and stops the
    pool; a worker busy with a feed must not die with a traceback of its own."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class ParsePool:
    """Worker processes for `parse_capture`, started on the first capture worth sending
    (never for a run of quick pages) and stopped by `close()` at the end of the run.

    What is worth sending is measured: each adapter's first page is parsed here and timed;
    its next page goes to a worker when the last page's time per byte, times its size,
    exceeds `send_above` seconds (workers report their times too, so a slow first page that
    was only warming caches does not send every later one).

    Workers are spawned, not forked: the sync process runs threads (the fetcher's, the
    browser's) that a fork would copy mid-flight. An adapter that does not pickle (one made
    up inside a test, say) is parsed in-process instead."""

    def __init__(self, workers: int | None = None, send_above: float | None = None) -> None:
        self.workers = workers or usable_cores()
        self.send_above = SEND_ABOVE if send_above is None else send_above
        self._executor: ProcessPoolExecutor | None = None
        self._picklable: dict[int, bool] = {}
        self._cost: dict[str, float] = {}  # adapter name -> seconds per byte, parsed here
        self.sent = 0  # pages parsed in a worker (for the benchmark)
        self._closed = False

    def _sends(self, adapter: Adapter, capture: Capture) -> bool:
        cost = self._cost.get(adapter.name)
        if self._closed or cost is None or cost * len(capture.body) < self.send_above:
            return False
        known = self._picklable.get(id(adapter))
        if known is None:
            try:
                pickle.dumps(adapter)
                known = True
            except (pickle.PicklingError, TypeError, AttributeError):
                known = False
            self._picklable[id(adapter)] = known
        return known

    async def parse(self, adapter: Adapter, capture: Capture) -> Listing:
        if not self._sends(adapter, capture):
            started = time.perf_counter()
            try:
                return parse_capture(adapter, capture)
            finally:
                self._learn(adapter, capture, time.perf_counter() - started)
        self.sent += 1
        if self._executor is None:
            global _open_pools
            _open_pools += 1
            self._executor = ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_start)
        loop = asyncio.get_running_loop()
        try:
            listing, seconds = await loop.run_in_executor(
                self._executor, _timed_parse, adapter, capture)
        except BrokenProcessPool:
            # A worker died (killed, out of memory, a crash in a C parser): this page fails
            # like any unparsable page; the next one gets a fresh pool.
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
            _release_tracker()
            raise ScraperError(f"{capture.url}: the parser process died while reading this "
                               "page (out of memory or a crash); the next sync tries again"
                               ) from None
        self._learn(adapter, capture, seconds)
        return listing

    def _learn(self, adapter: Adapter, capture: Capture, seconds: float) -> None:
        if capture.body:
            self._cost[adapter.name] = seconds / len(capture.body)

    @property
    def started(self) -> bool:
        return self._executor is not None

    def close(self) -> None:
        self._closed = True
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
            _release_tracker()


_open_pools = 0  # pools whose workers run in this process


def _release_tracker() -> None:
    """Spawned workers share their queues' semaphores through multiprocessing's resource
    tracker, a helper process that otherwise lives as long as this one: stop it once no
    pool runs (the next pool starts a new one)."""
    global _open_pools
    _open_pools -= 1
    if _open_pools == 0:
        gc.collect()  # the queues' semaphores unregister when collected
        with contextlib.suppress(Exception):
            resource_tracker._resource_tracker._stop()  # type: ignore[attr-defined]


_POOL: ContextVar[ParsePool | None] = ContextVar("parse_pool", default=None)


def use_parse_pool(pool: ParsePool | None = None) -> ParsePool:
    """Make `pool` (a new one by default) the one every `parse_off_loop` of the current
    context uses, and the tasks started from it; the caller closes it at the end of the run.
    (Each `asyncio.run` has a context of its own, so a run never sees another's pool.)"""
    pool = pool or ParsePool()
    _POOL.set(pool)
    return pool


async def parse_off_loop(adapter: Adapter, capture: Capture) -> Listing:
    """`parse_capture` in the current run's pool when there is one, else right here."""
    pool = _POOL.get()
    if pool is None:
        return parse_capture(adapter, capture)
    return await pool.parse(adapter, capture)
