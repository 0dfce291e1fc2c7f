"""One exception tree for every stage of a sync.

`ScraperError` is the root. Sync catches these per source, records them on the run and moves
on; anything else is a bug and propagates.
"""

from __future__ import annotations


class ScraperError(Exception):
    """Base of everything scraper raises on purpose."""

    kind = "error"


class ConfigError(ScraperError):
    """The sources file or a command-line option is invalid."""

    kind = "config"


class FetchError(ScraperError):
    """The network said no: connection failure, HTTP error status, body too large, robots."""

    kind = "fetch"

    def __init__(self, message: str, *, url: str | None = None, status: int | None = None):
        super().__init__(message)
        self.url = url
        self.status = status
        # The last error response (a Capture) when the server answered at all: an adapter
        # may recognise it (Amazon serves its captcha with HTTP 503).
        self.capture = None


class RobotsDisallowed(FetchError):
    """robots.txt forbids the URL for our User-Agent."""

    kind = "robots"


class BlockedError(ScraperError):
    """The platform answered with a captcha, bot wall, consent wall or region 404."""

    kind = "blocked"


class LayoutError(ScraperError):
    """The page no longer looks like the adapter expects: required parts missing, or far
    fewer episodes than the platform claims or than the last good run."""

    kind = "layout"


class DataError(ScraperError):
    """A single value could not be normalised. Kept raw and flagged; never fatal."""

    kind = "data"


class LockedError(ScraperError):
    """Another `scraper sync` holds the archive's write lock."""

    kind = "locked"


class ArchiveError(ScraperError):
    """The archive file cannot be used: not SQLite, damaged, another program's database,
    read-only, or the disk is full. Stops the run (exit code 5)."""

    kind = "archive"


class ParseError(ScraperError):
    """An adapter raised something that is not one of ours: a bug in the adapter. The
    page is kept; the message names the exception and where it was raised."""

    kind = "parse"
