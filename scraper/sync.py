"""One sync run: fetch every selected source, parse it, and record it.

Sources are fetched concurrently (the fetcher keeps each host polite); each source's pages
are fetched and parsed completely before anything is written, then written in one
transaction. A failing source is recorded with its error and leaves its history as it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sqlite3
import time
import traceback
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import adapters
from adapters.base import Adapter
from scraper.archive import Archive, SourceOutcome
from scraper.config import Config, SourceConfig
from scraper.dbfaults import check_archive_file, describe
from scraper.errors import (
    ArchiveError,
    BlockedError,
    FetchError,
    LayoutError,
    LockedError,
    ParseError,
    ScraperError,
)
from scraper.models import Capture, Episode, Listing, Request, request_key
from scraper.normalize import is_strict_prefix
from scraper.parsing import parse_capture, parse_off_loop, use_parse_pool

if TYPE_CHECKING:  # the browser module imports Playwright: only when a source needs it
    from scraper.browser import BrowserFetcher

# A complete listing below these fractions of the last good one, or of the count the
# platform claims, means the adapter no longer reads the page right.
MIN_FRACTION_OF_PREVIOUS = 0.5
MIN_FRACTION_OF_CLAIMED = 0.5
MAX_CONCURRENT_SOURCES = 8

# Fetch one URL for a source: returns one or more captures (a browser paginator yields
# one per page state).
PageFetcher = Callable[[str | Request], Awaitable[list[Capture]]]
# C0 controls but tab/newline/return, DEL, and lone surrogates (which SQLite cannot store):
# a NUL in a title cuts it short in SQLite's text functions and in every viewer.
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
EPISODE_TEXT = ("title", "published_raw", "duration_raw", "description", "url", "audio_url")
SHOW_TEXT = ("title", "author", "description", "url", "image")
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Deadline:
    """A wall-clock limit (monotonic seconds) and the words that name it in errors."""

    at: float
    what: str

    @classmethod
    def earliest(cls, *deadlines: Deadline | None) -> Deadline | None:
        present = [d for d in deadlines if d is not None]
        return min(present, key=lambda d: d.at) if present else None


async def fetch_within(fetch: PageFetcher, url: str | Request, deadline: Deadline | None,
                       pages: int) -> list[Capture]:
    """`fetch(url)`, cut at `deadline`: the source fails (or is partial) as `fetch`."""
    if deadline is None:
        return await fetch(url)
    target = url
    url = Request.of(target).url
    left = deadline.at - time.monotonic()
    if left <= 0:
        raise FetchError(f"{url}: not fetched, the {deadline.what} was reached after "
                         f"{pages} page(s)", url=url)
    try:
        async with asyncio.timeout(left) as scope:
            return await fetch(target)
    except TimeoutError:
        if not scope.expired():
            raise
        raise FetchError(f"{url}: the {deadline.what} was reached while fetching it (after "
                         f"{pages} page(s))", url=url) from None


_REMOTE_FRAME = re.compile(r'File "([^"]+)", line (\d+)')


def crash_message(exc: BaseException, doing: str) -> str:
    """`doing: TypeError: ... at adapters/x.py:12`: the innermost frame in our code (the
    adapter, usually), else the innermost frame at all."""
    frames = [(f.filename, f.lineno) for f in traceback.extract_tb(exc.__traceback__)]
    remote = getattr(exc.__cause__, "tb", None)  # raised in a parse worker: its traceback text
    if isinstance(remote, str):
        frames = [(name, int(line)) for name, line in _REMOTE_FRAME.findall(remote)]
    ours = [f for f in frames if f[0].startswith(str(ROOT)) and "site-packages" not in f[0]]
    chosen = ours or frames
    where = ""
    if chosen:
        filename, lineno = chosen[-1]
        path = Path(filename)
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        where = f" at {shown}:{lineno}"
    return f"{doing}: {type(exc).__name__}: {exc}{where}"


def _clean_text(value: object, name: str, flagged: list[str]) -> object:
    if isinstance(value, str) and CONTROL_CHARACTERS.search(value):
        flagged.append(name)
        return CONTROL_CHARACTERS.sub("", value)
    return value


def strip_control_characters(listing: Listing) -> None:
    """Remove control characters from every text field, never cutting at them; each
    episode keeps the names of the fields cleaned in `control_characters_removed`."""
    if listing.show is not None:
        flagged: list[str] = []
        for name in SHOW_TEXT:
            if hasattr(listing.show, name):
                setattr(listing.show, name,
                        _clean_text(getattr(listing.show, name), name, flagged))
        if flagged:
            listing.show.extra["control_characters_removed"] = flagged
    for episode in listing.episodes:
        flagged = []
        for name in EPISODE_TEXT:
            setattr(episode, name, _clean_text(getattr(episode, name), name, flagged))
        episode.control_characters_removed = flagged


@dataclass
class SourceReport:
    podcast: str
    platform: str
    url: str
    status: str
    error: str | None
    claimed: int | None
    listed: int | None
    pages: int
    new: int
    changed: int
    removed: int
    # layout_drift and other warnings of a listing that is still complete.
    warnings: list[str] = field(default_factory=list)
    # A platform that lists only its newest N episodes by design: N, and what that means.
    window: int | None = None
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class SyncSummary:
    run_id: int
    status: str
    db: str
    sources: list[SourceReport] = field(default_factory=list)
    reconciled: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return all(s.status in ("ok", "unchanged") for s in self.sources)

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "status": self.status, "db": self.db,
                "ok": self.ok, "sources": [s.to_json() for s in self.sources],
                "reconciled": self.reconciled}


def merge_episode(old: Episode, new: Episode) -> Episode:
    """The same episode seen on two pages (e.g. the HTML row and the API row): values the
    later page has win, values only the earlier page has are kept."""
    for name in ("title", "published", "published_raw", "published_flag", "duration_seconds",
                 "duration_raw", "description", "url", "audio_url", "guid"):
        value = getattr(new, name)
        if name == "description" and is_strict_prefix(value, old.description):
            # A cut of the text we have (an API that stops at 500 characters, where the
            # page row holds it whole) does not replace it.
            continue
        if value is not None:
            setattr(old, name, value)
    if new.published is not None:
        old.published_flag = new.published_flag
    if new.duration_seconds is not None:  # its precision and flag go with the value
        old.duration_precision, old.duration_flag = new.duration_precision, new.duration_flag
    old.links += [link for link in new.links if link not in old.links]
    old.control_characters_removed += [
        name for name in new.control_characters_removed
        if name not in old.control_characters_removed]
    if new.description is not None and not is_strict_prefix(new.description, old.description):
        old.description_truncated = new.description_truncated
    old.extra.update(new.extra)
    return old


def merge_page(merged: Listing | None, page: Listing) -> Listing:
    if merged is None:
        page.episodes = list({e.id: e for e in page.episodes}.values())
        return page
    if merged.show is None:
        merged.show = page.show
    elif page.show is not None:
        for name in ("title", "author", "description", "claimed_count", "url", "image",
                     "feed_url"):
            if getattr(merged.show, name) is None:
                setattr(merged.show, name, getattr(page.show, name))
    index = {e.id: e for e in merged.episodes}
    for episode in page.episodes:
        if episode.id in index:
            merge_episode(index[episode.id], episode)
        else:
            merged.episodes.append(episode)
            index[episode.id] = episode
    merged.incomplete_reason = merged.incomplete_reason or page.incomplete_reason
    merged.window = merged.window or page.window
    merged.warnings += [w for w in page.warnings if w not in merged.warnings]
    return merged


def _status_of(error: ScraperError) -> str:
    if isinstance(error, BlockedError):
        return "blocked"
    if isinstance(error, LayoutError):
        return "layout"
    return "failed"


def window_note(label: str, window: int, claimed: int | None) -> str:
    """What a windowed listing means, for people: not a failure, nothing removed."""
    of = f" of {claimed}" if claimed else ""
    return (f"{label} lists the newest {window}{of} episodes (by the platform's design); "
            "older episodes are beyond its window, not removed or missing")


def check_plausible(listing: Listing, previous: int | None) -> None:
    """Refuse a complete listing that is empty or far smaller than before or than claimed
    (for a windowed listing: than its window)."""
    listed = len(listing.episodes)
    claimed = listing.show.claimed_count if listing.show else None
    if listing.window and claimed:
        claimed = min(claimed, listing.window)
    where = f"{listing.platform}: {listing.url}"
    if listed == 0 and ((previous or 0) > 0 or (claimed or 0) > 0):
        raise LayoutError(f"{where} parsed to 0 episodes (last good run: {previous}, "
                          f"platform claims {claimed}); has the page layout changed?")
    if previous and listed < previous * MIN_FRACTION_OF_PREVIOUS:
        raise LayoutError(f"{where} parsed to {listed} episodes, far fewer than the "
                          f"{previous} of the last good run; has the page layout changed?")
    if claimed and listed < claimed * MIN_FRACTION_OF_CLAIMED and not listing.incomplete_reason:
        raise LayoutError(f"{where} parsed to {listed} episodes but the platform claims "
                          f"{claimed}; has the page layout changed?")


async def _revalidate(chain: list[str | Request], fetch: PageFetcher,
                      deadline: Deadline | None = None) -> tuple[bool, dict]:
    """Conditionally re-fetch the pages of the last complete listing. True when every one
    answered 304; the captures fetched so far are handed back for reuse either way (keyed
    on the request: url, method, body hash)."""
    fetched: dict[tuple, list[Capture]] = {}
    for page in chain:
        try:
            captures = await fetch_within(fetch, page, deadline, len(fetched))
        except ScraperError:
            return False, fetched  # the full pass fetches it again and records the error
        fetched[request_key(page)] = captures
        if not all(c.not_modified for c in captures):
            return False, fetched
    return bool(fetched), fetched


async def collect_source(adapter: Adapter, url: str, source_id: int, fetch: PageFetcher,
                         previous: dict[str, Any] | None, *,
                         chain: list[str | Request] | None = None,
                         deadline: Deadline | None = None) -> SourceOutcome:
    """Fetch and parse every page of one source. Writes nothing.

    `previous` is the source's last good listing (its count guards against a listing that
    shrank). With `chain` (the URLs of the last complete listing) the pages are revalidated
    first: if all are unchanged, nothing is parsed and the source is reported unchanged.
    A listing cut short (by the page cap, `deadline`, or a page that failed after the
    first) is `partial`: archived as far as it goes, nothing marked removed from it. An
    exception from the adapter that is not one of ours fails the source as `parse`."""
    outcome = SourceOutcome(source_id=source_id, status="ok")
    previous_count = previous["listed_count"] if previous else None
    prefetched: dict[tuple, list[Capture]] = {}
    if chain and previous:
        unchanged, prefetched = await _revalidate(chain, fetch, deadline)
        if unchanged:
            outcome.status = "unchanged"
            outcome.captures = [c for captures in prefetched.values() for c in captures]
            outcome.pages = len(outcome.captures)
            outcome.previous_listed = previous["listed_count"]
            outcome.previous_claimed = previous["claimed_count"]
            outcome.previous_window = previous.get("window")
            outcome.previous_window_from = previous.get("window_from")
            return outcome
    queue: deque[str | Request] = deque(adapter.start_urls(url))
    # Keyed on the request, not the URL: one GraphQL endpoint answers many POST bodies.
    seen: set[tuple] = set()
    merged: Listing | None = None
    partial: ScraperError | None = None
    # Pages that only enrich the listing (`Adapter.optional_page`) and failed: warnings.
    skipped: list[str] = []
    last_optional_error: ScraperError | None = None
    while queue:
        page_url = queue.popleft()
        if request_key(page_url) in seen:
            continue
        seen.add(request_key(page_url))
        if outcome.pages >= adapter.max_pages:
            if merged is not None:
                merged.incomplete_reason = (
                    f"stopped after {adapter.max_pages} pages with more to fetch (the "
                    f"{adapter.name} page cap)")
            break
        optional = adapter.optional_page(Request.of(page_url).url)
        try:
            captures = prefetched.pop(request_key(page_url), None) or await fetch_within(
                fetch, page_url, deadline, outcome.pages)
        except ScraperError as error:
            if optional:
                skipped.append(_optional_warning(Request.of(page_url).url, error))
                last_optional_error = error
                continue
            if merged is None or not merged.episodes:  # a "partial" of nothing is a failure
                return _failed(outcome, error)
            partial = error
            break
        for capture in captures:
            outcome.captures.append(capture)
            outcome.pages += 1
            try:
                page = await parse_off_loop(adapter, capture)  # in a worker when big
                strip_control_characters(page)
                merged = merge_page(merged, page)
                # The page itself was cut short (a browser paginator that stopped early).
                merged.incomplete_reason = merged.incomplete_reason or capture.incomplete_reason
            except ScraperError as error:
                if optional:
                    skipped.append(_optional_warning(Request.of(page_url).url, error))
                    last_optional_error = error
                    continue
                if merged is None or not merged.episodes:
                    return _failed(outcome, error)
                partial = error
                break
            except Exception as exc:  # noqa: BLE001 - a bug in the adapter: this source's error
                crash = ParseError(crash_message(
                    exc, f"the {adapter.name} adapter failed on {capture.url} (a bug in the "
                    "adapter; the page is kept)"))
                if merged is None or not merged.episodes:
                    return _failed(outcome, crash)
                partial = crash
                break
            queue.extend(n for n in page.next if request_key(n) not in seen)
        if partial:
            break
    if merged is None:  # only optional pages, and none could be read
        assert last_optional_error is not None  # start_urls is never empty
        return _failed(outcome, last_optional_error)
    merged.warnings += [w for w in skipped if w not in merged.warnings]
    outcome.listing = merged
    if partial is not None or merged.incomplete_reason:
        claimed = merged.show.claimed_count if merged.show else None
        of = f" of the {claimed} the platform claims" if claimed else ""
        outcome.status = "partial"
        outcome.error_kind = partial.kind if partial is not None else "incomplete"
        outcome.error = (f"archived {len(merged.episodes)} episodes{of}, none marked removed; "
                         f"then: {partial or merged.incomplete_reason}")
        return outcome
    try:
        check_plausible(merged, previous_count)
    except LayoutError as error:
        return _failed(outcome, error)
    if outcome.captures and all(c.not_modified for c in outcome.captures):
        outcome.status = "unchanged"
    return outcome


def _optional_warning(url: str, error: ScraperError) -> str:
    return (f"optional_page: {url} could not be read ({error.kind}: {error}); "
            "the listing came from the other pages")


def _failed(outcome: SourceOutcome, error: ScraperError) -> SourceOutcome:
    outcome.status = _status_of(error)
    outcome.error_kind = error.kind
    outcome.error = str(error)
    outcome.listing = None
    return outcome


class _Fetchers:
    """HTTP and (lazily) browser fetchers shared by every source of a run."""

    def __init__(self, config: Config, routes, obey_robots: bool | None):
        from scraper.fetch import Fetcher, FetchPolicy

        settings = dict(config.fetch)
        if obey_robots is not None:
            settings["obey_robots"] = obey_robots
        self.routes = routes
        self.http = Fetcher(FetchPolicy(**settings), routes)
        self.config = config
        self._browser: BrowserFetcher | None = None

    def browser(self) -> BrowserFetcher:
        if self._browser is None:
            from scraper.browser import BrowserFetcher, BrowserOptions

            options = dict(self.config.browser)
            options.setdefault("min_delay", self.config.fetch.get("min_delay", 1.0))
            options.setdefault("allow_private", self.config.fetch.get("allow_private", False))
            env = os.environ.get("SCRAPER_CHROMIUM")
            if env:
                options["executable_path"] = env
            self._browser = BrowserFetcher(BrowserOptions(**options), self.routes)
        return self._browser

    async def aclose(self) -> None:
        await self.http.aclose()
        if self._browser is not None:
            await self._browser.aclose()


def _page_fetcher(fetchers: _Fetchers, archive: Archive, adapter: Adapter,
                  source: SourceConfig, source_id: int) -> PageFetcher:
    from scraper.fetch import RetryBudget

    use_browser = (source.fetch or adapter.fetch_mode) == "browser"
    start_urls = set(adapter.start_urls(source.url))
    # One budget for all of this source's pages: a 429 storm costs it at most this long.
    budget = RetryBudget(fetchers.http.policy.retry_budget)

    async def fetch(url: str | Request) -> list[Capture]:
        if use_browser:
            # A bot wall answers plain clients on every page, so a browser source fetches
            # all its pages (and API calls) through the browser. The start page may have a
            # client-side paginator: one capture per page state.
            browser = fetchers.browser()
            if isinstance(url, Request) and not url.is_get:
                return [await browser.fetch_request(url, clear_wait_for=adapter.browser_wait_for)]
            url = Request.of(url).url
            if url in start_urls:
                return await browser.fetch_pages(
                    url, wait_for=adapter.browser_wait_for, click_next=adapter.browser_next
                )
            return [await browser.fetch(url, wait_for=adapter.browser_wait_for)]
        stored = archive.latest_capture(url, source_id)
        try:
            capture = await fetchers.http.fetch(
                url,
                etag=stored.headers.get("etag") if stored else None,
                last_modified=stored.headers.get("last-modified") if stored else None,
                budget=budget,
            )
        except FetchError as error:
            if error.capture is None:
                raise
            # Retries are exhausted but the server did answer: let the adapter read the
            # answer (a captcha served as 503 is a bot wall, not an outage); it is kept.
            return [error.capture]
        if capture.status == 304 and stored is not None:
            # Unchanged: reuse the stored body; it is current as of this check.
            stored.not_modified = True
            stored.fetched_at = capture.fetched_at
            if capture.headers.get("date"):
                stored.headers["date"] = capture.headers["date"]
            return [stored]
        if (stored is not None and not Request.of(url).is_get and capture.status == 200
                and capture.body == stored.body):
            # A request with a body has no 304: the same answer to the same body (keyed on
            # its hash) counts as unchanged, so an unchanged source stays `unchanged`.
            capture.not_modified = True
        return [capture]

    return fetch


def _lock(db_path: Path):
    from filelock import FileLock, Timeout

    try:
        db_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ArchiveError(f"cannot create the folder {db_path.parent} ({error.strerror}); "
                           f"choose another --db") from None
    lock = FileLock(str(db_path) + ".lock", timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise LockedError(
            f"another scraper sync is writing to {db_path} (lock {db_path}.lock); "
            f"try again when it has finished"
        ) from None
    except OSError as error:
        raise ArchiveError(f"cannot create the lock {db_path}.lock ({error.strerror}): the "
                           f"folder is read-only? Choose another --db") from None
    return lock


def open_archive(db_path: Path):
    """(lock, archive) for a run that writes, or ArchiveError / LockedError. The file is
    checked before the lock is taken, so a file that is no archive gets no `.lock`."""
    check_archive_file(db_path, writing=True)
    lock = _lock(db_path)
    try:
        archive = Archive(db_path)
    except sqlite3.Error as error:
        lock.release()
        raise describe(error, db_path) from None
    except BaseException:
        lock.release()
        raise
    return lock, archive


def _close_failed(archive: Archive, run_id: int, outcomes: list[SourceOutcome],
                  error: BaseException) -> None:
    """Close a run a fault interrupted as `failed`; if even that cannot be written, the next
    sync marks it `aborted`."""
    with contextlib.suppress(sqlite3.Error):
        archive.finish_run(run_id, outcomes, error=str(error) or type(error).__name__)


@contextlib.contextmanager
def _writing_run(db_path: Path,
                 kind: str) -> Iterator[tuple[Archive, int, list[SourceOutcome]]]:
    """The archive, locked, with a started run of `kind` and the list its outcomes go in.
    A fault closes the run as `failed` (a database fault surfaces as ArchiveError); the
    archive is closed and the lock released however the run ends."""
    lock, archive = open_archive(db_path)
    outcomes: list[SourceOutcome] = []
    run_id: int | None = None
    try:
        try:
            run_id = archive.start_run(kind, os.getpid())
        except sqlite3.Error as error:
            raise describe(error, db_path) from None
        yield archive, run_id, outcomes
    except sqlite3.Error as error:
        if run_id is not None:
            _close_failed(archive, run_id, outcomes, error)
        raise describe(error, db_path) from None
    except Exception as error:
        if run_id is not None:
            _close_failed(archive, run_id, outcomes, error)
        raise
    finally:
        archive.close()
        lock.release()


def _record(archive: Archive, run_id: int, outcome: SourceOutcome, url: str) -> None:
    """Write one source. A database fault stops the run (ArchiveError); anything else that
    goes wrong writing this source's values becomes its error, with its pages still kept."""
    try:
        archive.record_source(run_id, outcome)
        return
    except sqlite3.OperationalError as error:
        raise describe(error, archive.path, url) from None
    except sqlite3.DatabaseError as error:
        if "malformed" in str(error) or "not a database" in str(error):
            raise describe(error, archive.path, url) from None
        fault: Exception = error
    except Exception as exc:  # noqa: BLE001 - a value the archive cannot hold
        fault = exc
    outcome.status, outcome.error_kind, outcome.listing = "failed", "parse", None
    outcome.new = outcome.changed = outcome.removed = 0
    outcome.error = crash_message(fault, f"could not write {url} (the adapter gave a value "
                                  "the archive cannot hold; the pages are kept)")
    try:
        archive.record_source(run_id, outcome)
    except sqlite3.OperationalError as error:
        raise describe(error, archive.path, url) from None


