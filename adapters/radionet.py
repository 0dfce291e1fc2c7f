"""radio.net and its sister sites (radio.de .at .fr .it .es .pl .pt .se .dk, and the
radio.net country subdomains ca. nz. mx. au. ie.).

The list comes from the public API the site's own pages use:
`https://prod.radio-api.net/podcasts/episodes/by-podcast-ids?podcastIds=<slug>&count=100&offset=<m>`
(the podcast slug is the API id). The show page's `next` is the API's first page; each API
page's `next` is the following offset until offset+count >= totalCount. Episode ids are the
radio-api ids (`<slug>_<title-slug>_<10 hex>`, research §9); page rows and API rows carry the
same id, so the sync merges them.

The show page must yield (`PAGE_FACTS`, each read from the most stable signal first):

- show id (required): the slug in the canonical link > og:url > `broadcast.id` in the state
  > the page URL. The URL always has it, so the API list can always be asked for.
- title (required): og:title > JSON-LD PodcastSeries name > state `broadcast.title` > h1.
- printed count (optional): state `episodes.totalCount` > "458 episodes" / "458 Folgen"
  (`[data-testid="episodes-count"]`, else anywhere in the text).

Rows on the page are enrichment, read from the page state, then the DOM: the Next.js App
Router Flight stream (`self.__next_f.push`, read by `next_flight`: long descriptions are
outlined as text rows referenced as `"$<id>"`), or the Pages Router `__NEXT_DATA__`
(`props.pageProps.data.{broadcast, episodes{totalCount, episodes[]}}`; pages before 2024 said
`podcast`), else server-rendered rows `[data-testid="episode-item"]` with `data-episode-id`
(the OneTrust consent layer dropped first). When none can be read the listing is still whole
from the API: it carries a `layout_drift` warning instead of failing. `layout` only when the
title cannot be found at all, or the API lists nothing.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode

from selectolax.lexbor import LexborHTMLParser

from adapters.base import (
    Adapter,
    BlockMarker,
    Fact,
    dig,
    drop,
    find_objects,
    json_ld,
    layout_drift,
    next_data,
    next_flight,
    parse_json,
    split_url,
    text,
    text_value,
)
from scraper.models import Capture, Episode, Listing, Show
from scraper.normalize import DateStyle, date_from_timestamp, parse_duration

# ---------------------------------------------------------------------------------------------
# URLs

#: radio.net itself and its country subdomains (English, except mx. which is Spanish).
NET_HOST = r"(?:www\.|ca\.|nz\.|mx\.|au\.|ie\.)?radio\.net"
#: The sister domains from radio.net's country selector.
SISTER_HOST = r"(?:www\.)?radio\.(?:de|at|fr|it|es|pl|pt|se|dk)"
SHOW_URL = re.compile(
    rf"^https?://(?P<host>{NET_HOST}|{SISTER_HOST})/podcast/(?P<slug>[A-Za-z0-9][\w.%-]*)/?"
    r"(?:[?#]|$)",
    re.I,
)
API_HOST = "prod.radio-api.net"
API_PATH = "/podcasts/episodes/by-podcast-ids"
API_URL = re.compile(r"^https?://prod\.radio-api\.net/podcasts/episodes/by-podcast-ids\?", re.I)
#: Episodes per API request (the site's clients use 100; one uses 200).
API_PAGE_SIZE = 100


def api_url(slug: str, offset: int = 0, count: int = API_PAGE_SIZE) -> str:
    """The episodes API URL, parameters in the order the site's own clients send them."""
    query = urlencode([("podcastIds", slug), ("count", count), ("offset", offset)])
    return f"https://{API_HOST}{API_PATH}?{query}"


# ---------------------------------------------------------------------------------------------
# Locales: (dateparser language, order, strptime formats) per site. www.radio.net prints
# DD/MM/YYYY [seed 001]; the sister sites' numeric forms are the usual ones of their locale
# (research: [gap]; radio.de "06.03.2026" is the inferred form). Every site is day-first
# except radio.se, whose locale prints ISO dates.

