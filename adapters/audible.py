"""Audible podcasts on every storefront: audible.com, .in, .co.uk, .de, .fr, .it, .ca, .com.au,
.co.jp (also their `origin-www.` hosts), and the older `/pd/<Slug>-Podcast/<ASIN>` URL form
(stored as `/podcast/<Slug>/<ASIN>`). ASINs are 10 characters `[0-9A-Z]`, not always `B0...`
(a numeric ISBN-10 such as `1541419359` is one, research §9).

The show page must yield (`PAGE_FACTS`, most stable signal first): the ASIN (required:
canonical link > og:url > the page URL), the title (required: og:title > JSON-LD
PodcastSeries name > hero h1). Audible prints no episode count. The list comes from the
episode list pages; the show page's three rows are enrichment: a show page whose rows cannot
be read is still `ok`, with a `layout_drift` warning. A list page without rows fails the
source as `layout`.

Three kinds of page, all server-rendered HTML (research §1):

- show page `/podcast/<Slug>/<ASIN>`: a `PodcastSeries` JSON-LD block (name, author,
  description) and the `adbl-*` hero (`adbl-title-lockup h1[slot=title]`,
  `adbl-product-metadata` JSON, `adbl-text-block[slot=summary]`), then only the first three
  episode rows. Show fields come from JSON-LD first, the hero second, `h1` last. Audible prints
  no episode count, so `claimed_count` stays None.
- episode page: the same URL shape; recognised by its "View show details" link (a hero link
  to another podcast ASIN) and by having no episode list. It yields one episode (the page
  prints no date and no duration) and the show's URL in `Listing.show.url`; the show page is
  not followed from there.
- the show's episode list `/podcast/<Slug>/episodes/<ASIN>`, paged. Research has no public
  evidence of how that list pages ([gap]); `?page=N` is chosen because Audible's other product
  lists (library, search) page that way, with `PAGE_SIZE` rows per page (Audible's default list
  page size, also a choice). Page 1 is the bare URL; `next` is `?page=N+1` while the pager's
  "next" button is live (or its page numbers go further), one page at a time.

Episode rows (`li.productListItem`, bc- classes): ASIN from `data-asin` (or the row link),
title from `h3 a`, date from `.releaseDateLabel` as printed (`Mar 4 2026` on English
storefronts, the storefront's language elsewhere: `4. März 2026`, `4 mars 2026`,
`2026/03/04`), duration from `.runtimeLabel` (`Less than 1 minute`, `28 mins`,
`1 hr and 2 mins`, `1 Std. und 2 Min.`), description from `.bc-expander-content` only, so the
expander's "Show More"/"Show Less" labels never join it. Audible cuts long descriptions at
about 5,000 characters and ends them with ", ..."; those are flagged truncated. No audio URL is
public (DRM): `audio_url` is None.

`check_response` recognises Amazon's captcha / robot check (`/errors/validateCaptcha`), the
"not a functioning page on our site" 404 a storefront serves for titles it does not sell, and a
page that is nothing but the cookie-consent layer (`#sp-cc`); the same layer as a banner inside
a normal page is ignored.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlunsplit

from selectolax.lexbor import LexborHTMLParser

from adapters.base import (
    Adapter,
    BlockMarker,
    Fact,
    drop,
    join_url,
    json_ld,
    layout_drift,
    meta,
    parse_json,
    split_url,
    strip_tracking,
    text,
)
from scraper.models import Capture, Episode, Listing, Show
from scraper.normalize import DateStyle

# --- URL forms ---------------------------------------------------------------------------------
ASIN = r"[0-9A-Z]{10}"
STOREFRONTS = ("com.au", "co.uk", "co.jp", "com", "in", "de", "fr", "it", "ca")
_TLD = "|".join(re.escape(tld) for tld in STOREFRONTS)
HOST = rf"(?:www\.|origin-www\.)?audible\.(?P<tld>{_TLD})"
PODCAST_URL = re.compile(
    rf"^https?://(?P<host>{HOST})/(?:podcast/(?P<slug>[^/?#]+)/(?P<list>episodes/)?|"
    rf"pd/(?P<pd>[^/?#]+)-Podcast/)(?P<asin>{ASIN})/?(?:[?#]|$)",
    re.I,
)
_ASIN_AT_END = re.compile(
    rf"/(?:podcast/(?P<slug>[^/?#]+)/(?:episodes/)?|pd/(?P<pd>[^/?#]+)-Podcast/)"
    rf"(?P<asin>{ASIN})/?$", re.I)
#: The ASIN at the end of a podcast URL (canonical link, og:url, the page URL).
ASIN_IN_URL = re.compile(rf"/(?:podcast|pd)/[^/?#]+/(?:episodes/)?({ASIN})/?(?:[?#]|$)", re.I)
PAGE_FACTS = (
    Fact("show_id", canonical=ASIN_IN_URL, meta=("og:url",), url=ASIN_IN_URL),
    Fact("title", meta=("og:title",), json_ld=("PodcastSeries", "name"),
         selector="adbl-title-lockup h1"),
)


def _slug(match: re.Match[str]) -> str:
    return match["slug"] or match["pd"]

#: Rows per page of the show's episode list (`/podcast/<Slug>/episodes/<ASIN>?page=N`).
PAGE_SIZE = 20
#: Query parameters that select content; every other one (qid, sr, ref, ref_, pf_rd_*,
#: source_code, share_location, eac_*, plc, plink, pageLoadId, creativeId...) only tracks.
KEEP_PARAMS = ("page",)
#: Audible cuts long descriptions at about this many characters and ends them with ", ...".
DESCRIPTION_CUT = 5000

# --- dates per storefront ----------------------------------------------------------------------
_EN_FORMATS = ("%b %d %Y", "%b %d, %Y", "%d %b %Y")
DATE_STYLES: dict[str, DateStyle] = {
    # Search and list rows print MM-DD-YY (research §9); read by order, two-digit years get
    # the century nearest the capture (scraper.normalize).
    "": DateStyle(("en",), "MDY", _EN_FORMATS),
    "com": DateStyle(("en",), "MDY", _EN_FORMATS),
    "ca": DateStyle(("en",), "MDY", _EN_FORMATS),
    "in": DateStyle(("en",), "DMY", _EN_FORMATS),
    "co.uk": DateStyle(("en",), "DMY", _EN_FORMATS),
    "com.au": DateStyle(("en",), "DMY", _EN_FORMATS),
    # German long form "4. März 2026" (a [gap] in research; the storefront's own language).
    "de": DateStyle(("de",), "DMY", ("%d.%m.%Y",)),
    "fr": DateStyle(("fr",), "DMY", ("%d/%m/%Y",)),
    "it": DateStyle(("it",), "DMY", ("%d/%m/%Y",)),
    "co.jp": DateStyle(("ja",), "YMD", ("%Y/%m/%d",)),
}

# --- markup ------------------------------------------------------------------------------------
ROW = "li.productListItem"
ROW_TITLE = ("h3 a[href]", "h3", 'a[href*="/podcast/"]')
ROW_DATE = ".releaseDateLabel"
ROW_DURATION = ".runtimeLabel"
ROW_DESCRIPTION = (".bc-expander-content", ".episodeDescription")
HERO = ("adbl-product-hero", "#adbl-product-hero", ".hero-content")
HERO_TITLE = ("adbl-title-lockup h1", 'h1[slot="title"]', "h1")
SUMMARY = ('adbl-text-block[slot="summary"]', "adbl-text-block", ".productPublisherSummary")
SHOW_LINK_LABELS = ("view show details", "details zur sendung", "details zum podcast",
                    "voir les détails", "mostra dettagli", "番組の詳細")
# A label printed before a value in some row layouts ("Release date: ...", "Length: ...").
_LABEL_PREFIX = re.compile(r"^\s*[^\d:]{2,40}:\s*(?=\S)")
_TRUNCATED_TAIL = re.compile(r"(\.\.\.|…)\s*$")

# --- pages that are not the page asked for -----------------------------------------------------
_CAPTCHA = "Amazon captcha / robot check (HTTP {status})"
BLOCK_MARKERS = (
    BlockMarker("/errors/validateCaptcha", _CAPTCHA),
    BlockMarker('id="captchacharacters"', _CAPTCHA),
    BlockMarker("Enter the characters you see below", _CAPTCHA),
    BlockMarker("Type the characters you see in this image", _CAPTCHA),
    BlockMarker(re.compile(r"<title[^>]*>\s*Robot Check\s*</title>", re.I), _CAPTCHA),
    # Amazon's "dogs of Audible" page, served with 404 where a storefront lacks the title
    # (the status alone is not enough: a plain 404 stays a FetchError).
    BlockMarker("not a functioning page on our site",
                "region 404 (HTTP {status}): {host} does not offer this title; try the "
                "storefront where it is listed", unless="productListItem"),
)
CONSENT_LAYER = ("#sp-cc", "#sp-cc-form", 'form[action*="cookieprefs"]')
# A page with no heading or episode row and less text than this outside the consent layer is
# a consent wall, not a page with a cookie banner.
CONSENT_ONLY_TEXT = 200


class AudibleAdapter(Adapter):
    name = "audible"
    # This platform's row in README's platform table (tests/test_docs.py checks it).
    doc_row = (
        '`audible.<tld>/podcast/<Slug>/<ASIN>` (ASINs are any 10 of `[0-9A-Z]`, numeric too) '
        "and the older `/pd/<Slug>-Podcast/<ASIN>` on every storefront, the show's "
        '`/episodes/` list pages, episode pages',
        "ASIN, title, printed date in the storefront's language (`MM-DD-YY` too: a two-digit "
        'year gets the century nearest the capture), printed duration, description (flagged '
        'truncated when Audible cuts it at ~5,000 chars)',
        '**no audio URL** (DRM) and **no episode count**; captcha / region-404 / consent '
        'walls are reported as `blocked`',
    )
    url_patterns = (PODCAST_URL,)
    date_styles = DATE_STYLES
    block_markers = BLOCK_MARKERS
    page_facts = PAGE_FACTS

    # --- URLs ----------------------------------------------------------------------------------
    def canonical_url(self, url: str) -> str:
        """https, lower-case host, no fragment, no trailing slash, and no query except `page`
        on the episode list (page 1 is the bare list URL)."""
        match = PODCAST_URL.match(url.strip())
        if not match:
            return strip_tracking(url)
        parts = split_url(url.strip())
        path = f"/podcast/{_slug(match)}/{match['list'] or ''}{match['asin'].upper()}"
        query = ""
        if match["list"]:
            page = dict(parse_qsl(parts.query)).get("page", "")
            if page.isdecimal() and int(page) > 1:
                query = f"page={int(page)}"
        return urlunsplit(("https", match["host"].lower(), path, query, ""))

    def start_urls(self, url: str) -> list[str]:
        """A source given as the episode list starts at its show page, which carries the show's
        title, author and description and leads to list page 1."""
        match = PODCAST_URL.match(url.strip())
        if match and match["list"]:
            return [self.show_url(url)]
        return [self.canonical_url(url)]

    def show_url(self, url: str) -> str:
        match = PODCAST_URL.match(url.strip())
        if not match:
            raise ValueError(f"not an Audible podcast URL: {url}")
        return f"https://{match['host'].lower()}/podcast/{_slug(match)}/{match['asin'].upper()}"

    def list_url(self, url: str, page: int = 1) -> str:
        """The show's episode list (page `page`) for a show or list URL."""
        match = PODCAST_URL.match(url.strip())
        if not match:
            raise ValueError(f"not an Audible podcast URL: {url}")
        base = (
            f"https://{match['host'].lower()}/podcast/{_slug(match)}/episodes/"
            f"{match['asin'].upper()}"
        )
        return base if page <= 1 else f"{base}?page={page}"

    def date_style_key(self, url: str) -> str:
        match = re.match(rf"^https?://{HOST}(?:[/?#:]|$)", url.strip(), re.I)
        return match["tld"].lower() if match else ""

    # --- blocked pages -------------------------------------------------------------------------
    def check_response(self, capture: Capture) -> None:
        for marker in self.block_markers:  # before the consent check: a captcha says more
            reason = marker.found(capture, capture.text)
            if reason:
                raise self.blocked_error(capture, reason)
        if self._consent_only(capture.text):
            raise self.blocked_error(
                capture, "consent interstitial: the page holds only the cookie-consent layer"
            )
        super().check_response(capture)

    @staticmethod
    def _consent_only(html: str) -> bool:
        if "sp-cc" not in html and "cookieprefs" not in html:
            return False
        tree = LexborHTMLParser(html)
        if tree.body is None:
            return False
        layer = None
        for selector in CONSENT_LAYER:
            layer = tree.css_first(selector)
            if layer is not None:
                break
        if layer is None:
            return False
        drop(layer)
        if tree.css_first(f"h1, {ROW}, adbl-product-hero") is not None:
            return False
        for node in tree.css("script, style, noscript, template"):
            drop(node)
        rest = text(tree.body) or ""  # a page cut before <body> has none
        return len(rest) < CONSENT_ONLY_TEXT

    # --- parse ---------------------------------------------------------------------------------
    def parse(self, capture: Capture) -> Listing:
        url = self.canonical_url(capture.url)
        match = PODCAST_URL.match(url)
        if not match:
            raise self.layout_error(capture, "not an Audible podcast URL")
        tree = LexborHTMLParser(capture.text)
        if match["list"]:
            return self._parse_list(capture, tree, url)
        series = next(iter(json_ld(tree, "PodcastSeries")), None)
        has_rows = tree.css_first(ROW) is not None
        if series is not None or has_rows:
            return self._parse_show(capture, tree, url, series)
        show_link = self._show_link(tree, capture, match["asin"].upper())
        if show_link:
            return self._parse_episode_page(capture, tree, url, match["asin"].upper(), show_link)
        raise self.layout_error(
            capture,
            "neither a show page (PodcastSeries JSON-LD, li.productListItem episode rows) nor "
            "an episode page ('View show details' link) found",
        )

    def _parse_show(
        self, capture: Capture, tree: LexborHTMLParser, url: str, series: dict | None
    ) -> Listing:
        show = self._show_info(tree, series, url)
        facts = self.read_facts(capture, tree)
        show.title = show.title or facts.get("title")
        if not show.title:
            raise self.layout_error(
                capture, "no show title (PodcastSeries JSON-LD name, og:title, "
                "adbl-title-lockup h1, h1)"
            )
        episodes = self._rows(capture, tree)
        listing = Listing(
            platform=self.name, url=url, show=show, episodes=episodes,
            next=[self.list_url(url, 1)], page_kind="show",
        )
        if not episodes:
            listing.warnings.append(layout_drift(
                "no episode rows found on the show page", (f"{ROW} rows",),
                outcome="the list came from the episode list pages"))
        return listing

    def _parse_list(self, capture: Capture, tree: LexborHTMLParser, url: str) -> Listing:
        episodes = self._rows(capture, tree)
        if not episodes:
            raise self.layout_error(
                capture, "no episode rows (li.productListItem) in the episode list"
            )
        page_text = dict(parse_qsl(split_url(url).query)).get("page", "1")
        page = int(page_text) if page_text.isdecimal() else 1
        listing = Listing(platform=self.name, url=url, show=None, episodes=episodes,
                          page_kind="episodes")
        target = self._next_page(tree, page)
        if target:
            listing.next = [self.list_url(url, target)]
        elif tree.css_first(".pagingElements, .pageNumberElement, .nextButton") is None and (
            len(episodes) >= PAGE_SIZE
        ):
            listing.incomplete_reason = (
                f"episode list page {page} is full ({len(episodes)} rows) but has no pager; "
                "later pages cannot be reached"
            )
        return listing

    @staticmethod
    def _next_page(tree: LexborHTMLParser, page: int) -> int | None:
        button = tree.css_first(".nextButton")
        if button is not None:
            disabled = "bc-button-disabled" in (button.attributes.get("class") or "") or (
                button.css_first('[aria-disabled="true"]') is not None
            )
            link = button if button.tag == "a" else button.css_first("a[href]")
            if not disabled and link is not None and link.attributes.get("href"):
                target = dict(parse_qsl(split_url(link.attributes["href"] or "").query)).get("page")
                if target and target.isdecimal() and int(target) > page:
                    return int(target)
                return page + 1
            if disabled:
                return None
        numbers = [
            int(text) for node in tree.css(".pageNumberElement")
            if (text := node.text(strip=True)).isdecimal()
        ]
        if numbers and max(numbers) > page:
            return page + 1
        return None

    def _parse_episode_page(
        self, capture: Capture, tree: LexborHTMLParser, url: str, asin: str, show_link: str
    ) -> Listing:
        hero = _first(tree, HERO) or tree
        title_node = _first(hero, HERO_TITLE) or _first(tree, HERO_TITLE)
        title = title_node.text(strip=True) if title_node is not None else meta(tree, "og:title")
        if not title:
            raise self.layout_error(
                capture, "no episode title (adbl-title-lockup h1, h1) on the episode page"
            )
        summary = _first(tree, SUMMARY)
        description = summary.inner_html if summary is not None else None
        episode = Episode(
            id=asin, title=title, description=description,
            description_truncated=_is_cut(summary.text() if summary is not None else None),
            url=url, audio_url=None,
        )
        return Listing(
            platform=self.name, url=url, show=Show(url=show_link), episodes=[episode],
            next=[], page_kind="episode",
        )

    # --- pieces --------------------------------------------------------------------------------
    def _show_info(self, tree: LexborHTMLParser, series: dict | None, url: str) -> Show:
        series = series or {}
        metadata = _product_metadata(tree)
        title = _string(series.get("name"))
        if not title:
            node = _first(_first(tree, HERO) or tree, HERO_TITLE) or _first(tree, HERO_TITLE)
            title = node.text(strip=True) if node is not None else None
        author = _names(series.get("author")) or _names(metadata.get("authors"))
        if not author:
            labels = [a.text(strip=True) for a in tree.css(".authorLabel a")]
            author = ", ".join(label for label in labels if label) or None
        description = _string(series.get("description"))
        if not description:
            summary = _first(tree, SUMMARY)
            description = summary.inner_html if summary is not None else None
        image = series.get("image")
        if isinstance(image, list):
            image = image[0] if image else None
        if isinstance(image, dict):
            image = image.get("url")
        listed = metadata.get("categories")
        categories = [c for c in listed if isinstance(c, dict)] if isinstance(listed, list) \
            else []
        category = categories[0].get("name") if categories else None
        return Show(
            title=title, author=author, description=description, claimed_count=None,
            url=self.show_url(url), image=_string(image) or meta(tree, "og:image"),
            category=category,
        )

    def _rows(self, capture: Capture, tree: LexborHTMLParser) -> list[Episode]:
        episodes: list[Episode] = []
        for index, row in enumerate(tree.css(ROW)):
            link = _first(row, ('h3 a[href]', 'a[href*="/podcast/"]'))
            href = link.attributes.get("href") if link is not None else None
            asin = _row_asin(row, href)
            title_node = _first(row, ROW_TITLE)
            title = title_node.text(strip=True) if title_node is not None else None
            title = title or row.attributes.get("aria-label")
            if not asin or not title:
                raise self.layout_error(
                    capture, f"episode row {index + 1} has no {'ASIN' if not asin else 'title'}"
                )
            description_node = _first(row, ROW_DESCRIPTION)
            description = description_node.inner_html if description_node is not None else None
            episodes.append(Episode(
                id=asin,
                title=title,
                published_raw=_value(row, ROW_DATE),
                duration_raw=_value(row, ROW_DURATION),
                description=description,
                description_truncated=_is_cut(
                    description_node.text() if description_node is not None else None
                ),
                url=self.canonical_url(join_url(capture.url, href)) if href else None,
                audio_url=None,
            ))
        return episodes

    def _show_link(self, tree: LexborHTMLParser, capture: Capture, asin: str) -> str | None:
        """The show page an episode page links to ("View show details")."""
        candidates = []
        hero = _first(tree, HERO)
        if hero is not None:
            candidates.extend(hero.css('[href*="/podcast/"]'))
        for node in tree.css('a[href*="/podcast/"], adbl-button[href*="/podcast/"]'):
            if " ".join(node.text().split()).lower() in SHOW_LINK_LABELS:
                candidates.append(node)
        for node in candidates:
            target = join_url(capture.url, node.attributes.get("href") or "")
            found = _ASIN_AT_END.search(split_url(target).path)
            if found and found["asin"] != asin and PODCAST_URL.match(target):
                return self.show_url(target)
        return None


