"""Castbox: URL forms, signing, the channel page (state and DOM), the signed episode-list
chain through the recordings, and the failure cases."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import httpx
import pytest

import adapters
from adapters.castbox import (
    CastboxAdapter,
    channel_id,
    episode_list_url,
    episode_slug,
    sign,
    signing_day,
)
from scraper.errors import BlockedError, FetchError, LayoutError
from scraper.fixtures import FIXTURES_DIR, load_cases
from scraper.models import Capture
from scraper.normalize import parse_date, parse_duration
from scraper.parsing import parse_capture
from scraper.replay import ReplayServer

ADAPTER = CastboxAdapter()
CASES = [case for case in load_cases() if case.platform == "castbox"]
BY_NAME = {case.name: case for case in CASES}
FOLDER = Path(FIXTURES_DIR) / "castbox"
GROUND_TRUTH = json.loads((FOLDER / "ground_truth.json").read_text("utf-8"))
CATALOGUE = json.loads((FIXTURES_DIR / "catalogue" / "catalogue.json").read_text("utf-8"))
CHANNEL = "https://castbox.fm/channel/AI-Post-Transformers-id6571384"
STATE = re.compile(rb'window\.__INITIAL_STATE__\s*=\s*"([^"]*)";')


def _query_key(url: str) -> tuple[str, str, tuple]:
    parts = urlsplit(url)
    return parts.netloc, parts.path, tuple(sorted(parse_qsl(parts.query)))


BY_URL = {_query_key(case.url): case for case in CASES}


def _channel_capture(**changes) -> Capture:
    capture = BY_NAME["channel"].capture()
    for key, value in changes.items():
        setattr(capture, key, value)
    return capture


def _with_state(capture: Capture, edit) -> Capture:
    """The capture with its __INITIAL_STATE__ decoded, edited by `edit(state)`, re-encoded."""
    match = STATE.search(capture.body)
    state = json.loads(unquote(match.group(1).decode()))
    edit(state)
    encoded = quote(json.dumps(state, ensure_ascii=False, separators=(",", ":")),
                    safe="-_.!~*'()").encode()
    capture.body = capture.body[: match.start(1)] + encoded + capture.body[match.end(1):]
    return capture


# --- URL forms ---------------------------------------------------------------------------------

CASTBOX_URLS = [
    CHANNEL,
    "https://castbox.fm/channel/id6571384",
    "https://castbox.fm/channel/AI-Post-Transformers-id6571384?country=us",
    "https://castbox.fm/channel/AI-Post-Transformers-id6571384?utm_source=share&utm_medium=web",
    "http://www.castbox.fm/channel/AI-Post-Transformers-id6571384/",
    "https://castbox.fm/channel/%E3%83%9D%E3%83%83%E3%83%89%E3%82%AD%E3%83%A3%E3%82%B9%E3%83%88-id3412587",
    "https://castbox.fm/episode/FlashOptim%3A-Optimizers-for-Memory-Efficient-Training-id6571384-id860593013",
    "https://castbox.fm/ep/860593013",
    "https://castbox.fm/app/castbox/player/id6571384/id860593013",
    "https://everest.castbox.fm/data/episode_list/v2?cid=6571384&limit=100&skip=20&ascending=0"
    "&r=1&raw=1&web=1&m=20260303&n=08e5f0b1a4f0a935da1a3b4c33579944",
]
OTHER_URLS = [
    "https://www.audible.in/podcast/AI-Post-Transformers/B0F1XYZ123",
    "https://www.radio.net/podcast/ai-post-transformers",
    "https://podimo.com/no/shows/ai-post-transformers",
    "https://podtail.com/podcast/ai-post-transformers/",
    "https://podcast.do-not-panic.com/feed.xml",
    "https://castbox.fm/home",
    "https://castbox.fm/categories/Technology-10099?country=us",
    "https://castbox.fm/channel/AI-Post-Transformers",
    "https://notcastbox.fm/channel/AI-Post-Transformers-id6571384",
    "https://castbox.fm.evil.example/channel/AI-Post-Transformers-id6571384",
    "https://everest.castbox.fm/data/channel/v3?cid=6571384&r=1&raw=1&web=1",
]


@pytest.mark.parametrize("url", CASTBOX_URLS)
def test_castbox_urls_are_detected(url):
    assert CastboxAdapter.suitable(url)
    assert adapters.detect(url).name == "castbox"


@pytest.mark.parametrize("url", OTHER_URLS)
def test_other_urls_are_not_castbox(url):
    assert not CastboxAdapter.suitable(url)


@pytest.mark.parametrize(
    ("url", "cid"),
    [
        (CHANNEL, "6571384"),
        ("https://castbox.fm/channel/id6571384", "6571384"),
        # The cid is after the LAST "-id", whatever the slug holds.
        ("https://castbox.fm/channel/Covid-id19-Daily-id2233445?country=us", "2233445"),
        ("https://castbox.fm/channel/Caf%C3%A9-Id%C3%A9es-id5012345", "5012345"),
        ("https://castbox.fm/episode/Some-Title-id6571384-id860593013", "6571384"),
        ("https://castbox.fm/app/castbox/player/id6571384/id860593013", "6571384"),
        ("https://castbox.fm/ep/860593013", None),
    ],
)
def test_channel_id_is_the_last_id(url, cid):
    assert channel_id(url) == cid


def test_canonical_url_strips_tracking_and_keeps_country():
    assert ADAPTER.canonical_url(
        "http://www.castbox.fm/channel/AI-Post-Transformers-id6571384/?utm_source=share"
        "&utm_campaign=x&fbclid=abc#comments"
    ) == CHANNEL
    assert ADAPTER.canonical_url(CHANNEL + "?country=us&utm_medium=web") == CHANNEL + "?country=us"
    slug = "https://castbox.fm/channel/Caf%C3%A9-Id%C3%A9es-id5012345"
    assert ADAPTER.canonical_url(slug + "?utm_source=x") == slug
    api = CASTBOX_URLS[-1]
    assert ADAPTER.canonical_url(api) == api


def test_start_urls_go_to_the_channel_page():
    assert ADAPTER.start_urls(CHANNEL + "?utm_source=share") == [CHANNEL]
    assert ADAPTER.start_urls(CASTBOX_URLS[6]) == ["https://castbox.fm/channel/id6571384"]
    assert ADAPTER.start_urls(CASTBOX_URLS[8]) == ["https://castbox.fm/channel/id6571384"]


def test_episode_slug_matches_castbox_links():
    assert episode_slug("FlashOptim: Optimizers for Memory Efficient Training") == (
        "FlashOptim%3A-Optimizers-for-Memory-Efficient-Training"
    )
    assert episode_slug("Künstliche  Intelligenz #1") == "K%C3%BCnstliche-Intelligenz-%231"


# --- dates and durations -----------------------------------------------------------------------


def test_date_style_reads_castbox_dates():
    style = ADAPTER.date_style(CHANNEL)
    base = datetime(2026, 3, 3, tzinfo=UTC)
    assert parse_date("2026-03-02", style, base).value == date(2026, 3, 2)
    assert parse_date("2026-03-02T00:00:00Z", style, base).value == date(2026, 3, 2)
    assert parse_date("Mar 2, 2026", style, base).value == date(2026, 3, 2)
    assert parse_date("03/02/2026", style, base).value == date(2026, 3, 2)  # US order
    assert "%Y-%m-%d" in style.formats


def test_durations_from_state_milliseconds_and_dom_clock():
    listing = parse_capture(ADAPTER, _channel_capture())
    flash = listing.episodes[0]
    catalogue = next(e for e in CATALOGUE["episodes"] if e["title"].startswith("FlashOptim"))
    assert flash.duration_seconds == catalogue["duration_seconds"] == 3870
    assert parse_duration("1:04:30").seconds == 3870
    assert parse_duration("57:49").seconds == 3469


# --- signing -----------------------------------------------------------------------------------

# RSSHub lib/routes/castbox/channel.ts, PERMUTAION_MAP, copied by hand.
RSSHUB_PERMUTATION = [24, 13, 4, 19, 6, 0, 8, 21, 25, 7, 28, 1, 15, 31, 10, 9, 17, 18, 22, 11,
                      27, 23, 2, 26, 12, 5, 29, 14, 20, 30, 16, 3]


def test_signature_is_rsshubs_permuted_md5():
    params = {"cid": "6571384", "limit": 100, "skip": 20, "ascending": 0, "r": 1, "raw": 1,
              "web": 1}
    query = "ascending=0&cid=6571384&limit=100&r=1&raw=1&skip=20&web=1"
    digest = hashlib.md5(f"{query}evst20260303".encode()).hexdigest()
    expected = "".join(digest[i] for i in RSSHUB_PERMUTATION)
    assert sign(params, "20260303") == expected
    assert sorted(expected) == sorted(digest) and len(expected) == 32
    assert sign(params, "20260304") != expected


def test_episode_list_url_shape():
    url = episode_list_url("6571384", 20, "20260303")
    assert url.startswith(
        "https://everest.castbox.fm/data/episode_list/v2?cid=6571384&limit=100&skip=20"
        "&ascending=0&r=1&raw=1&web=1&m=20260303&n="
    )
    query = dict(parse_qsl(urlsplit(url).query))
    signed = {k: v for k, v in query.items() if k not in ("m", "n")}
    assert query["n"] == sign(signed, "20260303")


def test_signing_day_is_the_pages_utc_day():
    capture = _channel_capture(fetched_at=datetime(2026, 3, 3, 23, 59, tzinfo=UTC))
    assert signing_day(capture) == "20260303"
    # A server's Last-Modified is its own clock for the page (a replayed recording's too).
    capture = _channel_capture(
        fetched_at=datetime(2031, 1, 1, tzinfo=UTC),
        headers={"content-type": "text/html", "last-modified": "Tue, 03 Mar 2026 07:12:00 GMT"},
    )
    assert signing_day(capture) == "20260303"


# --- the channel page --------------------------------------------------------------------------


def test_channel_page_matches_seed_002():
    listing = parse_capture(ADAPTER, _channel_capture())
    show = listing.show
    assert (show.title, show.author, show.claimed_count) == ("AI Post Transformers", "mcgrof", 451)
    assert show.extra == {"subscribers": 4, "plays": 169}
    assert show.description.startswith("AI-generated podcast where hosts Hal Turing")
    assert len(listing.episodes) == 20
    titles = [e.title for e in listing.episodes]
    assert titles[:3] == [
        "FlashOptim: Optimizers for Memory Efficient Training",
        "New Hosts, New Format: Meet Hal Turing and Dr. Ada Shannon",
        "Regular Fourier Features for Nonstationary Gaussian Processes",
    ]
    assert titles[-1] == "MEDUSA: Multiple Decoding Heads for LLM Inference"
    flash, hosts = listing.episodes[0], listing.episodes[1]
    assert flash.published == date(2026, 3, 2) and flash.published_raw == "2026-03-02T00:00:00Z"
    assert hosts.published == date(2026, 3, 1)
    assert flash.description.startswith(
        'In this episode, hosts Hal Turing and Dr. Ada Shannon explore the groundbreaking paper '
        '"FlashOptim: Optimizers for Memory Efficient Training" by researchers from Databricks'
    )
    assert "hardware resources.\nSources:\n1. https://arxiv.org/pdf/2602.23349\n2. Mixed" in (
        flash.description
    )
    assert hosts.description.startswith("In this dramatic new episode, the old AI hosts")
    # Seed 002's "…Tri Daohttps://arxiv…" comes from the state's HTML with its break kept.
    medusa = listing.episodes[-1]
    assert medusa.description.endswith("Deming Chen, Tri Dao\nhttps://arxiv.org/pdf/2401.10774")
    assert "Tri Daohttps" not in medusa.description
    assert flash.url == (
        "https://castbox.fm/episode/FlashOptim%3A-Optimizers-for-Memory-Efficient-Training"
        f"-id6571384-id{flash.id}"
    )
    assert flash.audio_url.startswith("https://podcast.do-not-panic.com/episodes/2026-03-02-")
    assert listing.next == [episode_list_url("6571384", 20, "20260303")]
    assert listing.incomplete_reason is None


def test_dom_fallback_reads_the_same_rows():
    from_state = parse_capture(ADAPTER, _channel_capture())
    capture = _channel_capture()
    capture.body = re.sub(rb"<script>window\.__INITIAL_STATE__.*?</script>", b"", capture.body)
    assert b"__INITIAL_STATE__" not in capture.body
    from_dom = parse_capture(ADAPTER, capture)
    assert from_dom.show.to_json() == from_state.show.to_json()
    assert from_dom.show.extra == {"subscribers": 4, "plays": 169}
    assert from_dom.next == from_state.next
    pairs = list(zip(from_dom.episodes, from_state.episodes, strict=True))
    for dom, state in pairs:
        assert (dom.id, dom.title, dom.published, dom.url) == (
            state.id, state.title, state.published, state.url)
        assert dom.duration_seconds == state.duration_seconds
        assert dom.published_raw == state.published.isoformat()
        assert dom.audio_url is None
    # The DOM's descriptions are the seed's tag-stripped text, words run together.
    assert from_dom.episodes[-1].description.endswith("Tri Daohttps://arxiv.org/pdf/2401.10774")
    seed_variant = next(e for e in CATALOGUE["episodes"]
                        if e["title"].startswith("MEDUSA"))["variants"]["castbox"]
    assert from_dom.episodes[-1].description == seed_variant["description"]


def test_nonascii_slug_page_parses_like_the_channel():
    case = BY_NAME["channel-nonascii-slug"]
    assert "%E2%80%94" in case.url and channel_id(case.url) == "6571384"
    listing = parse_capture(ADAPTER, case.capture())
    assert listing.show.claimed_count == 451 and len(listing.episodes) == 20
    assert listing.next == [episode_list_url("6571384", 20, "20260303")]


def test_garbled_date_is_kept_raw_and_flagged():
    def garble(state):
        state["ch"]["eps"][3]["release_date"] = "Invalid Date"

    listing = parse_capture(ADAPTER, _with_state(_channel_capture(), garble))
    assert len(listing.episodes) == 20
    broken = listing.episodes[3]
    assert broken.title == "Gemini Diffusion Scaling Study"
    assert broken.published is None
    assert broken.published_raw == "Invalid Date"
    assert broken.published_flag == "unparsed"
    assert all(e.published is not None for i, e in enumerate(listing.episodes) if i != 3)


def test_state_without_claim_still_follows_the_loader():
    def drop_count(state):
        del state["ch"]["chInfo"]["episode_count"]

    capture = _with_state(_channel_capture(), drop_count)
    capture.body = capture.body.replace(b"<h3>451 Episodes</h3>", b"<h3></h3>")
    listing = parse_capture(ADAPTER, capture)
    assert listing.show.claimed_count is None
    assert listing.next == [episode_list_url("6571384", 20, "20260303")]


def test_no_channel_id_means_incomplete_not_silent():
    def drop_cid(state):
        del state["ch"]["chInfo"]["cid"]
        for episode in state["ch"]["eps"]:
            del episode["cid"]

    capture = _with_state(_channel_capture(url="https://castbox.fm/channel/"), drop_cid)
    capture.final_url = None
    capture.body = re.sub(rb'<link rel="canonical"[^>]*>|<meta property="og:url"[^>]*>', b"",
                          capture.body)
    listing = ADAPTER.parse(capture)
    assert listing.next == []
    assert "20 of 451" in listing.incomplete_reason


# --- the paged chain ---------------------------------------------------------------------------


def _follow(start_case) -> tuple[dict, list]:
    merged: dict[str, dict] = {}
    pages = []
    queue = [start_case.url]
    while queue:
        url = queue.pop(0)
        case = BY_URL.get(_query_key(url))
        assert case is not None, f"next URL not recorded: {url}"
        listing = parse_capture(ADAPTER, case.capture())
        pages.append((case.name, len(listing.episodes), list(listing.next)))
        for episode in listing.episodes:
            merged.setdefault(episode.id, episode.to_json())
        queue.extend(listing.next)
        assert len(pages) < 20, "runaway pagination"
    return merged, pages


def test_demo_source_chain_reaches_the_full_list():
    demo = [case for case in CASES if case.demo_source]
    assert [case.name for case in demo] == ["channel"]
    assert demo[0].podcast == "AI Post Transformers"
    merged, pages = _follow(demo[0])
    assert [count for _, count, _ in pages] == [20, 100, 100, 100, 100, 31]
    assert pages[-1][2] == []  # the short last page asks for nothing more
    assert len(merged) == 451 == CATALOGUE["claimed"]["castbox"]
    assert set(merged) == set(GROUND_TRUTH)
    cutoff = CATALOGUE["cutoff"]["castbox"]
    listed = {e["key"] for e in CATALOGUE["episodes"] if e["published"] <= cutoff}
    assert set(GROUND_TRUTH.values()) == listed
    by_key = {e["key"]: e for e in CATALOGUE["episodes"]}
    for eid, episode in merged.items():
        entry = by_key[GROUND_TRUTH[eid]]
        assert episode["title"] == entry["title"]
        assert episode["published"] == entry["published"]
        assert episode["duration_seconds"] == entry["duration_seconds"]


def test_chain_through_the_replay_server_with_a_live_clock():
    """A sync fetches at the current time; the recorded signatures still line up because the
    replayed pages carry the recording's Last-Modified."""
    merged: set[str] = set()
    with ReplayServer(CASES) as server, httpx.Client() as client:
        queue = [CHANNEL]
        while queue:
            url = queue.pop(0)
            parts = urlsplit(url)
            routed = f"{server.base}/{parts.netloc}{parts.path}"
            routed += f"?{parts.query}" if parts.query else ""
            response = client.get(routed)
            assert response.status_code == 200, url
            capture = Capture(url=url, status=response.status_code, body=response.content,
                              fetched_at=datetime.now(UTC),
                              headers={k.lower(): v for k, v in response.headers.items()})
            listing = parse_capture(ADAPTER, capture)
            merged.update(e.id for e in listing.episodes)
            queue.extend(listing.next)
    assert len(merged) == 451


