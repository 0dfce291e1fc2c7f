"""Reports over the reconciled archive: how each platform differs from the canonical picture
(`diff_report`), and what changed on platforms over time (`changes_report`).

Platforms are compared *as of their own capture*: an episode published after a source's
latest good listing was captured is "not yet seen" there, not "missing".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlite_utils

from scraper import reads
from scraper.matching import (
    DATE_TOLERANCE,
    RELATIVE_DATE_TOLERANCE,
    UNUSABLE_DATE_FLAGS,
    normalize_title,
)
from scraper.normalize import is_strict_prefix

GOOD_STATUSES = reads.GOOD_STATUSES
LIST_KEYS = (
    "missing", "not_yet_seen", "beyond_window", "extra", "date_disagreements",
    "title_disagreements", "truncated_descriptions", "republications",
)


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


def _brief(episode: dict[str, Any]) -> dict[str, Any]:
    return {"id": episode["id"], "title": episode["title"], "published": episode["published"]}


def _tolerance(flag: str | None) -> int:
    return RELATIVE_DATE_TOLERANCE if flag == "relative" else DATE_TOLERANCE


def _source_report(
    source: dict[str, Any],
    listing: dict[str, Any] | None,
    episodes: dict[int, dict[str, Any]],
    order: list[int],
    mine: dict[int, list[dict[str, Any]]],
    holders: dict[int, set[int]],
) -> dict[str, Any]:
    """One source against the canonical episodes (`order`: their ids by date). `mine`:
    canonical id -> this source's listed platform rows; `holders`: canonical id -> source
    ids listing it."""
    captured = _day(listing["fetched_at"]) if listing else None
    out: dict[str, Any] = {
        "source_id": source["id"],
        "platform": source["platform"],
        "url": source["url"],
        "listing": listing and {k: listing[k] for k in ("id", "run_id", "status", "fetched_at")},
        "captured_on": captured.isoformat() if captured else None,
        "claimed_count": listing["claimed_count"] if listing else None,
        "listed_count": listing["listed_count"] if listing else None,
        "window": listing["window"] if listing else None,
        "warnings": (listing.get("warnings") or "").split("\n") if listing and
        listing.get("warnings") else [],
        "stored_count": sum(len(rows) for rows in mine.values()),
        "matched": sum(1 for e in mine if len(holders[e]) > 1),
        **{key: [] for key in LIST_KEYS},
    }
    # A windowed listing (the platform shows only its newest N) says nothing about episodes
    # older than the oldest one it reached: those are beyond its window, not missing.
    window_from = _day(listing["window_from"]) if listing and listing["window"] else None
    for episode_id in order:
        episode = episodes[episode_id]
        rows = mine.get(episode_id)
        if not rows:
            if captured is not None:
                when = _day(episode["published"]) or _day(episode["first_seen_at"])
                late = when is not None and when > captured
                beyond = window_from is not None and when is not None and when <= window_from
                key = "not_yet_seen" if late else "beyond_window" if beyond else "missing"
                out[key].append(_brief(episode))
            continue
        if holders[episode_id] == {source["id"]}:
            out["extra"].append(_brief(episode))
        _compare(out, episode, rows)
    out["counts"] = {key: len(out[key]) for key in LIST_KEYS}
    return out


def _compare(out: dict[str, Any], episode: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    """Field disagreements of this source's rows for one canonical episode. With a
    republication, the row closest to the canonical value speaks for the source."""
    canon_day = _day(episode["published"])
    dated = [r for r in rows if r["published"] and r["published_flag"] not in UNUSABLE_DATE_FLAGS]
    if canon_day and dated:
        def off(r: dict[str, Any]) -> int:
            day = _day(r["published"])
            assert day is not None and canon_day is not None  # only dated rows get here
            return (day - canon_day).days

        row = min(dated, key=lambda r: (abs(off(r)), r["id"]))
        days = off(row)
        if abs(days) > _tolerance(row["published_flag"]):
            out["date_disagreements"].append({
                **_brief(episode), "platform_episode_id": row["id"],
                "episode_id": row["episode_id"], "platform_value": row["published"],
                "published_raw": row["published_raw"], "days": days,
            })
    canon_key = normalize_title(episode["title"])
    titled = [r for r in rows if r["title"]]
    if titled and all(normalize_title(r["title"]) != canon_key for r in titled):
        row = titled[0]
        out["title_disagreements"].append({
            **_brief(episode), "platform_episode_id": row["id"],
            "episode_id": row["episode_id"], "platform_value": row["title"],
        })
    for row in rows:
        if row["cut"]:
            out["truncated_descriptions"].append({
                **_brief(episode), "platform_episode_id": row["id"],
                "episode_id": row["episode_id"],
                "length": row["length"],
                "canonical_length": len(episode["description"] or ""),
            })
    if len(rows) > 1:
        out["republications"].append({
            **_brief(episode),
            "platform_episode_ids": [r["id"] for r in rows],
            "episode_ids": [r["episode_id"] for r in rows],
        })


def diff_report(
    db: sqlite_utils.Database,
    podcast: int | str | None = None,
    platforms: list[str] | None = None,
) -> dict[str, Any]:
    """Per podcast and per source, how the platform differs from the canonical episodes.

    Shape (stable)::

        {"generated_at": ISO, "good_statuses": [...],
         "tolerance_days": {"absolute": 1, "relative": 2},
         "podcasts": [{"podcast_id", "podcast", "canonical_episodes",
           "sources": [{"source_id", "platform", "url",
             "listing": {"id", "run_id", "status", "fetched_at"} | null,
             "captured_on": "YYYY-MM-DD" | null,   # date of that listing's first page
             "claimed_count", "listed_count",      # from that listing
             "stored_count",    # platform rows currently listed, linked to an episode
             "matched",         # canonical episodes here that another source also lists
             "window": N | null,   # the platform lists only its newest N (by design)
             "missing": [E],       # published on/before captured_on, not listed here
             "not_yet_seen": [E],  # published after captured_on, not listed here
             "beyond_window": [E], # not listed, and not newer than the oldest episode a
                                   # windowed listing reached: the platform's design
             "extra": [E],         # listed only by this source
             "date_disagreements": [E + {platform_episode_id, episode_id,
                                         platform_value, published_raw, days}],
             "title_disagreements": [E + {platform_episode_id, episode_id, platform_value}],
             "truncated_descriptions": [E + {platform_episode_id, episode_id, length,
                                             canonical_length}],
             "republications": [E + {platform_episode_ids, episode_ids}],
             "counts": {each list above: its length}}]}]}

    E is `{"id", "title", "published"}` of the canonical episode. An episode without a date
    is placed by its `first_seen_at`. Sources without a good listing get empty
    missing/not-yet-seen lists. `platforms` filters the sources shown; presence is always
    judged over all sources of the podcast.
    """
    report = iter_diff_report(db, podcast, platforms)
    podcasts = [{**pod, "sources": list(pod["sources"])} for pod in report["podcasts"]]
    return {**report, "podcasts": podcasts}


def iter_diff_report(
    db: sqlite_utils.Database,
    podcast: int | str | None = None,
    platforms: list[str] | None = None,
) -> dict[str, Any]:
    """`diff_report` with `podcasts` and each podcast's `sources` as generators: one
    source's report is built at a time (see `scraper.jsonstream` to write it as it goes)."""
    report: dict[str, Any] = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "good_statuses": list(GOOD_STATUSES),
        "tolerance_days": {"absolute": DATE_TOLERANCE, "relative": RELATIVE_DATE_TOLERANCE},
        "podcasts": iter(()),
    }
    if db["episodes"].exists():
        report["podcasts"] = (_podcast_report(db, pod, platforms)
                              for pod in reads.podcasts(db, podcast))
    return report