_DMY_SLASH = ("%d/%m/%Y",)
_DMY_DOT = ("%d.%m.%Y",)
DATE_STYLES: dict[str, DateStyle] = {
    "radio.net": DateStyle(("en",), "DMY", _DMY_SLASH),
    "mx.radio.net": DateStyle(("es",), "DMY", _DMY_SLASH),
    "radio.de": DateStyle(("de",), "DMY", _DMY_DOT),
    "radio.at": DateStyle(("de",), "DMY", _DMY_DOT),
    "radio.fr": DateStyle(("fr",), "DMY", _DMY_SLASH),
    "radio.it": DateStyle(("it",), "DMY", _DMY_SLASH),
    "radio.es": DateStyle(("es",), "DMY", _DMY_SLASH),
    "radio.pl": DateStyle(("pl",), "DMY", _DMY_DOT),
    "radio.pt": DateStyle(("pt",), "DMY", _DMY_SLASH),
    "radio.se": DateStyle(("sv",), "YMD", ("%Y-%m-%d",)),
    "radio.dk": DateStyle(("da",), "DMY", _DMY_DOT),
}
DATE_STYLES[""] = DATE_STYLES["radio.net"]

# "458 episodes" and its translations on the sister sites.
COUNT_WORDS = ("episodes", "episode", "Folgen", "Folge", "Episoden", "épisodes", "épisode",
               "episodi", "episodios", "episodio", "odcinków", "odcinki", "odcinka",
               "episódios", "episódio", "avsnitt", "episoder")
#: The podcast slug (the radio-api id) in a show page URL, canonical link or og:url.
SLUG_IN_URL = re.compile(r"/podcast/([A-Za-z0-9][\w.%-]*)/?(?:[?#]|$)")
PAGE_FACTS = (
    Fact("show_id", canonical=SLUG_IN_URL, meta=("og:url",), state=("broadcast", "id"),
         url=SLUG_IN_URL),
    Fact("title", meta=("og:title",), json_ld=("PodcastSeries", "name"),
         state=("broadcast", "title"), selector="main h1"),
    Fact("count", required=False, state=("episodes", "totalCount"),
         selector='[data-testid="episodes-count"]', count=True),
)
#: Where episode rows were looked for, for the layout_drift warning.
ROW_SOURCES = ("App Router flight rows", "__NEXT_DATA__ props.pageProps.data",
               '[data-testid="episode-item"] rows')

# The cookie-consent layer (OneTrust; Sourcepoint and CMP containers for good measure).
CONSENT_SELECTORS = (
    "#onetrust-consent-sdk", "#onetrust-banner-sdk", "#onetrust-pc-sdk",
    '[id^="sp_message_container"]', '[class*="cookie-consent"]', '[id*="cmp-container"]',
)

# Bot walls in front of the site (CloudFront's 403 page, captchas; a Cloudflare challenge
# is recognised by the base class).
BLOCK_MARKERS = (
    BlockMarker("Generated by cloudfront", "CloudFront request-blocked page (HTTP {status})",
                min_status=400),
    BlockMarker("Request blocked.", "request-blocked page (HTTP {status})", min_status=400),
    BlockMarker("g-recaptcha", "captcha page (HTTP {status})", min_status=400),
    BlockMarker("h-captcha", "captcha page (HTTP {status})", min_status=400),
)


def _site(host: str) -> str:
    host = host.lower().removeprefix("www.")
    if host in DATE_STYLES:
        return host
    if host.endswith(".radio.net") or host == API_HOST:
        return "radio.net"
    return host


def _is_episode(item: Any) -> bool:
    return isinstance(item, dict) and item.get("id") not in (None, "") and "title" in item


