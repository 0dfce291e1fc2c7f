"""5. Start-up: `scraper --help` against `sqlite-utils --help`, both as console scripts.

Both run through the console scripts pip installed into this interpreter's scripts folder
(the same venv), N times each, interleaved; the median wall time is reported, with a bare
`python -c pass` as the floor every Python CLI pays. sqlite-utils imports numpy when it is
installed (the bench's own extra installs it), which would hand us the lead for nothing: all
three commands run with numpy made unimportable through a `sitecustomize` import blocker
(`bench/without.py`), checked before timing, as on a machine without numpy.
`sqlite-utils --help` with numpy importable is measured too, for reference.
`-X importtime` names the heaviest imports of ours.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

from bench.common import ROOT, BenchError, Row, Section, fmt_seconds, md_table, times_faster
from bench.without import without


def console_script(name: str) -> str:
    path = Path(sysconfig.get_path("scripts"), name)
    if not path.exists():
        raise BenchError(f"no console script {path}: pip install the package first")
    return str(path)


def _once(command: list[str], env: dict[str, str] | None) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, env=env)
    return time.perf_counter() - started


def _numpy_absent(env: dict[str, str]) -> None:
    probe = subprocess.run(
        [sys.executable, "-c", "import sys, sqlite_utils.db, scraper.cli; "
         "print('numpy' in sys.modules)"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    if probe.stdout.strip() != "False":
        raise BenchError("the numpy blocker did not work: sqlite-utils still imported numpy")


def heaviest_imports(command: list[str], env: dict[str, str],
                     top: int = 6) -> list[tuple[str, float]]:
    """Top-level imports by cumulative microseconds, from `python -X importtime`."""
    result = subprocess.run([sys.executable, "-X", "importtime", *command], cwd=ROOT,
                            env=env, check=True, capture_output=True, text=True)
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
    ours_script, theirs_script = console_script("scraper"), console_script("sqlite-utils")
    commands = {
        "scraper --help": [ours_script, "--help"],
        "sqlite-utils --help": [theirs_script, "--help"],
        "python -c pass": [sys.executable, "-c", "pass"],
    }
    with without(["numpy"], [ROOT]) as env:
        _numpy_absent(env)
        plain = {**env, "PYTHONPATH": env["PYTHONPATH"].split(os.pathsep, 1)[1]}
        runs_with = {name: env for name in commands}
        runs_with["sqlite-utils --help, numpy importable"] = plain
        commands["sqlite-utils --help, numpy importable"] = commands["sqlite-utils --help"]
        for name, command in commands.items():  # warm the OS file cache and .pyc files
            _once(command, runs_with[name])
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(runs):
            for name, command in commands.items():
                samples[name].append(_once(command, runs_with[name]))
        heavy_list = heaviest_imports(commands["scraper --help"], env)
    median = {name: statistics.median(values) for name, values in samples.items()}
    ours, theirs, floor = (median["scraper --help"], median["sqlite-utils --help"],
                           median["python -c pass"])
    with_numpy = median["sqlite-utils --help, numpy importable"]
    section.rows.append(Row(
        "start-up: scraper --help", fmt_seconds(ours),
        f"{fmt_seconds(theirs)} (sqlite-utils, no numpy)", times_faster(1 / ours, 1 / theirs),
        f"bare interpreter {fmt_seconds(floor)}; above it: ours {fmt_seconds(ours - floor)}, "
        f"sqlite-utils {fmt_seconds(theirs - floor)}; sqlite-utils with numpy importable "
        f"{fmt_seconds(with_numpy)}",
    ))
    section.details.append(md_table(
        ["command", "median", "min", "max", "runs"],
        [[f"`{name}`", fmt_seconds(median[name]), fmt_seconds(min(values)),
          fmt_seconds(max(values)), str(len(values))] for name, values in samples.items()],
    ))
    section.details.append(
        f"Console scripts: `{ours_script}` and `{theirs_script}`. numpy is installed here "
        "(the `bench` extra); every command but the last runs with it made unimportable by a "
        "`sitecustomize.py` import blocker put first on `PYTHONPATH` (`bench/without.py`; "
        "checked before timing: importing `sqlite_utils.db` and `scraper.cli` leaves numpy "
        "out of `sys.modules`). The bare interpreter pays the same blocker."
    )
    heavy = ", ".join(f"`{name}` {seconds * 1000:,.0f} ms" for name, seconds in heavy_list)
    section.details.append(
        f"Heaviest top-level imports of `scraper --help` (`-X importtime`, cumulative, "
        f"inflated by the tracing itself): {heavy}."
    )
    if ours > theirs:
        section.slower.append(
            f"**start-up**: `scraper --help` {fmt_seconds(ours)} vs `sqlite-utils --help` "
            f"{fmt_seconds(theirs)}, both without numpy; heaviest imports: {heavy}. Typer "
            "builds its help from every command's signature and imports rich to print it, "
            "where sqlite-utils uses click directly; import the rest lazily inside the "
            "commands that need it."
        )
    section.seconds = time.perf_counter() - started
    return section
