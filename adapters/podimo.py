"""Podimo (podimo.com/<region>/shows/<slug>), every region, plus its public GraphQL list.

The least of the page, the most of the API. What a show page must yield (`page_facts`):
- REQUIRED the podcast UUID, the API's key: the canonical link `.../shows/<uuid>` (the one
  fact public code relies on, research §4a/§9), else `og:url`, else any embedded state's
  `podcast.id`. Without it the page's rows are the listing, cut short (`incomplete_reason`);
  without it and without rows the source fails as `layout`.
- optional the title (JSON-LD `PodcastSeries.name`, state `podcast.title`, `<h1>`) and the
  printed count ("662 Episoder", "662 Episoden", "662 episodios", "662 afleveringen", ...
  from the state or the page text), which guards the list's completeness.

The list comes from the public GraphQL query `openPodcastEpisodesByPodcastId(podcastId,
offset, limit)` on graphql.podimo.com, sent as the POST research documents: a JSON body
`{"operationName", "query", "variables"}` with `content-type: application/json` (Apollo
Server 4 refuses a bare GET as a possible CSRF). 100 per page, paged by offset until a short
page. Its rows have exact values (`publishedOn` ISO, `duration` seconds); rows in the
`podcastEpisodes` shape the site's own bundle asks for (`id description datetime podcastId
podcastName publishDatetime status tags title imageUrl deepLink`, research §9) read the same.

Rows on the page are enrichment merged by id (they hold the whole description and the date as
the region prints it). They are read, first found wins, from:
1. embedded state: Next.js `__NEXT_DATA__` (`pageProps.podcast`, `pageProps.episodes`,
   `pageProps.episode`), Nuxt 2 `window.__NUXT__` or Nuxt 3 `__NUXT_DATA__` (research §9:
   the site's bundle was Nuxt's `/_nuxt/...`): any episode-shaped object (a UUID `id`, a
   `title`, and a description or a date) other than the podcast itself;
2. server-rendered rows `[data-cy="EpisodeListItem"]` (or a `EpisodeListItem_root__` CSS
   module class) with `[data-cy="EpisodeTitle"]`, `[data-cy="EpisodeDescription"]`,
   `[data-cy="Datetime"]` + `[data-cy="Duration"]` as ADJACENT elements (the seed's
   "27. mai 20261 h 0 min" is those two run together by a text renderer).
When neither is readable but the UUID is there, the listing is still complete (the API has
every episode): it is `ok` with a `layout_drift` warning naming what was not found.

Both podimo.com and the gateway sit behind Cloudflare: a challenge page ("Just a moment...",
`_cf_chl_opt`, `cf-mitigated: challenge`) or a bare 403 is a BlockedError. A page rendered
by a real browser parses the same way (a JSON answer shown inside `<pre>` is read from there).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlunsplit

from selectolax.lexbor import LexborHTMLParser

from adapters.base import (
    Adapter,
    Fact,
    dig,
    find_objects,
    join_url,
    layout_drift,
    next_data,
    nuxt_state,
    parse_json,
    split_url,
    strip_tracking,
    text,
    text_value,
)
from scraper.models import Capture, Episode, Listing, Request, Show
from scraper.normalize import ENGLISH, DateStyle, date_from_timestamp, parse_duration

REGIONS = ("no", "dk", "de", "es", "nl", "fi", "uk", "mx", "latam", "en")
_REGION = "|".join(REGIONS)
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_UUID_ONLY = re.compile(rf"^{_UUID}$")

SHOW_URL = re.compile(
    rf"^https?://(?:www\.)?podimo\.com/(?P<region>{_REGION})/shows/(?P<slug>[^/?#]+)/?(?:[?#]|$)"
)
EPISODE_URL = re.compile(
    rf"^https?://(?:www\.)?podimo\.com/(?P<region>{_REGION})/shows/(?P<slug>[^/?#]+)"
    rf"/episode/(?P<episode>{_UUID})/?(?:[?#]|$)"
)
GRAPHQL_URL = re.compile(r"^https?://graphql\.podimo\.com/graphql/?(?:[?#]|$)")
_CANONICAL_ID = re.compile(rf"/shows/(?P<podcast_id>{_UUID})(?:[/?#]|$)")

GRAPHQL_ENDPOINT = "https://graphql.podimo.com/graphql"
GRAPHQL_OPERATION = "PodcastEpisodesByPodcastId"
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
    "": ENGLISH,  # the GraphQL pages carry ISO dates
}

ROW_SELECTORS = ('[data-cy="EpisodeListItem"]', '[class*="EpisodeListItem_root__"]')
# What a page is searched for before its rows count as missing (the layout_drift warning).
DRIFT_TRIED = ("__NEXT_DATA__", "window.__NUXT__", "__NUXT_DATA__",
               '[data-cy="EpisodeListItem"] rows')
# Keys an episode object in any page state has besides `id` and `title` (one is enough).
_EPISODE_KEYS = ("description", "publishedLabel", "publishDatetime", "datetime", "publishedOn")

# ---------------------------------------------------------------------------------------------


def graphql_request(podcast_id: str, offset: int = 0, limit: int = PAGE_SIZE) -> Request:
    """The public episodes query as the POST Apollo Server accepts (JSON body and content
    type), built the same way every time so a recording's body matches exactly."""
    return Request.json_post(GRAPHQL_ENDPOINT, {
        "operationName": GRAPHQL_OPERATION,
        "query": GRAPHQL_QUERY,
        "variables": {"podcastId": podcast_id, "offset": offset, "limit": limit},
    })


