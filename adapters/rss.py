"""The publisher's own feed: RSS 2.0 (with the iTunes, Podcasting 2.0 `podcast:`, content and
Atom namespaces), Atom 1.0 and RSS 1.0, read with feedparser.

What a feed gives, per item:
- `id`: the `<guid>` (Atom `<id>`) exactly as the publisher wrote it, whitespace stripped. It is
  never resolved against the feed URL, even when `isPermaLink` is absent (it defaults to
  "true", so many feeds mark plain UUIDs as permalinks): an id must not change when the same
  feed is fetched from another address. An `xml:base` the publisher declared does apply.
  Without a guid, the stand-in is the one podcastparser (gPodder) uses, in its order: the
  item's `<link>` (resolved against the feed URL), then its audio enclosure URL. We skip a
  link that several items share or that is the channel's own link, since it would merge
  distinct episodes. An item with none of the three is dropped (podcastparser drops it too).
- `title`: `<title>`, else `itunes:title`, else the audio file's name (podcastparser's
  fallback). An item with no title and no enclosure is dropped.
- `published`: the calendar date the publisher printed in `pubDate` (Atom `published`, else
  `updated`), whatever the offset or zone name: "Tue, 03 Jun 2025 23:30:00 EST" is June 3rd,
  although it is June 4th in UTC. `published_raw` keeps the string.
- `duration`: `itunes:duration` as printed (HH:MM:SS, MM:SS or seconds); normalize reads it.
- `description`: `content:encoded` (Atom `<content>`) when present and non-empty, since
  `<description>` is often a teaser; else `<description>`/`itunes:summary`. HTML is handed to
  normalize, which keeps block boundaries.
- `audio_url`: the first audio/video enclosure (or `media:content`); `url`: the item's link.
- `guid`: the item's `<guid>` (matching links other platforms' episodes that carry it).
- `extra`: the guid's permalink flag, enclosure type/length, episode image, iTunes season,
  episode and type, and every `podcast:` element (transcript, chapters, person, season,
  episode, ...) with its attributes.

The channel gives the Show: title, `itunes:author`, description, image, link; feeds print no
episode count, so `claimed_count` is None. RFC 5005 paging (`<atom:link rel="next">` on the
channel) goes to `Listing.next`; a Userland `<redirect><newLocation>` document points `next`
at the new location.

Failures: HTTP errors -> FetchError; a bot wall (Cloudflare challenge, captcha) -> BlockedError;
an HTML page or any other non-feed document where the feed was -> LayoutError ("not a feed").
A feed with a bozo (not well-formed) error whose items still parse is fine. A channel with
no items is a valid empty listing (a new show); a feed document with neither a channel nor
items is a LayoutError.
"""

from __future__ import annotations

import html
import io
import re
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import date
from email.utils import parsedate_tz
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote

import feedparser

from adapters.base import Adapter, join_url, split_url, strip_tracking
from scraper.models import Capture, Episode, Listing, Show
from scraper.normalize import DateStyle, date_from_timestamp

# ---------------------------------------------------------------------------------------------
# URLs

# Other platforms' hosts: never a feed for this adapter, whatever their path looks like.
_OTHER_PLATFORMS = (
    r"(?:audible\.[a-z.]+|radio\.(?:net|de|at|fr|it|pl|pt|se|dk|es)|radio-api\.net|"
    r"castbox\.fm|podimo\.com|podtail\.(?:com|se))"
)
_START = (
    r"^(?:https?|feed|itpc|pcast)://(?!(?:[^/?#]*\.)?" + _OTHER_PLATFORMS + r"(?:[:/?#]|$))"
)
URL_PATTERNS = (
    # A feed file: /feed.xml, /podcast.rss, /episodes.atom, /index.rdf (any host, any depth).
    _START + r"[^/?#]+/(?:[^?#]*/)?[^/?#]+\.(?:xml|rss|atom|rdf)(?:[?#]|$)",
    # A path that ends in /feed, /rss or /atom, or a WordPress/Podlove feed such as
    # /feed/podcast/, /feed/mp3/, /rss/itunes (Spreaker's /episodes/feed, Libsyn's /rss ...).
    _START + r"[^/?#]+/(?:[^?#]*/)?(?:feed|rss|atom)/?(?:[?#]|$)",
    _START + r"[^/?#]+/(?:[^?#]*/)?(?:feed|rss)/(?:podcast|itunes|mp3|m4a|aac|ogg|opus|"
    r"audio|rss2?|atom)/?(?:[?#]|$)",
    # Feed hosts: feeds.simplecast.com, feeds.megaphone.fm, feed.podbean.com, rss.art19.com ...
    _START + r"(?:feeds?|rss|podcastfeeds?)\.[^/?#.]+\.[^/?#]+(?:[/?#]|$)",
    # Spotify for Podcasters (Anchor): anchor.fm/s/<id>/podcast/rss.
    _START + r"(?:www\.)?anchor\.fm/s/[0-9a-f]+/podcast/rss",
    # WordPress-style query feeds: ?feed=podcast, ?format=rss.
    _START + r"[^?#]*\?(?:[^#]*&)?(?:feed|format)=(?:rss2?|atom|podcast|xml)(?:[&#]|$)",
    # The show's own host.
    _START + r"podcast\.do-not-panic\.com/feed\.xml",
)
_SUBSCRIBE_SCHEME = re.compile(r"^(?:feed|itpc|pcast):(?://)?", re.I)