class RadioNetAdapter(Adapter):
    name = "radionet"
    # This platform's row in README's platform table (tests/test_docs.py checks it).
    doc_row = (
        '`radio.net/podcast/<slug>` and sister sites (radio.de .at .fr .it .es .pl .pt .se '
        '.dk, country subdomains)',
        'show, claimed count ("458 episodes"), first page from the page state (App Router '
        'Flight stream, long strings as text rows; or Pages Router `__NEXT_DATA__` '
        '`broadcast`), the whole list from the public episodes API the site uses (radio-api '
        'ids `<slug>_<title>_<hex>`, exact dates and durations, audio URLs)',
        'no episode page URL; dates printed on the page are read day-first per site',
    )
    url_patterns = (SHOW_URL, API_URL)
    date_styles = DATE_STYLES
    block_markers = BLOCK_MARKERS
    count_words = COUNT_WORDS
    page_facts = PAGE_FACTS
    fetch_mode = "http"
    browser_wait_for = '[data-testid="episode-item"]'
    browser_next = None  # the paginator only re-renders the list; the API pages instead

    # URLs -------------------------------------------------------------------------------------

    def canonical_url(self, url: str) -> str:
        show = SHOW_URL.match(url.strip())
        if show:
            host = show.group("host").lower()
            if host.startswith("radio."):  # the sites answer on www.
                host = "www." + host
            return f"https://{host}/podcast/{show.group('slug')}"
        parts = split_url(url.strip())
        if parts.netloc.lower() == API_HOST:
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            try:
                count = int(query.get("count") or API_PAGE_SIZE)
                offset = int(query.get("offset") or 0)
            except ValueError:
                return super().canonical_url(url)
            return api_url(query.get("podcastIds", ""), offset, count)
        return super().canonical_url(url)

    def date_style_key(self, url: str) -> str:
        return _site(split_url(url).netloc)

    # Responses --------------------------------------------------------------------------------

    def parse(self, capture: Capture) -> Listing:
        if API_URL.match(capture.url) or split_url(capture.url).netloc.lower() == API_HOST:
            return self._parse_api(capture)
        return self._parse_show(capture)

    # The show page ----------------------------------------------------------------------------

    def _parse_show(self, capture: Capture) -> Listing:
        html = capture.text
        tree = LexborHTMLParser(html)
        for selector in CONSENT_SELECTORS:
            for node in tree.css(selector):
                drop(node)
        state = self._state(html, tree)
        facts = self.read_facts(capture, tree, state)
        slug = facts.get("show_id")
        if not slug:  # the page URL always carries it; only a foreign URL lacks it
            raise self.layout_error(capture, "no podcast id for the episodes API")
        show = Show(url=self.canonical_url(capture.url), title=facts.get("title"),
                    claimed_count=facts.get("count"))
        episodes: list[Episode] = []
        warnings: list[str] = []
        if state is not None:
            podcast, container = self._find_in_state(state, slug)
            if podcast:
                show.title = show.title or podcast.get("title") or podcast.get("name")
                show.author = podcast.get("author")
                show.description = podcast.get("description")
                show.image = podcast.get("logo300x300") or podcast.get("logo")
                show.category = self._category(podcast.get("categories"))
            if container is not None:
                episodes = [self._episode(capture, item) for item in container["episodes"]]
                total = container.get("totalCount")
                if show.claimed_count is None and isinstance(total, int):
                    show.claimed_count = total
        if not episodes:
            episodes = self._dom_episodes(capture, tree, warnings)
        self._fill_show_from_page(show, tree)
        if not show.title:
            raise self.layout_error(
                capture, "no podcast title (og:title, JSON-LD PodcastSeries, page state or h1)")
        listing = Listing(platform=self.name, url=capture.url, show=show, episodes=episodes,
                          page_kind="show", warnings=warnings)
        listing.next = [api_url(slug, 0)] if show.claimed_count != 0 else []
        if not episodes and show.claimed_count != 0:
            listing.warnings.append(layout_drift(
                "no episode rows found on the show page", ROW_SOURCES))
        return listing

    @staticmethod
    def _state(html: str, tree: LexborHTMLParser) -> Any:
        """The page state: the App Router flight rows, else the Pages Router
        `props.pageProps.data`, else None."""
        rows = next_flight(html)
        if rows:
            return rows
        data = next_data(tree)
        if data is None:
            return None
        page_props = dig(data, "props", "pageProps")
        if isinstance(page_props, dict) and page_props.get("data") is not None:
            return page_props["data"]
        return data

    def _find_in_state(self, state: Any, slug: str | None):
        """The podcast object and the object holding its episode list."""
        podcast = None
        container = None
        fallback = None
        for node in find_objects(state, ()):
            candidate = node.get("broadcast") or node.get("podcast")
            if podcast is None and isinstance(candidate, dict) and (
                candidate.get("title") or candidate.get("name")
            ):
                podcast = candidate
            items = node.get("episodes")
            if isinstance(items, dict) and isinstance(items.get("episodes"), list):
                node, items = items, items["episodes"]
            if container is None and isinstance(items, list) and items and all(
                _is_episode(item) for item in items
            ):
                parents = {str(item["parentId"]) for item in items
                           if isinstance(item.get("parentId"), str | int)}
                if not parents or slug is None or slug in parents:
                    container = node
                elif fallback is None:
                    fallback = node
            if container is not None and podcast is not None:
                break
        return podcast, container if container is not None else fallback

    @staticmethod
    def _category(categories: Any) -> str | None:
        if isinstance(categories, list) and categories:
            first = categories[0]
            if isinstance(first, dict):
                return first.get("name") or first.get("value") or first.get("systemName")
            return str(first)
        return None

    def _episode(self, capture: Capture, item: dict[str, Any]) -> Episode:
        """One radio-api episode object (from the page state or the API)."""
        title, ident = text_value(item.get("title")), text_value(item.get("id"))
        if not ident or not title:
            raise self.layout_error(capture, "an episode object without id or title")
        episode = Episode(id=ident, title=title)
        stamp = item.get("publishDate")
        if text_value(stamp):
            episode.published_raw = text_value(stamp)
            if isinstance(stamp, int | float) or (
                isinstance(stamp, str) and re.fullmatch(r"\s*\d+(\.\d+)?\s*|\d{4}-\d\d-\d\d.*",
                                                        stamp)
            ):
                episode.published = date_from_timestamp(stamp)
        duration = item.get("duration")
        if isinstance(duration, int | float) and not isinstance(duration, bool) and duration >= 0:
            episode.duration_seconds = parse_duration(duration).seconds
        elif isinstance(duration, str) and duration.strip():
            episode.duration_raw = duration
        description = item.get("description")
        episode.description = description if isinstance(description, str) else None
        audio = item.get("url")
        episode.audio_url = audio if isinstance(audio, str) and audio.startswith("http") else None
        return episode

    def _dom_episodes(self, capture: Capture, tree, warnings: list[str]) -> list[Episode]:
        rows = tree.css('[data-testid="episode-item"]') or tree.css(
            'li[class*="EpisodeListItem_item"]'
        )
        episodes = []
        unnamed: list[str] = []
        for row in rows:
            title = text(row.css_first('[data-testid="episode-title"]') or row.css_first("h3"))
            ident = row.attributes.get("data-episode-id")
            if not title:
                continue
            if not ident:  # unmergeable with the API's rows: the API's copy stands alone
                unnamed.append(title)
                continue
            date_node = row.css_first('[data-testid="episode-date"]') or row.css_first("time")
            description = row.css_first('[data-testid="episode-description"]')
            episodes.append(Episode(
                id=ident,
                title=title,
                published_raw=text(date_node),
                description=description.inner_html if description is not None else None,
            ))
        if unnamed:
            warnings.append(layout_drift(
                f"{len(unnamed)} episode row(s) without data-episode-id, not merged",
                ("data-episode-id",)))
        return episodes

    def _fill_show_from_page(self, show: Show, tree) -> None:
        """Show fields the facts and state did not give: JSON-LD first, then the DOM."""
        for series in json_ld(tree, "PodcastSeries"):
            author = series.get("author")
            if isinstance(author, list) and author:
                author = author[0]
            if isinstance(author, dict):
                author = author.get("name")
            show.title = show.title or series.get("name")
            show.author = show.author or (author if isinstance(author, str) else None)
            show.description = show.description or series.get("description")
        show.title = show.title or text(tree.css_first("main h1") or tree.css_first("h1"))
        show.author = show.author or text(tree.css_first('[data-testid="podcast-author"]'))
        if not show.description:
            about = tree.css_first('[data-testid="podcast-description"]')
            show.description = about.inner_html if about is not None else None

    # The episodes API -------------------------------------------------------------------------

    def _parse_api(self, capture: Capture) -> Listing:
        try:
            data = parse_json(capture.text)
        except ValueError:
            raise self.layout_error(capture, "the episodes API answered with no JSON") from None
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("totalCount"), int)
            or not isinstance(data.get("episodes"), list)
        ):
            keys = sorted(data) if isinstance(data, dict) else type(data).__name__
            raise self.layout_error(
                capture, f"unexpected episodes API response (no totalCount/episodes[]; got {keys})"
            )
        total = data["totalCount"]
        query = dict(parse_qsl(split_url(capture.url).query, keep_blank_values=True))
        slug = query.get("podcastIds", "")
        try:
            offset = int(query.get("offset") or 0)
            count = int(query.get("count") or API_PAGE_SIZE)
        except ValueError:
            raise self.layout_error(capture, "the API URL has no numeric offset/count") from None
        items = data["episodes"]
        if total == 0 and offset == 0:
            raise self.layout_error(
                capture, f"the episodes API lists no episodes for {slug!r} (totalCount 0); "
                "is the podcast id right?")
        if not items and offset < total:
            raise self.layout_error(
                capture, f"the episodes API returned no episodes at offset {offset} of {total}"
            )
        if not all(_is_episode(item) for item in items):
            raise self.layout_error(capture, "episodes API items without id/title")
        episodes = [self._episode(capture, item) for item in items]
        follow = [api_url(slug, offset + count, count)] if offset + count < total else []
        return Listing(platform=self.name, url=capture.url, show=None, episodes=episodes,
                       next=list(follow), page_kind="api")


ADAPTER = RadioNetAdapter
