"""A podcast feed rebuilt from the reconciled archive (`scraper feed`, `/-/feed/<slug>.xml`).

RSS 2.0 with the `itunes`, `podcast` (Podcasting 2.0, podcastindex.org/namespace/1.0) and
`content` namespaces, written with feedgen (its `podcast` extension is iTunes; the
Podcasting 2.0 elements and our own listing element are feedgen extensions defined here).

The channel: title, author, description and artwork (`<image>`, and `itunes:image` when
the URL ends in .jpg or .png, as Apple requires) from the sources' latest good listings,
the publisher's feed first, then platforms in the feed's fixed order.

Per canonical episode (newest first):
- `guid`: the publisher's `<guid>` (with its isPermaLink flag) when the publisher's feed
  gave one for a row linked to the episode; else ours, `urn:uuid:` + a UUID5 of the podcast
  name and the canonical episode's matching key (`episodes.key`, written once when the
  episode is first reconciled and never changed), so it is the same on every run and for a
  re-built archive. Two episodes with the same key (same title and date) are told apart by
  their canonical id, which is never reused.
- `pubDate`: the canonical date. When it came from the publisher's feed and the printed
  time falls on that date in UTC, that exact time (in UTC); otherwise 12:00 UTC of the
  date, which is the same calendar day from UTC-11 to UTC+11. Readers that convert to UTC
  (feedparser, podcastparser) so read back exactly the archive's date.
- `itunes:duration`: whole seconds.
- `description` (plain text) and `content:encoded` (HTML paragraphs): the canonical,
  untruncated description.
- `enclosure`: the audio of the first linked platform row that has one, in a fixed order:
  rows still listed first, then the publisher's feed, then platforms by name, then source
  and row id. The publisher's enclosure keeps its type and length; a platform's audio URL
  gets a type from its file extension (audio/mpeg otherwise) and length 0 (unknown, as the
  RSS profile allows). Every other distinct audio URL is a `podcast:alternateEnclosure`.
  Episodes no platform gives audio for are left out unless `include_all`.
- `podcast:transcript`, `itunes:image`, `itunes:season`, `itunes:episode`,
  `itunes:episodeType`: the publisher's, when its feed had them.
- `scraper:listing` (namespace `urn:scraper:listing:1.0`, prefix `scraper`): one empty
  element per platform row currently listing the episode, with `platform`, `id` (the
  platform's episode id) and `url` attributes. Podcasting 2.0 has no element for "listed
  on"; an element in our own namespace is ignored by every reader that does not know it,
  where a `<category>` would show up as a tag in podcast apps.
"""

from __future__ import annotations

import contextlib
import html
import json
import mimetypes
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import sqlite_utils

from scraper import reads
from scraper.matching import PUBLISHER, platform_rank

NS_ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
NS_PODCAST = "https://podcastindex.org/namespace/1.0"
NS_CONTENT = "http://purl.org/rss/1.0/modules/content/"
NS_LISTING = "urn:scraper:listing:1.0"
# Podcasting 2.0: podcast:guid is a UUIDv5 of the feed URL (scheme and trailing slashes
# removed) in this namespace.
PODCAST_GUID_NAMESPACE = uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6")
# Our own episode guids: UUID5 in a namespace of our own (a UUID5 of a fixed URL).
EPISODE_GUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:scraper:episode-guid")
FEED_PATH = "/-/feed/{slug}.xml"
_NOON = time(12, 0, tzinfo=UTC)


class FeedError(LookupError):
    """The podcast asked for is not in the archive (or the archive has no episodes yet)."""


