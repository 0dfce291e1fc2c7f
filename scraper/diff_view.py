"""How `scraper diff` shows its report: what needs attention first.

The few missing episodes and disagreements come before everything else; "not yet seen"
(published after a platform's capture: normal lag, often hundreds) is summarised as counts
unless asked for (`--all`). Terminal, plain-text (pipe), Markdown and CSV renderings share
that order. The report itself is drift.diff_report's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rich.console import Console

from scraper.tables import Column, render

# Lists in the order they matter; beyond_window (a platform that lists only its newest N)
# and not_yet_seen last, the latter only as a count by default.
ORDER = (
    "missing", "date_disagreements", "title_disagreements", "extra", "republications",
    "truncated_descriptions", "beyond_window", "not_yet_seen",
)
LABELS = {key: key.replace("_", " ") for key in ORDER}
DETAIL_LIMIT = 20

SUMMARY = (
    Column("platform", "platform"),
    Column("missing", lambda s: s["counts"]["missing"], right=True),
    Column("date", lambda s: s["counts"]["date_disagreements"], priority=1, right=True),
    Column("title", lambda s: s["counts"]["title_disagreements"], priority=1, right=True),
    Column("extra", lambda s: s["counts"]["extra"], priority=2, right=True),
    Column("repub", lambda s: s["counts"]["republications"], priority=3, right=True),
    Column("cut", lambda s: s["counts"]["truncated_descriptions"], priority=3, right=True),
    Column("not yet seen", lambda s: s["counts"]["not_yet_seen"], priority=2, right=True),
    Column("beyond window", lambda s: s["counts"].get("beyond_window"), priority=4,
           right=True),
    Column("listed", "listed_count", priority=1, right=True),
    Column("claimed", "claimed_count", priority=2, right=True),
    Column("matched", "matched", priority=4, right=True),
    Column("captured", "captured_on", priority=3),
)

CSV_FIELDS = ("podcast", "platform", "source_url", "kind", "episode", "published", "title",
              "platform_value", "detail")


def _item_line(item: dict[str, Any]) -> str:
    extra = ""
    if "platform_value" in item:
        extra = f" (platform says {item['platform_value']!r})"
    elif "length" in item:
        extra = f" ({item['length']} of {item['canonical_length']} characters)"
    return f"#{item['id']} {item['published'] or '????-??-??'} {item['title']}{extra}"


def detail_lines(pod: dict[str, Any], expand: bool = False) -> Iterator[str]:
    """Plain lines: each attention list per source (capped unless `expand`), then one line
    counting what is not yet seen."""
    for key in ORDER:
        if key == "not_yet_seen" and not expand:
            continue
        for src in pod["sources"]:
            items = src.get(key, [])
            if not items:
                continue
            yield f"{LABELS[key]} on {src['platform']} ({len(items)}): {src['url']}"
            shown = items if expand else items[:DETAIL_LIMIT]
            for item in shown:
                yield f"  {_item_line(item)}"
            if len(items) > len(shown):
                yield f"  ... and {len(items) - len(shown)} more (--all lists them)"
    for src in pod["sources"]:
        for warning in src.get("warnings") or []:
            yield f"warning on {src['platform']} ({src['url']}): {warning}"
    if not expand:
        unseen = [f"{s['platform']} {s['counts']['not_yet_seen']}" for s in pod["sources"]
                  if s["counts"]["not_yet_seen"]]
        if unseen:
            yield ("not yet seen (published after the platform's capture): "
                   + ", ".join(unseen) + " (--all lists them)")


def render_text(report: dict[str, Any], console: Console, expand: bool = False) -> None:
    for pod in report["podcasts"]:
        render(pod["sources"], SUMMARY, console=console,
               title=f"{pod['podcast']}: {pod['canonical_episodes']} canonical episodes")
        lines = list(detail_lines(pod, expand))
        if not lines:
            console.print("no drift: every platform lists what it should", highlight=False)
        for line in lines:
            console.print(line, highlight=False, soft_wrap=True, markup=False)


def render_markdown(report: dict[str, Any], expand: bool = False) -> str:
    lines: list[str] = []
    headers = ["platform", "captured", "claimed", "listed", "matched",
               *(LABELS[key] for key in ORDER)]
    for pod in report["podcasts"]:
        lines += [f"## {pod['podcast']}", "", f"{pod['canonical_episodes']} canonical episodes.",
                  "", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        for src in pod["sources"]:
            cells = [src["platform"], src["captured_on"], src["claimed_count"],
                     src["listed_count"], src["matched"],
                     *(src["counts"].get(k, 0) for k in ORDER)]
            lines.append("| " + " | ".join(_md(c) for c in cells) + " |")
        lines.append("")
        for line in detail_lines(pod, expand):
            lines.append(f"- {_md(line.strip())}" if line.startswith("  ") else f"\n### {line}\n")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _md(value: Any) -> str:
    return ("" if value is None else str(value)).replace("|", "\\|").replace("\n", " ")


def csv_rows(report: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """One row per episode behind every number, not-yet-seen included."""
    for pod in report["podcasts"]:
        for src in pod["sources"]:
            for key in ORDER:
                for item in src.get(key, []):
                    detail = item.get("days") if "days" in item else item.get("length")
                    yield {"podcast": pod["podcast"], "platform": src["platform"],
                           "source_url": src["url"], "kind": key, "episode": item["id"],
                           "published": item["published"], "title": item["title"],
                           "platform_value": item.get("platform_value"), "detail": detail}
