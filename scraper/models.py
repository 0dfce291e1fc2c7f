"""Plain data handed from stage to stage: what was fetched and what an adapter saw in it."""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import Any


@dataclass(frozen=True)
class Request:
    """A request to fetch when a URL is not enough: a method, headers and a body (e.g. a
    GraphQL POST with a JSON body). Hashable, so a sync can tell two requests to the same
    URL apart; a plain URL string stands for `Request(url)` (a GET) everywhere."""

    url: str
    method: str = "GET"
    # Sorted (name, value) pairs: part of what is sent, not of the identity (see `key`).
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None

    @classmethod
    def of(cls, item: str | Request) -> Request:
        return item if isinstance(item, Request) else cls(url=item)

    @classmethod
    def json_post(cls, url: str, payload: Any, headers: dict[str, str] | None = None) -> Request:
        """A POST of `payload` as compact JSON with `content-type: application/json`,
        serialised the same way every time so a recording's body matches exactly."""
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        sent = {"content-type": "application/json", **(headers or {})}
        return cls(url=url, method="POST", headers=tuple(sorted(sent.items())), body=body)

    @property
    def body_sha256(self) -> str | None:
        return hashlib.sha256(self.body).hexdigest() if self.body is not None else None

    @property
    def key(self) -> tuple[str, str, str | None]:
        """What identifies the request for dedupe, 304 reuse and reparse: URL, method and
        the body's hash (headers only describe the body or the client)."""
        return self.url, self.method.upper(), self.body_sha256

    @property
    def is_get(self) -> bool:
        return self.method.upper() == "GET" and self.body is None

    def json_body(self) -> Any:
        """The body as JSON, or None when there is none or it is not JSON."""
        if self.body is None:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def describe(self) -> str:
        return self.url if self.is_get else f"{self.method.upper()} {self.url}"


def request_key(item: str | Request) -> tuple[str, str, str | None]:
    return Request.of(item).key


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
    # The request's method and body when it was not a plain GET (an API POST).
    method: str = "GET"
    request_body: bytes | None = None
    request_headers: dict[str, str] = field(default_factory=dict)
    # Why the page holds less than the whole list (a browser paginator stopped with more to
    # load): a listing read from it is partial, so nothing missing from it is removed.
    incomplete_reason: str | None = None

    @property
    def request(self) -> Request:
        """The request this capture answers (what `Listing.next` named)."""
        return Request(url=self.url, method=self.method,
                       headers=tuple(sorted(self.request_headers.items())),
                       body=self.request_body)

    @property
    def page_time(self) -> datetime:
        """When the page was rendered, by the server's clock (its `Date` header), else when
        we fetched it. Relative dates ("I går") and "as of" comparisons use this: a replayed
        recording or a cached copy speaks for the day it was made, not the day we read it."""
        value = self.headers.get("date")
        if value:
            with contextlib.suppress(TypeError, ValueError, IndexError, OverflowError):
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
        except (LookupError, ValueError):  # an unknown name, or one with a NUL in it
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
    # Further URLs the platform gives for the episode (show notes, the paper discussed):
    # links two platforms share are matching evidence.
    links: list[str] = field(default_factory=list)
    # Granularity of `duration_seconds` in seconds: 1 for "01:02:03", 60 for "28 min".
    duration_precision: int | None = None
    # None, or "unparsed" when a duration was printed but could not be read (raw kept).
    duration_flag: str | None = None
    # Text fields control characters were removed from (sync's clean-up; never cut there).
    control_characters_removed: list[str] = field(default_factory=list)
    # What only this platform has (enclosure type, season, plays...), stored as JSON. Values
    # other layers use are fields above, never keys here.
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
    # Further pages: a URL (a GET) or a `Request` with method, headers and body.
    next: list[str | Request] = field(default_factory=list)
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
            "next": [n if isinstance(n, str) else _request_json(n) for n in self.next],
        }
        if self.warnings:
            data["warnings"] = list(self.warnings)
        if self.window:
            data["window"] = self.window
        return data


def _request_json(request: Request) -> dict[str, Any]:
    return {"url": request.url, "method": request.method, "headers": dict(request.headers),
            "body": request.body.decode("utf-8", "replace") if request.body is not None else None}


__all__ = ["Request", "Capture", "Show", "Episode", "Listing"]
