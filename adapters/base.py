"""What every platform adapter is: URL patterns, the URLs to fetch, and a parse.

An adapter knows its platform's URLs and markup and nothing else: it never sees SQL, HTTP
policy or the archive. It gets a `Capture` and returns a `Listing`; `scraper.normalize`
turns the raw text it found into typed values afterwards.
"""

from __future__ import annotations

import re
from typing import ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from scraper.errors import BlockedError, FetchError, LayoutError
from scraper.models import Capture, Listing
from scraper.normalize import ENGLISH, DateStyle

# Query parameters that only track the visitor; dropped whenever a URL is stored.
TRACKING_PARAMS = re.compile(
    r"^(utm_.*|qid|sr|ref|ref_|pf_rd_.*|source_code|share_location|eac_.*|fbclid|gclid|"
    r"mc_cid|mc_eid|igshid|si|plc|crid|sprefix|keywords)$",
    re.I,
)


def strip_tracking(url: str, *, keep: tuple[str, ...] = ()) -> str:
    """The URL without tracking query parameters and without a fragment."""
    parts = urlsplit(url)
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k in keep or not TRACKING_PARAMS.match(k)
    ]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


# Cloudflare sits in front of several platforms (Podimo, Podtail; a CDN change elsewhere).

_CF_TITLE = re.compile(
    r"<title>\s*(?:Just a moment\.\.\.|Attention Required! \| Cloudflare|"
    r"Checking your browser before accessing)",
    re.I,
)
# Only the challenge itself: ordinary pages behind Cloudflare also load
# /cdn-cgi/challenge-platform/scripts/jsd/main.js, which must not count.
_CF_CHALLENGE_MARKERS = ("window._cf_chl_opt", "/cdn-cgi/challenge-platform/h/", "cf-chl-widget",
                         "challenge-error-text")


def _header(capture: Capture, name: str) -> str:
    for key, value in capture.headers.items():
        if key.lower() == name:
            return value
    return ""


def cloudflare_challenge(capture: Capture) -> str | None:
    """Why `capture` is a Cloudflare challenge rather than the page, or None.

    Recognised by the markup (so a browser-rendered challenge is caught too): the
    "Just a moment..." title, the challenge script (`_cf_chl_opt`, the
    `/cdn-cgi/challenge-platform/h/...` orchestrator); or by `cf-mitigated: challenge`.
    On a 403/503 any `challenge-platform` or `cf-chl` trace is enough."""
    if _header(capture, "cf-mitigated").strip().lower() == "challenge":
        return "Cloudflare challenge (cf-mitigated: challenge)"
    head = capture.body[:300_000].decode("utf-8", errors="replace")
    if _CF_TITLE.search(head):
        return "Cloudflare challenge page ('Just a moment...')"
    if any(marker in head for marker in _CF_CHALLENGE_MARKERS):
        return "Cloudflare challenge page (cf-chl challenge script)"
    if capture.status in (403, 503) and ("challenge-platform" in head or "cf-chl" in head):
        return f"Cloudflare challenge (HTTP {capture.status})"
    return None


class Adapter:
    """Base class. Subclasses set `name` and `url_patterns` and implement `parse`."""

    #: Platform name (a contract: rss, audible, radionet, castbox, podimo, podtail).
    name: ClassVar[str] = ""
    #: Regexes (searched in the full URL) that identify this platform's pages.
    url_patterns: ClassVar[tuple[str, ...]] = ()
    #: "http" or "browser": how this platform's pages are fetched unless a source says.
    fetch_mode: ClassVar[str] = "http"
    #: A hard cap on pages fetched for one source in one run (runaway pagination guard).
    max_pages: ClassVar[int] = 500
    #: CSS selector the browser fetcher waits for before handing over the rendered page.
    browser_wait_for: ClassVar[str | None] = None
    #: CSS selector of a "next page" / "load more" control the browser clicks, if any.
    browser_next: ClassVar[str | None] = None
    #: True where the platform's bot wall answers plain clients with a bare 403.
    forbidden_is_bot_wall: ClassVar[bool] = False
    #: The platform's name for people ("Apple Podcasts"); defaults to `name`.
    label: ClassVar[str] = ""
    #: The adapter's row of README's platform table: (pages, what it can see, what it cannot).
    doc_row: ClassVar[tuple[str, str, str] | None] = None

    @classmethod
    def suitable(cls, url: str) -> bool:
        return any(re.search(pattern, url) for pattern in cls.url_patterns)

    def canonical_url(self, url: str) -> str:
        """The URL as stored: tracking parameters and fragments removed."""
        return strip_tracking(url)

    def start_urls(self, url: str) -> list[str]:
        """URLs to fetch first for a source. Further pages come from `Listing.next`."""
        return [self.canonical_url(url)]

    def optional_page(self, url: str) -> bool:
        """True for a page that only enriches the listing (Apple's show page beside its API):
        when it cannot be fetched or read, the source still succeeds, with a warning."""
        return False

    def date_style(self, url: str) -> DateStyle:
        """The date language/order of the page at `url` (per storefront or region)."""
        return ENGLISH

    def check_response(self, capture: Capture) -> None:
        """Called before `parse`. Raise `BlockedError` for captcha / bot-wall / consent /
        region pages (override to recognise the platform's own, then call this), and
        `FetchError` for other error statuses. This recognises a Cloudflare challenge."""
        reason = cloudflare_challenge(capture)
        if reason:
            raise self.blocked_error(
                capture, f'{reason} instead of the page; fetch it through a browser '
                         f'(fetch = "browser")')
        if capture.status == 403 and self.forbidden_is_bot_wall:
            raise self.blocked_error(
                capture, f"HTTP 403 ({self.name}'s bot wall answers plain clients with 403); "
                         f'fetch it through a browser (fetch = "browser")')
        if capture.status >= 400:
            raise FetchError(
                f"{self.name}: HTTP {capture.status} for {capture.url}",
                url=capture.url,
                status=capture.status,
            )

    def parse(self, capture: Capture) -> Listing:  # pragma: no cover - abstract
        """Read one capture. Raise `LayoutError` when required parts are missing (never
        return an empty listing for a page that should have episodes)."""
        raise NotImplementedError

    # Helpers shared by adapters -------------------------------------------------------------

    def layout_error(self, capture: Capture, what: str) -> LayoutError:
        return LayoutError(f"{self.name}: {what} at {capture.url} (has the page layout changed?)")

    def blocked_error(self, capture: Capture, what: str) -> BlockedError:
        return BlockedError(f"{self.name}: {what} at {capture.url}")