# ---------------------------------------------------------------------------------------------
# Response checks

_BOM_AND_SPACE = b"\xef\xbb\xbf \t\r\n"
_BOT_WALL = re.compile(
    rb"cf-chl|challenge-platform|cdn-cgi/challenge|<title>\s*Just a moment\.\.\.|"
    rb"Attention Required! \| Cloudflare|cf-browser-verification|captcha|Robot Check|"
    rb"DDoS-Guard|Enable JavaScript and cookies to continue",
    re.I,
)
_FEED_ROOT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:rss|feed|RDF)[\s>/]")
_CHANNEL = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:channel|feed)[\s>/]")
_NEW_LOCATION = re.compile(rb"<newLocation>\s*([^<\s]+)\s*</newLocation>", re.I)

# ---------------------------------------------------------------------------------------------
# Values

# Feeds print RFC 822 dates in English; numeric day/month orders are not guessed.
FEED_DATES = DateStyle(
    languages=("en",),
    order=None,
    formats=("%a, %d %b %Y %H:%M:%S %z", "%d %b %Y %H:%M:%S %z", "%a, %d %b %Y", "%Y-%m-%d"),
)
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
)}
_DAY_MONTH_YEAR = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+([A-Za-z]{3,9})\.?,?\s+(\d{4})\b")
_MONTH_DAY_YEAR = re.compile(r"\b([A-Za-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}")
_MEDIA_EXTENSIONS = (".mp3", ".m4a", ".aac", ".ogg", ".oga", ".opus", ".wav", ".flac", ".mp4",
                     ".m4v", ".webm", ".mov")

NS_ITUNES = (
    "http://www.itunes.com/dtds/podcast-1.0.dtd",
    "http://www.itunes.com/DTDs/Podcast-1.0.dtd",
)
NS_PODCAST = (
    "https://podcastindex.org/namespace/1.0",
    "http://podcastindex.org/namespace/1.0",
    "https://github.com/Podcastindex-org/podcast-namespace/blob/main/docs/1.0.md",
)
NS_ATOM = "http://www.w3.org/2005/Atom"
NS_RSS1 = "http://purl.org/rss/1.0/"


def printed_date(raw: str | None) -> date | None:
    """The calendar date a feed printed, ignoring its offset or zone name.

    RFC 822 fields are read as printed (email.utils.parsedate_tz does not convert), so
    "Sat, 31 May 2025 21:00:00 PDT", "... GMT+2" and "... CEST" keep their day; ISO 8601
    values keep the date before their offset (normalize.date_from_timestamp).
    """
    if not raw:
        return None
    text = " ".join(raw.split())
    if _ISO.match(text):
        return date_from_timestamp(text)
    fields = parsedate_tz(text)
    if fields is not None:
        try:
            return date(fields[0], fields[1], fields[2])
        except (TypeError, ValueError):
            pass
    for pattern, day_group, month_group in ((_DAY_MONTH_YEAR, 1, 2), (_MONTH_DAY_YEAR, 2, 1)):
        match = pattern.search(text)
        month = _MONTHS.get(match.group(month_group)[:3].lower()) if match else None
        if match and month:
            try:
                return date(int(match.group(3)), month, int(match.group(day_group)))
            except ValueError:
                continue
    return None


