"""The rebuilt feed: round trips through feedparser and gPodder's podcastparser (and our own
rss adapter) to the archive's episodes, dates, durations and descriptions; built from the
recorded platforms with and without the publisher's feed, and from a 5,000-episode show;
served by Datasette at /-/feed/<slug>.xml and linked from its index."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import feedparser
import httpx
import podcastparser
import pytest
import sqlite_utils
from lxml import etree

import adapters
from bench.feed import build_show
from scraper.demo import demo_config
from scraper.feed import NS_LISTING, feed_for
from scraper.fixtures import load_cases
from scraper.models import Capture
from scraper.parsing import parse_capture
from scraper.replay import ReplayServer
from scraper.sync import sync

PODCAST = "AI Post Transformers"


def _sync(db_path: Path, *, without: set[str] = frozenset()) -> None:
    with ReplayServer(load_cases()) as server:
        config = demo_config(server, db_path)
        for podcast in config.podcasts:
            podcast.sources = [s for s in podcast.sources if s.platform not in without]
        summary = sync(config, db_path)
    assert summary.ok, [s.error for s in summary.sources if s.error]


# The publisher's feed, and Apple, which mirrors it (see platforms_db).
NOT_PLATFORMS_ALONE = {"rss", "apple"}


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("feed-demo") / "archive.db"
    _sync(path)
    return path


@pytest.fixture(scope="module")
def platforms_db(tmp_path_factory) -> Path:
    """The show's publisher feed is gone: only the platforms' listings. Apple is left out
    too: it mirrors the publisher's feed (audio for all of its newest 200), which would leave
    no audio-less episode to show being skipped."""
    path = tmp_path_factory.mktemp("feed-platforms") / "archive.db"
    _sync(path, without=NOT_PLATFORMS_ALONE)
    return path


def archive_episodes(db: sqlite_utils.Database) -> dict[int, dict]:
    """Canonical episodes as the archive holds them, with whether any row gives audio."""
    return {row["id"]: row for row in db.query(
        "SELECT e.id, e.title, e.published, e.duration_seconds, e.description, "
        "max(pe.audio_url IS NOT NULL) AS audio FROM episodes e "
        "JOIN episode_links l ON l.episode_id = e.id "
        "JOIN platform_episodes pe ON pe.id = l.platform_episode_id "
        "WHERE e.platforms > 0 GROUP BY e.id")}


def expected(episodes: dict[int, dict], *, everything: bool = False) -> Counter:
    return Counter((e["title"], e["published"], e["duration_seconds"])
                   for e in episodes.values() if everything or e["audio"])


def read_with_feedparser(xml: bytes) -> Counter:
    parsed = feedparser.parse(xml)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "rss20"
    return Counter(
        (e.title, date(*e.published_parsed[:3]).isoformat(),
         int(e.itunes_duration) if e.get("itunes_duration") else None)
        for e in parsed.entries)


def read_with_podcastparser(xml: bytes) -> Counter:
    parsed = podcastparser.parse("https://example.org/feed.xml", io.BytesIO(xml))
    return Counter(
        (e["title"], datetime.fromtimestamp(e["published"], UTC).date().isoformat(),
         e["total_time"] or None)
        for e in parsed["episodes"])


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scraper", *args], capture_output=True,
                          timeout=300)


def test_the_demo_feed_round_trips_to_the_archive(demo_db, tmp_path):
    out = tmp_path / "public" / "feed.xml"
    result = cli("feed", "--db", str(demo_db), "--podcast", PODCAST, "-o", str(out))
    assert result.returncode == 0, result.stderr
    xml = out.read_bytes()
    db = sqlite_utils.Database(demo_db)
    episodes = archive_episodes(db)
    want = expected(episodes)
    assert sum(want.values()) == 658  # the demo: every canonical episode has audio
    assert read_with_feedparser(xml) == want
    assert read_with_podcastparser(xml) == want
    # Our own feed reader gets back every untruncated description, whole.
    capture = Capture(url="https://example.org/feed.xml", status=200, body=xml,
                      fetched_at=datetime.now(UTC), headers={"content-type": "application/xml"})
    listing = parse_capture(adapters.get("rss"), capture)
    by_title = {e["title"]: e["description"] for e in episodes.values()}
    assert [e.description for e in listing.episodes] == [by_title[e.title]
                                                         for e in listing.episodes]
    longest = max(episodes.values(), key=lambda e: len(e["description"] or ""))
    assert len(longest["description"]) > 4000 and longest["description"] in {
        e.description for e in listing.episodes}
    # The publisher's guids, and its enclosures (publisher first).
    publisher = {row["guid"]: row["audio_url"] for row in db.query(
        "SELECT json_extract(extra, '$.guid') AS guid, audio_url FROM platform_episodes "
        "WHERE platform = 'rss'")}
    parsed = feedparser.parse(xml)
    assert {e.id: e.enclosures[0].href for e in parsed.entries} == publisher
    assert all(not e.guidislink for e in parsed.entries)
    # The show's artwork: the publisher's, as <image> and itunes:image.
    images = _show_images(db)
    assert len(set(images.values())) == len(images) >= 6  # each platform has its own
    assert parsed.feed.image.href == images["rss"]
    channel = xml.split(b"<item>")[0]
    assert re.findall(rb'<itunes:image href="([^"]+)"', channel) == [images["rss"].encode()]


def test_the_feed_is_namespaced_rss_with_the_platforms_of_each_item(demo_db):
    db = sqlite_utils.Database(demo_db)
    xml = feed_for(db, PODCAST).xml
    root = etree.fromstring(xml)
    assert root.tag == "rss" and root.get("version") == "2.0"
    assert {"itunes", "podcast", "content", "scraper"} <= set(root.nsmap)
    assert root.nsmap["podcast"] == "https://podcastindex.org/namespace/1.0"
    listed = {}
    for row in db.query(
            "SELECT pe.platform, json_extract(rss.extra, '$.guid') AS guid "
            "FROM platform_episodes rss JOIN episode_links a ON a.platform_episode_id = rss.id "
            "JOIN episode_links b ON b.episode_id = a.episode_id "
            "JOIN platform_episodes pe ON pe.id = b.platform_episode_id "
            "WHERE rss.platform = 'rss' AND coalesce(pe.listed, 1) = 1"):
        listed.setdefault(row["guid"], set()).add(row["platform"])
    items = root.find("channel").findall("item")
    assert len(items) == len(listed)
    for item in items:
        platforms = {e.get("platform") for e in item.findall(f"{{{NS_LISTING}}}listing")}
        assert platforms == listed[item.findtext("guid")]
    assert Counter(len(v) for v in listed.values())[6] > 0  # some are on every platform
    # The same archive gives the same bytes.
    assert feed_for(db, "ai-post-transformers").xml == xml


def _show_images(db: sqlite_utils.Database) -> dict[str, str]:
    """platform -> the show image its latest listing recorded."""
    return {r["platform"]: r["show_image"] for r in db.query(
        "SELECT s.platform, l.show_image FROM sources s JOIN listings l ON l.id = "
        "(SELECT max(id) FROM listings WHERE source_id = s.id) WHERE l.show_image IS NOT NULL")}


def test_a_feed_from_the_platforms_alone(platforms_db):
    db = sqlite_utils.Database(platforms_db)
    episodes = archive_episodes(db)
    xml = feed_for(db, PODCAST).xml
    want = expected(episodes)
    without_audio = len(episodes) - sum(want.values())
    assert without_audio > 0 and sum(want.values()) > 400  # Audible/Podimo give no audio
    assert read_with_feedparser(xml) == want
    assert read_with_podcastparser(xml) == want
    everything = feed_for(db, PODCAST, include_all=True).xml
    assert read_with_feedparser(everything) == expected(episodes, everything=True)
    assert sum(1 for e in feedparser.parse(everything).entries if not e.get("enclosures")) == \
        without_audio
    # Our own guids: unique, and the same after another sync.
    parsed = feedparser.parse(xml)
    guids = [e.id for e in parsed.entries]
    assert len(set(guids)) == len(guids) and all(g.startswith("urn:uuid:") for g in guids)
    # Enclosures come from the platforms in a fixed order (listed rows, then by name).
    first_audio: dict[str, str] = {}
    for row in db.query(
            "SELECT e.title, pe.audio_url FROM episodes e "
            "JOIN episode_links l ON l.episode_id = e.id "
            "JOIN platform_episodes pe ON pe.id = l.platform_episode_id "
            "WHERE pe.audio_url IS NOT NULL "
            "ORDER BY coalesce(pe.listed, 1) DESC, pe.platform, pe.source_id, pe.id"):
        first_audio.setdefault(row["title"], row["audio_url"])
    assert {e.title: e.enclosures[0].href for e in parsed.entries} == first_audio
    # No publisher feed: the artwork of the first platform by name that gives one.
    images = _show_images(db)
    assert "rss" not in images and parsed.feed.image.href == images[min(images)]
    db.close()
    _sync(platforms_db, without=NOT_PLATFORMS_ALONE)  # an unchanged re-sync
    again = feedparser.parse(feed_for(sqlite_utils.Database(platforms_db), PODCAST).xml)
    assert [e.id for e in again.entries] == guids


def test_a_generated_show_of_5000_episodes_round_trips(tmp_path):
    truth = build_show(tmp_path / "show.db", 5000)
    db = sqlite_utils.Database(tmp_path / "show.db")
    episodes = archive_episodes(db)
    assert len(episodes) == 5000
    result = feed_for(db, truth["podcast"])
    assert result.items == truth["with_audio"]
    assert result.without_audio == truth["without_audio"]
    want = expected(episodes)
    assert read_with_podcastparser(result.xml) == want
    parsed = feedparser.parse(result.xml)
    assert Counter((e.title, date(*e.published_parsed[:3]).isoformat(), int(e.itunes_duration))
                   for e in parsed.entries) == want
    publisher = {e.id for e in parsed.entries if not e.id.startswith("urn:uuid:")}
    assert publisher == truth["rss_guids"]
    # The publisher's exact times were kept (they fall on the canonical date in UTC).
    assert {e.published_parsed.tm_hour for e in parsed.entries if e.id in publisher} == \
        set(range(10))


def test_characters_xml_cannot_carry_are_dropped_not_fatal(tmp_path):
    build_show(tmp_path / "show.db", 40)
    db = sqlite_utils.Database(tmp_path / "show.db")
    db.execute("UPDATE episodes SET title = 'Bell\x07 and tab\tok', "
               "description = 'Vertical\x0btab' WHERE id = 1")
    db.conn.commit()
    parsed = feedparser.parse(feed_for(db, include_all=True).xml)
    assert not parsed.bozo
    assert {"Bell and tab\tok", "Bell and tab ok"} & {e.title for e in parsed.entries}
    assert "Verticaltab" in {e.summary for e in parsed.entries}


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_publishes_the_feed_and_links_it_from_the_index(demo_db, tmp_path, monkeypatch):
    from scraper.datasette import serve

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # its metadata folder
    port = _free_port()
    process = serve(demo_db, port=port, wait=False, search=False)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"{base}/-/feed/ai-post-transformers.xml", timeout=30)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/rss+xml")
        want = expected(archive_episodes(sqlite_utils.Database(demo_db)))
        assert read_with_feedparser(response.content) == want
        channel = etree.fromstring(response.content).find("channel")
        self_link = channel.find("{http://www.w3.org/2005/Atom}link")
        assert self_link.get("href") == f"{base}/-/feed/ai-post-transformers.xml"
        assert channel.findtext("{https://podcastindex.org/namespace/1.0}guid")
        assert httpx.get(f"{base}/-/feed/no-such-show.xml", timeout=30).status_code == 404
        index = httpx.get(f"{base}/", timeout=30).text
        assert 'href="/-/feed/ai-post-transformers.xml"' in index
    finally:
        process.terminate()
        process.wait(timeout=20)