def graphql_url(podcast_id: str, offset: int = 0, limit: int = PAGE_SIZE) -> str:
    """The older GET form (`?query=&variables=`): still parsed when a recording has it."""
    variables = json.dumps(
        {"podcastId": podcast_id, "offset": offset, "limit": limit}, separators=(",", ":")
    )
    return f"{GRAPHQL_ENDPOINT}?{urlencode({'query': GRAPHQL_QUERY, 'variables': variables})}"


class PodimoAdapter(Adapter):
    name = "podimo"
    # This platform's row in README's platform table (tests/test_docs.py checks it).
    doc_row = (
        '`podimo.com/<region>/shows/<slug>` and `/episode/<uuid>`, every region',
        'show, claimed count ("662 Episoder"), rows with localized and relative dates ("I '
        'går", "gestern") from the page state (Next.js `__NEXT_DATA__`, Nuxt 2 '
        '`window.__NUXT__`, Nuxt 3 `__NUXT_DATA__`, read without running JavaScript) or the '
        'rows, the whole list through the public GraphQL query sent as a JSON POST (Apollo '
        'Server refuses a bare GET)',
        'Cloudflare bot wall for plain clients: recognised as `blocked`; use `fetch = '
        '"browser"` (the GraphQL POSTs then go through the browser\'s cookies)',
    )
    forbidden_is_bot_wall = True
    url_patterns = (SHOW_URL, EPISODE_URL, GRAPHQL_URL)
    date_styles = DATE_STYLES
    fetch_mode = "http"
    # The rows, or (a JSON answer opened in the browser) Chromium's <pre>.
    browser_wait_for = '[data-cy="EpisodeListItem"], body > pre'
    browser_next = None
    page_facts = (
        Fact("podcast_id", canonical=_CANONICAL_ID, meta=("og:url",),
             state=("podcast", "id")),
        Fact("title", required=False, json_ld=("PodcastSeries", "name"),
             state=("podcast", "title"), selector="h1"),
        Fact("claimed_count", required=False, state=("podcast", "episodeCount"), count=True),
    )

    # -- URLs -----------------------------------------------------------------------------------

    def canonical_url(self, url: str) -> str:
        if GRAPHQL_URL.match(url):
            return strip_tracking(url)
        parts = split_url(strip_tracking(url))
        host = parts.netloc.lower().removeprefix("www.")
        path = parts.path.rstrip("/") or "/"
        return urlunsplit(("https", host, path, parts.query, ""))

    def date_style_key(self, url: str) -> str:
        match = SHOW_URL.match(url) or EPISODE_URL.match(url)
        return match.group("region") if match else ""

    def older_forms(self, request: str | Request) -> list[str | Request]:
        """The GET form of a GraphQL page, as archives before the POST hold it."""
        sent = Request.of(request)
        body = sent.json_body()
        if not (GRAPHQL_URL.match(sent.url) and isinstance(body, dict)):
            return []
        variables = body.get("variables") or {}
        try:
            return [graphql_url(str(variables["podcastId"]), int(variables.get("offset", 0)),
                                int(variables.get("limit", PAGE_SIZE)))]
        except (KeyError, TypeError, ValueError):
            return []

    # -- Responses ------------------------------------------------------------------------------

    def parse(self, capture: Capture) -> Listing:
        if GRAPHQL_URL.match(capture.url):
            return self._parse_api(capture)
        return self._parse_page(capture)

    # -- GraphQL pages --------------------------------------------------------------------------

    def _parse_api(self, capture: Capture) -> Listing:
        body = capture.text.strip()
        if body.startswith("<"):  # a browser shows JSON inside <pre>
            pre = LexborHTMLParser(body).css_first("pre")
            body = pre.text() if pre is not None else ""
        try:
            payload = parse_json(body)
        except ValueError:
            raise self.layout_error(capture, "the GraphQL answer is not JSON") from None
        data = payload.get("data") if isinstance(payload, dict) else None
        rows = None
        if isinstance(data, dict):
            rows = data.get("episodes", data.get("podcastEpisodes"))
        if not isinstance(rows, list):
            errors = payload.get("errors") if isinstance(payload, dict) else None
            detail = ""
            if isinstance(errors, list) and errors:
                detail = ": " + "; ".join(str(e.get("message", e)) for e in errors[:3]
                                          if isinstance(e, dict))
            raise self.layout_error(capture, f"no data.episodes in the GraphQL answer{detail}")
        variables = self._variables(capture)
        podcast_id = variables.get("podcastId")
        try:
            offset = int(variables.get("offset") or 0)
            limit = int(variables.get("limit") or PAGE_SIZE)
        except (TypeError, ValueError):
            offset, limit = 0, PAGE_SIZE

        episodes = []
        for index, row in enumerate(rows):
            episode = self._episode(row, None, None) if isinstance(row, dict) else None
            if episode is None:
                raise self.layout_error(
                    capture, f"GraphQL episode {offset + index} has no id or title"
                )
            episode.url = None  # the API names no region or show slug to build a page URL
            episodes.append(episode)
        listing = Listing(platform=self.name, url=capture.url, episodes=episodes, page_kind="api")
        if podcast_id and limit > 0 and len(rows) >= limit:
            nxt = offset + limit
            listing.next = [graphql_request(podcast_id, nxt, limit) if capture.method != "GET"
                            else graphql_url(podcast_id, nxt, limit)]
        return listing

    @staticmethod
    def _variables(capture: Capture) -> dict[str, Any]:
        """The query's variables: from the POST body, or (the older GET form) the URL."""
        variables: Any = None
        if capture.request_body:
            try:
                sent = parse_json(capture.request_body)
            except ValueError:
                sent = None
            variables = sent.get("variables") if isinstance(sent, dict) else None
        else:
            raw = dict(parse_qsl(split_url(capture.url).query)).get("variables")
            try:
                variables = parse_json(raw or "{}")
            except ValueError:
                variables = None
        return variables if isinstance(variables, dict) else {}

    # -- HTML pages -----------------------------------------------------------------------------

    def _parse_page(self, capture: Capture) -> Listing:
        url = capture.final_url or capture.url
        match = EPISODE_URL.match(url) or SHOW_URL.match(url) or EPISODE_URL.match(
            capture.url) or SHOW_URL.match(capture.url)
        if match is None:
            raise self.layout_error(capture, "not a podimo.com show or episode URL")
        region, slug = match.group("region"), match.group("slug")
        is_episode_page = "episode" in match.groupdict()
        html = capture.text
        tree = LexborHTMLParser(html)
        state, state_kind = self._state(tree, html)
        facts = self.read_facts(capture, tree, state)
        podcast_id = facts.get("podcast_id")
        podcast = self._podcast(state)
        show_slug = (podcast or {}).get("slug") or slug

        episodes: list[Episode] = []
        if state is not None:
            episodes = self._from_state(state, podcast_id or (podcast or {}).get("id"),
                                        region, show_slug)
        show = self._show(podcast, facts, region, show_slug)
        if not episodes:
            show_dom, episodes = self._from_dom(tree, capture, region, slug, is_episode_page)
            if show is None or not show.title:
                show = show_dom or show
            elif show_dom is not None:
                show.author = show.author or show_dom.author
                show.description = show.description or show_dom.description
        listing = Listing(platform=self.name, url=capture.url, show=show, episodes=episodes,
                          page_kind="episode" if is_episode_page else "show")
        empty_show = show is not None and show.claimed_count == 0
        if podcast_id:
            listing.next = [graphql_request(podcast_id)]
            if not episodes and not empty_show:
                listing.warnings.append(layout_drift(
                    "no episode rows or episodes in a page state", DRIFT_TRIED))
        elif episodes:
            listing.incomplete_reason = (
                "no podcast UUID on the page (canonical link, og:url or state): only the rows "
                "shown"
            )
        elif not empty_show:
            raise self.layout_error(
                capture, "no episode list and no podcast UUID (neither a page state with "
                         'episodes, nor [data-cy="EpisodeListItem"] rows, nor a canonical '
                         "link .../shows/<uuid>)"
            )
        return listing

    @staticmethod
    def _state(tree, html: str) -> tuple[Any, str | None]:
        data = next_data(tree)
        props = dig(data, "props", "pageProps")
        if isinstance(props, dict):
            return props, "__NEXT_DATA__"
        state = nuxt_state(html)
        if state is not None:
            kind = "__NUXT_DATA__" if "__NUXT_DATA__" in html else "window.__NUXT__"
            return state, kind
        return None, None

    @staticmethod
    def _podcast(state: Any) -> dict[str, Any] | None:
        for holder in find_objects(state, {"podcast"}):
            if isinstance(holder["podcast"], dict):
                return holder["podcast"]
        return None

    @staticmethod
    def _show(podcast: dict[str, Any] | None, facts, region: str, slug: str) -> Show | None:
        title = facts.get("title")
        if not podcast and not title:
            return None
        podcast = podcast or {}
        count = facts.get("claimed_count")
        return Show(
            title=podcast.get("title") or title,
            author=podcast.get("authorName"),
            description=podcast.get("description"),
            claimed_count=count if isinstance(count, int) else None,
            url=f"https://podimo.com/{region}/shows/{slug}",
            image=podcast.get("coverImageUrl") or podcast.get("imageUrl"),
        )

    @staticmethod
    def _episode_url(region: str, slug: str, episode_id: str) -> str:
        return f"https://podimo.com/{region}/shows/{slug}/episode/{episode_id}"

    def _episode(self, item: dict[str, Any], region: str | None,
                 slug: str | None) -> Episode | None:
        """One episode object of a page state or the API (any of the shapes in the module
        docstring), or None when it has no id or title."""
        episode_id, title = text_value(item.get("id")), text_value(item.get("title"))
        if not episode_id or not title:
            return None
        published_raw = next((item[k] for k in ("publishedLabel", "publishedOn",
                                                "publishDatetime", "datetime")
                              if item.get(k) not in (None, "")), None)
        exact = None if item.get("publishedLabel") else date_from_timestamp(published_raw)
        duration = item.get("duration")
        deep_link = item.get("deepLink")
        if isinstance(deep_link, str) and EPISODE_URL.match(deep_link):
            url: str | None = deep_link
        else:
            url = self._episode_url(region, slug, episode_id) if region and slug else None
        return Episode(
            id=episode_id,
            title=title,
            published=exact,
            published_raw=text_value(published_raw),
            duration_seconds=parse_duration(duration).seconds
            if isinstance(duration, int | float) and not isinstance(duration, bool) else None,
            duration_raw=item.get("durationLabel"),
            description=item.get("description"),
            url=url,
            audio_url=None,
        )

    def _from_state(self, state: Any, podcast_id: str | None, region: str,
                    slug: str) -> list[Episode]:
        episodes: dict[str, Episode] = {}
        for item in find_objects(state, {"id", "title"}):
            episode_id = text_value(item["id"]) or ""
            if (episode_id == podcast_id or not _UUID_ONLY.match(episode_id)
                    or not any(item.get(k) not in (None, "") for k in _EPISODE_KEYS)
                    or "podcast" in item or "episodes" in item):
                continue
            episode = self._episode(item, region, slug)
            if episode is not None:
                episodes.setdefault(episode.id, episode)
        return list(episodes.values())

    def _from_dom(
        self, tree, capture: Capture, region: str, slug: str, is_episode_page: bool
    ) -> tuple[Show | None, list[Episode]]:
        title = text(tree.css_first('[data-cy="PodcastTitle"]'))
        if title is None and not is_episode_page:
            title = text(tree.css_first("main h1"))
        description_node = tree.css_first('[data-cy="PodcastDescription"]')
        facts = self.read_facts(capture, tree)
        claimed = facts.get("claimed_count")
        show = Show(
            title=title,
            author=text(tree.css_first('[data-cy="PodcastAuthor"]')),
            description=description_node.inner_html if description_node is not None else None,
            claimed_count=claimed if isinstance(claimed, int) else None,
            url=f"https://podimo.com/{region}/shows/{slug}",
        ) if title else None

        episodes: list[Episode] = []
        if is_episode_page:
            header = tree.css_first('[data-cy="EpisodeHeader"]')
            match = EPISODE_URL.match(capture.final_url or capture.url) or EPISODE_URL.match(
                capture.url)
            if header is not None and match is not None:
                body = tree.css_first('[data-cy="EpisodeBody"] [data-cy="EpisodeDescription"]')
                head_title = text(header.css_first('[data-cy="EpisodeTitle"]'))
                if head_title:
                    episodes.append(Episode(
                        id=match.group("episode"),
                        title=head_title,
                        published_raw=text(header.css_first('[data-cy="Datetime"]')),
                        duration_raw=text(header.css_first('[data-cy="Duration"]')),
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
            href = join_url(base, link.attributes.get("href") or "") if link is not None else ""
            found = EPISODE_URL.match(href)
            row_title = text(row.css_first('[data-cy="EpisodeTitle"]'))
            if found is None or not row_title:
                raise self.layout_error(capture, "an episode row without a link or a title")
            description = row.css_first('[data-cy="EpisodeDescription"]')
            episodes.append(Episode(
                id=found.group("episode"),
                title=row_title,
                published_raw=text(row.css_first('[data-cy="Datetime"]')),
                duration_raw=text(row.css_first('[data-cy="Duration"]')),
                description=description.inner_html if description is not None else None,
                url=self._episode_url(found.group("region"), found.group("slug"),
                                      found.group("episode")),
            ))
        return show, episodes


ADAPTER = PodimoAdapter
