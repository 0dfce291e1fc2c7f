"""The RSS/Atom adapter: URL detection, ids, dates, durations, descriptions, paging, errors,
on the recordings in fixtures/rss/ and on small inline feeds."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest

import adapters
from adapters.rss import FEED_DATES, RssAdapter, printed_date
from scraper.errors import BlockedError, FetchError, LayoutError
from scraper.fixtures import FIXTURES_DIR, load_cases
from scraper.models import Capture
from scraper.normalize import parse_date
from scraper.parsing import parse_capture
from scraper.replay import ReplayServer
from scraper.routes import Routes

ADAPTER = RssAdapter()
CASES = {case.name: case for case in load_cases() if case.platform == "rss"}
BY_URL = {case.url: case for case in CASES.values()}
CATALOGUE = json.loads((FIXTURES_DIR / "catalogue" / "catalogue.json").read_text("utf-8"))
GROUND_TRUTH = json.loads((FIXTURES_DIR / "rss" / "ground_truth.json").read_text("utf-8"))
FEED_URL = "https://podcast.do-not-panic.com/feed.xml"
FETCHED = datetime(2026, 5, 29, 6, 0, tzinfo=UTC)


def parse(name: str):
    return parse_capture(ADAPTER, CASES[name].capture())


def feed(body: str | bytes, url: str = "https://feeds.example.com/show.xml", *,
         status: int = 200, content_type: str = "application/rss+xml"):
    data = body.encode() if isinstance(body, str) else body
    capture = Capture(url=url, status=status, body=data, fetched_at=FETCHED,
                      headers={"content-type": content_type}, final_url=url)
    return parse_capture(ADAPTER, capture)


def rss(items: str, channel: str = "<title>Inline Show</title>") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
        'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" '
        'xmlns:atom="http://www.w3.org/2005/Atom">\n'
        f"<channel>{channel}{items}</channel></rss>"
    )


# ---------------------------------------------------------------------------------------------
# URLs

FEED_URLS = [
    FEED_URL,
    "https://podcast.do-not-panic.com/feed.xml?utm_source=site",
    "https://feeds.simplecast.com/Xk3pQ9rT",
    "https://feeds.megaphone.fm/NOTATION4810231779",
    "https://feeds.buzzsprout.com/2148213.rss",
    "https://feeds.libsyn.com/482913/rss",
    "https://feed.podbean.com/latebinding/feed.xml",
    "https://feeds.transistor.fm/brand-new-show",
    "https://rss.art19.com/late-binding",
    "https://feeds.acast.com/public/shows/5f3e2d1c0b9a8f7e6d5c4b3a",
    "https://anchor.fm/s/5e8a1b2c/podcast/rss",
    "https://feeds.soundcloud.com/users/soundcloud:users:318842217/sounds.rss",
    "https://www.omnycontent.com/d/playlist/abc/def/ghi/podcast.rss",
    "https://www.spreaker.com/show/4321987/episodes/feed",
    "https://latebinding.libsyn.com/rss",
    "https://longtail.example.org/feed/mp3/",
    "https://longtail.example.org/feed/mp3/?paged=2",
    "https://example.org/blog/feed/podcast/",
    "https://example.org/?feed=podcast",
    "https://blog.example.org/podcast/feed.atom",
    "https://www.youtube.com/feeds/videos.xml?channel_id=UC123",
    "feed://podcast.do-not-panic.com/feed.xml",
    "itpc://feeds.example.com/show",
]
OTHER_PLATFORM_URLS = [
    "https://www.audible.in/podcast/AI-Post-Transformers/B0F1Q2R3S4",
    "https://www.audible.com/podcast/Arrested-DevOps/B08K56VQJ1?qid=1&sr=1-1",
    "https://www.audible.de/podcast/Django-Chat/B08JKRSG27",
    "https://www.audible.co.uk/podcast/Some-Show/episodes/B0G27BLQZV?page=2",
    "https://www.radio.net/podcast/ai-post-transformers",
    "https://nz.radio.net/podcast/the-guilty-feminist",
    "https://www.radio.de/podcast/verbrechen",
    "https://www.radio.net/podcast/rss",
    "https://prod.radio-api.net/podcasts/episodes/by-podcast-ids?podcastIds=x&count=100&offset=0",
    "https://castbox.fm/channel/AI-Post-Transformers-id6612345?country=us",
    "https://castbox.fm/episode/FlashOptim-id6612345-id7654321",
    "https://everest.castbox.fm/data/episode_list/v2?cid=6612345&limit=100&skip=20",
    "https://podimo.com/no/shows/ai-post-transformers",
    "https://podimo.com/no/shows/ai-post-transformers/episode/3f2e1d0c-b9a8-4765-8432-10fedcba9876",
    "https://graphql.podimo.com/graphql",
    "https://open.podimo.com/podcast/3f2e1d0c-b9a8-4765-8432-10fedcba9876",
    "https://podtail.com/podcast/ai-post-transformers/",
    "https://podtail.com/no/podcast/ai-post-transformers/?page=2&append=false&sort=latest",
    "https://podtail.se/podcast/ai-post-transformers/feed.xml",
]
NOT_FEEDS = [
    "https://podcast.do-not-panic.com/",
    "https://podcasts.apple.com/us/podcast/ai-post-transformers/id1234567890",
    "https://open.spotify.com/show/48ygM4upvm6noxCbmhlz8i",
    "https://rss.com/podcasts/ai-post-transformers/",
    "https://example.org/feedback",
    "https://example.org/rss-news/today",
]


@pytest.mark.parametrize("url", FEED_URLS)
def test_feed_urls_are_detected(url):
    assert RssAdapter.suitable(url)


@pytest.mark.parametrize("url", OTHER_PLATFORM_URLS + NOT_FEEDS)
def test_other_urls_are_not_feeds(url):
    assert not RssAdapter.suitable(url)


def test_registry_detects_feeds_last_and_explicit_platform_wins():
    assert adapters.names()[-1] == "rss"
    assert adapters.detect(FEED_URL).name == "rss"
    # A source may name the platform for any URL, e.g. a local mirror.
    assert adapters.for_source("http://127.0.0.1:8123/x", "rss").name == "rss"


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("https://podcast.do-not-panic.com/feed.xml?utm_source=site&utm_medium=x#top", FEED_URL),
        ("feed://podcast.do-not-panic.com/feed.xml", "http://podcast.do-not-panic.com/feed.xml"),
        ("feed:https://podcast.do-not-panic.com/feed.xml", FEED_URL),
        ("itpc://feeds.example.com/show", "http://feeds.example.com/show"),
        ("https://longtail.example.org/feed/mp3/?paged=2&fbclid=abc",
         "https://longtail.example.org/feed/mp3/?paged=2"),
        ("https://feeds.example.com/private?key=s3cret", "https://feeds.example.com/private?key=s3cret"),
    ],
)
def test_canonical_url(url, canonical):
    assert ADAPTER.canonical_url(url) == canonical
    assert ADAPTER.start_urls(url) == [canonical]


# ---------------------------------------------------------------------------------------------
# Dates and durations


@pytest.mark.parametrize(
    ("raw", "printed"),
    [
        ("Tue, 03 Jun 2025 23:30:00 EST", date(2025, 6, 3)),
        ("Sat, 31 May 2025 21:00:00 PDT", date(2025, 5, 31)),
        ("Mon, 02 Jun 2025 01:00:00 GMT+2", date(2025, 6, 2)),
        ("Fri, 30 May 2025 23:45:00 -0500", date(2025, 5, 30)),
        ("Thu, 29 May 2025 00:30:00 +1300", date(2025, 5, 29)),
        ("Wed, 28 May 25 10:00:00 GMT", date(2025, 5, 28)),
        ("Tuesday, 27 May 2025 09:00:00 CEST", date(2025, 5, 27)),
        ("26 May 2025", date(2025, 5, 26)),
        ("May 24, 2025", date(2025, 5, 24)),
        ("2025-05-25T22:00:00-07:00", date(2025, 5, 25)),
        ("2026-03-04T23:30:00-05:00", date(2026, 3, 4)),
        ("Thu, 28 May 2026 00:00:00 +0000", date(2026, 5, 28)),
        ("Someday soon", None),
        ("Thu, 32 May 2026 00:00:00 GMT", None),
    ],
)
def test_printed_date_keeps_the_publishers_calendar_day(raw, printed):
    assert printed_date(raw) == printed


def test_feed_date_style_is_english_without_guessing_numeric_order():
    assert FEED_DATES.languages == ("en",)
    assert FEED_DATES.order is None
    assert ADAPTER.date_style(FEED_URL) is FEED_DATES
    # The fallback path (normalize) with this style also keeps the printed day.
    assert parse_date("Sat, 31 May 2025 21:00:00 -0700", FEED_DATES).value == date(2025, 5, 31)
    assert parse_date("05/06/2025", FEED_DATES).flag == "ambiguous"


def test_named_zone_dates_recorded_feed():
    episodes = {e.title: e for e in parse("dates-named-zones").episodes}
    est = episodes["Night Shift 11"]
    assert est.published_raw == "Tue, 03 Jun 2025 23:30:00 EST"
    assert est.published == date(2025, 6, 3)  # June 4th in UTC: the printed day is kept
    garbled = episodes["Night Shift 02"]
    assert (garbled.published, garbled.published_flag) == (None, "unparsed")
    assert garbled.published_raw == "Someday soon"
    missing = episodes["Night Shift 01"]
    assert (missing.published, missing.published_raw, missing.published_flag) == (None, None, None)


def test_durations_in_every_form():
    got = [e.duration_seconds for e in parse("durations-podcast-ns").episodes]
    assert got == [3723, 3723, 2730, 3668, 3723, 59, 2733, 3723, None, None, None]
    unparsed = parse("durations-podcast-ns").episodes[9]
    assert unparsed.duration_flag == "unparsed"


# ---------------------------------------------------------------------------------------------
# The show's feed (the demo source)


def demo_case():
    demo = [case for case in CASES.values() if case.demo_source]
    assert len(demo) == 1 and demo[0].podcast == "AI Post Transformers"
    return demo[0]


def test_demo_chain_reaches_the_full_list():
    """Follow `next` through the recordings from the demo source, as a sync would."""
    case, seen, pages = demo_case(), {}, 0
    queue = [case.url]
    while queue:
        url = queue.pop(0)
        assert url in BY_URL, f"{url} is in next but not recorded"
        listing = parse_capture(ADAPTER, BY_URL[url].capture())
        pages += 1
        for episode in listing.episodes:
            seen.setdefault(episode.id, episode)
        queue += [u for u in listing.next if u not in queue]
    cutoff = CATALOGUE["cutoff"]["rss"]
    in_catalogue = {e["guid"] for e in CATALOGUE["episodes"] if e["published"] <= cutoff}
    assert pages == 1
    assert len(seen) == len(in_catalogue) == len(GROUND_TRUTH) == 658
    assert set(seen) == set(GROUND_TRUTH) == in_catalogue
    keys = {e["guid"]: e["key"] for e in CATALOGUE["episodes"]}
    assert all(keys[guid] == key for guid, key in GROUND_TRUTH.items())
    # Legacy "Episode: ..." items were replaced by the regenerated ones.
    legacy = {e["legacy"]["guid"] for e in CATALOGUE["episodes"] if e.get("legacy")}
    assert legacy and not legacy & set(seen)
    assert not any(e.title.startswith("Episode: ") for e in seen.values())


def test_show_metadata():
    listing = parse("show-feed")
    assert listing.show.to_json() == {
        "title": "AI Post Transformers",
        "author": "mcgrof",
        "description": CATALOGUE["show"]["description"],
        "claimed_count": None,
    }
    assert listing.show.url == "https://podcast.do-not-panic.com/"
    assert listing.show.image.endswith(".png")
    assert listing.show.category == "Technology"
    assert listing.show.extra["self"] == FEED_URL
    assert listing.next == []


def test_seed_values_by_hand():
    """Values checked against the seed pages, not against the expected files."""
    episodes = {e.title: e for e in parse("show-feed").episodes}
    # Audible (000) prints "Mar 4 2026", radio.net (001) "04/03/2026".
    ptp = episodes["Parallel Token Prediction: From ProphetNet to Dependent Multi-Token Generation"]
    assert ptp.published == date(2026, 3, 4)
    assert ptp.published_raw == "Wed, 04 Mar 2026 00:00:00 +0000"
    assert ptp.description.startswith(
        "This episode examines the fundamental latency bottleneck in autoregressive language "
        "models: sequential token generation requires one full transformer forward pass"
    )
    # Audible cuts source 11 at "Peiyi Wang, ..."; the feed carries the whole list, on lines.
    assert "\n11. Spec-Bench: A Benchmark for Evaluating Speculative Decoding Approaches" in (
        ptp.description
    )
    assert "Peiyi Wang, Yongqi Li" in ptp.description and not ptp.description_truncated
    assert "\nSources:\n1. https://arxiv.org/pdf/2512.21323\n2. " in ptp.description
    # FlashOptim: "Mar 2 2026" / "02/03/2026"; radio.net's wording, with its line breaks.
    flash = episodes["FlashOptim: Optimizers for Memory Efficient Training"]
    assert flash.published == date(2026, 3, 2)
    assert flash.description.startswith("This episode explores the groundbreaking paper")
    assert "\n8. AI Post Transformers: FlashOptim" in flash.description
    # Podimo (003): "I går" on 2026-05-29 is May 28th; "After Titans" reads "22. mai 2026".
    assert episodes["Generative Recursive Reasoning in Latent Space"].published == date(2026, 5, 28)
    titans = episodes["After Titans: Behrouz on Nested Learning and Hope"]
    assert titans.published == date(2026, 5, 22)
    assert titans.description.startswith("Episode title: After Titans: Behrouz on Nested")
    # Castbox (002) ran "Tri Dao" into the URL ("Tri Daohttps://..."); the feed has a break.
    medusa = episodes["MEDUSA: Multiple Decoding Heads for LLM Inference"]
    assert medusa.description.endswith("Tri Dao\nhttps://arxiv.org/pdf/2401.10774")


def test_show_feed_items_as_the_generator_writes_them():
    listing = parse("show-feed")
    newest = listing.episodes[0]
    assert newest.id == "0ce618c5-7dca-d86f-227d-ea228fca29cf"
    assert newest.extra["guid_is_permalink"] is False
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", newest.id)
    assert newest.audio_url.startswith("https://podcast.do-not-panic.com/episodes/2026-05-28-")
    assert newest.extra["enclosure"]["type"] == "audio/mpeg"
    assert int(newest.extra["enclosure"]["length"]) > 1_000_000
    assert newest.extra["image"].endswith(".png")
    assert newest.extra["podcast"]["transcript"][0]["type"] == "application/srt"
    assert newest.url is None  # the generator writes no per-item <link>
    oldest = listing.episodes[-1]
    assert oldest.published == date(2025, 9, 1) and "podcast" not in oldest.extra
    # Dates are midnight UTC of the publish day, newest first.
    assert all(e.published_raw.endswith(" 00:00:00 +0000") for e in listing.episodes)
    days = [e.published for e in listing.episodes]
    assert days == sorted(days, reverse=True)
    # The full text comes from content:encoded, not the <description> teaser.
    body = CASES["show-feed"].path.read_text("utf-8")
    teaser = re.search(r"<description>(This episode explores Generative[^<]*)</description>", body)
    assert teaser and len(newest.description) > 3 * len(teaser.group(1))


def test_garbled_date_is_kept_raw_not_dropped():
    body = CASES["show-feed"].path.read_bytes()
    garbled = body.replace(b"<pubDate>Thu, 28 May 2026 00:00:00 +0000</pubDate>",
                           b"<pubDate>Thurs, 28th of Mai-ish 2026 (approx)</pubDate>", 1)
    assert garbled != body
    listing = feed(garbled, FEED_URL)
    assert len(listing.episodes) == 658
    episode = listing.episodes[0]
    assert episode.title == "Generative Recursive Reasoning in Latent Space"
    assert episode.published_raw == "Thurs, 28th of Mai-ish 2026 (approx)"
    assert (episode.published, episode.published_flag) == (None, "unparsed")
    assert listing.episodes[1].published == date(2026, 5, 27)


# ---------------------------------------------------------------------------------------------
# Ids


def test_guid_forms_and_stand_ins():
    listing = parse("guids")
    by_title = {e.title: e for e in listing.episodes}
    # isPermaLink absent (defaults to "true") on a UUID: kept verbatim, not resolved.
    assert by_title["Copy-on-Write B-Trees"].id == "9f1c2a3e-5b7d-4c1e-8a2f-0d3b4c5e6f70"
    assert by_title["Copy-on-Write B-Trees"].url is None
    the_log = by_title["The Log: What Every Engineer Should Know"]
    assert the_log.id == the_log.url == "https://systemsreading.example.org/episodes/the-log"
    assert by_title["Write-Ahead Logging"].id == "sr-ep-0004"
    crash = by_title["Crash Consistency"]
    assert crash.id == "https://systemsreading.example.org/episodes/5"
    assert crash.extra["id_from"] == "link"
    # The link is the show's home page: it would merge episodes, so the enclosure stands in.
    journaling = by_title["Journaling File Systems"]
    assert journaling.id == "https://www.buzzsprout.com/2148213/episodes/12877410.mp3"
    assert journaling.extra["id_from"] == "enclosure"
    assert by_title["Soft Updates"].id == "https://feeds.buzzsprout.com/media/ep7.mp3"
    assert "Announcement: Summer Break" not in by_title  # nothing identifies it
    untitled = by_title["sr-ep-9 final"]
    assert (untitled.id, untitled.extra["title_from"]) == ("sr-ep-0009", "enclosure")
    assert len(listing.episodes) == 8


def test_shared_links_are_not_ids():
    items = "".join(
        f"<item><title>T{n}</title><link>https://show.example.com/episodes</link>"
        f'<enclosure url="https://cdn.example.com/{n}.mp3" type="audio/mpeg"/></item>'
        for n in range(3)
    )
    listing = feed(rss(items))
    want = [f"https://cdn.example.com/{n}.mp3" for n in range(3)]
    assert [e.id for e in listing.episodes] == want


def test_duplicate_guids_keep_the_first_item():
    items = "".join(f"<item><title>T{n}</title><guid>same</guid></item>" for n in range(2))
    listing = feed(rss(items + "<item><title>Other</title><guid>other</guid></item>"))
    assert [(e.id, e.title) for e in listing.episodes] == [("same", "T0"), ("other", "Other")]


def test_audio_url_skips_image_enclosures():
    items = (
        "<item><title>E</title><guid>e</guid>"
        '<enclosure url="https://cdn.example.com/cover.jpg" type="image/jpeg"/>'
        '<enclosure url="https://cdn.example.com/e.m4a" type="audio/x-m4a" length="9"/></item>'
        "<item><title>Only art</title><guid>f</guid>"
        '<enclosure url="https://cdn.example.com/f.jpg" type="image/jpeg"/></item>'
    )
    first, second = feed(rss(items)).episodes
    assert first.audio_url == "https://cdn.example.com/e.m4a"
    assert second.audio_url is None


# ---------------------------------------------------------------------------------------------
# Descriptions


def test_html_descriptions_keep_block_boundaries():
    episodes = parse("html-descriptions").episodes
    one = episodes[0].description
    assert one.splitlines() == [
        "We read The Design of a Practical System & argue about it.", "",
        "Topics:", "caching’s hidden costs", "tail latency", "",
        "Paper: https://example.org/paper.pdf", "", "Slides: example.org/slides",
    ]  # normalize separates block elements (<p>, <li>) by a blank line, <br> by a newline
    two = episodes[1].description  # content:encoded beats the teaser; scripts are dropped
    assert two.startswith("Show notes\n") and "Leibniz vs Newton\n\nWhy dx survived" in two
    assert "trackPlay" not in two and "Part two of our series on notation." in two
    assert episodes[2].description_truncated and episodes[2].description.endswith("…")
    assert episodes[3].description == (
        "Line one of the summary.\nLine two of the summary.\n\nA new paragraph."
    )
    assert episodes[4].description == "First paragraph.\n\nSecond paragraph, with a bold word."
    assert episodes[5].description == "Plain text only & nothing else."  # empty content:encoded
    assert not any(e.description_truncated for e in episodes[:2])


def test_atom_feed():
    listing = parse("atom")
    assert listing.show.title == "Compiler Hour" and listing.show.author == "Priya Raman"
    first, second, third = listing.episodes
    assert first.published == date(2025, 4, 30)  # 23:30 -04:00 is May 1st in UTC
    assert first.audio_url == "https://blog.example.org/media/ch12.mp3"
    assert first.description == "Graph colouring and its discontents.\n\nLinear scan, revisited."
    assert (second.published, second.published_raw) == (date(2025, 4, 15), "2025-04-15T08:00:00Z")
    assert second.description == "Latency < 10 ms & other myths"  # text/plain, not markup
    assert third.audio_url == "https://blog.example.org/media/ch10.mp3"  # relative href
    assert third.duration_seconds == 600


def test_podcast_namespace_extras():
    listing = parse("durations-podcast-ns")
    assert listing.show.extra["podcast_guid"] == "c3f1a2b4-9d8e-5f7a-b6c5-d4e3f2a1b0c9"
    extra = listing.episodes[0].extra
    podcast = extra["podcast"]
    assert [t["type"] for t in podcast["transcript"]] == ["text/vtt", "application/json"]
    assert podcast["chapters"][0]["type"] == "application/json+chapters"
    assert [(p["value"], p["role"]) for p in podcast["person"]] == [
        ("Ines Okafor", "host"), ("Tomás Ferreira", "guest")]
    assert podcast["season"] == [{"name": "Storage", "value": "2"}]
    assert podcast["episode"] == [{"display": "Ep. 11", "value": "11"}]
    assert (extra["season"], extra["episode"], extra["episode_type"]) == (2, 11, "full")
    assert "podcast" not in listing.episodes[1].extra


# ---------------------------------------------------------------------------------------------
# Paging, empty and broken feeds


def test_paged_feed_chain():
    first = parse("paged-1")
    assert first.next == ["https://longtail.example.org/feed/mp3/?paged=2"]
    second = parse_capture(ADAPTER, BY_URL[first.next[0]].capture())
    assert second.next == []  # rel="prev", "first" and "last" are not followed
    ids = [e.id for e in first.episodes + second.episodes]
    assert len(ids) == len(set(ids)) == 5
    assert [e.title[:5] for e in first.episodes + second.episodes] == [
        "LT005", "LT004", "LT003", "LT002", "LT001"]


def test_next_is_resolved_and_never_points_back():
    channel = (
        "<title>P</title>"
        '<atom:link rel="next" href="page/2.xml?utm_source=x"/>'
        '<atom:link rel="next" href="https://feeds.example.com/show.xml"/>'
    )
    listing = feed(rss("<item><title>A</title><guid>a</guid></item>", channel))
    assert listing.next == ["https://feeds.example.com/page/2.xml"]


def test_empty_channel_is_an_empty_listing():
    listing = parse("empty-channel")
    assert listing.episodes == [] and listing.show.title == "Brand New Show"


def test_truncated_feed_still_parses():
    listing = parse("truncated-bozo")
    assert [e.id for e in listing.episodes] == [f"late-binding-{n}" for n in (4, 3, 2, 1)]
    assert listing.episodes[-1].description is None
    assert listing.episodes[0].description == "Episode 4 of Late Binding."


def test_feed_served_as_html_content_type_still_parses():
    listing = feed(rss("<item><title>A</title><guid>a</guid></item>"), content_type="text/html")
    assert [e.id for e in listing.episodes] == ["a"]


def test_items_without_any_identity_fail_loudly():
    with pytest.raises(LayoutError, match="none has a guid"):
        feed(rss("<item><title>A</title></item><item><title>B</title></item>"))


def test_redirect_document_points_next_at_the_new_location():
    body = "<rss><redirect><newLocation> https://new.example.com/feed.xml </newLocation>"
    listing = feed(body + "</redirect></rss>")
    assert (listing.episodes, listing.next) == ([], ["https://new.example.com/feed.xml"])


@pytest.mark.parametrize(
    ("name", "error", "match"),
    [
        ("html-not-a-feed", LayoutError, "not a feed: got an HTML page"),
        ("sitemap-not-a-feed", LayoutError, "not a feed"),
        ("rss-without-channel", LayoutError, "no channel"),
        ("blocked-cloudflare", BlockedError, "bot wall"),
        ("gone-404", FetchError, "HTTP 404"),
    ],
)
def test_recorded_failures(name, error, match):
    assert CASES[name].error["type"] == error.__name__
    with pytest.raises(error, match=match):
        parse(name)


@pytest.mark.parametrize(
    ("body", "status", "error", "match"),
    [
        ("<html><head><title>Just a moment...</title></head><body>cf-chl</body></html>", 503,
         BlockedError, "bot wall"),
        ('<html><body><form action="/errors/validateCaptcha">Robot Check</form></body></html>',
         200, BlockedError, "bot wall"),
        ("<!DOCTYPE html><html><body><h1>Our podcast</h1></body></html>", 200, LayoutError,
         "HTML page"),
        ('{"error": "not found"}', 200, LayoutError, "not a feed"),
        ("", 200, LayoutError, "empty"),
        ("Service unavailable", 502, FetchError, "HTTP 502"),
    ],
)
def test_inline_failures(body, status, error, match):
    with pytest.raises(error, match=match):
        feed(body, status=status, content_type="application/rss+xml")


def test_a_feed_mentioning_captcha_is_not_a_bot_wall():
    items = "<item><title>Why CAPTCHA fails</title><guid>c</guid></item>"
    assert feed(rss(items)).episodes[0].title == "Why CAPTCHA fails"


def test_fixture_manifest_is_complete_and_small():
    folder = FIXTURES_DIR / "rss"
    size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    assert size < 3_000_000
    index = json.loads((folder / "index.json").read_text("utf-8"))
    assert sum(1 for entry in index if entry.get("demo_source")) == 1
    for entry in index:
        assert Path(folder / entry["file"]).exists()
        assert entry["fetched_at"] == CATALOGUE["captures"]["rss"]


def test_paged_chain_over_the_replay_server():
    """Every URL the adapter puts in `next` is served by the replay server at its real path,
    as a routed sync would request it."""
    with ReplayServer(list(CASES.values())) as server:
        routes = Routes(server.routes_for([]))
        queue, titles = ["https://longtail.example.org/feed/mp3/", FEED_URL], []
        while queue:
            url = queue.pop(0)
            response = httpx.get(routes.apply(url), timeout=10)
            assert response.status_code == 200, url
            listing = parse_capture(ADAPTER, Capture(
                url=url, status=response.status_code, body=response.content, fetched_at=FETCHED,
                headers=dict(response.headers), final_url=url))
            titles += [e.title for e in listing.episodes]
            queue += listing.next
    assert len(titles) == 5 + 658


def test_a_body_that_is_a_file_name_is_not_opened(tmp_path):
    """feedparser reads bytes that name an existing file from disk; the adapter must parse
    only what the server sent."""
    local = tmp_path / "local-feed.xml"
    local.write_text(rss("<item><title>Local secret</title><guid>x</guid></item>"), "utf-8")
    with pytest.raises(LayoutError, match="not a feed"):
        feed(str(local).encode())
