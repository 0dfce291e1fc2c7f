"""`scraper inspect`: what an adapter found on one page, as a checklist.

For a user whose sync meets a changed page: which embedded state the page carries and where
(`survey_state`, the same readers the adapters use, plus the adapter's own), each page fact
the adapter needs (value and the signal it came from, or missing), the printed count, how many
rows were read, the next requests and the warnings, or the error the sync would record.
`save` writes the capture into `fixtures/<platform>/` with its index entry (its parse as the
expected result, or the error it raises), ready for a bug report or a new test case.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import adapters
from adapters.base import STATE_KINDS, Adapter, PageFacts, StateFound, canonical_link, survey_state
from scraper.errors import ConfigError, FetchError, ScraperError
from scraper.fixtures import FIXTURES_DIR, case_for_file
from scraper.models import Capture, Listing, Request
from scraper.parsing import parse_capture


@dataclass
class Inspection:
    """What one page gave one adapter."""

    platform: str
    capture: Capture
    states: list[StateFound] = field(default_factory=list)
    facts: PageFacts | None = None
    listing: Listing | None = None
    error: ScraperError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        facts = self.facts
        return {
            "platform": self.platform,
            "url": self.capture.url,
            "status": self.capture.status,
            "bytes": len(self.capture.body),
            "states": [{"kind": s.kind, "where": s.where, "detail": s.detail}
                       for s in self.states],
            "facts": [{"name": f.name, "required": f.required,
                       "value": facts.values.get(f.name) if facts else None,
                       "signal": facts.signals.get(f.name) if facts else None,
                       "printed": facts.printed.get(f.name) if facts else None}
                      for f in adapters.get(self.platform).page_facts],
            "rows": len(self.listing.episodes) if self.listing else None,
            "page_kind": self.listing.page_kind if self.listing else None,
            "next": [Request.of(n).describe() for n in self.listing.next] if self.listing
            else [],
            "warnings": list(self.listing.warnings) if self.listing else [],
            "incomplete_reason": self.listing.incomplete_reason if self.listing else None,
            "error": ({"kind": self.error.kind, "type": type(self.error).__name__,
                       "message": str(self.error)} if self.error else None),
        }


def inspect_capture(adapter: Adapter, capture: Capture) -> Inspection:
    """Run the adapter over `capture` the way a sync does, watching its page-facts reader."""
    html = capture.text
    found = Inspection(platform=adapter.name, capture=capture,
                       states=survey_state(html) + adapter.own_states(html))
    adapter.facts_seen = []
    try:
        found.listing = parse_capture(adapter, capture)
    except ScraperError as error:
        found.error = error
    except Exception as error:  # noqa: BLE001 - an adapter bug is what inspect is for
        from scraper.errors import ParseError
        from scraper.sync import crash_message

        found.error = ParseError(crash_message(error, f"{adapter.name} crashed"))
    finally:
        seen, adapter.facts_seen = adapter.facts_seen, None
    found.facts = seen[0] if seen else None
    return found


# ---------------------------------------------------------------------------------------------
# Where the page comes from


def capture_from_file(path: Path, platform: str | None, url: str | None) -> tuple[Adapter,
                                                                                   Capture]:
    """A saved page: a recording in fixtures/ knows its URL and request from its index;
    otherwise the platform is `platform`, or the one whose URL patterns match `url` or the
    page's canonical link."""
    recorded = case_for_file(path)
    if recorded is not None and (platform is None or platform == recorded.platform):
        capture = recorded.capture()
        if url:
            capture.url = capture.final_url = url
        return adapters.get(recorded.platform), capture
    body = path.read_bytes()
    suffix = path.suffix.lower()
    content_type = {".json": "application/json", ".xml": "application/xml",
                    ".rss": "application/rss+xml"}.get(suffix, "text/html; charset=utf-8")
    page_url = url or canonical_link(body.decode("utf-8", "replace"))
    adapter: Adapter | None
    if platform:
        adapter = adapters.get(platform)
    else:
        adapter = adapters.detect(page_url) if page_url else None
        if adapter is None:
            raise ConfigError(f"{path}: no platform recognises the page (no known canonical "
                              f"link); give one with --platform (known: "
                              f"{', '.join(adapters.names())})")
    capture = Capture(url=page_url or path.resolve().as_uri(), status=200, body=body,
                      fetched_at=datetime.now(UTC), headers={"content-type": content_type})
    capture.final_url = capture.url
    return adapter, capture


def capture_from_url(url: str, platform: str | None, fetch: dict[str, Any],
                     routes: Any) -> tuple[Adapter, Capture]:
    """Fetch `url` through the normal fetcher (the sources file's routes and `[fetch]`
    settings, `allow_private` included). An error answer that came with a page (a captcha
    with HTTP 503) is inspected too."""
    from scraper.fetch import Fetcher, FetchPolicy

    adapter = adapters.for_source(url, platform)
    target = adapter.canonical_url(url)

    async def get() -> Capture:
        async with Fetcher(FetchPolicy(**fetch), routes) as fetcher:
            try:
                return await fetcher.fetch(target)
            except FetchError as error:
                if error.capture is not None:
                    return error.capture
                raise

    return adapter, asyncio.run(get())


