"""Castbox (castbox.fm): channel pages plus the signed `everest` episode-list API.

A channel page is a server-rendered React app (`#root`, `#childrenBox`) that carries its data
twice: in `window.__INITIAL_STATE__ = "<percent-encoded JSON>";` (`ch.chInfo` for the
channel, `ch.eps[]` for the first 20 episodes, descriptions as HTML, `release_date` ISO,
`duration` in milliseconds) and in the DOM (`.ch_feed_info`, `section.episodeRow .ep-item`).
The state is read first; the DOM is the fallback. The page prints the episode count
("451 Episodes") and loads the rest on scroll (`#LoadInline`) from
`everest.castbox.fm/data/episode_list/v2`, a signed endpoint: `m` is the UTC day
(YYYYMMDD) and `n` a fixed 32-index permutation of md5(sorted "k=v&..." + "evst" + m)
(RSSHub `lib/routes/castbox/channel.ts`). The first page's `next` is the list from
`skip=<rows on the page>` on, 100 per call; each API page asks for the next one while it
comes back full and stops at the first short page.

Units (research §9): everest `duration` in milliseconds, `release_date` ISO 8601; page titles
end with " | Listen Free on Castbox."; the subscriber count sits in `span.count.sub_count`.

The channel page must yield (`PAGE_FACTS`, most stable signal first): the channel id
(required, the API's `cid`: canonical link > og:url > state `chInfo.cid` > the page URL),
the title (required: og:title without the site suffix > state `chInfo.title` >
`.ch_feed_info h1`), the printed count (optional: state `chInfo.episode_count` > "451
Episodes"). When neither the state nor the rows list an episode, the whole list comes from
the API from `skip=0` and the listing carries a `layout_drift` warning; `layout` only when the
channel id or the title cannot be found.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

from selectolax.lexbor import LexborHTMLParser

from adapters.base import (
    Adapter,
    BlockMarker,
    Fact,
    StateFound,
    dig,
    join_url,
    layout_drift,
    meta,
    parse_json,
    split_url,
    strip_tracking,
    text,
    text_value,
    whole_number,
)
from scraper.errors import FetchError
from scraper.models import Capture, Episode, Listing, Show
from scraper.normalize import DateStyle, date_from_timestamp, parse_duration

SITE = "https://castbox.fm"
API_BASE = "https://everest.castbox.fm/data/episode_list/v2"

# --- URL forms ---------------------------------------------------------------------------------
# The cid is the digits after the LAST "-id" of the channel segment (slugs may contain "-id").
CHANNEL_URL = re.compile(
    r"^https?://(?:www\.)?castbox\.fm/channel/(?:(?P<slug>[^/?#]*)-)?id(?P<cid>\d+)/?(?:[?#]|$)",
    re.I,
)
EPISODE_URL = re.compile(
    r"^https?://(?:www\.)?castbox\.fm/episode/(?P<slug>[^/?#]*)-id(?P<cid>\d+)-id(?P<eid>\d+)"
    r"/?(?:[?#]|$)",
    re.I,
)
EPISODE_SHORT_URL = re.compile(r"^https?://(?:www\.)?castbox\.fm/ep/(?P<eid>\d+)/?(?:[?#]|$)", re.I)
PLAYER_URL = re.compile(
    r"^https?://(?:www\.)?castbox\.fm/app/castbox/player/id(?P<cid>\d+)(?:/id(?P<eid>\d+))?"
    r"/?(?:[?#]|$)",
    re.I,
)
API_URL = re.compile(r"^https?://everest\.castbox\.fm/data/episode_list/v2\?", re.I)

# --- request signing (RSSHub lib/routes/castbox/channel.ts, PERMUTAION_MAP) --------------------
SIGN_PERMUTATION = (
    24, 13, 4, 19, 6, 0, 8, 21, 25, 7, 28, 1, 15, 31, 10, 9,
    17, 18, 22, 11, 27, 23, 2, 26, 12, 5, 29, 14, 20, 30, 16, 3,
)
SIGN_SALT = "evst"
PAGE_LIMIT = 100

# --- embedded state and printed values ---------------------------------------------------------
STATE_SCRIPT = re.compile(r"window\.__INITIAL_STATE__\s*=\s*\"([^\"]*)\"\s*;")
CLAIMED_TEXT = re.compile(r"(\d[\d,.]*)\s+Episodes?\b", re.I)
SUBSCRIBED_TEXT = re.compile(r"Subscribed:\s*([\d,.]+)", re.I)
PLAYED_TEXT = re.compile(r"Played:\s*([\d,.]+)", re.I)
EPISODE_HREF = re.compile(r"/episode/[^/?#]*-id(\d+)-id(\d+)")

# CloudFront sits in front of castbox.fm (a Cloudflare challenge, should the CDN change, is
# recognised by the base class). Recognised by their markup, whatever the status, unless the
# page carries its state (a description may say "Request blocked").
BLOCK_MARKERS = (
    BlockMarker("The request could not be satisfied",
                "CloudFront refused the request (HTTP {status})", unless="__INITIAL_STATE__"),
    BlockMarker("Request blocked", "CloudFront blocked the request (HTTP {status})",
                unless="__INITIAL_STATE__"),
)
#: The channel id at the end of a channel URL (canonical link, og:url, the page URL).
CID_IN_URL = re.compile(r"/channel/(?:[^/?#]*-)?id(\d+)/?(?:[?#]|$)", re.I)
#: What every page title and og:title ends with (research §9).
TITLE_SUFFIX = re.compile(r"\s*\|\s*Listen Free on Castbox\.?\s*$", re.I)
PAGE_FACTS = (
    Fact("show_id", canonical=CID_IN_URL, meta=("og:url",), state=("chInfo", "cid"),
         url=CID_IN_URL),
    Fact("title", meta=("og:title", "twitter:title"), state=("chInfo", "title"),
         selector=".ch_feed_info h1", clean=TITLE_SUFFIX),
    Fact("count", required=False, state=("chInfo", "episode_count"),
         selector=".trackListCon_title", count=True),
)
#: Where episodes were looked for, for the layout_drift warning.
ROW_SOURCES = ("window.__INITIAL_STATE__ ch.eps", "section.episodeRow .ep-item rows")

CASTBOX_DATES = DateStyle(languages=("en",), order="MDY", formats=("%Y-%m-%d", "%b %d, %Y"))


def channel_id(url: str) -> str | None:
    """The cid a channel, episode or player URL names (after the last "-id"), or None."""
    for pattern in (CHANNEL_URL, EPISODE_URL, PLAYER_URL):
        match = pattern.search(url)
        if match:
            return match.group("cid")
    return None


def episode_slug(title: str) -> str:
    """The slug castbox.fm puts before `-id<cid>-id<eid>`: spaces become "-", everything
    else outside the URI-unreserved set is percent-encoded (so non-ASCII stays encoded)."""
    return quote("-".join(title.split()), safe="-_.!~*'()")


def episode_page_url(title: str, cid: str, eid: str) -> str:
    return f"{SITE}/episode/{episode_slug(title)}-id{cid}-id{eid}"


def sign(params: dict[str, Any], day: str) -> str:
    """The `n` parameter: 32 characters picked from md5(sorted query + "evst" + m)."""
    query = "&".join(f"{key}={params[key]}" for key in sorted(params))
    digest = hashlib.md5(f"{query}{SIGN_SALT}{day}".encode()).hexdigest()
    return "".join(digest[i] for i in SIGN_PERMUTATION)


def episode_list_url(cid: str, skip: int, day: str, limit: int = PAGE_LIMIT) -> str:
    """The signed episode_list/v2 URL, parameters in the order the site sends them."""
    params = {"cid": cid, "limit": limit, "skip": skip, "ascending": 0, "r": 1, "raw": 1, "web": 1}
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return f"{API_BASE}?{query}&m={day}&n={sign(params, day)}"


def signing_day(capture: Capture) -> str:
    """UTC day (YYYYMMDD) the signature is made for: the day on the server's clock (the
    capture's page time, i.e. its `Date` header), or a stored capture's `Last-Modified`
    when it is reused after a 304 without one."""
    moment = capture.page_time
    last_modified = capture.headers.get("last-modified")
    if "date" not in capture.headers and last_modified:
        with contextlib.suppress(TypeError, ValueError, IndexError):
            moment = parsedate_to_datetime(last_modified)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y%m%d")


def _int(value: Any) -> int | None:
    return whole_number(value, grouped=True)


def _printed_count(tree: LexborHTMLParser, name: str, labelled: re.Pattern[str],
                   page_text: str) -> int | None:
    """A count in `span.count.<name>` (research §9: "4"), else "Subscribed: 4" anywhere."""
    node = tree.css_first(f"span.count.{name}")
    found = re.search(r"\d[\d,.]*", text(node) or "")
    if found:
        return _int(found.group(0))
    found = labelled.search(page_text)
    return _int(found.group(1)) if found else None


class CastboxAdapter(Adapter):
    name = "castbox"
    # This platform's row in README's platform table (tests/test_docs.py checks it).
    doc_row = (
        '`castbox.fm/channel/<slug>-id<cid>` (and `/channel/id<cid>`)',
        '`__INITIAL_STATE__` (DOM fallback), claimed count, subscriber/play counts '
        '(`span.count.sub_count`), the rest of the list through the signed `episode_list` '
        'endpoint (durations in ms, ISO dates)',
        'if that endpoint refuses, the run says how much of the claimed count it archived '
        '(`partial`)',
    )
    url_patterns = (CHANNEL_URL, EPISODE_URL, EPISODE_SHORT_URL, PLAYER_URL, API_URL)
    date_styles = {"": CASTBOX_DATES}
    block_markers = BLOCK_MARKERS
    count_words = ("Episodes", "Episode")
    page_facts = PAGE_FACTS
    fetch_mode = "http"
    browser_wait_for = "section.episodeRow"

    # --- URLs ----------------------------------------------------------------------------------

    def canonical_url(self, url: str) -> str:
        """castbox.fm on https without www, tracking parameters (utm_*) and fragments dropped;
        `country` is kept. API URLs are left exactly as built (they are signed)."""
        if API_URL.search(url):
            return url
        parts = split_url(strip_tracking(url))
        host = parts.netloc.lower()
        if host in ("castbox.fm", "www.castbox.fm"):
            host = "castbox.fm"
            query = f"?{parts.query}" if parts.query else ""
            path = parts.path.rstrip("/") or "/"
            return f"https://{host}{path}{query}"
        return strip_tracking(url)

    def start_urls(self, url: str) -> list[str]:
        """A channel page; an episode URL that names its channel starts at that channel."""
        for pattern in (EPISODE_URL, PLAYER_URL):
            match = pattern.search(url)
            if match:
                return [f"{SITE}/channel/id{match.group('cid')}"]
        return [self.canonical_url(url)]

    # --- responses -----------------------------------------------------------------------------

    def check_response(self, capture: Capture) -> None:
        if API_URL.search(capture.url):
            if capture.status >= 400:
                raise FetchError(
                    f"castbox: episode list API answered HTTP {capture.status} at {capture.url}"
                    f"{self._api_position(capture.url)}",
                    url=capture.url,
                    status=capture.status,
                )
            self._api_payload(capture)  # raises on an error body
            return
        super().check_response(capture)  # block markers, then a Cloudflare challenge

    def parse(self, capture: Capture) -> Listing:
        if API_URL.search(capture.url):
            return self._parse_api(capture)
        return self._parse_page(capture)

    # --- the episode-list API ------------------------------------------------------------------

    @staticmethod
    def _api_position(url: str) -> str:
        params = dict(parse_qsl(split_url(url).query))
        skip = params.get("skip")
        if skip is None:
            return ""
        return (
            f"; the list from episode {int(skip) + 1} on could not be read "
            f"(only the {skip} episodes before it were archived)"
        )

    def _api_payload(self, capture: Capture) -> list[dict[str, Any]]:
        try:
            payload = parse_json(capture.text)
        except ValueError:
            raise self.layout_error(capture, "episode list API answered with no JSON") from None
        if not isinstance(payload, dict):
            raise self.layout_error(capture, "episode list API answered with no JSON object")
        code = payload.get("code")
        data = payload.get("data")
        if (code not in (None, 0, "0")) or (data is None and payload.get("msg")):
            raise FetchError(
                f"castbox: episode list API refused the request (code {code}, "
                f"msg {payload.get('msg')!r}) at {capture.url}{self._api_position(capture.url)}",
                url=capture.url,
                status=capture.status,
            )
        episodes = data.get("episode_list") if isinstance(data, dict) else None
        if not isinstance(episodes, list):
            raise self.layout_error(capture, "episode list API answer has no data.episode_list")
        return episodes

    def _parse_api(self, capture: Capture) -> Listing:
        items = self._api_payload(capture)
        params = dict(parse_qsl(split_url(capture.url).query))
        cid = params.get("cid", "")
        episodes = self._state_episodes(items, cid, capture)
        limit = _int(params.get("limit")) or PAGE_LIMIT
        skip = _int(params.get("skip")) or 0
        next_urls: list[str] = []
        if len(items) >= limit and cid:
            day = params.get("m") or signing_day(capture)
            next_urls.append(episode_list_url(cid, skip + len(items), day, limit))
        return Listing(
            platform=self.name, url=capture.url, show=None, episodes=episodes,
            next=list(next_urls), page_kind="api",
        )

    # --- channel (and episode) pages -----------------------------------------------------------

    def own_states(self, html: str) -> list[StateFound]:
        match = STATE_SCRIPT.search(html)
        if not match:
            return []
        try:
            state = parse_json(unquote(match.group(1)))
        except ValueError:
            return [StateFound("castbox_state", "window.__INITIAL_STATE__ (URL-encoded JSON)",
                               "not JSON")]
        eps = dig(state, "ch", "eps")
        return [StateFound("castbox_state", "window.__INITIAL_STATE__ (URL-encoded JSON)",
                           f"ch.eps: {len(eps)} episodes" if isinstance(eps, list)
                           else "no ch.eps")]

    def _state(self, capture: Capture, html: str) -> dict[str, Any] | None:
        match = STATE_SCRIPT.search(html)
        if not match:
            return None
        try:
            state = parse_json(unquote(match.group(1)))
        except ValueError:
            raise self.layout_error(capture, "window.__INITIAL_STATE__ is not JSON") from None
        return state if isinstance(state, dict) else None

    def _parse_page(self, capture: Capture) -> Listing:
        html = capture.text
        state = self._state(capture, html)
        tree = LexborHTMLParser(html)
        ch = state.get("ch") if state else None
        ch = ch if isinstance(ch, dict) else {}
        info: dict[str, Any] = ch["chInfo"] if isinstance(ch.get("chInfo"), dict) else {}

        facts = self.read_facts(capture, tree, state)
        cid = self._cid(capture, info, tree) or facts.get("show_id")
        show = self._show(capture, info, tree)
        if show is None and facts.get("title"):  # the header's markup changed
            show = Show(title=facts.get("title"), claimed_count=facts.get("count"),
                        description=meta(tree, "og:description", "description"),
                        url=f"{SITE}/channel/id{cid}" if cid else None,
                        image=meta(tree, "og:image"))

        state_eps = ch.get("eps")
        rows = tree.css("section.episodeRow .ep-item")
        if isinstance(state_eps, list) and state_eps:
            episodes = self._state_episodes(state_eps, cid, capture)
        elif rows:
            episodes = self._dom_episodes(rows, cid)
        else:
            episodes = []
            play_item = (state or {}).get("trackPlayItem", {})
            item = play_item.get("playItem") if isinstance(play_item, dict) else None
            if isinstance(item, dict) and item.get("eid"):
                episodes = self._state_episodes([item], cid, capture)

        if show is None:
            raise self.layout_error(
                capture,
                "no channel title (og:title, window.__INITIAL_STATE__ ch.chInfo, "
                ".ch_feed_info h1)",
            )
        listing = Listing(platform=self.name, url=capture.url, show=show, episodes=episodes)
        if not episodes and show.claimed_count != 0:
            # Neither state nor rows list an episode: the API has the whole list.
            if not cid:
                raise self.layout_error(
                    capture, "no episodes on the page (ch.eps, section.episodeRow rows) and "
                    "no channel id to ask the episode list API for them")
            listing.warnings.append(layout_drift(
                "no episodes found on the channel page", ROW_SOURCES))
            listing.next.append(episode_list_url(cid, 0, signing_day(capture)))
            return listing
        claimed = show.claimed_count
        more = (claimed is not None and len(episodes) < claimed) or (
            claimed is None and tree.css_first("#LoadInline") is not None
        )
        if more:
            if cid:
                listing.next.append(episode_list_url(cid, len(episodes), signing_day(capture)))
            else:
                listing.incomplete_reason = (
                    f"castbox: the page lists {len(episodes)} of {claimed or 'more'} episodes "
                    "and names no channel id to ask the episode list API for the rest"
                )
        return listing

    def _cid(self, capture: Capture, info: dict[str, Any], tree: LexborHTMLParser) -> str | None:
        if info.get("cid"):
            return str(info["cid"])
        candidates = [capture.final_url or "", capture.url]
        for selector, attr in (('link[rel="canonical"]', "href"),
                               ('meta[property="og:url"]', "content")):
            node = tree.css_first(selector)
            if node is not None:
                candidates.append(node.attributes.get(attr) or "")
        for url in candidates:
            cid = channel_id(url)
            if cid:
                return cid
        return None

    def _show(self, capture: Capture, info: dict[str, Any], tree: LexborHTMLParser) -> Show | None:
        header = tree.css_first(".ch_feed_info")
        page_text = text(tree.body) or ""
        title = info.get("title")
        if not title and header is not None:
            h1 = header.css_first("h1")
            if h1 is not None:
                title = h1.attributes.get("title") or text(h1)
        if not title:
            return None
        author = info.get("author")
        if not author and header is not None:
            node = header.css_first(".author")
            if node is not None:
                author = re.sub(r"^\s*Author:\s*", "", text(node) or "")
        description = info.get("description")
        if not description and header is not None:
            node = header.css_first(".des-con div") or header.css_first(".des-con")
            if node is not None:
                description = node.html
        claimed = _int(info.get("episode_count"))
        if claimed is None:
            counter = tree.css_first(".trackListCon_title") or tree.css_first(".trackListCon")
            match = CLAIMED_TEXT.search(text(counter) or "" if counter is not None else page_text)
            claimed = _int(match.group(1)) if match else None
        extra: dict[str, Any] = {}
        subscribers = _int(info.get("sub_count"))
        plays = _int(info.get("play_count"))
        if subscribers is None:
            subscribers = _printed_count(tree, "sub_count", SUBSCRIBED_TEXT, page_text)
        if plays is None:
            plays = _printed_count(tree, "play_count", PLAYED_TEXT, page_text)
        if subscribers is not None:
            extra["subscribers"] = subscribers
        if plays is not None:
            extra["plays"] = plays
        image = info.get("big_cover_url") or info.get("cover_url")
        if not image:
            node = tree.css_first('meta[property="og:image"]')
            image = node.attributes.get("content") if node is not None else None
        cid = self._cid(capture, info, tree)
        categories = info.get("categories")
        return Show(
            title=title,
            author=author or None,
            description=description or None,
            claimed_count=claimed,
            url=f"{SITE}/channel/id{cid}" if cid else None,
            image=image or None,
            category=str(categories[0]) if isinstance(categories, list) and categories else None,
            extra=extra,
        )

    # --- episodes ------------------------------------------------------------------------------

    def _state_episodes(
        self, items: list[Any], cid: str | None, capture: Capture
    ) -> list[Episode]:
        """Episodes from `ch.eps[]` or the API's `episode_list[]` (the same objects)."""
        episodes: list[Episode] = []
        for item in items:
            if not isinstance(item, dict):
                continue
            eid = text_value(item.get("eid"))
            title = text_value(item.get("title"))
            if not eid or not title:
                continue
            item_cid = text_value(item.get("cid")) or cid or ""
            raw_date = text_value(item.get("release_date")) or None
            duration = item.get("duration")
            seconds = (
                parse_duration(duration, unit="ms").seconds
                if isinstance(duration, int | float) and not isinstance(duration, bool)
                and duration > 0 else None
            )
            audio = item.get("url")
            if not audio and isinstance(item.get("urls"), list) and item["urls"]:
                audio = item["urls"][0]
            episodes.append(
                Episode(
                    id=eid,
                    title=title,
                    published=date_from_timestamp(raw_date) if raw_date else None,
                    published_raw=raw_date,
                    duration_seconds=seconds,
                    description=item.get("description") or None,
                    url=episode_page_url(title, item_cid, eid) if item_cid else None,
                    audio_url=audio or None,
                )
            )
        if items and not episodes:
            raise self.layout_error(capture, "episode objects carry no eid/title")
        return episodes

    def _dom_episodes(self, rows, cid: str | None) -> list[Episode]:
        """Episodes from the server-rendered rows (`section.episodeRow .ep-item`). Their
        descriptions are tag-stripped text, so block boundaries are lost there."""
        episodes: list[Episode] = []
        for row in rows:
            link = None
            for anchor in row.css("a[href]"):
                if EPISODE_HREF.search(anchor.attributes.get("href") or ""):
                    link = anchor
                    break
            title_node = row.css_first("p.ep-item-con-title")
            if link is None or title_node is None:
                continue
            href = link.attributes.get("href") or ""
            match = EPISODE_HREF.search(href)
            title = title_node.attributes.get("title") or text(title_node)
            if not match or not title:
                continue
            date_node = row.css_first("span.item.icon.date")
            time_node = row.css_first("span.item.icon.time")
            des_node = (
                row.css_first(".ep-item-des")
                or row.css_first(".ep-item-con-description")
            )
            episodes.append(
                Episode(
                    id=match.group(2),
                    title=title,
                    published_raw=text(date_node),
                    duration_raw=text(time_node),
                    description=text(des_node),
                    url=join_url(SITE + "/", href.split("?")[0]),
                    audio_url=None,
                )
            )
        return episodes


ADAPTER = CastboxAdapter

__all__ = [
    "ADAPTER",
    "CastboxAdapter",
    "channel_id",
    "episode_list_url",
    "episode_page_url",
    "episode_slug",
    "sign",
    "signing_day",
]
