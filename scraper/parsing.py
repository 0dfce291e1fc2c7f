"""The one path from a capture to a normalised listing, shared by sync, reparse and
`scraper parse` (so fixtures test exactly what a sync does)."""

from __future__ import annotations

from adapters.base import Adapter
from scraper.models import Capture, Listing
from scraper.normalize import normalize_listing


def parse_capture(adapter: Adapter, capture: Capture) -> Listing:
    adapter.check_response(capture)
    listing = adapter.parse(capture)
    return normalize_listing(listing, adapter.date_style(capture.url), capture.page_time)
