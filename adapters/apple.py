"""Apple Podcasts: show pages on every storefront plus the keyless iTunes lookup API.

Pages: `https://podcasts.apple.com/<cc>/podcast/<slug>/id<N>` and `/<cc>/podcast/id<N>` (any
storefront `cc`; without one Apple serves `us`), and the older
`itunes.apple.com/<cc>/podcast/<slug>/id<N>` form the API itself still prints. The show's id
comes from the URL itself, so the list never depends on the page.

The list: `https://itunes.apple.com/lookup?id=<N>&media=podcast&entity=podcastEpisode&limit=200
&country=<cc>`. What it answers (fields confirmed in public code, see below):

- the envelope `{"resultCount": n, "results": [...]}`, served as `text/javascript;
  charset=utf-8` with blank lines around it and `", "` between fields (a recorded answer,
  status and content type included, in a public client's test mocks found with `find_string`);
  `resultCount` counts the results, the show included;
- the first result is the show: `wrapperType: "track"`, `kind: "podcast"`, `collectionId`,
  `collectionName`, `artistName`, `feedUrl`, `trackCount` (the number of episodes Apple
  holds: our claimed count), `collectionViewUrl` (with `?uo=4`), `artworkUrl600`,
  `primaryGenreName` (confirmed in several clients' fixtures and types, e.g. a TypeScript
  `PodcastInfo` type and the lookup answers of "The Joe Budden Podcast" and "The Daily");
- every other result is an episode: `wrapperType: "podcastEpisode"`, `kind: "podcast-episode"`,
  `trackId`, `trackName`, `releaseDate` (ISO 8601 UTC, `2023-11-15T08:00:00Z`),
  `trackTimeMillis`, `description` (plain text, `\\n` line breaks), `shortDescription` (cut
  with "..."), `episodeUrl` (the audio), `episodeGuid` (the publisher's item guid; absent for
  some episodes), `trackViewUrl` (`?i=<trackId>&uo=4`), `episodeFileExtension`,
  `episodeContentType`, `closedCaptioning`, `artworkUrl160/600` (same sources);
- at most 200 episodes, newest first: a show with more is listed only as its newest 200
  (`Listing.window`), by the platform's design; the other episodes are beyond Apple's window,
  not gone. (Some clients ask for `limit=300`; the cap the issue and Apple's Search API
  documentation state is 200, and we ask for that.)
- an unknown id answers `{"resultCount":0,"results":[]}`; a malformed query answers HTTP 400
  with `{"errorMessage": ...}`; Apple documents the Search API as "limited to approximately 20
  calls per minute (subject to change)" and clients report a bare HTTP 403 when throttled
  (`blocked`). One sync asks once per Apple source. Whether itunes.apple.com's robots.txt
  allows `/lookup` is not known here (no public copy found): a disallow fails the source as
  `robots` (`--ignore-robots` overrides, with a warning).

The show page (optional: the source succeeds without it, with a warning) is a server-rendered
app. Its facts (`PAGE_FACTS`, read by the toolkit's `read_facts`, most stable signal first):
- required: the show `id` (canonical link > og:url > state `adamId` > the URL itself, so it
  is always there on a show URL) and the `title` (og:title / apple:title > the JSON-LD
  `<script id=schema:show type="application/ld+json">` `PodcastSeries.name` > the h1);
- optional: `author` (JSON-LD `author.name` > state `providerTitle`), `description` (JSON-LD
  > og:description), the publisher's `feed_url` and a printed `count` (state `feedUrl`,
  `episodeCount`), where the state is `<script id="serialized-server-data"
  type="application/json">` (yt-dlp's `applepodcasts.py` reads `data[0].data` from it; a
  public Apple-to-RSS resolver takes the first `"feedUrl"` in the page; that the header
  carries `episodeCount` is our assumption, the recordings print no count).
Missing JSON-LD or state: a `layout_drift` warning. No title at all (a bare client-side shell):
`layout`, which a sync records as a warning because the page is optional; so is an HTTP error
(yt-dlp notes Apple's pages answering 500). The page's episode shelf is not read: the API
lists the same episodes with more fields.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode

from selectolax.lexbor import LexborHTMLParser

from adapters.base import (
    Adapter,
    Fact,
    canonical_link,
    dig,
    json_ld,
    layout_drift,
    meta,
    parse_json,
    split_url,
    text_value,
    whole_number,
)
from scraper.errors import FetchError
from scraper.models import Capture, Episode, Listing, Show
from scraper.normalize import date_from_timestamp, parse_duration

SITE = "https://podcasts.apple.com"
LOOKUP = "https://itunes.apple.com/lookup"
# The most episodes the lookup API returns for one show.
API_LIMIT = 200
DEFAULT_STOREFRONT = "us"

SHOW_URL = re.compile(
    r"^https?://(?:podcasts|itunes)\.apple\.com/(?:(?P<cc>[a-z]{2})/)?podcast/"
    r"(?:(?P<slug>[^/?#]+)/)?id(?P<id>\d+)/?(?:[?#]|$)",
    re.I,
)
API_URL = re.compile(r"^https?://itunes\.apple\.com/(?:[a-z]{2}/)?lookup\?", re.I)
# The site's suffix on page titles ("AI Post Transformers - Podcast - Apple Podcasts").
TITLE_SUFFIX = re.compile(r"\s*(?:[-|\u2013]\s*Podcast\s*)?[-|\u2013]\s*Apple Podcasts\s*$", re.I)
#: What the show page must yield (the id also comes from the URL itself) and may yield.
PAGE_FACTS = (
    Fact("id", canonical=SHOW_URL, meta=("og:url",), state=("adamId",), url=SHOW_URL),
    Fact("title", meta=("og:title", "apple:title"), json_ld=("PodcastSeries", "name"),
         selector="h1", clean=TITLE_SUFFIX),
    Fact("author", required=False, state=("providerTitle",)),
    Fact("description", required=False, json_ld=("PodcastSeries", "description"),
         meta=("og:description",)),
    Fact("feed_url", required=False, state=("feedUrl",)),
    Fact("count", required=False, state=("episodeCount",), count=True),
)
#: Where the page keeps its data, for the layout_drift warning.
PAGE_SIGNALS = ("script#schema:show PodcastSeries", "script#serialized-server-data",
                "og:/apple: meta", "h1")


def show_id(url: str) -> str | None:
    match = SHOW_URL.search(url)
    if match:
        return match.group("id")
    if API_URL.search(url):
        value = dict(parse_qsl(split_url(url).query)).get("id", "")
        return value if value.isdecimal() else None
    return None


def storefront(url: str) -> str:
    match = SHOW_URL.search(url)
    if match and match.group("cc"):
        return match.group("cc").lower()
    if API_URL.search(url):
        return (dict(parse_qsl(split_url(url).query)).get("country") or DEFAULT_STOREFRONT).lower()
    return DEFAULT_STOREFRONT


def lookup_url(show: str, country: str = DEFAULT_STOREFRONT, limit: int = API_LIMIT) -> str:
    """The lookup API call for a show's newest episodes, parameters in a fixed order."""
    query = urlencode({"id": show, "media": "podcast", "entity": "podcastEpisode",
                       "limit": limit, "country": country})
    return f"{LOOKUP}?{query}"