# --- failures ----------------------------------------------------------------------------------


def test_invalid_sign_answer_says_what_is_missing():
    with pytest.raises(FetchError, match="invalid sign") as error:
        parse_capture(ADAPTER, BY_NAME["episode-list-invalid-sign"].capture())
    assert "from episode 21 on could not be read" in str(error.value)


def test_api_http_error_is_a_fetch_error():
    capture = BY_NAME["episode-list-skip120"].capture()
    capture.status = 503
    capture.body = b"<html><body>Service Unavailable</body></html>"
    with pytest.raises(FetchError, match="HTTP 503.*from episode 121 on"):
        parse_capture(ADAPTER, capture)


def test_blocked_page():
    with pytest.raises(BlockedError, match="CloudFront"):
        parse_capture(ADAPTER, BY_NAME["blocked"].capture())


def test_layout_drift_takes_the_whole_list_from_the_api_with_a_warning():
    for name in ("layout-drift", "empty-list"):
        listing = parse_capture(ADAPTER, BY_NAME[name].capture())
        assert listing.episodes == [] and listing.show.claimed_count == 451, name
        assert listing.show.title == "AI Post Transformers"  # og:title without the suffix
        assert listing.next == [episode_list_url("6571384", 0, "20260303")], name
        assert listing.warnings[0].startswith("layout_drift: no episodes found"), name
    with pytest.raises(LayoutError, match="no channel title"):
        parse_capture(ADAPTER, BY_NAME["layout-no-title"].capture())


