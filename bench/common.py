"""What every benchmark shares: timing, the result rows, and a description of the machine."""

from __future__ import annotations

import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (
    "selectolax", "beautifulsoup4", "soupsieve", "feedparser", "dateparser", "rapidfuzz",
    "numpy", "sqlite-utils", "httpx", "typer", "rich",
)


class BenchError(RuntimeError):
    """A benchmark could not be measured honestly (e.g. a baseline extracts something else)."""


@dataclass
class Row:
    """One line of the summary table: our figure, the baseline's, and ours against it."""

    case: str
    ours: str
    baseline: str
    ratio: str
    note: str = ""


@dataclass
class Section:
    """One benchmark's results: summary rows, detail markdown, and why we lose where we do."""

    name: str
    title: str
    rows: list[Row] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    slower: list[str] = field(default_factory=list)
    # Product code worth fixing, with the measurement that shows it.
    hotspots: list[str] = field(default_factory=list)
    seconds: float = 0.0


def reset_date_caches(parsers: bool = False) -> None:
    """Forget every date already read (and, with `parsers`, the dateparser parsers built),
    as at the start of a sync process. Whatever caches `scraper.normalize` has today."""
    from scraper import normalize

    for name in ("_parse_date", "_date_parser") if parsers else ("_parse_date",):
        cached = getattr(normalize, name, None)
        if cached is not None and hasattr(cached, "cache_clear"):
            cached.cache_clear()
    for name in ("_ABSOLUTE",):  # plain dict caches
        table = getattr(normalize, name, None)
        if isinstance(table, dict):
            table.clear()


def best_rate(work: Callable[[], int], budget: float, rounds: int = 3) -> float:
    """Items per second: after one untimed warm-up call, the best of `rounds` rounds, each
    repeating `work` (which returns how many items it handled) until its share of `budget`
    seconds is spent."""
    work()
    best = 0.0
    share = budget / rounds
    for _ in range(rounds):
        done = 0
        started = time.perf_counter()
        while True:
            done += work()
            elapsed = time.perf_counter() - started
            if elapsed >= share:
                break
        best = max(best, done / elapsed)
    return best


def times_faster(ours: float, baseline: float) -> str:
    """`ours` and `baseline` are rates (higher is better)."""
    if baseline <= 0 or ours <= 0:
        return "n/a"
    ratio = ours / baseline
    if ratio >= 1:
        return f"{ratio:,.1f}x faster" if ratio < 100 else f"{ratio:,.0f}x faster"
    return f"{1 / ratio:,.2f}x SLOWER"


def fmt_rate(value: float, unit: str) -> str:
    if value >= 100:
        return f"{value:,.0f} {unit}"
    return f"{value:,.1f} {unit}" if value >= 10 else f"{value:,.2f} {unit}"


def fmt_seconds(value: float) -> str:
    if value >= 3600:
        return f"{value / 3600:,.1f} h"
    if value >= 100:
        return f"{value:,.0f} s"
    if value >= 1:
        return f"{value:.2f} s"
    return f"{value * 1000:.1f} ms"


def growth_exponent(sizes: list[float], seconds: list[float]) -> float:
    """Least-squares slope of log(seconds) on log(size): 1 is linear, 2 quadratic."""
    xs = [math.log(s) for s in sizes]
    ys = [math.log(t) for t in seconds]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    num = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    den = sum((x - mx) ** 2 for x in xs)
    return num / den if den else float("nan")


def md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


# --- the machine -------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cores() -> str:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    total = os.cpu_count()
    return f"{usable} usable ({total} online)" if usable and usable != total else str(total)


def memory_total() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except (OSError, ValueError):
        pass
    return "unknown"


def package_versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def git_revision() -> str:
    """The commit measured (read-only git calls), marked when the tree has local edits."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True,
                              capture_output=True, text=True).stdout.strip()
        # The bench's own output files don't count: it writes them before this is read.
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                                ".", ":!bench/RESULTS.md", ":!bench/results.json",
                                ":!bench/sections.json"],
                               cwd=ROOT, check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head} (with uncommitted edits)" if dirty.strip() else head


def machine() -> dict[str, str]:
    import sqlite3

    info = {
        "CPU": cpu_model(),
        "cores": cores(),
        "memory": memory_total(),
        "OS": f"{platform.system()} {platform.release()}",
        "Python": f"{platform.python_implementation()} {sys.version.split()[0]}",
        "SQLite": sqlite3.sqlite_version,
        "commit": git_revision(),
    }
    info["packages"] = ", ".join(f"{k} {v}" for k, v in package_versions().items())
    return info
