"""Choosing each canonical field from a cluster's platform episodes, with provenance, and
the disagreements worth keeping as conflicts."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any

from scraper.matching import PUBLISHER, Cluster, Item, normalize_title
from scraper.normalize import clean_title, is_strict_prefix


def _first(items: Iterable[Item]) -> Item | None:
    return min(items, key=lambda m: m.order, default=None)


def _majority(items: list[Item], value) -> Item | None:
    """The member carrying the value most platforms agree on (fixed order breaks ties)."""
    platforms: dict[Any, set[str]] = defaultdict(set)
    for item in items:
        platforms[value(item)].add(item.platform)
    if not platforms:
        return None
    first_seen = {value(m): m.order for m in sorted(items, key=lambda m: m.order, reverse=True)}
    best = min(platforms, key=lambda v: (-len(platforms[v]), first_seen[v]))
    return _first(m for m in items if value(m) == best)


def _pick_title(members: list[Item]) -> Item | None:
    titled = [m for m in members if m.title]
    publisher = [m for m in titled if m.platform == PUBLISHER]
    return _first(publisher) if publisher else _majority(titled, lambda m: m.tkey)


def _pick_date(members: list[Item]) -> Item | None:
    usable = [m for m in members if m.usable_date]
    absolute = [m for m in usable if m.flag is None]
    publisher = [m for m in absolute if m.platform == PUBLISHER]
    if publisher:
        return _first(publisher)
    return _majority(absolute or usable, lambda m: m.usable_date)


def _pick_duration(members: list[Item]) -> Item | None:
    timed = [m for m in members if m.duration is not None]
    return min(
        timed,
        key=lambda m: (m.precision or 60, m.platform != PUBLISHER, m.order),
        default=None,
    )


def _is_cut(item: Item, others: list[Item]) -> bool:
    if item.truncated:
        return True
    for other in others:
        # Cheap screen before the exact check: same opening and a longer text.
        if (
            other is not item
            and len(other.desc_key) > len(item.desc_key)
            and other.desc_key[:40] == item.desc_key[:40]
            and is_strict_prefix(item.description, other.description)
        ):
            return True
    return False


def _pick_description(members: list[Item]) -> tuple[Item | None, bool]:
    described = [m for m in members if m.description]
    complete = [m for m in described if not _is_cut(m, described)]
    publisher = [m for m in complete if m.platform == PUBLISHER]
    if publisher:
        return _first(publisher), False
    pool = complete or described
    best = min(pool, key=lambda m: (-len(m.description or ""), m.order), default=None)
    return best, bool(best) and not complete


def canonical_row(cluster: Cluster) -> dict[str, Any]:
    members = cluster.members
    title, when, length = _pick_title(members), _pick_date(members), _pick_duration(members)
    text, cut = _pick_description(members)
    seen = [m.first_seen_at for m in members if m.first_seen_at]
    return {
        "podcast_id": cluster.podcast_id,
        "title": clean_title(title.title) if title else None,
        "title_source": title.ref if title else None,
        "published": when.usable_date.isoformat() if when and when.usable_date else None,
        "published_source": when.ref if when else None,
        "duration_seconds": length.duration if length else None,
        "duration_source": length.ref if length else None,
        "description": text.description if text else None,
        "description_source": text.ref if text else None,
        "description_truncated": int(cut),
        "platforms": len({m.platform for m in members}),
        "first_seen_at": min(seen) if seen else None,
        "key": cluster.key,
    }


def _values(members: list[Item], value) -> str:
    rows = [
        {"platform": m.platform, "platform_episode_id": m.id, "value": value(m)}
        for m in sorted(members, key=lambda m: m.order)
    ]
    return json.dumps(rows, ensure_ascii=False)


def _closest_per_source(members: list[Item], distance) -> list[Item]:
    """One representative per source, so a republication's own date is not a conflict."""
    best: dict[int, Item] = {}
    for member in sorted(members, key=lambda m: m.order):
        current = best.get(member.source_id)
        if current is None or distance(member) < distance(current):
            best[member.source_id] = member
    return list(best.values())


def _days_off(member: Item, canon: date) -> int:
    assert member.usable_date is not None  # callers pass dated members only
    return (member.usable_date - canon).days


def cluster_conflicts(cluster: Cluster, row: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """{field: (values JSON, detail)} where sources disagree beyond tolerance."""
    members, out = cluster.members, {}
    if row["published"]:
        canon = date.fromisoformat(row["published"])
        dated = [m for m in members if m.usable_date]
        reps = _closest_per_source(dated, lambda m: abs(_days_off(m, canon)))
        off = [m for m in reps if abs(_days_off(m, canon)) > m.tolerance]
        if off:
            detail = "; ".join(
                f"{m.platform} {m.usable_date} "
                f"({_days_off(m, canon):+d} d, tolerance {m.tolerance})"
                for m in off
            )
            value = lambda m: m.published.isoformat() if m.published else None  # noqa: E731
            out["published"] = (_values(members, value), f"canonical {canon}: {detail}")
    canon_key = normalize_title(row["title"])
    titled = [m for m in members if m.title]
    reps = _closest_per_source(titled, lambda m: m.tkey != canon_key)
    if len({m.tkey for m in reps}) > 1:
        others = sorted({m.tkey for m in reps if m.tkey != canon_key})
        out["title"] = (
            _values(titled, lambda m: m.title),
            f"normalised titles differ from {canon_key!r}: {others}",
        )
    if row["duration_seconds"] is not None:
        canon_s = row["duration_seconds"]
        source = next(m for m in members if m.ref == row["duration_source"])
        timed = [m for m in members if m.duration is not None]
        reps = _closest_per_source(timed, lambda m: abs(m.duration - canon_s))
        off = [
            m for m in reps
            if abs(m.duration - canon_s) > max(m.precision or 60, source.precision or 60)
        ]
        if off:
            detail = "; ".join(f"{m.platform} {m.duration - canon_s:+d} s" for m in off)
            out["duration_seconds"] = (
                _values(timed, lambda m: m.duration),
                f"canonical {canon_s} s: {detail}",
            )
    return out


# ---------------------------------------------------------------------------------------------
# Database


