"""Alerts on drift, through Apprise (every notification service behind one URL syntax).

After each sync (`notify_after_sync`, called by `scraper.sync` once the run is closed) and on
`scraper notify`, each podcast the run touched is checked: its current drift of the kinds in
`[notify] on` (`scraper.drift.drift_items`) minus what was already alerted (`alerts_sent`)
is the new drift. A podcast with new drift gets one message, grouped by kind, with counts
per platform, the first few episodes of each kind and, with `serve_url`, links to the
Datasette reports. Nothing new, no message: an unchanged re-sync sends nothing.

Bookkeeping: keys of drift that is gone are dropped from `alerts_sent`, so drift that comes
back is alerted again. New keys are recorded once at least one URL took the message; when
none did, they stay unrecorded and the next run tries again. A failed notification is one
log line (logger `scraper.notify`) and never fails the sync.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import sqlite_utils

from scraper import reads
from scraper.config import NotifyConfig
from scraper.drift import DriftItem, drift_items, new_drift

if TYPE_CHECKING:
    from scraper.archive import Archive

log = logging.getLogger("scraper.notify")

FIRST_FEW = 5
# Per kind: (one, several).
HEADINGS = {
    "missing": ("missing", "missing"),
    "date": ("date disagreement", "date disagreements"),
    "title": ("title disagreement", "title disagreements"),
    "new": ("new episode", "new episodes"),
    "failed": ("failed source", "failed sources"),
    "partial": ("partial listing", "partial listings"),
}


def _heading(kind: str, count: int) -> str:
    return HEADINGS[kind][count != 1]
# Datasette pages behind each kind (canned queries in data/metadata.json, tables).
REPORTS = {
    "missing": "{db}/missing_per_platform?podcast={podcast}",
    "date": "{db}/date_conflicts?podcast={podcast}",
    "title": "{db}/coverage_matrix?podcast={podcast}",
    "new": "{db}/episodes?podcast_id={podcast_id}&_sort_desc=id",
    "failed": "{db}/listings?_sort_desc=id",
    "partial": "{db}/listings?_sort_desc=id",
}


@dataclass
class Alert:
    """One message for one podcast."""

    podcast_id: int
    podcast: str
    items: list[DriftItem]
    title: str = ""
    body: str = ""
    resolved: list[str] = field(default_factory=list)


@dataclass
class Delivery:
    delivered: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.delivered > 0


# ---------------------------------------------------------------------------------------------
# Bookkeeping: alerts_sent is read through scraper.reads, written by Archive.record_alerts


def record(archive: Archive, alert: Alert, run_id: int | None, *, sent: bool) -> None:
    """Forget drift that is gone; with `sent`, remember the alerted items."""
    items = alert.items if sent else []
    archive.record_alerts(
        alert.podcast_id, alert.resolved,
        [(i.key, i.kind, i.source_id, i.episode_id) for i in items], run_id)


# ---------------------------------------------------------------------------------------------
# Planning and writing the messages


def plan(db: sqlite_utils.Database, podcast_id: int, settings: NotifyConfig, *,
         db_name: str = "archive") -> Alert:
    """The podcast's new drift as one message (no items: nothing to send)."""
    current = drift_items(db, podcast_id, settings.on)
    known = reads.alerted_keys(db, podcast_id)
    fresh = new_drift(current, known)
    name = current[0].podcast if current else _podcast_name(db, podcast_id)
    alert = Alert(podcast_id=podcast_id, podcast=name, items=fresh,
                  resolved=sorted(known - {i.key for i in current}))
    if fresh:
        alert.title, alert.body = render(alert, settings.serve_url, db_name)
    return alert


def _podcast_name(db: sqlite_utils.Database, podcast_id: int) -> str:
    return reads.podcast_name(db, podcast_id) or f"podcast {podcast_id}"


def _line(item: DriftItem) -> str:
    where = f"{item.platform}: " if item.platform else ""
    if item.episode_id is None:
        return f"- {where}{item.url} ({item.detail})"
    detail = f" — {item.detail}" if item.detail else ""
    return f"- {where}{item.published or '????-??-??'} {item.title} (#{item.episode_id}){detail}"


