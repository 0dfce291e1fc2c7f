"""Podimo (podimo.com/<region>/shows/<slug>), every region, plus its public GraphQL list.

What the adapter reads, in order:

1. Show and episode pages are a server-rendered Next.js app (pages router). The page state
   `<script id="__NEXT_DATA__">` carries `props.pageProps.podcast` (id = the podcast UUID,
   slug, title, authorName, description, episodeCount), `pageProps.episodes` (the "Alle
   episoder" section: the first 5 rows) and, on an episode page, `pageProps.episode`. The
   rows' dates and durations are held as the page prints them (`publishedLabel`
   "27. mai 2026" / "I går", `durationLabel` "1 h 0 min"): the server renders them in the
   region's language, relative for recent days. [research §4a: framework and state are a
   gap; this shape is our choice, documented in fixtures/podimo/build_fixtures.py]
2. Without that state, the server-rendered DOM: rows are `[data-cy="EpisodeListItem"]`
   (CSS-module class `EpisodeListItem_root__<hash>` as a second hook), with
   `[data-cy="EpisodeTitle"]`, `[data-cy="EpisodeDescription"]` and the date and the
   duration in ADJACENT elements `[data-cy="Datetime"]` + `[data-cy="Duration"]` (the seed's
   "27. mai 20261 h 0 min" is those two run together by a text renderer).
3. The whole list: the page links the podcast UUID (state, or `<link rel="canonical"
   href=".../shows/<uuid>">`), and `Listing.next` points at the public GraphQL query
   `openPodcastEpisodesByPodcastId(podcastId, offset, limit)` on graphql.podimo.com, encoded
   as an Apollo GET request (`?query=...&variables=...`), 100 per page, paged by offset until
   a short page comes back. Those rows have exact values: `publishedOn` (ISO) and `duration`
   (seconds). The API gives no episode page URL and no audio URL (audio needs a login).

Both podimo.com and the gateway sit behind Cloudflare: a challenge page ("Just a moment...",
`_cf_chl_opt`, `cf-mitigated: challenge`) or a bare 403 is a BlockedError. A page rendered
by a real browser parses the same way (the state script and the rows stay in the DOM;
a JSON answer shown by the browser inside `<pre>` is read from there).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from selectolax.lexbor import LexborHTMLParser

from adapters.base import Adapter, strip_tracking
from scraper.models import Capture, Episode, Listing, Show
from scraper.normalize import ENGLISH, DateStyle, date_from_timestamp

REGIONS = ("no", "dk", "de", "es", "nl", "fi", "uk", "mx", "latam", "en")
_REGION = "|".join(REGIONS)
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

SHOW_URL = re.compile(
    rf"^https?://(?:www\.)?podimo\.com/(?P<region>{_REGION})/shows/(?P<slug>[^/?#]+)/?(?:[?#]|$)"
)
EPISODE_URL = re.compile(
    rf"^https?://(?:www\.)?podimo\.com/(?P<region>{_REGION})/shows/(?P<slug>[^/?#]+)"
    rf"/episode/(?P<episode>{_UUID})/?(?:[?#]|$)"
)
GRAPHQL_URL = re.compile(r"^https?://graphql\.podimo\.com/graphql/?(?:[?#]|$)")

GRAPHQL_ENDPOINT = "https://graphql.podimo.com/graphql"
GRAPHQL_QUERY = (
    "query PodcastEpisodesByPodcastId($podcastId: UUID!, $offset: Int, $limit: Int) "
    "{ episodes: openPodcastEpisodesByPodcastId(podcastId: $podcastId, offset: $offset, "
    "limit: $limit) { id title description coverImage duration publishedOn playAvailable } }"
)
PAGE_SIZE = 100

DATE_STYLES: dict[str, DateStyle] = {
    "no": DateStyle(languages=("nb",), order="DMY"),
    "dk": DateStyle(languages=("da",), order="DMY"),
    "de": DateStyle(languages=("de",), order="DMY"),
    "es": DateStyle(languages=("es",), order="DMY"),
    "mx": DateStyle(languages=("es",), order="DMY"),
    "latam": DateStyle(languages=("es",), order="DMY"),
    "nl": DateStyle(languages=("nl",), order="DMY"),
    "fi": DateStyle(languages=("fi",), order="DMY"),
    "uk": DateStyle(languages=("en",), order="DMY", formats=("%d %B %Y", "%d %b %Y")),
    "en": DateStyle(languages=("en",), order="DMY", formats=("%d %B %Y", "%d %b %Y")),
}

# "662 Episoder" / "662 Episoden" / "662 episodios" / "662 afleveringen" / "662 jaksoa" /
# "662 episodes": the number before the word; thousands may be grouped ("1 234", "1.234").
_COUNT = re.compile(r"(\d[\d\s.,\u00a0\u202f]*)\s*(?:episod|afleveringen|jakso)", re.I)
_CANONICAL_ID = re.compile(rf"/shows/({_UUID})(?:[/?#]|$)")

ROW_SELECTORS = ('[data-cy="EpisodeListItem"]', '[class*="EpisodeListItem_root__"]')

# ---------------------------------------------------------------------------------------------


def graphql_url(podcast_id: str, offset: int = 0, limit: int = PAGE_SIZE) -> str:
    """The GET form of the public episodes query (Apollo: `?query=&variables=`), built the
    same way every time so a recording's URL matches exactly."""
    variables = json.dumps(
        {"podcastId": podcast_id, "offset": offset, "limit": limit}, separators=(",", ":")
    )
    return f"{GRAPHQL_ENDPOINT}?{urlencode({'query': GRAPHQL_QUERY, 'variables': variables})}"


