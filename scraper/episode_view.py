"""`scraper episode ID|TITLE`: one canonical episode and every platform's listing of it side
by side, with its conflicts and its history.

The reads (finding the episode, its record) are in scraper.reads; this is presentation.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console

from scraper.normalize import is_strict_prefix
from scraper.tables import Column, render


def to_json(record: dict[str, Any]) -> dict[str, Any]:
    """The record with descriptions measured: length and whether cut, per listing."""
    canonical = record["episode"]["description"]
    listings = []
    for row in record["listings"]:
        text = row.pop("description")
        row["description_length"] = len(text or "")
        row["description_cut"] = bool(row["description_truncated"]) or (
            text is not None and is_strict_prefix(text, canonical))
        listings.append(row)
    episode = dict(record["episode"])
    rows = {row["id"]: row for row in listings}
    for field in ("title", "published", "duration", "description"):
        # Provenance as the platform and its own id, not our row id ("rss:210").
        source = episode.get(f"{field}_source") or ""
        row = rows.get(int(source.partition(":")[2])) if source.partition(":")[2].isdigit() \
            else None
        episode[f"{field}_from"] = f"{row['platform']} {row['episode_id']}" if row else source
    return {**record, "episode": episode, "listings": listings}


def _date(row: dict[str, Any]) -> str:
    read = row["published"] or "unreadable"
    return f"{read} ({row['published_flag']})" if row["published_flag"] else read


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


LISTING_COLUMNS = (
    Column("platform", "platform"),
    Column("date printed", "published_raw", priority=2, wrap=True),
    Column("date read", _date),
    Column("duration", lambda r: _duration(r["duration_seconds"]), right=True),
    Column("description", lambda r: f"{r['description_length']} chars"
           + (" (cut)" if r["description_cut"] else ""), priority=1),
    Column("title", "title", priority=3, wrap=True),
    Column("id", "episode_id", priority=4, wrap=True),
    Column("url", "url", priority=5, wrap=True),
)


def render_text(data: dict[str, Any], console: Console) -> None:
    episode = data["episode"]
    for label, value in (
        ("episode", f"#{episode['id']} {episode['title']}"),
        ("podcast", episode["podcast"]),
        ("published", f"{episode['published'] or '-'} (from {episode['published_from']})"),
        ("duration", f"{_duration(episode['duration_seconds'])} "
                     f"(from {episode['duration_from']})"),
        ("description", f"{len(episode['description'] or '')} chars "
                        f"(from {episode['description_from']})"),
        ("platforms", str(episode["platforms"])),
    ):
        console.print(f"{label}: {value}", highlight=False, soft_wrap=True, markup=False)
    render(data["listings"], LISTING_COLUMNS, console=console,
           title=f"{len(data['listings'])} platform listings")
    for conflict in data["conflicts"]:
        values = ", ".join(f"{v['platform']} {v.get('value')}" for v in conflict["values"])
        console.print(f"conflict {conflict['field']}: {conflict['detail']} ({values})",
                      highlight=False, soft_wrap=True, markup=False)
    if not data["conflicts"]:
        console.print("conflicts: none", highlight=False)
    console.print(f"history ({len(data['history'])}):", highlight=False)
    for item in data["history"]:
        fields = ", ".join(f"{k}: {v[0]!r} -> {v[1]!r}" for k, v in item["changes"].items()
                           if item["change"] != "added")
        console.print(f"  {item['seen_at']} run {item['run_id']} {item['platform']} "
                      f"{item['change']}" + (f" ({fields})" if fields else ""),
                      highlight=False, soft_wrap=True, markup=False)
