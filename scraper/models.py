"""Plain data handed from stage to stage: what was fetched and what an adapter saw in it."""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import Any


@dataclass
class Capture:
    """One fetched body. `url` is the URL as the platform knows it (before routing);
    `final_url` is where redirects ended, also in the platform's URL space when routed."""

    url: str
    status: int
    body: bytes
    fetched_at: datetime
    headers: dict[str, str] = field(default_factory=dict)
    final_url: str | None = None
    # True when the server answered 304 and `body` is the stored copy from an earlier capture.
    not_modified: bool = False
    # "http" or "browser": how the body was obtained.
    via: str = "http"

    @property
    def page_time(self) -> datetime:
        """When the page was rendered, by the server's clock (its `Date` header), else when
        we fetched it. Relative dates ("I går") and "as of" comparisons use this: a replayed
        recording or a cached copy speaks for the day it was made, not the day we read it."""
        value = self.headers.get("date")
        if value:
            with contextlib.suppress(TypeError, ValueError, IndexError):
                moment = parsedate_to_datetime(value)
                return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return self.fetched_at

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def text(self) -> str:
        charset = "utf-8"
        for part in self.headers.get("content-type", "").split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                charset = value.strip("\"'")
        try:
            return self.body.decode(charset, errors="replace")
        except LookupError:
            return self.body.decode("utf-8", errors="replace")


@dataclass
class Show:
    """What a platform says about the show as a whole."""

    title: str | None = None
    author: str | None = None
    description: str | None = None
    # The episode count the platform prints ("458 episodes"); None when it prints none.
    claimed_count: int | None = None
    url: str | None = None
    image: str | None = None
    category: str | None = None
    # The publisher's own feed, where the platform names it (Apple's `feedUrl`): `scraper add`
    # offers it as a further source.
    feed_url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "author": self.author,
            "description": self.description,
            "claimed_count": self.claimed_count,
        }


@dataclass
class Episode:
    """One episode as one platform lists it.

    Adapters fill `id`, `title`, the raw fields (`published_raw`, `duration_raw`,
    `description`) and whatever exact values they have (an epoch timestamp can set
    `published` directly). `normalize.normalize_listing` fills the rest from the raw fields.
    """

    id: str
    title: str | None = None
    published: date | None = None
    published_raw: str | None = None
    # None (absolute, parsed), "relative" ("I går"), "unparsed" (kept raw), "ambiguous".
    published_flag: str | None = None
    duration_seconds: int | None = None
    duration_raw: str | None = None
    description: str | None = None
    description_truncated: bool = False
    url: str | None = None
    audio_url: str | None = None
    # The publisher's item guid (RSS `<guid>`), where the platform gives it: two platforms'
    # episodes with the same guid are the same episode (matching rule `same-guid`).
    guid: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "published": self.published.isoformat() if self.published else None,
            "published_raw": self.published_raw,
            "published_flag": self.published_flag,
            "duration_seconds": self.duration_seconds,
            "description": self.description,
            "description_truncated": self.description_truncated,
            "url": self.url,
            "audio_url": self.audio_url,
        }


@dataclass
class Listing:
    """An adapter's reading of one capture: the show (if the page has it), its episodes,
    and further URLs to fetch for the same source (pagination, JSON endpoints)."""

    platform: str
    url: str
    show: Show | None = None
    episodes: list[Episode] = field(default_factory=list)
    next: list[str] = field(default_factory=list)
    # What kind of page this was ("show", "episode", "api"...), for reports.
    page_kind: str = "show"
    # Set by the adapter when the platform has more episodes it cannot reach, with why.
    incomplete_reason: str | None = None
    # Set by the adapter when the platform, by its design, lists only the newest N episodes
    # (Apple's lookup API: 200). Not a failure: the listing is complete within the window;
    # older episodes are "beyond the window", never "removed" or "missing".
    window: int | None = None
    # What the adapter could not read although the listing is complete, e.g.
    # "layout_drift: no episode rows found on the show page (tried: ...); the list came from
    # the API". The listing stays `ok`; the archive records and reports these.
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "platform": self.platform,
            "show": self.show.to_json() if self.show else None,
            "episodes": [e.to_json() for e in self.episodes],
            "next": list(self.next),
        }
        if self.warnings:
            data["warnings"] = list(self.warnings)
        if self.window:
            data["window"] = self.window
        return data


__all__ = ["Capture", "Show", "Episode", "Listing"]