def episode_page_url(view_url: str | None) -> str | None:
    """`trackViewUrl` without Apple's tracking parameter (`uo`), keeping the episode `i`."""
    if not view_url:
        return None
    parts = split_url(view_url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k == "i"]
    host = "podcasts.apple.com" if parts.netloc.lower().endswith("apple.com") else parts.netloc
    return f"https://{host}{parts.path}" + (f"?{urlencode(query)}" if query else "")


def _int(value: Any) -> int | None:
    return whole_number(value)


def _str(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


class AppleAdapter(Adapter):
    name = "apple"
    label = "Apple Podcasts"
    url_patterns = (SHOW_URL, API_URL)
    page_facts = PAGE_FACTS
    fetch_mode = "http"
    doc_row = (
        "`podcasts.apple.com/<cc>/podcast/<slug>/id<N>` (and `/id<N>`) on every storefront; "
        "the iTunes lookup API",
        "show, claimed count (`trackCount`), the publisher's feed URL (`scraper add` offers "
        "it), the newest 200 episodes with exact dates, durations, audio URLs and the feed's "
        "guid (linked `same-guid`)",
        "**only the newest 200 episodes** (the API's window, by design: the rest are reported "
        "as beyond Apple's window, never removed or missing); the show page is optional",
    )

    # --- URLs ----------------------------------------------------------------------------------

    def canonical_url(self, url: str) -> str:
        """Show pages on https://podcasts.apple.com with their storefront, no query (`uo`,
        `i`) or fragment; lookup calls are kept as built."""
        if API_URL.search(url):
            return url
        match = SHOW_URL.search(url)
        if not match:
            return super().canonical_url(url)
        cc = (match.group("cc") or DEFAULT_STOREFRONT).lower()
        slug = f"{match.group('slug')}/" if match.group("slug") else ""
        return f"{SITE}/{cc}/podcast/{slug}id{match.group('id')}"

    def start_urls(self, url: str) -> list[str]:
        """The lookup API first (it alone gives the list), then the show page (optional)."""
        if API_URL.search(url):
            return [url]
        show = show_id(url)
        if show is None:
            return [self.canonical_url(url)]
        return [lookup_url(show, storefront(url)), self.canonical_url(url)]

    def optional_page(self, url: Any) -> bool:
        """The show page only enriches the listing; the lookup API answer is required.
        (`url` may be a request object with a `url`.)"""
        return bool(SHOW_URL.search(getattr(url, "url", url)))

    # --- responses -----------------------------------------------------------------------------

    def check_response(self, capture: Capture) -> None:
        if API_URL.search(capture.url) and capture.status in (403, 429):
            # Apple documents the Search API as "limited to approximately 20 calls per minute";
            # clients report a bare 403 (no Retry-After) when it throttles.
            raise self.blocked_error(
                capture, f"the lookup API refused the call (HTTP {capture.status}: Apple "
                         "throttles it at about 20 calls a minute per address); try again later")
        if API_URL.search(capture.url) and capture.status >= 400:
            message = ""
            with contextlib.suppress(ValueError, AttributeError):
                message = text_value(parse_json(capture.text).get("errorMessage")) or ""
            raise FetchError(
                f"apple: the lookup API answered HTTP {capture.status}"
                f"{f' ({message})' if message else ''} at {capture.url}",
                url=capture.url, status=capture.status,
            )
        super().check_response(capture)

    def parse(self, capture: Capture) -> Listing:
        if API_URL.search(capture.url):
            return self._parse_api(capture)
        return self._parse_page(capture)

    # --- the lookup API ------------------------------------------------------------------------

    def _results(self, capture: Capture) -> list[dict[str, Any]]:
        try:
            payload = parse_json(capture.text)
        except ValueError:
            raise self.layout_error(capture, "the lookup API answered with no JSON") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("results"), list):
            raise self.layout_error(capture, "the lookup API answer has no `results` list")
        if payload.get("errorMessage"):
            raise FetchError(f"apple: the lookup API refused the query "
                             f"({payload['errorMessage']}) at {capture.url}",
                             url=capture.url, status=capture.status)
        return [r for r in payload["results"] if isinstance(r, dict)]

    def _parse_api(self, capture: Capture) -> Listing:
        results = self._results(capture)
        wanted = show_id(capture.url)
        shows = [r for r in results if r.get("kind") == "podcast"
                 or (r.get("wrapperType") in ("track", "collection") and "feedUrl" in r
                     and r.get("kind") != "podcast-episode")]
        items = [r for r in results if r.get("wrapperType") == "podcastEpisode"
                 or r.get("kind") == "podcast-episode"]
        if not shows:
            if not results:
                raise FetchError(
                    f"apple: the lookup API knows no show with id {wanted} in storefront "
                    f"{storefront(capture.url)!r} at {capture.url}; check the id and the "
                    "storefront of the URL", url=capture.url, status=404)
            raise self.layout_error(capture, "no show record (kind \"podcast\") in the answer")
        record = shows[0]
        show = self._api_show(record, capture)
        episodes = [e for e in (self._api_episode(item) for item in items) if e is not None]
        if items and not episodes:
            raise self.layout_error(capture, "episode records carry no trackId/trackName")
        if not episodes and (show.claimed_count or 0) > 0:
            raise self.layout_error(
                capture, f"the show claims {show.claimed_count} episodes but the answer "
                         "lists none")
        listing = Listing(platform=self.name, url=capture.url, show=show, episodes=episodes,
                          page_kind="api")
        limit = min(_int(dict(parse_qsl(split_url(capture.url).query)).get("limit"))
                    or API_LIMIT, API_LIMIT)
        claimed = show.claimed_count
        if claimed is not None and len(episodes) < claimed and len(episodes) >= limit:
            listing.window = len(episodes)
        return listing

    def _api_show(self, record: dict[str, Any], capture: Capture) -> Show:
        collection = _int(record.get("collectionId")) or _int(record.get("trackId"))
        view = episode_page_url(_str(record.get("collectionViewUrl"))
                                or _str(record.get("trackViewUrl")))
        if view is None and collection:
            view = f"{SITE}/{storefront(capture.url)}/podcast/id{collection}"
        return Show(
            title=_str(record.get("collectionName")) or _str(record.get("trackName")),
            author=_str(record.get("artistName")),
            claimed_count=_int(record.get("trackCount")),
            url=view,
            image=_str(record.get("artworkUrl600")) or _str(record.get("artworkUrl100")),
            category=_str(record.get("primaryGenreName")),
            feed_url=_str(record.get("feedUrl")),
            extra={"apple_id": str(collection)} if collection else {},
        )

    def _api_episode(self, item: dict[str, Any]) -> Episode | None:
        track = _int(item.get("trackId"))
        title = _str(item.get("trackName"))
        if track is None or title is None:
            return None
        released = _str(item.get("releaseDate"))
        millis = item.get("trackTimeMillis")
        seconds = (parse_duration(millis, unit="ms").seconds if isinstance(millis, int | float)
                   and not isinstance(millis, bool) and millis > 0 else None)
        description = _str(item.get("description"))
        short = _str(item.get("shortDescription"))
        episode = Episode(
            id=str(track),
            title=title,
            published=date_from_timestamp(released) if released else None,
            published_raw=released,
            duration_seconds=seconds,
            duration_precision=1 if seconds is not None else None,  # milliseconds, exact
            # The full text where Apple gives it; else the teaser, flagged as cut.
            description=description or short,
            description_truncated=description is None and short is not None,
            url=episode_page_url(_str(item.get("trackViewUrl"))),
            audio_url=_str(item.get("episodeUrl")),
            guid=_str(item.get("episodeGuid")),
        )
        return episode

    # --- the show page (optional) --------------------------------------------------------------

    def _parse_page(self, capture: Capture) -> Listing:
        tree = LexborHTMLParser(capture.text)
        state = self._server_data(tree)
        facts = self.read_facts(capture, tree, state)
        if facts.missing:
            raise self.layout_error(
                capture, f"no show {' or '.join(facts.missing)} on the page (looked in: "
                         f"{self.facts_doc()})".replace("\n", "; "))
        series = next(iter(json_ld(tree, "PodcastSeries")), {})
        author = dig(series, "author", "name") or facts.get("author")
        canonical = canonical_link(tree)
        show = Show(
            title=facts.get("title"),
            author=author if isinstance(author, str) else None,
            description=facts.get("description"),
            claimed_count=facts.get("count"),
            url=self.canonical_url(canonical if canonical and SHOW_URL.search(canonical)
                                   else capture.url),
            image=meta(tree, "og:image"),
            feed_url=facts.get("feed_url"),
            extra={"apple_id": facts.get("id")},
        )
        listing = Listing(platform=self.name, url=capture.url, show=show, page_kind="show")
        if not series or state is None:
            lost = [what for what, found in (("PodcastSeries JSON-LD (script#schema:show)",
                                              series), ("serialized-server-data", state))
                    if not found]
            listing.warnings.append(layout_drift(
                f"no {' and no '.join(lost)} on the show page", PAGE_SIGNALS,
                outcome="the list came from the lookup API"))
        return listing

    @staticmethod
    def _server_data(tree: LexborHTMLParser) -> Any:
        node = tree.css_first("script#serialized-server-data")
        if node is None:
            return None
        try:
            return parse_json(node.text() or "")
        except ValueError:
            return None


ADAPTER = AppleAdapter

__all__ = ["ADAPTER", "AppleAdapter", "episode_page_url", "lookup_url", "show_id", "storefront"]