def _local(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        namespace, _, name = tag[1:].partition("}")
        return namespace, name
    return "", tag


def _podcast_elements(parent: ET.Element) -> dict[str, list[dict[str, str]]]:
    """Every `podcast:` child of an item or channel: attributes, plus the text as `value`."""
    found: dict[str, list[dict[str, str]]] = {}
    for child in parent:
        namespace, name = _local(child.tag) if isinstance(child.tag, str) else ("", "")
        if namespace not in NS_PODCAST:
            continue
        entry = {key: value.strip() for key, value in child.attrib.items()}
        text = (child.text or "").strip()
        if text:
            entry["value"] = text
        found.setdefault(name, []).append(entry)
    return found


def _itunes_text(parent: ET.Element, name: str) -> str | None:
    for namespace in NS_ITUNES:
        node = parent.find(f"{{{namespace}}}{name}")
        text = (node.text or "").strip() if node is not None else ""
        if text:
            return text
    return None


def _str(value: Any) -> str | None:
    """A feed value as text: feedparser hands over whatever the XML held (a dict where a
    string was expected when tags nest oddly)."""
    return value.strip() or None if isinstance(value, str) else None


class _Document:
    """What only a plain XML read gives (feedparser keeps one `podcast:person` per item and
    drops its name): `podcast:` elements and `itunes:author`. Empty when the feed is not
    well-formed XML; feedparser's reading stands alone then."""

    def __init__(self, body: bytes):
        self.channel: dict[str, Any] = {}
        self.items: list[dict[str, list[dict[str, str]]]] = []
        try:
            root = ET.fromstring(body)
        except (ET.ParseError, ValueError, LookupError):  # LookupError: an unknown encoding
            return
        namespace, name = _local(root.tag)
        if name == "rss":
            channel = root.find("channel")
            items = channel.findall("item") if channel is not None else []
        elif name == "feed" and namespace == NS_ATOM:
            channel, items = root, root.findall(f"{{{NS_ATOM}}}entry")
        elif name == "RDF":
            channel = root.find(f"{{{NS_RSS1}}}channel")
            items = root.findall(f"{{{NS_RSS1}}}item")
        else:
            return
        if channel is not None:
            self.channel = {
                "podcast": _podcast_elements(channel),
                "itunes_author": _itunes_text(channel, "author"),
                "new_feed_url": _itunes_text(channel, "new-feed-url"),
            }
        self.items = [_podcast_elements(item) for item in items]


# ---------------------------------------------------------------------------------------------
# The adapter


class RssAdapter(Adapter):
    name = "rss"
    # This platform's row in README's platform table (tests/test_docs.py checks it).
    doc_row = (
        'the publisher\'s RSS/Atom feed (paged feeds via `rel="next"`)',
        'guid, pubDate, enclosure, `itunes:duration`, `podcast:` fields, full '
        '`content:encoded` text',
        'no episode count (a feed prints none)',
    )
    url_patterns = URL_PATTERNS
    fetch_mode = "http"

    def canonical_url(self, url: str) -> str:
        """Subscribe links (feed://, itpc://, pcast://, feed:https://) become http(s) URLs;
        tracking parameters and fragments go. Everything else in the query stays: feeds use
        it for paging (?paged=2) and private keys."""
        url = url.strip()
        match = _SUBSCRIBE_SCHEME.match(url)
        if match:
            rest = url[match.end():]
            url = rest if re.match(r"https?://", rest, re.I) else "http://" + rest
        return strip_tracking(url)

    def date_style(self, url: str) -> DateStyle:
        return FEED_DATES

    # Checks ----------------------------------------------------------------------------------

    def check_response(self, capture: Capture) -> None:
        head = capture.body[:4096].lstrip(_BOM_AND_SPACE)
        is_feed = bool(_FEED_ROOT.search(head))
        looks_html = not is_feed and bool(re.search(rb"<!doctype html|<html[\s>]", head, re.I))
        if not is_feed and _BOT_WALL.search(capture.body[:65536]):
            raise self.blocked_error(
                capture, f"bot wall (Cloudflare challenge or captcha, HTTP {capture.status})"
            )
        super().check_response(capture)
        if not head:
            raise self.layout_error(capture, "not a feed: the response body is empty")
        if looks_html:
            raise self.layout_error(capture, "not a feed: got an HTML page where the feed was")

    # Parse -----------------------------------------------------------------------------------

    def parse(self, capture: Capture) -> Listing:
        base = capture.final_url or capture.url
        content_type = capture.headers.get("content-type") or "application/xml"
        # No content-location: relative guids must not be resolved against the feed URL.
        # A stream, not bytes: feedparser tries to open() bytes as a file name first, which
        # would let a response body such as b"/etc/passwd" read a local file.
        try:
            parsed = feedparser.parse(
                io.BytesIO(capture.body), response_headers={"content-type": content_type}
            )
        except Exception as exc:  # noqa: BLE001 - feedparser's own bugs on hostile input
            # (chr() of &#x110000;, a lone surrogate, a 20-digit year, a NUL in a charset)
            raise self.layout_error(
                capture, f"not a feed feedparser can read ({type(exc).__name__}: {exc})"
            ) from None
        entries = list(parsed.get("entries") or [])
        listing = Listing(platform=self.name, url=capture.url, page_kind="feed")
        has_channel = bool(_CHANNEL.search(capture.body))
        if not parsed.get("version") and not entries:
            raise self.layout_error(
                capture, "not a feed: no <rss>, Atom <feed> or RSS 1.0 document found"
            )
        if not has_channel and not entries:
            moved = _NEW_LOCATION.search(capture.body)
            if moved:
                listing.page_kind = "redirect"
                listing.next = [self.canonical_url(join_url(base, moved.group(1).decode()))]
                return listing
            raise self.layout_error(capture, "not a feed: a feed document with no channel")

        document = _Document(capture.body) if self._wants_document(capture.body) else None
        listing.show = self._show(parsed.feed, base, document)
        listing.next = list(self._next_pages(parsed.feed, base, capture.url))

        channel_link = listing.show.url
        links = Counter(self._item_link(entry, base) for entry in entries)
        extras = document.items if document and len(document.items) == len(entries) else None
        seen: set[str] = set()
        for index, entry in enumerate(entries):
            episode = self._episode(entry, base, links, channel_link)
            if episode is None or episode.id in seen:
                continue
            if extras is not None and extras[index]:
                episode.extra["podcast"] = extras[index]
            seen.add(episode.id)
            listing.episodes.append(episode)
        if entries and not listing.episodes:
            raise self.layout_error(
                capture, f"{len(entries)} items but none has a guid, link or enclosure"
            )
        return listing

    @staticmethod
    def _wants_document(body: bytes) -> bool:
        return any(ns.encode() in body for ns in (*NS_PODCAST, *NS_ITUNES))

    def _show(self, feed: Any, base: str, document: _Document | None) -> Show:
        channel = document.channel if document else {}
        author_detail = feed.get("author_detail") or {}
        author = channel.get("itunes_author") or author_detail.get("name") or feed.get("author")
        image_tag = feed.get("image")
        image = _str(image_tag.get("href") if isinstance(image_tag, dict) else image_tag) or _str(
            feed.get("logo")) or _str(feed.get("icon"))
        link = _str(feed.get("link"))
        tags = [t for t in feed.get("tags") or [] if isinstance(t, dict)]
        extra: dict[str, Any] = {}
        if channel.get("podcast"):
            extra["podcast"] = channel["podcast"]
            guid = channel["podcast"].get("guid")
            if guid and guid[0].get("value"):
                extra["podcast_guid"] = guid[0]["value"]
        elif feed.get("podcast_guid"):
            extra["podcast_guid"] = feed["podcast_guid"]
        new_feed_url = _str(channel.get("new_feed_url")) or _str(feed.get("itunes_new-feed-url"))
        if new_feed_url:
            extra["new_feed_url"] = join_url(base, new_feed_url.strip())
        for key in ("language", "generator"):
            if feed.get(key):
                extra[key] = feed[key]
        self_link = next(
            (_str(item.get("href")) for item in feed.get("links") or []
             if isinstance(item, dict) and item.get("rel") == "self"),
            None,
        )
        if self_link:
            extra["self"] = join_url(base, self_link.strip())
        return Show(
            title=feed.get("title"),
            author=author,
            description=self._text_value(feed, "subtitle") or self._text_value(feed, "summary"),
            claimed_count=None,
            url=join_url(base, link.strip()) if link else None,
            image=join_url(base, image.strip()) if image else None,
            category=_str(tags[0].get("term")) if tags else None,
            extra=extra,
        )

    def _next_pages(self, feed: Any, base: str, current: str) -> list[str]:
        """RFC 5005 paged feeds: the channel's `<atom:link rel="next">`."""
        pages: list[str] = []
        here = self.canonical_url(current)
        for link in feed.get("links") or []:
            href = (link.get("href") or "").strip()
            if link.get("rel") != "next" or not href:
                continue
            url = self.canonical_url(join_url(base, href))
            if url != here and url not in pages:
                pages.append(url)
        return pages

    # Items -----------------------------------------------------------------------------------

    @staticmethod
    def _item_link(entry: Any, base: str) -> str | None:
        """The item's own `<link>` (not a permalink guid copied into `link` by feedparser)."""
        link = (entry.get("link") or "").strip()
        if not link or (entry.get("guidislink") and link == (entry.get("id") or "").strip()):
            return None
        return join_url(base, link)

    @staticmethod
    def _enclosures(entry: Any, base: str) -> list[dict[str, Any]]:
        found = []
        for enclosure in entry.get("enclosures") or []:
            href = (enclosure.get("href") or "").strip()
            if href:
                found.append({"url": join_url(base, href), "type": enclosure.get("type"),
                              "length": enclosure.get("length")})
        for media in entry.get("media_content") or []:
            href = (media.get("url") or "").strip()
            if href:
                found.append({"url": join_url(base, href), "type": media.get("type"),
                              "length": media.get("filesize") or media.get("fileSize")})
        unique: dict[str, dict[str, Any]] = {}
        for item in found:
            unique.setdefault(item["url"], item)
        return list(unique.values())

    @staticmethod
    def _audio(enclosures: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The first audio or video enclosure; an untyped one whose file looks like media
        next; an image or document enclosure never."""
        def kind(item: dict[str, Any]) -> str:
            mime = (item.get("type") or "").lower()
            path = split_url(item["url"]).path.lower()
            if mime.startswith(("audio/", "video/")):
                return "media"
            if path.endswith(_MEDIA_EXTENSIONS) and not mime.startswith(("image/", "text/")):
                return "media"
            if mime in ("", "application/octet-stream"):
                return "unknown"
            return "other"

        for wanted in ("media", "unknown"):
            for item in enclosures:
                if kind(item) == wanted:
                    return item
        return None

    @staticmethod
    def _text_value(container: Any, key: str) -> str | None:
        """A feedparser text field; text/plain values are escaped so that normalize does not
        read a literal "<b>" in them as markup."""
        value = container.get(key)
        if not value or not value.strip():
            return None
        detail = container.get(f"{key}_detail") or {}
        if detail.get("type") == "text/plain":
            return html.escape(value, quote=False)
        return value

    def _description(self, entry: Any) -> str | None:
        for content in entry.get("content") or []:
            value = content.get("value") or ""
            if value.strip():
                if content.get("type") == "text/plain":
                    return html.escape(value, quote=False)
                return value
        return self._text_value(entry, "summary")

    def _episode(
        self, entry: Any, base: str, links: Counter, channel_link: str | None
    ) -> Episode | None:
        enclosures = self._enclosures(entry, base)
        audio = self._audio(enclosures)
        guid = (entry.get("id") or "").strip()
        link = self._item_link(entry, base)
        extra: dict[str, Any] = {}
        if guid:
            episode_id = guid
            extra["guid_is_permalink"] = bool(entry.get("guidislink"))
        elif link and links[link] == 1 and link != channel_link:
            episode_id = link
            extra["id_from"] = "link"
        elif audio or enclosures:
            episode_id = (audio or enclosures[0])["url"]
            extra["id_from"] = "enclosure"
        else:
            return None

        title = (entry.get("title") or "").strip() or (entry.get("itunes_title") or "").strip()
        if not title:
            media = audio or (enclosures[0] if enclosures else None)
            if media is None:
                return None
            title = unquote(PurePosixPath(split_url(media["url"]).path).stem)
            extra["title_from"] = "enclosure"
            if not title:
                return None

        # dict.get: feedparser's own get() maps a missing "updated" onto "published" with a
        # deprecation warning.
        published_raw = dict.get(entry, "published") or dict.get(entry, "updated")
        published = printed_date(published_raw)
        if published is None and published_raw:
            stamp = dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed")
            if stamp:
                published = date(stamp[0], stamp[1], stamp[2])  # UTC: the printed form was odd

        url = None
        if link and split_url(link).scheme in ("http", "https"):
            url = link
        elif entry.get("guidislink") and re.match(r"https?://", guid):
            url = guid

        if audio:
            extra["enclosure"] = audio
        image = (entry.get("image") or {}).get("href")
        if image:
            extra["image"] = join_url(base, image.strip())
        for key, name in (("itunes_season", "season"), ("itunes_episode", "episode"),
                          ("itunes_episodetype", "episode_type"), ("itunes_explicit", "explicit"),
                          ("subtitle", "subtitle")):
            value = entry.get(key)
            if value not in (None, ""):
                extra[name] = int(value) if name in ("season", "episode") and str(
                    value).strip().isdecimal() else value

        duration = entry.get("itunes_duration")
        return Episode(
            id=episode_id,
            title=title,
            published=published,
            published_raw=published_raw.strip() if published_raw else None,
            duration_raw=duration.strip() if duration and duration.strip() else None,
            description=self._description(entry),
            url=url,
            audio_url=audio["url"] if audio else None,
            guid=guid or None,
            extra=extra,
        )


ADAPTER = RssAdapter

__all__ = ["ADAPTER", "FEED_DATES", "URL_PATTERNS", "RssAdapter", "printed_date"]