def slugify(name: str) -> str:
    """The name as a URL path segment: "AI Post Transformers" -> "ai-post-transformers"."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.casefold()).strip("-")
    return slug or "podcast"


def podcast_guid(feed_url: str) -> str:
    """Podcasting 2.0 `podcast:guid` of a feed URL."""
    bare = re.sub(r"^[a-z][a-z0-9+.-]*://", "", feed_url.strip(), flags=re.I).rstrip("/")
    return str(uuid.uuid5(PODCAST_GUID_NAMESPACE, bare))


# ---------------------------------------------------------------------------------------------
# The one read of the archive


@dataclass
class ShowData:
    """Everything a feed needs, as read from the archive in `read_show`."""

    podcast_id: int
    name: str
    title: str | None
    author: str | None
    description: str | None
    link: str | None
    episodes: list[dict[str, Any]]
    # The show's artwork (the publisher's first, as for title and description).
    image: str | None = None
    # canonical id -> its linked platform rows (platform, episode_id, url, audio_url,
    # extra, listed, source_id, id, published_raw), in no particular order
    rows: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    # every (id, key) of the podcast's canonical episodes, also those no platform lists now
    keys: list[tuple[int, str | None]] = field(default_factory=list)


def podcasts(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """`[{"id", "name", "slug"}]`: podcasts that have canonical episodes, by id. A slug two
    names share goes to the older podcast; the newer gets `-<id>` appended."""
    rows = reads.reconciled_podcasts(db)
    taken: set[str] = set()
    for row in rows:
        slug = slugify(row["name"])
        row["slug"] = slug if slug not in taken else f"{slug}-{row['id']}"
        taken.add(row["slug"])
    return rows


def find_podcast(db: sqlite_utils.Database, wanted: str | None) -> dict[str, Any]:
    """A podcast by name or slug; None picks the only one. Raises FeedError."""
    known = podcasts(db)
    if not known:
        raise FeedError("the archive has no reconciled episodes yet: run `scraper sync` first")
    if wanted is None:
        if len(known) == 1:
            return known[0]
        names = ", ".join(repr(p["name"]) for p in known)
        raise FeedError(f"the archive holds several podcasts ({names}): pick one with --podcast")
    for podcast in known:
        if wanted in (podcast["name"], podcast["slug"]):
            return podcast
    names = ", ".join(repr(p["name"]) for p in known)
    raise FeedError(f"no podcast {wanted!r} in the archive (it has {names})")


def read_show(db: sqlite_utils.Database, podcast_id: int, name: str) -> ShowData:
    """Everything the feed needs, read through scraper.reads."""
    listings = reads.show_listings(db, podcast_id)
    listings.sort(key=lambda r: (*platform_rank(r["platform"]), r["source_id"]))

    def first(column: str) -> str | None:
        return next((r[column] for r in listings if r[column]), None)

    all_sources = reads.podcast_sources(db, podcast_id)
    episodes = reads.feed_episodes(db, podcast_id)
    rows: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in reads.feed_links(db, podcast_id):
        rows[row["canonical_id"]].append(row)
    keys = reads.episode_keys(db, podcast_id)
    return ShowData(
        podcast_id=podcast_id, name=name, title=first("show_title"),
        author=first("show_author"), description=first("show_description"),
        image=first("show_image"),
        link=all_sources[0]["url"] if all_sources else None,
        episodes=episodes, rows=rows, keys=keys,
    )


# ---------------------------------------------------------------------------------------------
# Choosing each item's values


def _order(row: dict[str, Any]) -> tuple:
    return (not row["listed"], *platform_rank(row["platform"]), row["source_id"], row["id"])


def _extra(row: dict[str, Any]) -> dict[str, Any]:
    if not row.get("extra"):
        return {}
    try:
        value = json.loads(row["extra"])
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def our_guids(podcast: str, keys: list[tuple[int, str | None]]) -> dict[int, str]:
    """canonical id -> our guid. The first (lowest id) episode of a key gets the key's UUID;
    later ones with the same key add their id, which is never reused."""
    out: dict[int, str] = {}
    seen: set[str] = set()
    for episode_id, key in keys:
        basis = f"{podcast}\n{key}" if key else f"{podcast}\n#{episode_id}"
        if basis in seen:
            basis = f"{basis}\n#{episode_id}"
        seen.add(basis)
        out[episode_id] = f"urn:uuid:{uuid.uuid5(EPISODE_GUID_NAMESPACE, basis)}"
    return out


def publisher_guid(rows: list[dict[str, Any]]) -> tuple[str, bool] | None:
    for row in sorted(rows, key=_order):
        if row["platform"] == PUBLISHER:
            extra = _extra(row)
            if extra.get("guid"):
                return extra["guid"], bool(extra.get("guid_is_permalink"))
    return None


def pub_date(episode: dict[str, Any], rows: list[dict[str, Any]]) -> datetime | None:
    """The publisher's exact time when it falls on the canonical date in UTC, else noon UTC
    of the canonical date."""
    if not episode["published"]:
        return None
    day = date.fromisoformat(episode["published"][:10])
    source = episode["published_source"] or ""
    if source.startswith(f"{PUBLISHER}:"):
        ref = source.partition(":")[2]
        row = next((r for r in rows if str(r["id"]) == ref), None)
        stamp = _timestamp(row["published_raw"]) if row else None
        if stamp is not None and stamp.date() == day:
            return stamp
    return datetime.combine(day, _NOON)


def _timestamp(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        stamp = parsedate_to_datetime(raw.strip())
    except (TypeError, ValueError, IndexError):
        try:
            stamp = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    if stamp.tzinfo is None:
        return None
    return stamp.astimezone(UTC)


@dataclass
class Audio:
    url: str
    type: str
    length: str


def audio_sources(rows: list[dict[str, Any]]) -> list[Audio]:
    """Every distinct audio URL of the episode's rows, best first (see the module doc)."""
    out: list[Audio] = []
    seen: set[str] = set()
    for row in sorted(rows, key=_order):
        url = row["audio_url"]
        if not url or url in seen or urlsplit(url).scheme not in ("http", "https"):
            continue
        seen.add(url)
        enclosure = _extra(row).get("enclosure") or {}
        kind = enclosure.get("type") or mimetypes.guess_type(urlsplit(url).path)[0]
        if not kind or not kind.startswith(("audio/", "video/")):
            kind = "audio/mpeg"
        length = str(enclosure.get("length") or "0")
        out.append(Audio(url, kind, length if length.isdigit() else "0"))
    return out