# ---------------------------------------------------------------------------------------------
# The checklist


def _mark(ok: bool | None) -> str:
    return "[x]" if ok else "[ ]" if ok is False else "[-]"


def render(found: Inspection) -> str:
    capture = found.capture
    adapter = adapters.get(found.platform)
    lines = [f"{capture.request.describe()}  ({found.platform}, HTTP {capture.status}, "
             f"{capture.content_type or 'no content type'}, {len(capture.body):,} bytes)"]
    kinds = {s.kind for s in found.states}
    for state in found.states:
        lines.append(f"{_mark(True)} state         {state.where}: {state.detail}")
    missing = [name for kind, name in STATE_KINDS.items() if kind not in kinds]
    if missing and "html" in (capture.content_type or "text/html"):
        lines.append(f"{_mark(False)} state         not on the page: {', '.join(missing)}")
    facts = found.facts
    for fact in adapter.page_facts:
        need = "required" if fact.required else "optional"
        if facts is None:
            lines.append(f"{_mark(None)} {fact.name:<13} not read ({need}; the page was not "
                         f"read as a show page)")
            continue
        value = facts.values.get(fact.name)
        if value is None:
            tried = " > ".join(s for s in ("canonical", "meta", "json_ld", "state", "text",
                                           "url") if _has(fact, s))
            lines.append(f"{_mark(False if fact.required else None)} {fact.name:<13} "
                         f"not found ({need}; tried {tried})")
            continue
        printed = facts.printed.get(fact.name)
        shown = f"{value}" + (f' (printed "{printed}")' if printed else "")
        lines.append(f"{_mark(True)} {fact.name:<13} {shown}  from {facts.signals[fact.name]}")
    listing = found.listing
    if listing is not None:
        lines.append(f"{_mark(bool(listing.episodes) or None)} rows          "
                     f"{len(listing.episodes)} episode(s) read ({listing.page_kind} page)")
        for item in listing.next:
            lines.append(f"    next          {Request.of(item).describe()}")
        if not listing.next:
            lines.append("    next          none (the last page of this source)")
        for warning in listing.warnings:
            lines.append(f"{_mark(False)} warning       {warning}")
        if listing.incomplete_reason:
            lines.append(f"{_mark(False)} incomplete    {listing.incomplete_reason}")
        lines.append("result: ok" + (" with warnings" if listing.warnings else ""))
    else:
        error = found.error
        lines.append(f"result: {error.kind if error else '?'}: {error}")
    return "\n".join(lines)


def _has(fact: Any, signal: str) -> bool:
    from adapters.base import _fact_has

    return _fact_has(fact, signal)


# ---------------------------------------------------------------------------------------------
# --save


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "page"


def save(found: Inspection, root: Path = FIXTURES_DIR) -> Path:
    """Write the capture into `root/<platform>/` with an index entry in the recordings'
    format: the expected parse (what `scraper parse` prints) or the error it raises."""
    capture = found.capture
    folder = root / found.platform
    folder.mkdir(parents=True, exist_ok=True)
    index_path = folder / "index.json"
    index = json.loads(index_path.read_text("utf-8")) if index_path.exists() else []
    names = {entry["name"] for entry in index}
    stamp = capture.page_time.astimezone(UTC)
    base = f"inspect-{_slug(capture.url.split('://', 1)[-1])}-{stamp:%Y%m%dT%H%M}"
    name, n = base, 1
    while name in names or any(folder.glob(f"{name}.*")):
        n += 1
        name = f"{base}-{n}"
    kind = capture.content_type
    ext = ".json" if "json" in kind else ".xml" if "xml" in kind else ".html"
    (folder / f"{name}{ext}").write_bytes(capture.body)
    entry: dict[str, Any] = {
        "name": name, "url": capture.url, "file": f"{name}{ext}",
        "content_type": capture.headers.get("content-type") or "text/html; charset=utf-8",
        "status": capture.status, "fetched_at": stamp.isoformat(),
    }
    if not capture.request.is_get:
        entry["request"] = {"method": capture.method, "headers": capture.request_headers,
                            "body": (capture.request_body or b"").decode("utf-8", "replace")}
    if found.listing is not None:
        expected = f"{name}.expected.json"
        (folder / expected).write_text(
            json.dumps(found.listing.to_json(), indent=2, ensure_ascii=False) + "\n", "utf-8")
        entry["expected"] = expected
    elif found.error is not None:
        entry["error"] = {"type": type(found.error).__name__,
                          "match": re.escape(str(found.error)[:60])}
    index.append(entry)
    index_path.write_text(json.dumps(index, indent=1, ensure_ascii=False) + "\n", "utf-8")
    return folder / entry["file"]
