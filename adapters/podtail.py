"""Podtail (podtail.com[/<lang>]/podcast/<slug>/, podtail.se/...): server-rendered HTML.

Podtail has no embedded episode state, so the DOM is the source (JSON-LD `PodcastSeries`
first for the show). Research §4b knows the URLs, the paging protocol and the download
links; the row markup and the date/duration formats per locale are a gap, and what this
adapter reads is the form our recordings use (fixtures/podtail/build_fixtures.py):

- show (page facts): REQUIRED the title: JSON-LD `PodcastSeries.name`, else `h1`
  (`h1.podcast-title`), else the first " | " segment of `<title>`; missing -> `layout`.
  Optional: author (JSON-LD `author.name`, `.podcast-author`), description (JSON-LD,
  `.podcast-description`). Podtail prints no episode count: `claimed_count` stays None.
  There is no API: rows (or the "No episodes found." end of the paging) are required; a page
  with neither fails as `layout`.
- rows: `#episodes li.episode[data-episode-id]` (Podtail's numeric episode id; also
  `data-id` or `id="episode-N"`; a row without it fails the page, since any other id would
  silently turn every archived episode into a removed one) with
  `.episode-title a[href=/<lang>/podcast/<show>/<episode-slug>/][title=<full title>]`,
  `.episode-date` ("19. mai 2026", "19. Mai 2026", "May 19, 2026"), `.episode-duration`
  ("58 min", "1 t 2 min", "1 Std. 2 Min."), `.episode-description` (an excerpt, cut with
  "…" when long) and the audio file as a plain link (`<a href="….mp3" title="Download">`,
  the title localized: "Herunterladen", "Last ned").
- a second generation (2026 redesign, fixtures `show-no-v2-*`): rows are
  `.episode-feed article.episode-card[data-id]` with `.episode-card__title a` (no title
  attribute: the link text), `<time>`, `.episode-card__duration`, `.episode-card__summary`,
  a Spotify episode link (research §9) beside the download link. Each part is looked up in
  the selector tuples below, first match wins, so either generation parses.
- paging: `<show-url>?page=N&append=false&sort=latest`, one page of rows after another,
  until a page says "No episodes found." (`<p>No episodes found.</p>` where the rows would
  be). Each page's `Listing.next` is the following page; the empty page has none.

Podtail sits behind Cloudflare (podtail.se answers plain clients with 403): a challenge page
or a bare 403 is a BlockedError. Paging is by URL, so a browser-rendered page parses the
same and needs no click (`browser_next` stays None).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlunsplit

from selectolax.lexbor import LexborHTMLParser

from adapters.base import Adapter, join_url, parse_json, split_url, strip_tracking, text
from scraper.models import Capture, Episode, Listing, Show
from scraper.normalize import DateStyle

_HOST = r"(?:www\.)?podtail\.(?:com|se)"
SHOW_URL = re.compile(
    rf"^https?://(?P<host>{_HOST})/(?:(?P<lang>[a-z]{{2}})/)?podcast/"
    r"(?P<show>(?!episode/)[^/?#]+)/?(?:[?#]|$)"
)
EPISODE_URL = re.compile(
    rf"^https?://(?P<host>{_HOST})/(?:(?P<lang>[a-z]{{2}})/)?podcast/"
    r"(?P<show>(?!episode/)[^/?#]+)/(?P<episode>[^/?#]+)/?(?:[?#]|$)"
)

DATE_STYLES: dict[str, DateStyle] = {
    "en": DateStyle(languages=("en",), order="MDY", formats=("%B %d, %Y", "%b %d, %Y")),
    "no": DateStyle(languages=("nb",), order="DMY"),
    "nb": DateStyle(languages=("nb",), order="DMY"),
    "sv": DateStyle(languages=("sv",), order="DMY"),
    "da": DateStyle(languages=("da",), order="DMY"),
    "fi": DateStyle(languages=("fi",), order="DMY"),
    "de": DateStyle(languages=("de",), order="DMY"),
    "nl": DateStyle(languages=("nl",), order="DMY"),
    "fr": DateStyle(languages=("fr",), order="DMY"),
    "es": DateStyle(languages=("es",), order="DMY"),
    "it": DateStyle(languages=("it",), order="DMY"),
    "pt": DateStyle(languages=("pt",), order="DMY"),
    "pl": DateStyle(languages=("pl",), order="DMY"),
}
# The language of a page without a /<lang>/ prefix, per domain.
DOMAIN_LANGUAGE = {"podtail.com": "en", "podtail.se": "sv"}

PAGING = ("page", "append", "sort", "q")
NO_EPISODES = re.compile(
    r"no episodes found|keine episoden gefunden|ingen episoder funnet|ingen episoder fundet|"
    r"inga avsnitt hittades|jaksoja ei löytynyt",
    re.I,
)
AUDIO_LINK = re.compile(r"\.(?:mp3|m4a|aac|ogg|oga|opus|wav|mp4)(?:[?#]|$)", re.I)


# Where each part of a row is, per page generation (first match wins).
CONTAINERS = ("#episodes", ".episode-feed")
ROWS = ("li.episode", "article.episode-card")
ROW_TITLE_LINKS = (".episode-title a[href]", ".episode-card__title a[href]", "h3 a[href]",
                   "h2 a[href]")
ROW_DATES = (".episode-date", "time")
ROW_DURATIONS = (".episode-duration", ".episode-card__duration", "[class*=duration]")
ROW_DESCRIPTIONS = (".episode-description", ".episode-card__summary", "[class*=summary]")


def _first(node, selectors: tuple[str, ...]):
    for selector in selectors:
        found = node.css_first(selector)
        if found is not None:
            return found
    return None


_text = text


class PodtailAdapter(Adapter):
    name = "podtail"
    # This platform's row in README's platform table (tests/test_docs.py checks it).
    doc_row = (
        '`podtail.com[/<lang>]/podcast/<slug>/` and country domains',
        'rows (two page generations: `li.episode` and `article.episode-card`), dates, audio '
        'links, paging until "No episodes found"',
        'no count and no API; Cloudflare as above',
    )
    forbidden_is_bot_wall = True
    url_patterns = (SHOW_URL.pattern, EPISODE_URL.pattern)
    fetch_mode = "http"
    # The rows, or the "No episodes found." paragraph that ends the paging.
    browser_wait_for = ("#episodes li.episode, #episodes > p, .episode-feed article.episode-card, "
                        ".episode-feed > p")
    browser_next = None

    # -- URLs -----------------------------------------------------------------------------------

    def canonical_url(self, url: str) -> str:
        parts = split_url(strip_tracking(url, keep=PAGING))
        host = parts.netloc.lower().removeprefix("www.")
        path = parts.path if parts.path.endswith("/") else parts.path + "/"
        return urlunsplit(("https", host, path, parts.query, ""))

    def start_urls(self, url: str) -> list[str]:
        """The show's first page: paging parameters dropped, and an episode URL leads to its
        show (the list lives there)."""
        canonical = self.canonical_url(url)
        return [self._show_root(canonical) or urlunsplit(split_url(canonical)._replace(query=""))]

    @staticmethod
    def _show_root(url: str) -> str | None:
        match = SHOW_URL.match(url) or EPISODE_URL.match(url)
        if match is None:
            return None
        lang = f"{match.group('lang')}/" if match.group("lang") else ""
        host = match.group("host").lower().removeprefix("www.")
        return f"https://{host}/{lang}podcast/{match.group('show')}/"

    def date_style(self, url: str) -> DateStyle:
        match = SHOW_URL.match(url) or EPISODE_URL.match(url)
        if match is None:
            return DATE_STYLES["en"]
        lang = match.group("lang")
        if lang is None:
            lang = DOMAIN_LANGUAGE.get(match.group("host").lower().removeprefix("www."), "en")
        return DATE_STYLES.get(lang, DATE_STYLES["en"])

    @staticmethod
    def page_url(show_root: str, page: int, sort: str = "latest", q: str = "") -> str:
        """Podtail's page URL, parameters in the order its own links use."""
        params = {"page": str(page), "append": "false", "sort": sort}
        if q:
            params["q"] = q
        return f"{show_root}?{urlencode(params)}"

    # -- Responses ------------------------------------------------------------------------------

    def parse(self, capture: Capture) -> Listing:
        tree = LexborHTMLParser(capture.text)
        show = self._show(tree)
        container = _first(tree, CONTAINERS)
        rows = []
        if container is not None:
            for selector in ROWS:
                rows = container.css(selector)
                if rows:
                    break
        empty = container is not None and not rows and any(
            NO_EPISODES.search(p.text() or "") for p in container.css("p")
        )
        if not rows and not empty:
            raise self.layout_error(
                capture, f"no episode rows ({', '.join(ROWS)} in {', '.join(CONTAINERS)}) and "
                         "no 'No episodes found.'"
            )
        if show is None:
            raise self.layout_error(capture, "no show title (JSON-LD, h1.podcast-title)")
        base = capture.final_url or capture.url
        episodes = [self._episode(capture, base, row) for row in rows]
        listing = Listing(platform=self.name, url=capture.url, show=show, episodes=episodes)
        # Only a show page pages on; an episode page's rows (if any) end there.
        root = self._show_root(capture.url) if SHOW_URL.match(capture.url) else None
        if rows and root is not None:
            query = dict(parse_qsl(split_url(capture.url).query))
            try:
                page = int(query.get("page") or 1)
            except ValueError:
                page = 1
            listing.next = [self.page_url(root, page + 1, query.get("sort") or "latest",
                                          query.get("q") or "")]
        return listing

    def _show(self, tree) -> Show | None:
        series: dict = {}
        for node in tree.css('script[type="application/ld+json"]'):
            try:
                data = parse_json(node.text())
            except ValueError:
                continue
            if isinstance(data, dict):
                items = data.get("@graph", [data])
            else:
                items = data if isinstance(data, list) else []
            for item in items:
                if isinstance(item, dict) and item.get("@type") == "PodcastSeries":
                    series = item
                    break
            if series:
                break
        author = series.get("author")
        if isinstance(author, list):
            author = author[0] if author else None
        if isinstance(author, dict):
            author = author.get("name")
        title = series.get("name") or _text(tree.css_first("h1.podcast-title")) or _text(
            tree.css_first("h1"))
        if not title:
            page_title = _text(tree.css_first("title")) or ""
            title = page_title.split(" | ")[0].strip() or None
        description_node = tree.css_first(".podcast-description")
        description = series.get("description") or (
            description_node.inner_html if description_node is not None else None
        )
        if not title:
            return None
        return Show(
            title=title,
            author=author or _text(tree.css_first(".podcast-author")),
            description=description,
            claimed_count=None,  # Podtail prints no episode count
            url=series.get("url"),
            image=series.get("image") if isinstance(series.get("image"), str) else None,
        )

    def _episode(self, capture: Capture, base: str, row) -> Episode:
        link = _first(row, ROW_TITLE_LINKS) or row.css_first("a[href*='/podcast/']")
        href = join_url(base, link.attributes.get("href") or "") if link is not None else None
        title = (link.attributes.get("title") or _text(link)) if link is not None else None
        episode_id = _episode_number(row)
        if not title:
            raise self.layout_error(capture, "an episode row without a title")
        if not episode_id:
            # Another id (the URL slug) would silently make every episode new and every
            # archived one removed: the source fails instead.
            raise self.layout_error(
                capture, f"episode row {title!r} carries no Podtail episode number "
                         "(data-episode-id, data-id or id=\"episode-N\")")
        audio = None
        for anchor in row.css("a[href]"):
            target = anchor.attributes.get("href") or ""
            if AUDIO_LINK.search(target):
                audio = join_url(base, target)
                break
        if audio is None:
            player = row.css_first("[data-media-url]")
            audio = player.attributes.get("data-media-url") if player is not None else None
        description = _first(row, ROW_DESCRIPTIONS)
        return Episode(
            id=episode_id,
            title=title,
            published_raw=_text(_first(row, ROW_DATES)),
            duration_raw=_text(_first(row, ROW_DURATIONS)),
            description=description.inner_html if description is not None else None,
            url=href,
            audio_url=audio or None,
        )


_ELEMENT_ID = re.compile(r"^episode-(\d+)$")


def _episode_number(row) -> str | None:
    """Podtail's numeric episode id: `data-episode-id`, `data-id`, else `id="episode-N"`."""
    for name in ("data-episode-id", "data-id"):
        value = (row.attributes.get(name) or "").strip()
        if value:
            return value
    found = _ELEMENT_ID.match((row.attributes.get("id") or "").strip())
    return found.group(1) if found else None


ADAPTER = PodtailAdapter
