"""`scraper episode ID|TITLE`: one canonical episode and every platform's listing of it side
by side, with its conflicts and its history.

`episode_record` is the one read query (to move into the archive's read-side module); the
rest is presentation.
"""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils
from rich.console import Console

from scraper.normalize import is_strict_prefix
from scraper.tables import Column, render


class EpisodeNotFound(LookupError):
    """No episode, or several, match; the message says which and what to do."""


def find_episode_id(db: sqlite_utils.Database, wanted: str) -> int:
    """A canonical id from an id or a title (exact, then case-insensitive, then a part)."""
    if wanted.strip().isdigit():
        row = db.execute("SELECT id FROM episodes WHERE id = ?", [int(wanted)]).fetchone()
        if row is None:
            raise EpisodeNotFound(f"no canonical episode #{wanted}; `scraper episodes` "
                                  "lists them")
        return row[0]
    for sql, value in (
        ("SELECT id, title FROM episodes WHERE title = ?", wanted),
        ("SELECT id, title FROM episodes WHERE lower(title) = lower(?)", wanted),
        ("SELECT id, title FROM episodes WHERE title LIKE ? ESCAPE '\\'",
         "%" + wanted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"),
    ):
        rows = db.execute(sql + " AND platforms > 0 ORDER BY published DESC, id DESC",
                          [value]).fetchall()
        if len(rows) == 1:
            return rows[0][0]
        if len(rows) > 1:
            shown = "; ".join(f"#{i} {t}" for i, t in rows[:5])
            more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
            raise EpisodeNotFound(f"{len(rows)} episodes match {wanted!r}: {shown}{more}; "
                                  "give the id")
    raise EpisodeNotFound(f"no canonical episode titled like {wanted!r}; `scraper episodes` "
                          "lists them")


def episode_record(db: sqlite_utils.Database, episode_id: int) -> dict[str, Any]:
    """The canonical row, its platform listings, conflicts and history (oldest first)."""
    episode = next(db.query(
        "SELECT e.*, p.name AS podcast FROM episodes e JOIN podcasts p ON p.id = e.podcast_id "
        "WHERE e.id = ?", [episode_id]))
    listings = list(db.query(
        "SELECT pe.id, pe.platform, pe.episode_id, pe.title, pe.published_raw, pe.published, "
        "pe.published_flag, pe.duration_seconds, pe.description, pe.description_truncated, "
        "pe.url, pe.listed, l.score, l.rule, l.republication FROM episode_links l "
        "JOIN platform_episodes pe ON pe.id = l.platform_episode_id WHERE l.episode_id = ? "
        "ORDER BY pe.platform != 'rss', pe.platform, pe.id", [episode_id]))
    conflicts = [
        {"field": row["field"], "values": json.loads(row["values"]), "detail": row["detail"]}
        for row in db.query('SELECT field, "values", detail FROM conflicts WHERE episode_id = ? '
                            "ORDER BY field", [episode_id])]
    history = [
        {**row, "changes": json.loads(row["changes"]) if row["changes"] else {}}
        for row in db.query(
            "SELECT v.seen_at, v.run_id, pe.platform, pe.episode_id, v.change, v.changes "
            "FROM platform_episode_versions v JOIN episode_links l "
            "ON l.platform_episode_id = v.platform_episode_id "
            "JOIN platform_episodes pe ON pe.id = v.platform_episode_id "
            "WHERE l.episode_id = ? ORDER BY v.seen_at, v.id", [episode_id])]
    return {"episode": episode, "listings": listings, "conflicts": conflicts,
            "history": history}


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
