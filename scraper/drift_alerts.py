"""`scraper diff --fail-on KINDS`: which drift is new since the previous check, for cron.

Each check records the drift it saw in the archive's `drift_reported` table; drift not in
there is new. The first check of an archive only records (a baseline): a cron job does not
fail on drift the user has already been shown by every `scraper diff`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from scraper.archive import now_iso

KINDS = ("missing", "date", "title", "new")
_LISTS = {"missing": "missing", "date": "date_disagreements", "title": "title_disagreements"}


@dataclass(frozen=True)
class Drift:
    key: str
    kind: str
    podcast_id: int
    line: str


def parse_kinds(text: str) -> list[str]:
    """'missing,date' -> ['missing', 'date']; ValueError naming the unknown ones."""
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise ValueError(f"--fail-on takes a comma-separated list of {', '.join(KINDS)}; "
                         f"got {text!r}")
    return kinds


def current_drift(db: sqlite_utils.Database, report: dict[str, Any], kinds: list[str]
                  ) -> Iterator[Drift]:
    for pod in report["podcasts"]:
        for src in pod["sources"]:
            for kind in kinds:
                if kind not in _LISTS:
                    continue
                for item in src[_LISTS[kind]]:
                    value = item.get("platform_value", "")
                    yield Drift(f"{kind}:{src['source_id']}:{item['id']}:{value}", kind,
                                pod["podcast_id"],
                                f"{kind} on {src['platform']}: #{item['id']} {item['title']}"
                                + (f" (platform says {value!r})" if value else ""))
        if "new" in kinds:
            for row in db.query("SELECT id, title FROM episodes WHERE podcast_id = ? "
                                "AND platforms > 0", [pod["podcast_id"]]):
                yield Drift(f"new:{row['id']}", "new", pod["podcast_id"],
                            f"new episode: #{row['id']} {row['title']}")


def new_since_last_check(db: sqlite_utils.Database, report: dict[str, Any],
                         kinds: list[str]) -> list[Drift]:
    """Record the drift of `kinds` in `report`; return what the previous checks had not
    seen (nothing on a podcast's first check, which is the baseline)."""
    seen = {row["key"]: row["kind"] for row in db.query("SELECT key, kind FROM drift_reported")}
    baseline_kinds = {(row["podcast_id"], row["kind"]) for row in db.query(
        "SELECT DISTINCT podcast_id, kind FROM drift_reported")}
    drift = list(current_drift(db, report, kinds))
    new = [d for d in drift if d.key not in seen and (d.podcast_id, d.kind) in baseline_kinds]
    stamp = now_iso()
    with db.conn:
        db["drift_reported"].insert_all(
            [{"key": d.key, "kind": d.kind, "podcast_id": d.podcast_id,
              "first_reported_at": stamp} for d in drift if d.key not in seen],
            ignore=True)
        # A marker per podcast and kind: the baseline exists even when there was no drift.
        markers = {(pod["podcast_id"], kind) for pod in report["podcasts"] for kind in kinds}
        db["drift_reported"].insert_all(
            [{"key": f"baseline:{pid}:{kind}", "kind": kind, "podcast_id": pid,
              "first_reported_at": stamp} for pid, kind in sorted(markers)],
            ignore=True)
    return new
