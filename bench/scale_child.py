"""A child process of the scale benchmark: one measured task, its result as JSON.

`python -m bench.scale_child reconcile DB`    -> {"seconds", "rows", "episodes_created", ...}
`python -m bench.scale_child baseline DB`     -> imports and opens the archive only
`python -m bench.scale_child cli ARGS...`     -> runs `scraper ARGS...` in this process

Every task ends by writing `{"peak_mib": ...}` (with its result) to the file named by
$SCALE_RESULT: the process's own VmHWM (peak resident set of this program's memory map).
Not `ru_maxrss`: on Linux that survives fork+exec and so starts at the parent's size.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def peak_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reconcile(task: str, path: str) -> dict[str, Any]:
    from scraper.archive import Archive

    archive = Archive(path)
    try:
        rows = archive.db.execute("SELECT count(*) FROM platform_episodes").fetchone()[0]
        if task == "baseline":
            return {"seconds": 0.0, "rows": rows}
        podcast = archive.db.execute("SELECT id FROM podcasts").fetchone()[0]
        started = time.perf_counter()
        report = archive.reconcile(podcast)
        seconds = time.perf_counter() - started
        return {"seconds": seconds, "rows": rows, "episodes": report.episodes,
                "episodes_created": report.episodes_created,
                "links_created": report.links_created,
                "platform_episodes_read": report.platform_episodes}
    finally:
        archive.close()


def main(argv: list[str]) -> None:
    result: dict[str, Any] = {}
    try:
        if argv[0] == "cli":
            from scraper.cli import app

            sys.argv = ["scraper", *argv[1:]]
            started = time.perf_counter()
            try:
                app(prog_name="scraper")
            except SystemExit as exit_:
                if exit_.code not in (0, None):
                    raise
            result["seconds"] = time.perf_counter() - started
        else:
            result = reconcile(argv[0], argv[1])
    finally:
        sys.stdout.flush()
        result["peak_mib"] = peak_mib()
        Path(os.environ["SCALE_RESULT"]).write_text(json.dumps(result), "utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