def _podcast_report(
    db: sqlite_utils.Database, pod: dict[str, Any], platforms: list[str] | None
) -> dict[str, Any]:
    episodes = reads.diff_episodes(db, pod["id"])
    return {
        "podcast_id": pod["id"],
        "podcast": pod["name"],
        "canonical_episodes": len(episodes),
        "sources": _sources(db, pod["id"], episodes, platforms),
    }


def _sources(db: sqlite_utils.Database, podcast_id: int, episodes: dict[int, dict[str, Any]],
             platforms: list[str] | None) -> Iterator[dict[str, Any]]:
    holders = reads.holders(db, podcast_id)
    holders = {e: s for e, s in holders.items() if e in episodes}
    order = sorted(episodes, key=lambda i: (episodes[i]["published"] or "", i))
    for source in reads.podcast_sources(db, podcast_id):
        if platforms and source["platform"] not in platforms:
            continue
        listing = reads.latest_good_listing(db, source["id"])
        yield _source_report(source, listing, episodes, order,
                             _mine(db, source["id"], episodes), holders)


def _mine(db: sqlite_utils.Database, source_id: int,
          episodes: dict[int, dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    """This source's rows per canonical episode; the description is read, compared with the
    canonical one (truncation) and dropped, so only one source's small rows are held."""
    mine: dict[int, list[dict[str, Any]]] = {}
    for row in reads.source_rows(db, source_id):
        episode = episodes.get(row["canonical_id"])
        if episode is None:
            continue
        text = row.pop("description")
        supplied = episode["description_source"] == f"{row['platform']}:{row['id']}"
        row["cut"] = bool(row["description_truncated"]) or (
            not supplied and is_strict_prefix(text, episode["description"]))
        row["length"] = len(text or "")
        mine.setdefault(row["canonical_id"], []).append(row)
    return mine


# ---------------------------------------------------------------------------------------------
# Markdown

_COLUMNS = (
    ("platform", "platform"), ("captured", "captured_on"), ("claimed", "claimed_count"),
    ("listed", "listed_count"), ("matched", "matched"),
)
_DETAIL_LIMIT = 20


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: dict[str, Any]) -> str:
    """The diff report as Markdown: a summary table per podcast, then the lists."""
    return "".join(iter_markdown(report)).rstrip() + "\n"


def iter_markdown(report: dict[str, Any]) -> Iterator[str]:
    """`render_markdown` one podcast at a time; of each source only the counts and the
    first lines of each list are kept (all the Markdown shows)."""
    for pod in report["podcasts"]:
        sources = [_brief_source(src) for src in pod["sources"]]
        yield "\n".join(_podcast_markdown({**pod, "sources": sources})) + "\n"


def _brief_source(src: dict[str, Any]) -> dict[str, Any]:
    return {**src, **{key: src[key][:_DETAIL_LIMIT] for key in LIST_KEYS}}


def _podcast_markdown(pod: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    headers = [h for h, _ in _COLUMNS] + [k.replace("_", " ") for k in LIST_KEYS]
    count = pod["canonical_episodes"]
    lines += [f"## {pod['podcast']}", "", f"{count} canonical episodes.", ""]
    lines.append("| " + " | ".join(headers) + " |")
    lines.append("|" + "---|" * len(headers))
    for src in pod["sources"]:
        cells = [_cell(src[k]) for _, k in _COLUMNS]
        cells += [str(src["counts"][k]) for k in LIST_KEYS]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for src in pod["sources"]:
        lines += _details(src)
    return lines


def _details(src: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    if src.get("warnings"):
        lines += [f"### {src['platform']} ({src['url']}): warnings", ""]
        lines += [f"- {_cell(warning)}" for warning in src["warnings"]]
        lines.append("")
    for key in LIST_KEYS:
        items = src[key]
        if not items:
            continue
        lines.append(f"### {src['platform']} ({src['url']}): {key.replace('_', ' ')}")
        lines.append("")
        for item in items[:_DETAIL_LIMIT]:
            extra = ""
            if "platform_value" in item:
                extra = f" — platform says {item['platform_value']!r}"
            lines.append(f"- #{item['id']} {item['published'] or '????-??-??'} "
                         f"{_cell(item['title'])}{extra}")
        total = src["counts"][key]
        if total > _DETAIL_LIMIT:
            lines.append(f"- … and {total - _DETAIL_LIMIT} more")
        lines.append("")
    return lines


# ---------------------------------------------------------------------------------------------
# Changes over time

_RUN = re.compile(r"^(?:run:)?(\d+)$", re.IGNORECASE)


def changes_report(
    db: sqlite_utils.Database,
    since: str | None = None,
    podcast: int | str | None = None,
    platforms: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Platform episode versions, oldest first:

    `[{"platform", "source_url", "podcast", "episode_id", "title", "change", "changes",
    "run_id", "seen_at"}]`

    `change` is added/changed/removed/returned; `changes` is `{field: [old, new]}` (parsed
    JSON). `since` is an ISO date or time (versions seen at or after it) or a run id "3" /
    "run:3" (versions of that run and later). `title` is the episode's current title.
    """
    return list(iter_changes(db, since, podcast=podcast, platforms=platforms))


def iter_changes(
    db: sqlite_utils.Database,
    since: str | None = None,
    podcast: int | str | None = None,
    platforms: list[str] | None = None,
) -> Iterator[dict[str, Any]]:
    """`changes_report` one version at a time (a first sync's versions are every row of the
    archive: `changes --json`/`--csv` write them as they are read)."""
    run_from, seen_from = None, None
    if since:
        run = _RUN.match(since.strip())
        if run:
            run_from = int(run.group(1))
        else:
            seen_from = since.strip()
    for row in reads.version_rows(db, run_from=run_from, seen_from=seen_from, podcast=podcast,
                                  platforms=platforms):
        yield {**row, "changes": json.loads(row["changes"]) if row["changes"] else {}}


# ---------------------------------------------------------------------------------------------
# Drift as items, and what is new since an earlier look (alerts, `diff --fail-on`)

DRIFT_KINDS = ("missing", "date", "title", "new", "failed", "partial")
FAILED_STATUSES = ("failed", "blocked", "layout")


@dataclass(frozen=True)
class DriftItem:
    """One piece of drift, with a `key` that stays the same while the drift lasts:
    `missing:<source>:<episode>`, `date:<source>:<episode>:<platform value>`,
    `title:<source>:<episode>:<platform value>`, `new:<episode>`, `failed:<source>`,
    `partial:<source>`. A date or title that goes wrong differently is new drift."""

    kind: str
    key: str
    podcast_id: int
    podcast: str
    platform: str | None = None
    source_id: int | None = None
    url: str | None = None
    episode_id: int | None = None
    title: str | None = None
    published: str | None = None
    detail: str | None = None


def drift_items(
    db: sqlite_utils.Database, podcast_id: int, kinds: tuple[str, ...] | list[str] = DRIFT_KINDS
) -> list[DriftItem]:
    """The podcast's current drift of the given kinds, as items (diff_report's lists for
    missing/date/title, canonical episodes for new, each source's latest listing status for
    failed/partial)."""
    if not db["episodes"].exists():
        return []
    pod = reads.podcasts(db, podcast_id)
    if not pod:
        return []
    name = pod[0]["name"]
    items: list[DriftItem] = []
    report = _podcast_report(db, pod[0], None)
    lists = {"missing": "missing", "date": "date_disagreements", "title": "title_disagreements"}
    for source in report["sources"]:
        where = {"podcast_id": podcast_id, "podcast": name, "platform": source["platform"],
                 "source_id": source["source_id"], "url": source["url"]}
        for kind, list_key in lists.items():
            if kind not in kinds:
                continue
            for entry in source[list_key]:
                value = entry.get("platform_value")
                key = f"{kind}:{source['source_id']}:{entry['id']}"
                items.append(DriftItem(
                    kind=kind, key=key if value is None else f"{key}:{value}", **where,
                    episode_id=entry["id"], title=entry["title"], published=entry["published"],
                    detail=None if value is None else f"platform says {value!r}"))
    if "new" in kinds:
        for row in reads.listed_episodes(db, podcast_id):
            items.append(DriftItem(kind="new", key=f"new:{row['id']}", podcast_id=podcast_id,
                                   podcast=name, episode_id=row["id"], title=row["title"],
                                   published=row["published"]))
    if "failed" in kinds or "partial" in kinds:
        for row in reads.latest_listing_status(db, podcast_id):
            kind = "failed" if row["status"] in FAILED_STATUSES else row["status"]
            if kind in ("failed", "partial") and kind in kinds:
                items.append(DriftItem(
                    kind=kind, key=f"{kind}:{row['id']}", podcast_id=podcast_id, podcast=name,
                    platform=row["platform"], source_id=row["id"], url=row["url"],
                    detail=f"{row['status']}: {row['error']}" if row["error"] else row["status"]))
    return items


def new_drift(items: list[DriftItem], known: set[str] | frozenset[str]) -> list[DriftItem]:
    """The items whose key is not among `known` (e.g. the keys already alerted, see
    `scraper.reads.alerted_keys`), in their order."""
    return [item for item in items if item.key not in known]
