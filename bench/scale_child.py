"""A child process of the scale benchmark: one measured task, its result as JSON on stdout.

`python -m bench.scale_child reconcile DB` -> {"seconds", "rows", "episodes_created", ...}
`python -m bench.scale_child baseline DB`  -> imports and opens the archive only.
"""

from __future__ import annotations

import json
import sys
import time

from scraper.archive import Archive


def main(task: str, path: str) -> dict:
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


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2])))