# Characters XML 1.0 cannot carry (lxml refuses them); scraped text sometimes has them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def xml_text(value: str | None) -> str | None:
    return _NOT_XML.sub("", value) if value else value


_URL = re.compile(r"https?://[^\s<>\"]+[^\s<>\".,;:!?)\]'}]")


def description_html(text: str | None) -> str | None:
    """The plain-text description as HTML: blank lines make paragraphs, line breaks `<br>`,
    bare URLs become links."""
    if not text:
        return None
    paragraphs = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = []
        for line in block.split("\n"):
            parts, last = [], 0
            for match in _URL.finditer(line):
                parts.append(html.escape(line[last:match.start()], quote=False))
                url = html.escape(match.group(0))
                parts.append(f'<a href="{url}">{url}</a>')
                last = match.end()
            parts.append(html.escape(line[last:], quote=False))
            lines.append("".join(parts))
        paragraphs.append("<p>" + "<br>".join(lines) + "</p>")
    return "\n".join(paragraphs)


# ---------------------------------------------------------------------------------------------
# feedgen extensions for the Podcasting 2.0 and listing elements


def _extensions():
    from feedgen.ext.base import BaseEntryExtension, BaseExtension
    from lxml import etree

    class PodcastIndex(BaseExtension):
        def __init__(self) -> None:
            self.guid: str | None = None

        def extend_ns(self) -> dict[str, str]:
            return {"podcast": NS_PODCAST}

        def extend_rss(self, feed):
            if self.guid:
                channel = feed[0]
                etree.SubElement(channel, f"{{{NS_PODCAST}}}guid").text = self.guid
            return feed

    class PodcastIndexEntry(BaseEntryExtension):
        def __init__(self) -> None:
            self.transcripts: list[dict[str, str]] = []
            self.alternates: list[Audio] = []

        def extend_ns(self) -> dict[str, str]:
            return {"podcast": NS_PODCAST}

        def extend_rss(self, entry):
            for item in self.transcripts:
                etree.SubElement(entry, f"{{{NS_PODCAST}}}transcript", item)
            for audio in self.alternates:
                alternate = etree.SubElement(entry, f"{{{NS_PODCAST}}}alternateEnclosure",
                                             {"type": audio.type, "length": audio.length})
                etree.SubElement(alternate, f"{{{NS_PODCAST}}}source", {"uri": audio.url})
            return entry

    class Listing(BaseExtension):
        def extend_ns(self) -> dict[str, str]:
            return {"scraper": NS_LISTING}

    class ListingEntry(BaseEntryExtension):
        def __init__(self) -> None:
            self.listings: list[dict[str, str]] = []

        def extend_ns(self) -> dict[str, str]:
            return {"scraper": NS_LISTING}

        def extend_rss(self, entry):
            for item in self.listings:
                etree.SubElement(entry, f"{{{NS_LISTING}}}listing", item)
            return entry

    return PodcastIndex, PodcastIndexEntry, Listing, ListingEntry


# ---------------------------------------------------------------------------------------------
# Building


@dataclass
class FeedResult:
    xml: bytes
    items: int
    without_audio: int  # episodes left out (or, with include_all, kept without enclosure)


