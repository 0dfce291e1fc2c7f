"""`scraper diff --fail-on KINDS`: which drift is new since the previous check, for cron.

The drift itself is scraper.drift.drift_items (the same items `[notify]` alerts on); each
check records the keys it saw in the archive's `drift_reported` table (apart from
`alerts_sent`: a cron check and the alerts are two readers), and drift whose key is not in
there is new. The first check of a podcast and kind only records (a baseline): a cron job
does not fail on drift every `scraper diff` has already shown.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from scraper.archive import now_iso, record_drift_reported
from scraper.drift import DRIFT_KINDS, DriftItem, drift_items, new_drift
from scraper.reads import drift_reported_keys


def parse_kinds(text: str) -> list[str]:
    """'missing,date' -> ['missing', 'date']; ValueError naming the accepted kinds."""
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in DRIFT_KINDS]
    if unknown or not kinds:
        raise ValueError(f"--fail-on takes a comma-separated list of {', '.join(DRIFT_KINDS)}; "
                         f"got {text!r}")
    return kinds


def describe(item: DriftItem) -> str:
    where = f" on {item.platform}" if item.platform else ""
    what = f": #{item.episode_id} {item.title}" if item.episode_id is not None else ""
    detail = f" ({item.detail})" if item.detail else ""
    return f"{item.kind}{where}{what}{detail}"


def new_since_last_check(db: sqlite_utils.Database, report: dict[str, Any],
                         kinds: list[str]) -> list[DriftItem]:
    """Record the drift of `kinds` for the podcasts in `report`; return what the previous
    checks had not seen (nothing for a podcast and kind checked for the first time)."""
    seen = drift_reported_keys(db)
    new: list[DriftItem] = []
    rows: list[dict[str, Any]] = []
    stamp = now_iso()
    for pod in report["podcasts"]:
        pid = pod["podcast_id"]
        items = drift_items(db, pid, kinds)
        baselined = {kind for kind in kinds if f"baseline:{pid}:{kind}" in seen}
        new += [item for item in new_drift(items, seen) if item.kind in baselined]
        rows += [{"key": item.key, "kind": item.kind, "podcast_id": pid,
                  "first_reported_at": stamp} for item in items if item.key not in seen]
        # A marker per podcast and kind: the baseline exists even when there was no drift.
        rows += [{"key": f"baseline:{pid}:{kind}", "kind": kind, "podcast_id": pid,
                  "first_reported_at": stamp} for kind in kinds]
    record_drift_reported(db, rows)
    return new
