"""One sync run: fetch every selected source, parse it, and record it.

Sources are fetched concurrently (the fetcher keeps each host polite); each source's pages
are fetched and parsed completely before anything is written, then written in one
transaction. A failing source is recorded with its error and leaves its history as it was.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import adapters
from adapters.base import Adapter
from scraper.archive import Archive, SourceOutcome
from scraper.config import Config, SourceConfig
from scraper.errors import BlockedError, FetchError, LayoutError, LockedError, ScraperError
from scraper.models import Capture, Episode, Listing
from scraper.parsing import parse_capture

# A complete listing below these fractions of the last good one, or of the count the
# platform claims, means the adapter no longer reads the page right.
MIN_FRACTION_OF_PREVIOUS = 0.5
MIN_FRACTION_OF_CLAIMED = 0.5
MAX_CONCURRENT_SOURCES = 8

# Fetch one URL for a source: returns one or more captures (a browser paginator yields
# one per page state).
PageFetcher = Callable[[str], Awaitable[list[Capture]]]


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
                 "duration_raw", "description", "url", "audio_url"):
        value = getattr(new, name)
        if value is not None:
            setattr(old, name, value)
    if new.published is not None:
        old.published_flag = new.published_flag
    old.description_truncated = (
        new.description_truncated if new.description is not None else old.description_truncated
    )
    old.extra.update(new.extra)
    return old


def merge_page(merged: Listing | None, page: Listing) -> Listing:
    if merged is None:
        page.episodes = list({e.id: e for e in page.episodes}.values())
        return page
    if merged.show is None:
        merged.show = page.show
    elif page.show is not None:
        for name in ("title", "author", "description", "claimed_count", "url", "image"):
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
    return merged


def _status_of(error: ScraperError) -> str:
    if isinstance(error, BlockedError):
        return "blocked"
    if isinstance(error, LayoutError):
        return "layout"
    return "failed"


def check_plausible(listing: Listing, previous: int | None) -> None:
    """Refuse a complete listing that is empty or far smaller than before or than claimed."""
    listed = len(listing.episodes)
    claimed = listing.show.claimed_count if listing.show else None
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


async def _revalidate(chain: list[str], fetch: PageFetcher) -> tuple[bool, dict]:
    """Conditionally re-fetch the pages of the last complete listing. True when every one
    answered 304; the captures fetched so far are handed back for reuse either way."""
    fetched: dict[str, list[Capture]] = {}
    for page_url in chain:
        try:
            captures = await fetch(page_url)
        except ScraperError:
            return False, fetched  # the full pass fetches it again and records the error
        fetched[page_url] = captures
        if not all(c.not_modified for c in captures):
            return False, fetched
    return bool(fetched), fetched


async def collect_source(adapter: Adapter, url: str, source_id: int, fetch: PageFetcher,
                         previous: dict[str, Any] | None, *,
                         chain: list[str] | None = None) -> SourceOutcome:
    """Fetch and parse every page of one source. Writes nothing.

    `previous` is the source's last good listing (its count guards against a listing that
    shrank). With `chain` (the URLs of the last complete listing) the pages are revalidated
    first: if all are unchanged, nothing is parsed and the source is reported unchanged."""
    outcome = SourceOutcome(source_id=source_id, status="ok")
    previous_count = previous["listed_count"] if previous else None
    prefetched: dict[str, list[Capture]] = {}
    if chain and previous:
        unchanged, prefetched = await _revalidate(chain, fetch)
        if unchanged:
            outcome.status = "unchanged"
            outcome.captures = [c for captures in prefetched.values() for c in captures]
            outcome.pages = len(outcome.captures)
            outcome.previous_listed = previous["listed_count"]
            outcome.previous_claimed = previous["claimed_count"]
            return outcome
    queue = deque(adapter.start_urls(url))
    seen: set[str] = set()
    merged: Listing | None = None
    partial: ScraperError | None = None
    while queue:
        page_url = queue.popleft()
        if page_url in seen:
            continue
        seen.add(page_url)
        if outcome.pages >= adapter.max_pages:
            if merged is not None:
                merged.incomplete_reason = f"stopped after {adapter.max_pages} pages"
            break
        try:
            captures = prefetched.pop(page_url, None) or await fetch(page_url)
        except ScraperError as error:
            if merged is None:
                return _failed(outcome, error)
            partial = error
            break
        for capture in captures:
            outcome.captures.append(capture)
            outcome.pages += 1
            try:
                page = parse_capture(adapter, capture)
            except ScraperError as error:
                if merged is None:
                    return _failed(outcome, error)
                partial = error
                break
            merged = merge_page(merged, page)
            queue.extend(n for n in page.next if n not in seen)
        if partial:
            break
    assert merged is not None  # start_urls is never empty
    outcome.listing = merged
    if partial is not None:
        claimed = merged.show.claimed_count if merged.show else None
        of = f" of the {claimed} the platform claims" if claimed else ""
        outcome.status = "partial"
        outcome.error_kind = partial.kind
        outcome.error = f"archived {len(merged.episodes)} episodes{of}; then: {partial}"
        return outcome
    try:
        check_plausible(merged, previous_count)
    except LayoutError as error:
        return _failed(outcome, error)
    if outcome.captures and all(c.not_modified for c in outcome.captures):
        outcome.status = "unchanged"
    return outcome


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
        self._browser = None

    def browser(self):
        if self._browser is None:
            from scraper.browser import BrowserFetcher, BrowserOptions

            options = dict(self.config.browser)
            options.setdefault("min_delay", self.config.fetch.get("min_delay", 1.0))
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
    use_browser = (source.fetch or adapter.fetch_mode) == "browser"
    start_urls = set(adapter.start_urls(source.url))

    async def fetch(url: str) -> list[Capture]:
        if use_browser:
            # A bot wall answers plain clients on every page, so a browser source fetches
            # all its pages (and API calls) through the browser. The start page may have a
            # client-side paginator: one capture per page state.
            browser = fetchers.browser()
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
        return [capture]

    return fetch


def _lock(db_path: Path):
    from filelock import FileLock, Timeout

    db_path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(db_path) + ".lock", timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise LockedError(
            f"another scraper sync is writing to {db_path} (lock {db_path}.lock); "
            f"try again when it has finished"
        ) from None
    return lock


def _report(config_source: SourceConfig, outcome: SourceOutcome) -> SourceReport:
    return SourceReport(
        podcast=config_source.podcast, platform=config_source.platform, url=config_source.url,
        status=outcome.status, error=outcome.error, claimed=outcome.claimed,
        listed=outcome.listed, pages=outcome.pages,
        new=outcome.new, changed=outcome.changed, removed=outcome.removed,
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
    """Run one sync. Raises LockedError if another sync holds the archive."""
    sources = config.sources(podcast, platform)
    lock = _lock(db_path)
    archive = Archive(db_path)
    try:
        run_id = archive.start_run("sync", os.getpid())
        fetchers = _Fetchers(config, routes if routes is not None else config.routes, obey_robots)
        limit = asyncio.Semaphore(MAX_CONCURRENT_SOURCES)
        podcast_ids: set[int] = set()
        if on_start:
            on_start(len(sources))

        async def one(source: SourceConfig):
            adapter = adapters.get(source.platform)
            podcast_id = archive.ensure_podcast(source.podcast)
            podcast_ids.add(podcast_id)
            source_id = archive.ensure_source(podcast_id, adapter.name, source.url,
                                              source.fetch or adapter.fetch_mode)
            previous = archive.last_good_listing(source_id)
            # Browser pages are never 304s: only plain fetches revalidate the last chain.
            by_http = (source.fetch or adapter.fetch_mode) != "browser"
            chain = archive.last_good_chain(source_id) if by_http else None
            async with limit:
                fetch = _page_fetcher(fetchers, archive, adapter, source, source_id)
                outcome = await collect_source(adapter, source.url, source_id, fetch, previous,
                                               chain=chain)
            return source, outcome

        reports: list[SourceReport] = []
        outcomes: list[SourceOutcome] = []
        try:
            for next_done in asyncio.as_completed([one(s) for s in sources]):
                source, outcome = await next_done
                archive.record_source(run_id, outcome)  # one transaction per source
                outcomes.append(outcome)
                report = _report(source, outcome)
                reports.append(report)
                # Written: keep only the counts, so memory stays flat however many sources.
                outcome.captures, outcome.listing = [], None
                if on_source_done:
                    on_source_done(report)
        finally:
            await fetchers.aclose()
        reconciled = _reconcile(archive, podcast_ids) if podcast_ids else None
        status = archive.finish_run(run_id, outcomes)
        order = {(s.podcast, s.url): i for i, s in enumerate(sources)}
        reports.sort(key=lambda r: order[(r.podcast, r.url)])
        return SyncSummary(run_id=run_id, status=status, db=str(db_path), sources=reports,
                           reconciled=reconciled)
    finally:
        archive.close()
        lock.release()


def sync(config: Config, db_path: Path, **kwargs) -> SyncSummary:
    return asyncio.run(run_sync(config, db_path, **kwargs))


def reparse(db_path: Path, *, podcast: str | None = None,
            platform: str | None = None) -> SyncSummary:
    """Re-run adapters over stored captures (no network), e.g. after an adapter fix."""
    return asyncio.run(_run_reparse(db_path, podcast=podcast, platform=platform))


async def _run_reparse(db_path: Path, *, podcast: str | None,
                       platform: str | None) -> SyncSummary:
    lock = _lock(db_path)
    archive = Archive(db_path)
    try:
        run_id = archive.start_run("reparse", os.getpid())
        rows = [r for r in archive.all_sources()
                if (not podcast or r[3] == podcast) and (not platform or r[2] == platform)]
        reports, outcomes = [], []
        for source_id, url, platform_name, podcast_name, _ in rows:
            adapter = adapters.get(platform_name)

            async def stored(page_url: str, source_id: int = source_id) -> list[Capture]:
                capture = archive.latest_capture(page_url, source_id)
                if capture is None:
                    raise FetchError(f"no stored capture of {page_url} (reparse never fetches)")
                capture.not_modified = True  # already stored: don't store it again
                return [capture]

            outcome = await collect_source(adapter, url, source_id, stored,
                                           archive.last_good_listing(source_id))
            if outcome.status == "unchanged":
                outcome.status = "ok"
            archive.record_source(run_id, outcome)
            outcomes.append(outcome)
            reports.append(_report(
                SourceConfig(podcast=podcast_name, url=url, platform=platform_name), outcome))
            outcome.captures, outcome.listing = [], None
        podcast_ids = {r[4] for r in rows}
        reconciled = _reconcile(archive, podcast_ids) if podcast_ids else None
        status = archive.finish_run(run_id, outcomes)
        return SyncSummary(run_id=run_id, status=status, db=str(db_path), sources=reports,
                           reconciled=reconciled)
    finally:
        archive.close()
        lock.release()


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