def _transcripts(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    for row in sorted(rows, key=_order):
        if row["platform"] == PUBLISHER:
            found = (_extra(row).get("podcast") or {}).get("transcript") or []
            items = [{k: str(v) for k, v in t.items() if k in ("url", "type", "language", "rel")}
                     for t in found if isinstance(t, dict) and t.get("url") and t.get("type")]
            if items:
                return items
    return []


def _publisher_extras(entry: Any, rows: list[dict[str, Any]]) -> None:
    """The publisher's episode art, season, number and type, when its feed had them."""
    extra = next((_extra(r) for r in sorted(rows, key=_order) if r["platform"] == PUBLISHER),
                 {})
    setters = (("image", entry.podcast.itunes_image), ("season", entry.podcast.itunes_season),
               ("episode", entry.podcast.itunes_episode),
               ("episode_type", entry.podcast.itunes_episode_type))
    for name, setter in setters:
        if extra.get(name) not in (None, ""):
            # feedgen refuses what Apple would (e.g. art that is not jpg/png): left out.
            with contextlib.suppress(ValueError):
                setter(extra[name])


def build_feed(show: ShowData, *, include_all: bool = False,
               self_url: str | None = None) -> FeedResult:
    """The feed document for one show (see the module doc)."""
    from feedgen.feed import FeedGenerator

    podcast_index, podcast_index_entry, listing, listing_entry = _extensions()
    fg = FeedGenerator()
    fg.load_extension("podcast")
    fg.register_extension("podcastindex", podcast_index, podcast_index_entry, atom=False)
    fg.register_extension("listing", listing, listing_entry, atom=False)
    title = xml_text(show.title) or xml_text(show.name) or "Podcast"
    fg.title(title)
    if self_url:
        fg.link(href=self_url, rel="self", type="application/rss+xml")
        fg.podcastindex.guid = podcast_guid(self_url)
    # feedgen writes the last link given as the channel's <link>.
    fg.link(href=show.link or self_url or "http://localhost/")
    fg.description(xml_text(show.description) or f"{title}: episodes reconciled from every "
                   "platform that lists the show, rebuilt by scraper.")
    fg.generator("scraper")
    if show.author:
        fg.podcast.itunes_author(xml_text(show.author))
    fg.podcast.itunes_summary(xml_text(show.description) or title)
    image = xml_text(show.image)
    if image and image.startswith(("https://", "http://")):
        fg.image(url=image, title=title, link=show.link or self_url or "http://localhost/")
        # feedgen sets itunes:image only for a URL ending in .jpg or .png (Apple's rule).
        fg.podcast.itunes_image(image)
    guids = our_guids(show.name, show.keys)
    items, without_audio, newest = 0, 0, None
    for episode in show.episodes:
        rows = show.rows.get(episode["id"], [])
        audio = audio_sources(rows)
        if not audio:
            without_audio += 1
            if not include_all:
                continue
        entry = fg.add_entry(order="append")
        entry.title(xml_text(episode["title"]) or f"Episode {episode['id']}")
        published = publisher_guid(rows)
        if published:
            entry.guid(published[0], permalink=published[1])
        else:
            entry.guid(guids[episode["id"]], permalink=False)
        when = pub_date(episode, rows)
        if when is not None:
            entry.pubDate(when)
            newest = max(newest, when) if newest else when
        text = xml_text(episode["description"])
        if text:
            entry.description(text)
            entry.content(description_html(text), type="CDATA")
        link = next((r["url"] for r in sorted(rows, key=_order) if r["url"]), None)
        if link:
            entry.link(href=link)
        if audio:
            entry.enclosure(audio[0].url, audio[0].length, audio[0].type)
            entry.podcastindex.alternates = audio[1:]
        if episode["duration_seconds"] is not None:
            entry.podcast.itunes_duration(int(episode["duration_seconds"]))
        _publisher_extras(entry, rows)
        entry.podcastindex.transcripts = _transcripts(rows)
        entry.listing.listings = [
            {"platform": r["platform"], "id": str(r["episode_id"]),
             **({"url": r["url"]} if r["url"] else {})}
            for r in sorted(rows, key=_order) if r["listed"]
        ]
        items += 1
    # The newest episode's date, not the clock: the same archive gives the same bytes.
    fg.lastBuildDate(newest or datetime(1970, 1, 1, tzinfo=UTC))
    return FeedResult(fg.rss_str(pretty=True), items, without_audio)


def feed_for(db: sqlite_utils.Database, podcast: str | None = None, *,
             include_all: bool = False, self_url: str | None = None) -> FeedResult:
    """Find the podcast (name, slug, or the only one), read it and build its feed."""
    found = find_podcast(db, podcast)
    show = read_show(db, found["id"], found["name"])
    return build_feed(show, include_all=include_all, self_url=self_url)