def _text(node) -> str | None:
    if node is None:
        return None
    value = " ".join(node.text(deep=True, separator=" ").split())
    return value or None


class PodimoAdapter(Adapter):
    name = "podimo"
    forbidden_is_bot_wall = True
    url_patterns = (SHOW_URL.pattern, EPISODE_URL.pattern, GRAPHQL_URL.pattern)
    fetch_mode = "http"
    # The rows, or (a JSON answer opened in the browser) Chromium's <pre>.
    browser_wait_for = '[data-cy="EpisodeListItem"], body > pre'
    browser_next = None

    # -- URLs -----------------------------------------------------------------------------------

    def canonical_url(self, url: str) -> str:
        if GRAPHQL_URL.match(url):
            return strip_tracking(url)
        parts = urlsplit(strip_tracking(url))
        host = parts.netloc.lower().removeprefix("www.")
        path = parts.path.rstrip("/") or "/"
        return urlunsplit(("https", host, path, parts.query, ""))

    def date_style(self, url: str) -> DateStyle:
        match = SHOW_URL.match(url) or EPISODE_URL.match(url)
        if match:
            return DATE_STYLES[match.group("region")]
        return ENGLISH  # the GraphQL pages carry ISO dates

    # -- Responses ------------------------------------------------------------------------------

    def parse(self, capture: Capture) -> Listing:
        if GRAPHQL_URL.match(capture.url):
            return self._parse_api(capture)
        return self._parse_page(capture)

    # -- GraphQL pages --------------------------------------------------------------------------

    def _parse_api(self, capture: Capture) -> Listing:
        text = capture.text.strip()
        if text.startswith("<"):  # a browser shows JSON inside <pre>
            pre = LexborHTMLParser(text).css_first("pre")
            text = pre.text() if pre is not None else ""
        try:
            payload = json.loads(text)
        except ValueError:
            raise self.layout_error(capture, "the GraphQL answer is not JSON") from None
        data = payload.get("data") if isinstance(payload, dict) else None
        rows = data.get("episodes") if isinstance(data, dict) else None
        if not isinstance(rows, list):
            errors = payload.get("errors") if isinstance(payload, dict) else None
            detail = ""
            if isinstance(errors, list) and errors:
                detail = ": " + "; ".join(str(e.get("message", e)) for e in errors[:3]
                                          if isinstance(e, dict))
            raise self.layout_error(capture, f"no data.episodes in the GraphQL answer{detail}")
        query = dict(parse_qsl(urlsplit(capture.url).query))
        try:
            variables = json.loads(query.get("variables") or "{}")
        except ValueError:
            variables = {}
        if not isinstance(variables, dict):
            variables = {}
        podcast_id = variables.get("podcastId")
        try:
            offset = int(variables.get("offset") or 0)
            limit = int(variables.get("limit") or PAGE_SIZE)
        except (TypeError, ValueError):
            offset, limit = 0, PAGE_SIZE

        episodes = []
        for index, row in enumerate(rows):
            if not isinstance(row, dict) or not row.get("id") or not row.get("title"):
                raise self.layout_error(
                    capture, f"GraphQL episode {offset + index} has no id or title"
                )
            published_raw = row.get("publishedOn")
            duration = row.get("duration")
            episodes.append(Episode(
                id=str(row["id"]),
                title=row["title"],
                published=date_from_timestamp(published_raw),
                published_raw=str(published_raw) if published_raw not in (None, "") else None,
                duration_seconds=round(duration) if isinstance(duration, int | float) else None,
                description=row.get("description"),
                url=None,  # the API names no region or show slug to build a page URL from
                audio_url=None,
            ))
        listing = Listing(platform=self.name, url=capture.url, episodes=episodes, page_kind="api")
        if podcast_id and limit > 0 and len(rows) >= limit:
            listing.next = [graphql_url(podcast_id, offset + limit, limit)]
        return listing

    # -- HTML pages -----------------------------------------------------------------------------

    def _parse_page(self, capture: Capture) -> Listing:
        url = capture.final_url or capture.url
        match = EPISODE_URL.match(url) or SHOW_URL.match(url) or EPISODE_URL.match(
            capture.url) or SHOW_URL.match(capture.url)
        if match is None:
            raise self.layout_error(capture, "not a podimo.com show or episode URL")
        region, slug = match.group("region"), match.group("slug")
        is_episode_page = "episode" in match.groupdict()
        tree = LexborHTMLParser(capture.text)
        state = self._page_props(tree)

        show: Show | None = None
        episodes: list[Episode] | None = None
        podcast_id: str | None = None
        if state is not None:
            show, episodes, podcast_id = self._from_state(state, region, slug, is_episode_page)
        if not episodes:
            show_dom, episodes_dom = self._from_dom(tree, capture, region, slug, is_episode_page)
            show = show if show is not None and show.title else show_dom
            episodes = episodes_dom
        empty_show = show is not None and show.claimed_count == 0
        if not episodes and not empty_show:
            raise self.layout_error(
                capture, "no episode list (neither a __NEXT_DATA__ state with episodes nor "
                         '[data-cy="EpisodeListItem"] rows)'
            )
        podcast_id = podcast_id or self._canonical_podcast_id(tree)
        listing = Listing(platform=self.name, url=capture.url, show=show, episodes=episodes,
                          page_kind="episode" if is_episode_page else "show")
        if podcast_id:
            listing.next = [graphql_url(podcast_id)]
        else:
            listing.incomplete_reason = (
                "no podcast UUID on the page (state or canonical link): only the rows shown"
            )
        return listing

    @staticmethod
    def _page_props(tree) -> dict[str, Any] | None:
        node = tree.css_first("script#__NEXT_DATA__")
        if node is None:
            return None
        try:
            data = json.loads(node.text())
        except ValueError:
            return None
        props = data.get("props", {}).get("pageProps") if isinstance(data, dict) else None
        return props if isinstance(props, dict) else None

    @staticmethod
    def _canonical_podcast_id(tree) -> str | None:
        link = tree.css_first('link[rel="canonical"]')
        href = link.attributes.get("href") if link is not None else None
        found = _CANONICAL_ID.search(href or "")
        return found.group(1) if found else None

    @staticmethod
    def _episode_url(region: str, slug: str, episode_id: str) -> str:
        return f"https://podimo.com/{region}/shows/{slug}/episode/{episode_id}"

    def _from_state(
        self, props: dict[str, Any], region: str, slug: str, is_episode_page: bool
    ) -> tuple[Show | None, list[Episode], str | None]:
        podcast = props.get("podcast") if isinstance(props.get("podcast"), dict) else {}
        show_slug = podcast.get("slug") or slug
        count = str(podcast.get("episodeCount", ""))
        show = Show(
            title=podcast.get("title"),
            author=podcast.get("authorName"),
            description=podcast.get("description"),
            claimed_count=int(count) if count.isdigit() else None,
            url=f"https://podimo.com/{region}/shows/{show_slug}",
            image=podcast.get("coverImageUrl"),
        ) if podcast else None

        def episode(item: Any) -> Episode | None:
            if not isinstance(item, dict) or not item.get("id") or not item.get("title"):
                return None
            return Episode(
                id=str(item["id"]),
                title=item["title"],
                published_raw=item.get("publishedLabel"),
                duration_raw=item.get("durationLabel"),
                description=item.get("description"),
                url=self._episode_url(region, show_slug, str(item["id"])),
                audio_url=None,
            )

        episodes: list[Episode] = []
        if is_episode_page:
            current = episode(props.get("episode"))
            if current is not None:
                episodes.append(current)
        rows = props.get("episodes")
        if isinstance(rows, list):
            episodes.extend(e for e in (episode(item) for item in rows) if e is not None)
        if isinstance(rows, list) and rows and len(episodes) < len(rows):
            return show, [], podcast.get("id")  # malformed state rows: read the DOM instead
        return show, episodes, podcast.get("id")

    def _from_dom(
        self, tree, capture: Capture, region: str, slug: str, is_episode_page: bool
    ) -> tuple[Show | None, list[Episode]]:
        title = _text(tree.css_first('[data-cy="PodcastTitle"]'))
        if title is None and not is_episode_page:
            title = _text(tree.css_first("main h1"))
        description_node = tree.css_first('[data-cy="PodcastDescription"]')
        count_text = _text(tree.css_first('[data-cy="EpisodeCount"]'))
        claimed = None
        if count_text:
            found = _COUNT.search(count_text)
            if found:
                digits = re.sub(r"\D", "", found.group(1))
                claimed = int(digits) if digits else None
        show = Show(
            title=title,
            author=_text(tree.css_first('[data-cy="PodcastAuthor"]')),
            description=description_node.inner_html if description_node is not None else None,
            claimed_count=claimed,
            url=f"https://podimo.com/{region}/shows/{slug}",
        ) if title else None

        episodes: list[Episode] = []
        if is_episode_page:
            header = tree.css_first('[data-cy="EpisodeHeader"]')
            match = EPISODE_URL.match(capture.final_url or capture.url) or EPISODE_URL.match(
                capture.url)
            if header is not None and match is not None:
                body = tree.css_first('[data-cy="EpisodeBody"] [data-cy="EpisodeDescription"]')
                head_title = _text(header.css_first('[data-cy="EpisodeTitle"]'))
                if head_title:
                    episodes.append(Episode(
                        id=match.group("episode"),
                        title=head_title,
                        published_raw=_text(header.css_first('[data-cy="Datetime"]')),
                        duration_raw=_text(header.css_first('[data-cy="Duration"]')),
                        description=body.inner_html if body is not None else None,
                        url=self._episode_url(region, slug, match.group("episode")),
                    ))
        rows = []
        for selector in ROW_SELECTORS:
            rows = tree.css(selector)
            if rows:
                break
        base = capture.final_url or capture.url
        for row in rows:
            link = row.css_first('a[href*="/episode/"]')
            href = urljoin(base, link.attributes.get("href") or "") if link is not None else ""
            found = EPISODE_URL.match(href)
            row_title = _text(row.css_first('[data-cy="EpisodeTitle"]'))
            if found is None or not row_title:
                raise self.layout_error(capture, "an episode row without a link or a title")
            description = row.css_first('[data-cy="EpisodeDescription"]')
            episodes.append(Episode(
                id=found.group("episode"),
                title=row_title,
                published_raw=_text(row.css_first('[data-cy="Datetime"]')),
                duration_raw=_text(row.css_first('[data-cy="Duration"]')),
                description=description.inner_html if description is not None else None,
                url=self._episode_url(found.group("region"), found.group("slug"),
                                      found.group("episode")),
            ))
        return show, episodes


ADAPTER = PodimoAdapter