# --- helpers -------------------------------------------------------------------------------------
def _first(node: Any, selectors: tuple[str, ...]):
    for selector in selectors:
        found = node.css_first(selector)
        if found is not None:
            return found
    return None


def _string(value: Any) -> str | None:
    """A JSON value that is a non-empty string, as given."""
    if isinstance(value, str) and value.strip():
        return value
    return None


def _names(value: Any) -> str | None:
    """Author names from JSON-LD / adbl metadata: a string, an object or a list of them."""
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    names = []
    for item in items:
        name = item.get("name") if isinstance(item, dict) else item
        if isinstance(name, str) and name.strip():
            names.append(name.strip())
    return ", ".join(names) or None


def _product_metadata(tree: LexborHTMLParser) -> dict:
    """`adbl-product-metadata` elements each wrap a JSON script; parsers merge them."""
    merged: dict = {}
    for script in tree.css('adbl-product-metadata script[type="application/json"]'):
        try:
            data = parse_json(script.text() or "")
        except ValueError:
            continue
        if isinstance(data, dict):
            merged.update(data)
    return merged


def _row_asin(row: Any, href: str | None) -> str | None:
    holder = row if row.attributes.get("data-asin") else row.css_first("[data-asin]")
    asin = (holder.attributes.get("data-asin") or "").strip().upper() if holder is not None else ""
    if re.fullmatch(ASIN, asin):
        return asin
    if href:
        found = _ASIN_AT_END.search(split_url(href).path)
        if found:
            return found["asin"].upper()
    return None


def _value(row: Any, selector: str) -> str | None:
    node = row.css_first(selector)
    if node is None:
        return None
    value = _LABEL_PREFIX.sub("", text(node) or "")
    return value or None


def _is_cut(text: str | None) -> bool:
    return bool(text) and bool(_TRUNCATED_TAIL.search((text or "").strip()))


ADAPTER = AudibleAdapter
