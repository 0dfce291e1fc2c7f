"""Conformance with a peer: gPodder's podcastparser, on its own test corpus.

`tests/peer/podcastparser/` is podcastparser's corpus (ISC licence, see its LICENSE): each
`NAME.rss` is a feed with one quirk and `NAME.json` what podcastparser extracted from it when
parsing it with the URL `file://tests/data/NAME.rss`. We parse each feed with the same URL,
through the same path a sync uses, and compare per episode:

- the set of episodes, and each one's id (podcastparser's `guid`, which is the guid or what
  stands in for it: the item's link, then its enclosure URL);
- the title;
- the published calendar date: podcastparser gives unix seconds, read here as a UTC date. We
  keep the date the publisher printed, so a feed printing "23:30 -0500" would be a day apart
  in UTC; the comparison allows exactly that (OFFSET_RULE) and nothing else. No feed of this
  corpus prints a date whose UTC day differs, so there the dates must be equal;
- the duration (`total_time`; podcastparser's 0 for "none" is our None);
- and per feed: title, description, cover, link, author, paging (`paged_feed_next`) and
  moves (`new_url`), where podcastparser reports them.

Where we differ on purpose, DIFFERENCES says so per feed and field with the reason, and the
test checks that the difference is exactly the one described (an entry that no longer
applies fails too, so the list stays as small as it is).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urljoin

import pytest

from adapters.rss import RssAdapter, printed_date
from scraper.errors import LayoutError
from scraper.models import Capture
from scraper.parsing import parse_capture

PEER = Path(__file__).parent / "peer" / "podcastparser"
FEEDS = sorted(path.stem for path in PEER.glob("*.rss"))
ADAPTER = RssAdapter()

RELATIVE_GUID = (
    "podcastparser resolves a permalink guid (isPermaLink absent, so 'true') against the feed "
    "URL: <guid>a</guid> becomes file://tests/data/a. We keep a guid exactly as written: "
    "isPermaLink defaults to true on countless opaque guids (UUIDs, 'Buzzsprout-123'), and an "
    "episode id must not change with the address the feed happened to be fetched from."
)
KEEP_UNTITLED = (
    "an item with a guid and two enclosures but no title: podcastparser drops it (it has no "
    "single file to name it after); we keep the identified episode and name it after its "
    "first audio enclosure, since the archive must not silently lose an episode."
)
LOUD_FAILURE = (
    "the feed's only item has no guid, no link and no enclosure URL: podcastparser returns "
    "an empty feed; we raise LayoutError, because an adapter never returns 0 episodes for a "
    "page that lists some."
)
DIFFERENCES: dict[tuple[str, str], str] = {
    **{(name, "id"): RELATIVE_GUID for name in (
        "chapters", "duration", "itunes_duration", "itunes_episode_image", "itunes_no_xmlns",
        "itunes_subtitle", "itunes_xmlns", "media_episode_thumbnail",
        "media_episode_thumbnail_group",
    )},
    ("no_title_multi_enclosure", "episodes"): KEEP_UNTITLED,
    ("no_url", "episodes"): LOUD_FAILURE,
}
OFFSET_RULE = (
    "a date printed with a non-UTC offset keeps its printed calendar day; podcastparser's "
    "unix time is that moment in UTC"
)


def peer_url(name: str) -> str:
    return f"file://tests/data/{name}.rss"


def capture(name: str) -> Capture:
    url = peer_url(name)
    return Capture(url=url, status=200, body=(PEER / f"{name}.rss").read_bytes(),
                   fetched_at=datetime(2026, 5, 29, tzinfo=UTC),
                   headers={"content-type": "application/rss+xml"}, final_url=url)


def theirs(name: str) -> tuple[dict, dict]:
    expected = json.loads((PEER / f"{name}.json").read_text("utf-8"))
    params_file = PEER / f"{name}.param.json"
    params = json.loads(params_file.read_text("utf-8")) if params_file.exists() else {}
    return expected, params


def utc_day(seconds: int) -> date | None:
    return datetime.fromtimestamp(seconds, UTC).date() if seconds else None


def test_the_corpus_is_complete_and_licensed():
    assert "Permission to use, copy, modify" in (PEER / "LICENSE").read_text("utf-8")
    assert len(FEEDS) == 70
    assert all((PEER / f"{name}.json").exists() for name in FEEDS)
    unknown = {name for name, _ in DIFFERENCES} - set(FEEDS)
    assert not unknown


@pytest.mark.parametrize("name", FEEDS)
def test_agrees_with_podcastparser(name):
    expected, params = theirs(name)
    their_episodes = expected["episodes"]

    if DIFFERENCES.get((name, "episodes")) == LOUD_FAILURE:
        assert their_episodes == []
        with pytest.raises(LayoutError, match="none has a guid, link or enclosure"):
            parse_capture(ADAPTER, capture(name))
        return

    listing = parse_capture(ADAPTER, capture(name))
    ours = list(listing.episodes)
    if params.get("max_episodes"):
        # podcastparser's own option: the newest N after its stable sort by date.
        ours.sort(key=lambda e: e.published or date.min, reverse=True)
        ours = ours[: params["max_episodes"]]

    # Ids, in podcastparser's terms.
    resolve = DIFFERENCES.get((name, "id")) == RELATIVE_GUID
    mapped = {}
    for episode in ours:
        their_id = urljoin(peer_url(name), episode.id) if resolve else episode.id
        if resolve:
            assert their_id != episode.id, f"{name}: the listed difference no longer applies"
        mapped[their_id] = episode
    their_ids = {e["guid"] for e in their_episodes}
    extra = set(mapped) - their_ids
    if DIFFERENCES.get((name, "episodes")) == KEEP_UNTITLED:
        assert len(extra) == 1
        kept = mapped[extra.pop()]
        assert kept.extra["title_from"] == "enclosure" and kept.audio_url
    else:
        assert not extra, f"{name}: we list episodes podcastparser does not"
    assert their_ids <= set(mapped), f"{name}: podcastparser lists episodes we do not"
    assert len(mapped) == len(ours), f"{name}: duplicate ids"

    for their in their_episodes:
        mine = mapped[their["guid"]]
        assert mine.title == their["title"]
        their_day = utc_day(their["published"])
        if mine.published != their_day:
            # OFFSET_RULE: only a printed non-UTC offset may move the day.
            assert mine.published == printed_date(mine.published_raw), OFFSET_RULE
            assert mine.published_raw and not mine.published_raw.endswith(
                ("+0000", "-0000", "GMT", "UT", "UTC", "Z", "+00:00")), OFFSET_RULE
        assert (mine.duration_seconds or 0) == their["total_time"]

    # The feed as a whole, where podcastparser reports it.
    show = listing.show
    if show is not None and show.title:
        assert show.title == expected["title"]
    if "description" in expected:
        assert show.description == expected["description"]
    if "cover_url" in expected:
        assert show.image == expected["cover_url"]
    if "link" in expected:
        assert show.url == expected["link"]
    if "itunes_author" in expected:
        assert show.author == expected["itunes_author"]
    if "paged_feed_next" in expected:
        assert listing.next == [expected["paged_feed_next"]]
    elif "new_url" in expected and show is None:
        assert listing.next == [expected["new_url"]]  # <redirect><newLocation>
    else:
        assert listing.next == []
    if "new_url" in expected and show is not None:
        assert show.extra["new_feed_url"] == expected["new_url"]  # itunes:new-feed-url


def test_the_comparison_covers_real_episodes():
    """Guard against a vacuous pass: most feeds have episodes and they are compared."""
    compared = sum(len(theirs(name)[0]["episodes"]) for name in FEEDS)
    with_dates = sum(1 for name in FEEDS for e in theirs(name)[0]["episodes"] if e["published"])
    with_durations = sum(
        1 for name in FEEDS for e in theirs(name)[0]["episodes"] if e["total_time"])
    assert compared >= 50 and with_dates >= 8 and with_durations >= 5


def test_offset_rule_is_where_we_differ_from_utc():
    """The one place our dates deliberately differ from podcastparser's (none in the corpus):
    podcastparser would give 1749011400 (2025-06-04 04:30 UTC) for this pubDate."""
    body = (b"<rss><channel><title>T</title><item><title>E</title><guid>e</guid>"
            b"<pubDate>Tue, 03 Jun 2025 23:30:00 EST</pubDate></item></channel></rss>")
    url = "file://tests/data/offset.rss"
    got = parse_capture(ADAPTER, Capture(url=url, status=200, body=body,
                                         fetched_at=datetime(2026, 5, 29, tzinfo=UTC),
                                         final_url=url))
    assert utc_day(1749011400) == date(2025, 6, 4)
    assert got.episodes[0].published == date(2025, 6, 3)