def test_second_page_generation_counts_in_span_count():
    page = BY_NAME["channel-2026"]
    html = page.path.read_text("utf-8")
    assert "__INITIAL_STATE__" not in html and 'class="count sub_count">4<' in html
    listing = parse_capture(ADAPTER, page.capture())
    assert listing.show.extra == {"subscribers": 4, "plays": 169}
    assert len(listing.episodes) == 20 and listing.warnings == []
    old = parse_capture(ADAPTER, BY_NAME["channel"].capture())
    assert [e.id for e in listing.episodes] == [e.id for e in old.episodes]


def test_api_body_without_list_is_a_layout_error():
    capture = BY_NAME["episode-list-skip020"].capture()
    capture.body = json.dumps({"code": 0, "msg": "", "data": {"list": []}}).encode()
    with pytest.raises(LayoutError, match="data.episode_list"):
        parse_capture(ADAPTER, capture)


def test_api_page_asks_for_more_only_when_full():
    capture = BY_NAME["episode-list-skip120"].capture()
    full = parse_capture(ADAPTER, capture)
    assert len(full.episodes) == 100 and full.show is None
    assert full.next == [episode_list_url("6571384", 220, "20260303")]
    body = json.loads(capture.body)
    body["data"]["episode_list"] = body["data"]["episode_list"][:99]
    capture.body = json.dumps(body).encode()
    short = parse_capture(ADAPTER, capture)
    assert len(short.episodes) == 99 and short.next == []