def _report(config_source: SourceConfig, outcome: SourceOutcome) -> SourceReport:
    window = outcome.window
    label = adapters.get(config_source.platform).label or config_source.platform
    return SourceReport(
        podcast=config_source.podcast, platform=config_source.platform, url=config_source.url,
        status=outcome.status, error=outcome.error, claimed=outcome.claimed,
        listed=outcome.listed, pages=outcome.pages,
        new=outcome.new, changed=outcome.changed, removed=outcome.removed,
        warnings=list(outcome.listing.warnings) if outcome.listing else [],
        window=window,
        note=window_note(label, window, outcome.claimed) if window else None,
    )


def _reconcile(archive: Archive, podcast_ids: set[int]) -> dict[str, Any]:
    totals: dict[str, Any] = {}
    for podcast_id in sorted(podcast_ids):
        # Incremental: only what was queued since the podcast's last reconcile.
        if not archive.needs_reconcile(podcast_id):
            continue
        report = archive.reconcile(podcast_id)
        for key, value in getattr(report, "__dict__", {}).items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                totals[key] = totals.get(key, 0) + value
    return totals


async def run_sync(
    config: Config,
    db_path: Path,
    *,
    podcast: str | None = None,
    platform: str | None = None,
    routes=None,
    obey_robots: bool | None = None,
    on_source_done: Callable[[SourceReport], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> SyncSummary:
    """Run one sync. Raises LockedError if another sync holds the archive, ArchiveError
    when the archive cannot be used (the run is then closed as `failed`)."""
    sources = config.sources(podcast, platform)
    tasks: list[asyncio.Task] = []
    with _writing_run(db_path, "sync") as (archive, run_id, outcomes):
        fetchers = _Fetchers(config, routes if routes is not None else config.routes, obey_robots)
        parsers = use_parse_pool()  # started on the first big page, closed below
        policy = fetchers.http.policy
        run_deadline = Deadline(time.monotonic() + policy.run_deadline,
                                f"run deadline of {policy.run_deadline:g} s")
        limit = asyncio.Semaphore(MAX_CONCURRENT_SOURCES)
        podcast_ids: set[int] = set()
        if on_start:
            on_start(len(sources))

        async def one(source: SourceConfig):
            adapter = adapters.get(source.platform)
            try:
                podcast_id = archive.ensure_podcast(source.podcast)
                source_id = archive.ensure_source(podcast_id, adapter.name, source.url,
                                                  source.fetch or adapter.fetch_mode)
                previous = archive.last_good_listing(source_id)
                # Browser pages are never 304s: only plain fetches revalidate the last chain.
                by_http = (source.fetch or adapter.fetch_mode) != "browser"
                chain = archive.last_good_chain(source_id) if by_http else None
            except sqlite3.Error as error:
                raise describe(error, db_path) from None
            podcast_ids.add(podcast_id)
            async with limit:
                deadline = Deadline.earliest(run_deadline, Deadline(
                    time.monotonic() + policy.source_deadline,
                    f"source deadline of {policy.source_deadline:g} s"))
                fetch = _page_fetcher(fetchers, archive, adapter, source, source_id)
                try:
                    outcome = await collect_source(adapter, source.url, source_id, fetch,
                                                   previous, chain=chain, deadline=deadline)
                except sqlite3.Error as error:  # reading the archive: a fault, not the source's
                    raise describe(error, db_path) from None
                except Exception as exc:  # noqa: BLE001 - one bad source never stops the run
                    outcome = _failed(SourceOutcome(source_id=source_id, status="failed"),
                                      ParseError(crash_message(
                                          exc, f"{source.url} failed unexpectedly")))
            return source, outcome

        reports: list[SourceReport] = []
        tasks = [asyncio.ensure_future(one(s)) for s in sources]
        try:
            for next_done in asyncio.as_completed(tasks):
                source, outcome = await next_done
                _record(archive, run_id, outcome, source.url)  # one transaction per source
                outcomes.append(outcome)
                report = _report(source, outcome)
                reports.append(report)
                # Written: keep only the counts, so memory stays flat however many sources.
                outcome.captures, outcome.listing = [], None
                if on_source_done:
                    on_source_done(report)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await fetchers.aclose()
            parsers.close()
        try:
            reconciled = _reconcile(archive, podcast_ids) if podcast_ids else None
            status = archive.finish_run(run_id, outcomes)
        except sqlite3.Error as error:
            raise describe(error, db_path) from None
        if config.notify is not None and podcast_ids:
            from scraper.notify import notify_after_sync  # never raises

            notify_after_sync(archive, config.notify, podcast_ids, run_id=run_id,
                              db_name=db_path.stem)
        order = {(s.podcast, s.url): i for i, s in enumerate(sources)}
        reports.sort(key=lambda r: order[(r.podcast, r.url)])
        return SyncSummary(run_id=run_id, status=status, db=str(db_path), sources=reports,
                           reconciled=reconciled)


def sync(config: Config, db_path: Path, **kwargs) -> SyncSummary:
    return asyncio.run(run_sync(config, db_path, **kwargs))


def reparse(db_path: Path, *, podcast: str | None = None,
            platform: str | None = None) -> SyncSummary:
    """Re-run adapters over stored captures (no network), e.g. after an adapter fix."""
    return asyncio.run(_run_reparse(db_path, podcast=podcast, platform=platform))


async def _run_reparse(db_path: Path, *, podcast: str | None,
                       platform: str | None) -> SyncSummary:
    with _writing_run(db_path, "reparse") as (archive, run_id, outcomes):
        rows = [r for r in archive.all_sources()
                if (not podcast or r[3] == podcast) and (not platform or r[2] == platform)]
        reports = []
        for source_id, url, platform_name, podcast_name, _ in rows:
            adapter = adapters.get(platform_name)

            async def stored(page_url: str | Request, source_id: int = source_id,
                             adapter: Adapter = adapter) -> list[Capture]:
                # With the page states a browser clicked through, as the sync parsed them.
                captures = archive.latest_page_states(page_url, source_id)
                for older in adapter.older_forms(page_url) if not captures else []:
                    captures = archive.latest_page_states(older, source_id)
                    if captures:
                        break
                if not captures:
                    raise FetchError(f"no stored capture of {Request.of(page_url).describe()} "
                                     f"(reparse never fetches)")
                for capture in captures:
                    capture.not_modified = True  # already stored: don't store it again
                return captures

            outcome = await collect_source(adapter, url, source_id, stored,
                                           archive.last_good_listing(source_id))
            if outcome.status == "unchanged":
                outcome.status = "ok"
            _record(archive, run_id, outcome, url)
            outcomes.append(outcome)
            reports.append(_report(
                SourceConfig(podcast=podcast_name, url=url, platform=platform_name), outcome))
            outcome.captures, outcome.listing = [], None
        podcast_ids = {r[4] for r in rows}
        reconciled = _reconcile(archive, podcast_ids) if podcast_ids else None
        status = archive.finish_run(run_id, outcomes)
        return SyncSummary(run_id=run_id, status=status, db=str(db_path), sources=reports,
                           reconciled=reconciled)


def check_source(config: Config, url: str, platform: str | None, routes=None) -> Listing:
    """Fetch and parse a source's first page (what `scraper add` checks before adding).
    Raises the ScraperError that a sync would record."""
    adapter = adapters.for_source(url, platform)

    async def probe() -> Listing:
        from scraper.fetch import Fetcher, FetchPolicy

        async with Fetcher(FetchPolicy(**config.fetch),
                           routes if routes is not None else config.routes) as fetcher:
            capture = await fetcher.fetch(adapter.start_urls(adapter.canonical_url(url))[0])
        return parse_capture(adapter, capture)

    return asyncio.run(probe())
