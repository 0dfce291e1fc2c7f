"""Recorded pages under `fixtures/`: the manifest format and loading.

Each platform folder holds `index.json`, a list of cases:

    {"name": "show-in", "url": "https://www.audible.in/podcast/...",   # the real URL
     "file": "show-in.html", "content_type": "text/html; charset=utf-8",
     "status": 200, "fetched_at": "2026-03-05T09:00:00+00:00",
     "expected": "show-in.expected.json"}          # `scraper parse` output, or
     "error": {"type": "BlockedError", "match": "captcha"},         # the error it must raise
     "demo_source": true, "podcast": "AI Post Transformers"}        # a source's start page
     "request": {"method": "POST", "headers": {"content-type": "application/json"},
                 "body": "{...}"}   # an API answer to a request with a body, not a GET

The replay server serves every case at its real URL path (under `/<host>/`), so a sync
routed to it sees the same bytes a live platform would have sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from scraper.models import Capture, Request

FIXTURES_DIR = Path(__file__).resolve().parent.parent / "fixtures"


@dataclass
class FixtureCase:
    platform: str
    name: str
    url: str
    path: Path
    content_type: str
    status: int
    fetched_at: datetime
    expected: Path | None
    error: dict[str, str] | None
    headers: dict[str, str]
    # True for the page a source starts from: `scraper demo` and the sync tests make one
    # source per such case (its `podcast` names the show it belongs to).
    demo_source: bool = False
    podcast: str | None = None
    # The request this recording answers (method, headers, body); a plain GET of `url` if None.
    request: Request | None = None

    def capture(self) -> Capture:
        request = self.request or Request(self.url)
        return Capture(
            url=self.url,
            status=self.status,
            body=self.path.read_bytes(),
            fetched_at=self.fetched_at,
            headers={"content-type": self.content_type, **self.headers},
            final_url=self.url,
            method=request.method,
            request_body=request.body,
            request_headers=dict(request.headers),
        )

    def expected_json(self) -> dict[str, Any] | None:
        return json.loads(self.expected.read_text("utf-8")) if self.expected else None


def load_cases(root: Path = FIXTURES_DIR) -> list[FixtureCase]:
    cases: list[FixtureCase] = []
    for index in sorted(root.glob("*/index.json")):
        folder = index.parent
        for entry in json.loads(index.read_text("utf-8")):
            cases.append(
                FixtureCase(
                    platform=entry.get("platform", folder.name),
                    name=entry["name"],
                    url=entry["url"],
                    path=folder / entry["file"],
                    content_type=entry.get("content_type", "text/html; charset=utf-8"),
                    status=int(entry.get("status", 200)),
                    fetched_at=datetime.fromisoformat(entry["fetched_at"]),
                    expected=folder / entry["expected"] if entry.get("expected") else None,
                    error=entry.get("error"),
                    headers=entry.get("headers", {}),
                    demo_source=bool(entry.get("demo_source", False)),
                    podcast=entry.get("podcast"),
                    request=_request(entry["url"], entry.get("request")),
                )
            )
    return cases


def _request(url: str, entry: dict[str, Any] | None) -> Request | None:
    if not entry:
        return None
    body = entry.get("body")
    return Request(url=url, method=entry.get("method", "GET").upper(),
                   headers=tuple(sorted((entry.get("headers") or {}).items())),
                   body=body.encode("utf-8") if isinstance(body, str) else None)


def case_for_file(path: Path) -> FixtureCase | None:
    """The recorded case whose file is `path` (`scraper parse` of a recording knows its URL
    and request from the index), or None."""
    index = path.resolve().parent / "index.json"
    if not index.is_file():
        return None
    try:
        cases = load_cases(index.parent.parent)
    except (ValueError, KeyError, OSError):
        return None
    target = path.resolve()
    return next((c for c in cases if c.path.resolve() == target), None)