def render(alert: Alert, serve_url: str | None, db_name: str) -> tuple[str, str]:
    """Title and Markdown body: per kind its count, per platform counts, the first few."""
    by_kind: dict[str, list[DriftItem]] = {}
    for item in alert.items:
        by_kind.setdefault(item.kind, []).append(item)
    summary = ", ".join(f"{len(v)} {_heading(k, len(v))}" for k, v in by_kind.items())
    title = f"{alert.podcast}: {summary}"
    lines = [f"New drift for **{alert.podcast}** since the last check:", ""]
    for kind, items in by_kind.items():
        platforms = Counter(i.platform for i in items if i.platform)
        per = f" ({', '.join(f'{p} {n}' for p, n in sorted(platforms.items()))})" \
            if platforms else ""
        lines.append(f"**{_heading(kind, len(items))}**: {len(items)}{per}")
        lines += [_line(i) for i in items[:FIRST_FEW]]
        if len(items) > FIRST_FEW:
            lines.append(f"- … and {len(items) - FIRST_FEW} more")
        if serve_url:
            page = REPORTS[kind].format(db=quote(db_name), podcast=quote(alert.podcast),
                                        podcast_id=alert.podcast_id)
            lines.append(f"Report: {serve_url}/{page}")
        lines.append("")
    return title, "\n".join(lines).rstrip() + "\n"


def send(urls: Iterable[str], title: str, body: str) -> Delivery:
    """Send to each URL on its own, so one dead service does not hide the others."""
    import apprise

    delivery = Delivery()
    for url in urls:
        target = apprise.Apprise()
        if not target.add(url):
            delivery.errors.append(f"{_redact(url)}: not an Apprise URL Apprise can use")
            continue
        with apprise.LogCapture(level=logging.WARNING) as output:
            ok = bool(target.notify(body=body, title=title,
                                    body_format=apprise.NotifyFormat.MARKDOWN))
        if ok:
            delivery.delivered += 1
        else:
            reason = output.getvalue().strip().splitlines()
            last = reason[-1].split(" - ", 2)[-1] if reason else "no reason given"
            delivery.errors.append(f"{_redact(url)}: {last}")
    return delivery


def _redact(url: str) -> str:
    """Scheme and host only: Apprise URLs often carry passwords or tokens."""
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    return f"{scheme}://{host}/…"


# ---------------------------------------------------------------------------------------------
# Entry points


def notify_podcasts(archive: Archive, settings: NotifyConfig,
                    podcast_ids: Iterable[int], *, run_id: int | None = None,
                    db_name: str = "archive") -> list[tuple[Alert, Delivery | None]]:
    """Plan, send and record the alert of each podcast. Returns what happened per podcast
    (Delivery None: nothing new to send)."""
    results = []
    for podcast_id in sorted(set(podcast_ids)):
        alert = plan(archive.db, podcast_id, settings, db_name=db_name)
        delivery = send(settings.urls, alert.title, alert.body) if alert.items else None
        for error in delivery.errors if delivery else []:
            log.warning("notify: %s: alert not delivered to %s", alert.podcast, error)
        record(archive, alert, run_id, sent=bool(delivery and delivery.ok))
        results.append((alert, delivery))
    return results


def notify_after_sync(archive: Archive, settings: NotifyConfig | None,
                      podcast_ids: Iterable[int], *, run_id: int, db_name: str) -> None:
    """The sync's hook: alerts for the podcasts the run touched; never raises."""
    if settings is None:
        return
    try:
        notify_podcasts(archive, settings, podcast_ids, run_id=run_id, db_name=db_name)
    except Exception as error:  # an alert must never fail the sync it reports on
        log.warning("notify: alerts skipped after run %s: %s: %s", run_id,
                    type(error).__name__, error)


def send_test(settings: NotifyConfig) -> Delivery:
    """`scraper notify --test`: a sample message to every URL."""
    sample = Alert(podcast_id=0, podcast="Sample Podcast", items=[
        DriftItem(kind="missing", key="missing:0:0", podcast_id=0, podcast="Sample Podcast",
                  platform="castbox", source_id=0, episode_id=0, title="A sample episode",
                  published="2026-01-01"),
        DriftItem(kind="failed", key="failed:0", podcast_id=0, podcast="Sample Podcast",
                  platform="audible", source_id=0, url="https://www.audible.com/podcast/x",
                  detail="blocked: captcha"),
    ])
    title, body = render(sample, settings.serve_url, "archive")
    return send(settings.urls, f"[test] {title}",
                "This is a test of scraper's alerts; real ones look like this.\n\n" + body)


def summary_json(results: list[tuple[Alert, Delivery | None]]) -> list[dict[str, Any]]:
    return [{"podcast": alert.podcast, "new": len(alert.items),
             "kinds": dict(Counter(i.kind for i in alert.items)),
             "resolved": len(alert.resolved),
             "delivered": delivery.delivered if delivery else 0,
             "errors": delivery.errors if delivery else []}
            for alert, delivery in results]
