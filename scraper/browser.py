"""Fetch pages through a real headless Chromium, for platforms that render their episode list
in JavaScript or show plain HTTP clients a bot wall.

The rendered HTML comes back as an ordinary `Capture` (via="browser"), so adapters parse it
exactly like a plain fetch. Routes apply to every request the page makes: the page keeps its
platform origin while the bytes come from the routed base (a mirror, replay or test server).

One browser is launched lazily per `BrowserFetcher` and shared by all fetches of a run; pages
of the same host are loaded one at a time with `min_delay` between loads and clicks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import time
from datetime import UTC, datetime
from urllib.parse import urldefrag, urljoin, urlsplit

from playwright.async_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    Playwright,
    Request,
    Response,
    Route,
    async_playwright,
)
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from scraper.errors import FetchError
from scraper.fetch import check_address, is_route_target, route_targets
from scraper.guard_proxy import REFUSED_HEADER, GuardProxy
from scraper.models import Capture
from scraper.models import Request as FetchRequest
from scraper.routes import Routes
from scraper.settings import DEFAULT_CHROMIUM as DEFAULT_CHROMIUM  # re-exported
from scraper.settings import BrowserOptions

log = logging.getLogger(__name__)

INSTALL_HINT = "apt-get install -y chromium"

# Without the background-networking flags Chromium keeps phoning home (updates, sync,
# safe browsing), which floods a closed network with failing requests.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Listings need markup only; these are the heavy downloads.
BLOCKED_RESOURCES = frozenset({"image", "media", "font"})
# Requests that count as "the page is still loading" when deciding a click has settled.
# (websocket / eventsource never finish, images are aborted anyway.)
TRACKED_RESOURCES = frozenset({"document", "fetch", "xhr", "script"})
# Headers describing the wire body, wrong for the re-serialised DOM.
WIRE_HEADERS = frozenset({"content-length", "content-encoding", "transfer-encoding"})

MAX_REDIRECTS = 20
POLL = 0.1  # seconds between DOM checks while waiting for a click to take effect
# Without a selector to wait for, "network idle" is our best guess at "rendered"; pages with
# analytics polling never go idle, so this wait is short and best-effort.
IDLE_WAIT = 5.0

# Cheap fingerprint of the rows (or the whole body): [count, hash]. Computed in the page so
# large DOMs are not shipped over CDP on every poll.
_SIGNATURE_JS = """(sel) => {
  const els = sel ? Array.from(document.querySelectorAll(sel)) : [document.body];
  let h = 0;
  for (const el of els) {
    const s = el ? el.outerHTML : "";
    for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) | 0;
  }
  return [sel ? els.length : -1, h];
}"""


class _PageState:
    """What we track about one open page: the last main-document response, the requests
    still in flight (to tell when a click's XHRs are done) and where routed documents were
    redirected to (the route follows those redirects, so page.url does not show them)."""

    def __init__(self, page: Page):
        self.main_response: Response | None = None
        self.inflight: set[Request] = set()
        self.redirects: dict[str, str] = {}
        # Why a routed main-document request failed, for a clearer error than net::ERR_FAILED.
        self.route_error: str | None = None
        page.on("response", self._on_response)
        page.on("request", self._on_request)
        page.on("requestfinished", self._on_done)
        page.on("requestfailed", self._on_done)
        self._page = page

    def _on_response(self, response: Response) -> None:
        request = response.request
        with contextlib.suppress(PlaywrightError):
            if request.is_navigation_request() and request.frame == self._page.main_frame:
                self.main_response = response

    def final_url(self) -> str:
        return self.redirects.get(self._page.url, self._page.url)

    def _on_request(self, request: Request) -> None:
        if request.resource_type in TRACKED_RESOURCES:
            self.inflight.add(request)

    def _on_done(self, request: Request) -> None:
        self.inflight.discard(request)


class BrowserFetcher:
    """`async with BrowserFetcher(options, routes) as browser: await browser.fetch(url)`."""

    def __init__(self, options: BrowserOptions | None = None, routes: Routes | None = None):
        self.options = options or BrowserOptions()
        self.routes = routes or Routes()
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._context: BrowserContext | None = None
        self._launch_lock = asyncio.Lock()
        self._host_locks: dict[str, asyncio.Lock] = {}
        self._host_last: dict[str, float] = {}  # monotonic time the host's last action ended
        self._states: dict[Page, _PageState] = {}
        # Every request of the browser goes through it unless private addresses are allowed.
        self._proxy: GuardProxy | None = None

    # Lifecycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> BrowserFetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        context, browser, playwright = self._context, self._browser, self._playwright
        self._context = self._browser = self._playwright = None
        proxy, self._proxy = self._proxy, None
        # Best effort: a crashed browser must not turn shutdown into an error.
        for closer in (
            context.close if context else None,
            browser.close if browser else None,
            playwright.stop if playwright else None,
            proxy.close if proxy else None,
        ):
            if closer is None:
                continue
            try:
                await closer()
            except Exception as exc:
                log.debug("browser shutdown: %s", exc)

    def _resolve_executable(self) -> str:
        path = self.options.executable_path
        found = shutil.which(path) if os.sep not in path else path
        if not found or not os.path.isfile(found) or not os.access(found, os.X_OK):
            raise FetchError(
                f"Chromium not found at {path!r}: install it with `{INSTALL_HINT}`, or point "
                "SCRAPER_CHROMIUM (BrowserOptions.executable_path) at a Chromium binary. "
                "(`playwright install` is not used: it downloads a browser.)"
            )
        return found

    async def _ensure_context(self) -> BrowserContext:
        async with self._launch_lock:
            if self._context is not None:
                return self._context
            executable = self._resolve_executable()
            if not self.options.allow_private and self._proxy is None:
                # Page routing misses the hops of redirects Chromium follows itself: every
                # request goes through the guard, which checks each one (scraper.guard_proxy).
                self._proxy = await GuardProxy(route_targets(self.routes)).start()
            playwright = await async_playwright().start()
            try:
                browser = await playwright.chromium.launch(
                    executable_path=executable,
                    headless=True,
                    args=CHROMIUM_ARGS,
                    timeout=self.options.timeout * 1000,
                )
                context = await browser.new_context(
                    user_agent=self.options.user_agent,
                    # Service workers answer requests before routing sees them.
                    service_workers="block",
                    # Loopback too: Playwright adds <-loopback> to the bypass list itself.
                    proxy={"server": self._proxy.url} if self._proxy else None,
                )
                await context.route("**/*", self._handle_route)
            except PlaywrightError as exc:
                await playwright.stop()
                raise FetchError(
                    f"could not start Chromium at {executable!r}: {exc.message.splitlines()[0]} "
                    f"(reinstall with `{INSTALL_HINT}` or set SCRAPER_CHROMIUM)"
                ) from None
            self._playwright, self._browser, self._context = playwright, browser, context
            return context

    # Routing --------------------------------------------------------------------------------

    async def _handle_route(self, route: Route, request: Request) -> None:
        try:
            if request.resource_type in BLOCKED_RESOURCES:
                await route.abort("blockedbyclient")
                return
            if self.routes.apply(request.url) == request.url:
                if (not self.options.allow_private
                        and request.url.startswith(("http:", "https:"))
                        and not is_route_target(request.url, route_targets(self.routes))):
                    try:
                        await check_address(request.url)
                    except FetchError as refused:
                        self._note_route_error(request, str(refused))
                        await route.abort("addressunreachable")
                        return
                await route.continue_()
                return
            await self._fulfill_routed(route, request)
        except PlaywrightError as exc:
            # The page or browser went away mid-request, or the routed server failed.
            reason = exc.message.splitlines()[0]
            log.debug("browser route %s: %s", request.url, reason)
            with contextlib.suppress(PlaywrightError):
                state = self._states.get(request.frame.page)
                if state is not None and request.is_navigation_request():
                    routed = self.routes.apply(request.url)
                    state.route_error = f"routed to {routed}: {reason}"
            with contextlib.suppress(PlaywrightError):
                await route.abort("failed")

    def _note_route_error(self, request: Request, reason: str) -> None:
        with contextlib.suppress(PlaywrightError):
            state = self._states.get(request.frame.page)
            if state is not None and request.is_navigation_request():
                state.route_error = reason

    async def _fulfill_routed(self, route: Route, request: Request) -> None:
        """Fetch from the routed base but answer the page at the original URL, so its origin,
        relative links and own API calls stay in the platform's URL space.

        Redirects are followed here, hop by hop through the routes: Playwright does not
        route the browser's own follow-up request, which would escape to the real host."""
        target = request.url  # platform URL space
        routed = self.routes.apply(target)
        response = await route.fetch(
            url=routed, max_redirects=0, timeout=self.options.timeout * 1000
        )
        for _ in range(MAX_REDIRECTS):
            location = response.headers.get("location")
            if not (300 <= response.status < 400 and location and request.method == "GET"):
                break
            target = self.routes.unapply(urljoin(routed, location))
            routed = self.routes.apply(target)
            response = await route.fetch(
                url=routed, max_redirects=0, timeout=self.options.timeout * 1000
            )
        if target != request.url and request.is_navigation_request():
            state = self._states.get(request.frame.page)
            if state is not None:
                state.redirects[request.url] = target
        headers = None
        location = response.headers.get("location")
        if location:  # a redirect we did not follow: keep the browser in platform space
            headers = {**response.headers, "location": self.routes.unapply(location)}
        await route.fulfill(response=response, headers=headers)

    # Politeness -----------------------------------------------------------------------------

    def _host_lock(self, host: str) -> asyncio.Lock:
        return self._host_locks.setdefault(host, asyncio.Lock())

    async def _pace(self, host: str) -> None:
        last = self._host_last.get(host)
        if last is not None:
            wait = last + self.options.min_delay - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)

    def _stamp(self, host: str) -> None:
        self._host_last[host] = time.monotonic()

    # Fetching -------------------------------------------------------------------------------

    async def fetch(
        self, url: str, *, wait_for: str | None = None, click_next: str | None = None
    ) -> Capture:
        """The page after JavaScript ran and every `click_next` click (for "load more"
        buttons that append rows). Its body is the final DOM."""
        captures = await self._run(url, wait_for=wait_for, click_next=click_next, every=False)
        return captures[-1]

    async def fetch_request(self, request: FetchRequest, *,
                            clear_wait_for: str | None = None) -> Capture:
        """Send an API request (method, headers, body) through the browser context's request
        API: it carries the context's cookies (a bot wall's clearance cookie) and user agent,
        which a plain client lacks. Playwright does not route these requests, so routes are
        applied here; politeness is shared with page loads of the same host.

        When the host answers with a JavaScript challenge (no clearance cookie for it yet),
        the browser first loads the URL as a page, as a visitor would, so the challenge runs
        and sets the cookie (`clear_wait_for`: what shows once through), then sends the
        request again."""
        capture = await self._api_request(request)
        if _challenged(capture):
            log.info("browser: %s answered a challenge; clearing it with a page visit",
                     request.describe())
            with contextlib.suppress(FetchError):
                await self._run(request.url, wait_for=clear_wait_for, click_next=None,
                                every=False)
            capture = await self._api_request(request)
        return capture

    async def _api_request(self, request: FetchRequest) -> Capture:
        context = await self._ensure_context()
        host = urlsplit(request.url).netloc.lower()
        async with self._host_lock(host):
            await self._pace(host)
            headers = dict(request.headers)
            routed = self.routes.apply(request.url)
            if routed != request.url:
                # Sent to the routed base, the request would carry that host's cookies; it
                # must carry the platform host's (a challenge's clearance cookie).
                jar = await context.cookies(request.url)
                if jar:
                    headers["cookie"] = "; ".join(f"{c['name']}={c['value']}" for c in jar)
            refusals = len(self._proxy.refused) if self._proxy else 0
            try:
                response = await context.request.fetch(
                    routed, method=request.method.upper(),
                    headers=headers, data=request.body,
                    timeout=self.options.timeout * 1000, max_redirects=MAX_REDIRECTS,
                )
                body = await response.body()
            except PlaywrightError as exc:
                refused = self._proxy.refused[refusals:] if self._proxy else []
                reason = refused[-1] if refused else exc.message.splitlines()[0]
                raise FetchError(f"{request.describe()}: {reason}", url=request.url) from None
            finally:
                self._stamp(host)
        _raise_if_refused(response.headers, request.describe())
        answer = {k.lower(): v for k, v in response.headers.items()
                  if k.lower() not in WIRE_HEADERS}
        return Capture(url=request.url, status=response.status, body=body,
                       fetched_at=datetime.now(UTC), headers=answer,
                       final_url=self.routes.unapply(response.url), via="browser",
                       method=request.method.upper(), request_body=request.body,
                       request_headers=dict(request.headers))

    async def fetch_pages(
        self, url: str, *, wait_for: str | None = None, click_next: str | None = None
    ) -> list[Capture]:
        """One capture per page state: the initial render, then one after each `click_next`
        click (for paginators that replace rows). Page n>=2 has url `<url>#page=n`."""
        return await self._run(url, wait_for=wait_for, click_next=click_next, every=True)

    async def _run(
        self, url: str, *, wait_for: str | None, click_next: str | None, every: bool
    ) -> list[Capture]:
        context = await self._ensure_context()
        host = urlsplit(url).netloc.lower()
        async with self._host_lock(host):
            page = await context.new_page()
            self._states[page] = _PageState(page)
            try:
                async with asyncio.timeout(self.options.page_deadline) as scope:
                    return await self._drive(page, url, host, wait_for, click_next, every)
            except TimeoutError:
                if not scope.expired():
                    raise
                raise FetchError(
                    f"browser: {url} did not finish within {self.options.page_deadline:g} s "
                    f"(page deadline; [browser] page_deadline)", url=url) from None
            finally:
                self._stamp(host)
                self._states.pop(page, None)
                with contextlib.suppress(PlaywrightError):
                    await page.close()

    async def _drive(
        self,
        page: Page,
        url: str,
        host: str,
        wait_for: str | None,
        click_next: str | None,
        every: bool,
    ) -> list[Capture]:
        timeout_ms = self.options.timeout * 1000
        page.set_default_timeout(timeout_ms)
        state = self._states[page]

        await self._pace(host)
        refusals = len(self._proxy.refused) if self._proxy else 0
        try:
            response = await page.goto(url, wait_until="domcontentloaded", timeout=timeout_ms)
        except PlaywrightError as exc:
            # An HTTPS hop the guard refused fails the tunnel: its reason says why.
            refused = self._proxy.refused[refusals:] if self._proxy else []
            reason = state.route_error or (refused[-1] if refused else
                                           exc.message.splitlines()[0])
            raise FetchError(f"browser could not load {url}: {reason}", url=url) from None
        if response is None:
            raise FetchError(f"browser got no response for {url}", url=url)
        _raise_if_refused(response.headers, url)
        if state.main_response is None:
            state.main_response = response

        rendered = True
        if wait_for:
            try:
                await page.wait_for_selector(wait_for, state="attached", timeout=timeout_ms)
            except PlaywrightTimeoutError:
                # Hand over what rendered; the adapter names the problem (layout, bot wall).
                rendered = False
                log.warning(
                    "browser: %r did not appear within %.0fs at %s (status %s)",
                    wait_for,
                    self.options.timeout,
                    url,
                    state.main_response.status,
                )
        else:
            with contextlib.suppress(PlaywrightTimeoutError):
                await page.wait_for_load_state("networkidle", timeout=IDLE_WAIT * 1000)
        if rendered:
            await self._wait_for_change(page, state, wait_for, before=None)
        self._stamp(host)

        base_url = urldefrag(url)[0]
        captures = [await self._snapshot(page, state, url)]
        if not (click_next and rendered):
            return captures

        clicks = 0
        # Set when clicking stops while the control is still there: the list may go on.
        stopped: str | None = None
        while True:
            button = await self._find_button(page, click_next)
            if button is None:
                break
            if clicks >= self.options.max_clicks:
                stopped = (f"the browser stopped after {clicks} clicks on {click_next!r} with "
                           f"more to load ([browser] max_clicks = {self.options.max_clicks})")
                break
            before = await self._signature(page, wait_for)
            await self._pace(host)
            try:
                await button.click(timeout=timeout_ms)
            except PlaywrightError as exc:
                stopped = (f"click {clicks + 1} on {click_next!r} failed "
                           f"({exc.message.splitlines()[0]}); the rest was not loaded")
                break
            clicks += 1
            changed = await self._wait_for_change(page, state, wait_for, before=before)
            self._stamp(host)
            if not changed:
                stopped = (f"click {clicks} on {click_next!r} loaded nothing within "
                           f"{self.options.timeout:g} s and the control is still there")
                break
            snapshot_url = f"{base_url}#page={len(captures) + 1}" if every else url
            capture = await self._snapshot(page, state, snapshot_url)
            if every:
                captures.append(capture)
            else:
                captures[-1] = capture
        if stopped:
            log.warning("browser: %s at %s; the listing may be incomplete", stopped, url)
            captures[-1].incomplete_reason = stopped
        return captures

    async def _find_button(self, page: Page, selector: str) -> Locator | None:
        """The first visible, enabled element matching `selector` (paginators often repeat
        their controls above and below the list), or None."""
        try:
            matches = page.locator(selector)
            for index in range(await matches.count()):
                candidate = matches.nth(index)
                if await candidate.is_visible() and await candidate.is_enabled():
                    return candidate
        except PlaywrightError:
            pass  # the DOM changed under us (navigation); treat as "no button"
        return None

    async def _signature(self, page: Page, selector: str | None) -> tuple[int, int] | None:
        try:
            count, digest = await page.evaluate(_SIGNATURE_JS, selector)
        except PlaywrightError:
            return None  # execution context replaced by a navigation; try again later
        return int(count), int(digest)

    async def _wait_for_change(
        self,
        page: Page,
        state: _PageState,
        selector: str | None,
        *,
        before: tuple[int, int] | None,
    ) -> bool:
        """Wait until the rows differ from `before` (None: any rows), then until they are
        stable for one poll with no request in flight. Replacing paginators first empty the
        list, so an empty list does not count as changed. True if the rows changed."""
        deadline = time.monotonic() + self.options.timeout
        changed = False
        last: tuple[int, int] | None = None
        while time.monotonic() < deadline:
            signature = await self._signature(page, selector)
            if signature is not None and signature != before and signature[0] != 0:
                changed = True
                if signature == last and not state.inflight:
                    return True
            last = signature
            await asyncio.sleep(POLL)
        # Changed but never settled (e.g. endless polling): take what is there.
        return changed

    async def _snapshot(self, page: Page, state: _PageState, url: str) -> Capture:
        response = state.main_response
        assert response is not None  # set by _drive before the first snapshot
        try:
            raw_headers = await response.all_headers()
        except PlaywrightError:
            raw_headers = dict(response.headers)
        headers = {k.lower(): v for k, v in raw_headers.items() if k.lower() not in WIRE_HEADERS}
        wire_type = headers.get("content-type", "").split(";")[0].strip().lower()
        body: bytes | None = None
        if wire_type and "html" not in wire_type:
            # JSON, XML or a feed: the document itself, not Chromium's viewer around it.
            try:
                body = await response.body()
            except PlaywrightError:
                body = None
        if body is None:
            # The re-serialised DOM, always UTF-8 whatever the wire said.
            headers["content-type"] = "text/html; charset=utf-8"
            body = (await page.content()).encode("utf-8")
        return Capture(
            url=url,
            status=response.status,
            body=body,
            fetched_at=datetime.now(UTC),
            headers=headers,
            final_url=self.routes.unapply(state.final_url()),
            via="browser",
        )


def _raise_if_refused(headers: dict[str, str], url: str) -> None:
    """The guard proxy answered instead of the site (a hop to a private address)."""
    reason = headers.get(REFUSED_HEADER)
    if reason:
        raise FetchError(f"browser could not load {url}: {reason}", url=url)


def _challenged(capture: Capture) -> bool:
    """An API answer that is a JavaScript bot-wall challenge (Cloudflare's), not the API."""
    if capture.status not in (403, 503):
        return False
    head = capture.body[:200_000]
    return (capture.headers.get("cf-mitigated", "").lower() == "challenge"
            or b"_cf_chl_opt" in head or b"/cdn-cgi/challenge-platform/" in head)


__all__ = ["BrowserFetcher", "BrowserOptions", "CHROMIUM_ARGS", "INSTALL_HINT"]
