"""5. Start-up: `scraper --help` against `sqlite-utils --help`.

Both run the way their console scripts do (`python -m <package> --help`: same interpreter,
no shell shim in front), N times each, interleaved; the median wall time is reported, with
a bare `python -c pass` as the floor every Python CLI pays. `-X importtime` names the
heaviest imports of ours.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from bench.common import ROOT, Row, Section, fmt_seconds, md_table, times_faster

COMMANDS = {
    "scraper --help": [sys.executable, "-m", "scraper", "--help"],
    "sqlite-utils --help": [sys.executable, "-m", "sqlite_utils", "--help"],
    "python -c pass": [sys.executable, "-c", "pass"],
}


def _once(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - started


def heaviest_imports(command: list[str], top: int = 6) -> list[tuple[str, float]]:
    """Top-level imports by cumulative microseconds, from `python -X importtime`."""
    result = subprocess.run([command[0], "-X", "importtime", *command[1:]], cwd=ROOT,
                            check=True, capture_output=True, text=True)
    found = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|")
        if cumulative.strip().isdigit() and not name.startswith("  "):  # top level only
            found.append((name.strip(), int(cumulative) / 1e6))
    return sorted(found, key=lambda item: -item[1])[:top]


def run(quick: bool = False) -> Section:
    started = time.perf_counter()
    runs = 5 if quick else 15
    section = Section("startup", "5. Start-up: `scraper --help`")
    for command in COMMANDS.values():  # warm the OS file cache and .pyc files
        _once(command)
    samples: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(runs):
        for name, command in COMMANDS.items():
            samples[name].append(_once(command))
    median = {name: statistics.median(values) for name, values in samples.items()}
    ours, theirs, floor = (median["scraper --help"], median["sqlite-utils --help"],
                           median["python -c pass"])
    section.rows.append(Row(
        "start-up: scraper --help", fmt_seconds(ours), f"{fmt_seconds(theirs)} (sqlite-utils)",
        times_faster(1 / ours, 1 / theirs),
        f"bare interpreter {fmt_seconds(floor)}; above it: ours {fmt_seconds(ours - floor)}, "
        f"sqlite-utils {fmt_seconds(theirs - floor)}",
    ))
    section.details.append(md_table(
        ["command", "median", "min", "max", "runs"],
        [[f"`{name}`", fmt_seconds(median[name]), fmt_seconds(min(values)),
          fmt_seconds(max(values)), str(len(values))] for name, values in samples.items()],
    ))
    heavy = ", ".join(f"`{name}` {seconds * 1000:,.0f} ms"
                      for name, seconds in heaviest_imports(COMMANDS["scraper --help"]))
    section.details.append(
        f"Heaviest top-level imports of `scraper --help` (`-X importtime`, cumulative, "
        f"inflated by the tracing itself): {heavy}."
    )
    if ours > theirs:
        section.slower.append(
            f"**start-up**: `scraper --help` {fmt_seconds(ours)} vs sqlite-utils "
            f"{fmt_seconds(theirs)}; heaviest imports: {heavy}. Import those lazily, inside "
            "the commands that need them (the help screen needs only typer)."
        )
    section.seconds = time.perf_counter() - started
    return section
