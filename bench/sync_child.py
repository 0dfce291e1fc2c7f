"""One measured sync in a fresh process (as cron runs it), for the sync benchmark:

    python -m bench.sync_child --port P --sources N --hosts H --db FILE

prints one JSON line: wall seconds, statuses, captures stored, where the time went (parsing,
reconciliation) and peak RSS (VmHWM) above the process's footprint after imports.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import resource
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import scraper.sync as sync_module
from bench.feedserver import feed_path
from scraper.config import parse_config

# Imported up front so the baseline footprint includes them (a sync imports them anyway).
import adapters.rss  # noqa: F401  isort: skip
import scraper.datasette  # noqa: F401  isort: skip
import scraper.fetch  # noqa: F401  isort: skip
import scraper.parsing  # noqa: F401  isort: skip
import scraper.reconcile  # noqa: F401  isort: skip

T = TypeVar("T")


def config(port: int, sources: int, hosts: int, min_delay: float) -> Any:
    return parse_config({
        "podcasts": [
            {"name": f"Bench Show {i}",
             "sources": [{"url": f"https://feeds{i % hosts}.example/show{i}.xml",
                          "platform": "rss"}]}
            for i in range(sources)
        ],
        "routes": {f"https://feeds{k}.example": f"http://127.0.0.1:{port}/h{k}"
                   for k in range(hosts)},
        "fetch": {"min_delay": min_delay, "retries": 1, "timeout": 20.0},
    })


def _timed(spent: Counter, key: str, fn: Callable[..., T]) -> Callable[..., T]:
    """`fn`, adding its wall time to `spent[key]`."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[key] += time.perf_counter() - started

    return wrapper


def _timed_async(spent: Counter, key: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """Coroutine function `fn`, adding the wall time its calls are awaited to `spent[key]`
    (calls awaited at the same time all count: with the parse pool this can exceed wall)."""

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await fn(*args, **kwargs)
        finally:
            spent[key] += time.perf_counter() - started

    return wrapper


def _watch_pool(pools: list[Any]) -> None:
    use = sync_module.use_parse_pool

    @functools.wraps(use)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        pool = use(*args, **kwargs)
        pools.append(pool)
        return pool

    sync_module.use_parse_pool = wrapper


def _release_outcomes() -> None:
    """What-if: drop each source's captures and parsed listing once it is written and
    reported, instead of keeping them all until `finish_run` (which needs only counts)."""
    report = sync_module._report

    @functools.wraps(report)
    def wrapper(source: Any, outcome: Any) -> Any:
        result = report(source, outcome)
        outcome.captures = []
        outcome.listing = None
        return result

    sync_module._report = wrapper


def _captures(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        return conn.execute("select count(*) from captures").fetchone()[0]


def _status_mib(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError):
        pass
    return None


def start_peak() -> float:
    """Current RSS in MiB, with the peak counter reset to it where Linux allows.

    `ru_maxrss` is no use in a child: Linux carries the parent's high-water mark over fork
    and exec, so a big parent hides the child's own peak. VmHWM belongs to this process's
    memory map; writing 5 to clear_refs resets it to the current RSS."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    current = _status_mib("VmRSS")
    return current if current is not None else peak_mib()


def peak_mib() -> float:
    """Peak RSS in MiB of this process (VmHWM), else getrusage's."""
    peak = _status_mib("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--sources", type=int, required=True)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--min-delay", type=float, default=0.2)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--release-outcomes", action="store_true",
                        help="what-if: free each source's bodies and listing once written")
    parser.add_argument("--parse-in-process", action="store_true",
                        help="before/after: parse every page on the event loop (no pool)")
    args = parser.parse_args()
    if args.parse_in_process:
        scraper.parsing.SEND_ABOVE = float("inf")
    pools: list[Any] = []
    _watch_pool(pools)
    if args.release_outcomes:
        _release_outcomes()
    assert feed_path(0, args.hosts) == "/h0/show0.xml"  # the server's layout
    spent: Counter = Counter()
    sync_module.parse_off_loop = _timed_async(spent, "parse", sync_module.parse_off_loop)
    sync_module._reconcile = _timed(spent, "reconcile", sync_module._reconcile)
    cfg = config(args.port, args.sources, args.hosts, args.min_delay)
    captures_before = _captures(args.db)
    baseline = start_peak()
    started = time.perf_counter()
    summary = sync_module.sync(cfg, args.db)
    wall = time.perf_counter() - started
    peak = peak_mib()
    size = sum(p.stat().st_size for p in (args.db, Path(f"{args.db}-wal")) if p.exists())
    print(json.dumps({
        "wall": wall,
        "statuses": dict(Counter(s.status for s in summary.sources)),
        "episodes_new": sum(s.new for s in summary.sources),
        "listed": sum(s.listed or 0 for s in summary.sources),
        "captures_written": _captures(args.db) - captures_before,
        "parse": spent["parse"],
        "parsed_in_workers": sum(pool.sent for pool in pools),
        "reconcile": spent["reconcile"],
        "rss_baseline_mib": baseline,
        "rss_peak_mib": peak,
        "archive_bytes": size,
    }))


if __name__ == "__main__":
    main()
