"""The radio.net adapter: URL forms, locales, the show page (flight payload, __NEXT_DATA__,
DOM), the episodes API chain, and its failures, on the recordings in fixtures/radionet/."""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import replace
from datetime import date
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

import adapters
from adapters.base import next_flight
from adapters.radionet import RadioNetAdapter
from scraper.errors import BlockedError, LayoutError
from scraper.fixtures import FIXTURES_DIR, load_cases
from scraper.normalize import parse_date
from scraper.parsing import parse_capture
from scraper.sync import merge_page

ADAPTER = RadioNetAdapter()
CASES = [c for c in load_cases() if c.platform == "radionet"]
BY_NAME = {c.name: c for c in CASES}
GROUND_TRUTH = json.loads((FIXTURES_DIR / "radionet" / "ground_truth.json").read_text("utf-8"))
CATALOGUE = json.loads((FIXTURES_DIR / "catalogue" / "catalogue.json").read_text("utf-8"))
SHOW_URL = "https://www.radio.net/podcast/ai-post-transformers"
API = "https://prod.radio-api.net/podcasts/episodes/by-podcast-ids"


def _key(url: str) -> tuple[str, str, str]:
    parts = urlsplit(url)
    return parts.netloc.lower(), parts.path, urlencode(sorted(parse_qsl(parts.query)))


BY_URL = {}
for _case in CASES:
    BY_URL.setdefault(_key(_case.url), _case)


def parse(case, body: bytes | None = None):
    capture = case.capture()
    if body is not None:
        capture = replace(capture, body=body)
    return parse_capture(ADAPTER, capture)


# ---------------------------------------------------------------------------------------------
# URLs


@pytest.mark.parametrize("url", [
    "https://www.radio.net/podcast/ai-post-transformers",
    "https://radio.net/podcast/ai-post-transformers",
    "http://www.radio.net/podcast/ai-post-transformers/",
    "https://www.radio.net/podcast/ai-post-transformers?utm_source=share#episodes",
    "https://WWW.Radio.Net/podcast/ai-post-transformers",
    "https://ca.radio.net/podcast/ai-post-transformers",
    "https://nz.radio.net/podcast/the-guilty-feminist",
    "https://mx.radio.net/podcast/el-brieff",
    "https://au.radio.net/podcast/ai-post-transformers",
    "https://ie.radio.net/podcast/ai-post-transformers",
    "https://www.radio.de/podcast/verbrechen",
    "https://radio.de/podcast/verbrechen",
    "https://www.radio.at/podcast/ai-post-transformers",
    "https://www.radio.fr/podcast/ai-post-transformers",
    "https://www.radio.it/podcast/ai-post-transformers",
    "https://www.radio.es/podcast/ai-post-transformers",
    "https://www.radio.pl/podcast/ai-post-transformers",
    "https://www.radio.pt/podcast/ai-post-transformers",
    "https://www.radio.se/podcast/ai-post-transformers",
    "https://www.radio.dk/podcast/ai-post-transformers",
    f"{API}?podcastIds=ai-post-transformers&count=100&offset=200",
])
def test_detects_every_storefront(url):
    assert RadioNetAdapter.suitable(url)
    assert adapters.detect(url).name == "radionet"


@pytest.mark.parametrize("url", [
    "https://www.audible.in/podcast/AI-Post-Transformers/B0F1234567",
    "https://podtail.com/podcast/ai-post-transformers/",
    "https://podtail.se/podcast/ai-post-transformers/",
    "https://castbox.fm/channel/AI-Post-Transformers-id6712345",
    "https://podimo.com/no/shows/ai-post-transformers",
    "https://podcast.do-not-panic.com/feed.xml",
    "https://www.radio.net/s/dlf",  # a station, not a podcast
    "https://www.radio.net/podcast",
    "https://www.radio.net/podcast/",
    "https://radio.net.example.com/podcast/ai-post-transformers",
    "https://myradio.de/podcast/ai-post-transformers",
    "https://www.radio.dev/podcast/ai-post-transformers",
    "https://www.radio.com/podcast/ai-post-transformers",
    "https://uk.radio.net/podcast/ai-post-transformers",
    "https://prod.radio-api.net/podcasts/details?podcastIds=ai-post-transformers",
])
def test_rejects_other_urls(url):
    assert not RadioNetAdapter.suitable(url)


@pytest.mark.parametrize(("url", "canonical"), [
    ("http://radio.net/podcast/ai-post-transformers/?utm_source=x&ref=y#top", SHOW_URL),
    ("https://WWW.RADIO.NET/podcast/ai-post-transformers", SHOW_URL),
    ("https://radio.de/podcast/verbrechen?fbclid=1",
     "https://www.radio.de/podcast/verbrechen"),
    ("https://mx.radio.net/podcast/el-brieff/", "https://mx.radio.net/podcast/el-brieff"),
    (f"{API}?offset=300&utm_source=x&podcastIds=ai-post-transformers&count=100",
     f"{API}?podcastIds=ai-post-transformers&count=100&offset=300"),
])
def test_canonical_url(url, canonical):
    assert ADAPTER.canonical_url(url) == canonical
    assert ADAPTER.start_urls(url) == [canonical]


# ---------------------------------------------------------------------------------------------
# Locales


@pytest.mark.parametrize(("url", "printed", "language"), [
    (SHOW_URL, "06/03/2026", "en"),
    ("https://ie.radio.net/podcast/x", "06/03/2026", "en"),
    ("https://ca.radio.net/podcast/x", "06/03/2026", "en"),
    ("https://mx.radio.net/podcast/x", "06/03/2026", "es"),
    ("https://www.radio.de/podcast/x", "06.03.2026", "de"),
    ("https://www.radio.at/podcast/x", "06.03.2026", "de"),
    ("https://www.radio.fr/podcast/x", "06/03/2026", "fr"),
    ("https://www.radio.it/podcast/x", "06/03/2026", "it"),
    ("https://www.radio.es/podcast/x", "6/3/2026", "es"),
    ("https://www.radio.pl/podcast/x", "06.03.2026", "pl"),
    ("https://www.radio.pt/podcast/x", "06/03/2026", "pt"),
    ("https://www.radio.se/podcast/x", "2026-03-06", "sv"),
    ("https://www.radio.dk/podcast/x", "6.3.2026", "da"),
    (f"{API}?podcastIds=x&count=100&offset=0", "06/03/2026", "en"),
])
def test_date_style_per_site_is_day_first(url, printed, language):
    style = ADAPTER.date_style(url)
    assert style.languages == (language,)
    parsed = parse_date(printed, style)
    assert parsed.value == date(2026, 3, 6) and parsed.flag is None
    # Not guessed per string: a day/month that could be either stays day-first.
    fourth = printed.replace("06", "04", 1) if "06" in printed else printed.replace("6", "4", 1)
    assert parse_date(fourth, style).value == date(2026, 3, 4)


def test_radio_de_page_prints_german_dates_and_count():
    body = BY_NAME["show-de"].path.read_bytes()
    text = body.decode("utf-8")
    assert "458 Folgen" in text and "06.03.2026" in text and "Über AI Post Transformers" in text
    stripped = re.sub(r"<script>self\.__next_f\.push.*?</script>", "", text, flags=re.S)
    listing = parse(BY_NAME["show-de"], stripped.encode())  # DOM only: the printed dates
    assert [e.published_raw for e in listing.episodes] == [
        "06.03.2026", "06.03.2026", "04.03.2026", "04.03.2026", "02.03.2026"]
    assert [e.published for e in listing.episodes] == [
        date(2026, 3, 6), date(2026, 3, 6), date(2026, 3, 4), date(2026, 3, 4),
        date(2026, 3, 2)]
    assert listing.show.claimed_count == 458


# ---------------------------------------------------------------------------------------------
# The show page


SEED_ROWS = [
    ("FlashAttention-4 Conquers Asymmetric GPU Hardware Scaling", "06/03/2026"),
    ("We're Open Source! New Home, Visualizations, and How to Shape Our Queue", "06/03/2026"),
    ("Parallel Token Prediction: From ProphetNet to Dependent Multi-Token Generation",
     "04/03/2026"),
    ("Nemotron Elastic: Towards Efficient Many-in-One Reasoning LLMs", "04/03/2026"),
    ("FlashOptim: Optimizers for Memory Efficient Training", "02/03/2026"),
]


def test_show_page_matches_the_seed():
    listing = parse(BY_NAME["show"])
    assert listing.show.title == "AI Post Transformers"
    assert listing.show.author == "mcgrof"
    assert listing.show.claimed_count == 458
    assert listing.show.category == "Technology"
    assert listing.show.description.startswith("AI-generated podcast where hosts Hal Turing")
    assert [e.title for e in listing.episodes] == [t for t, _ in SEED_ROWS]
    days = [date(int(d[6:]), int(d[3:5]), int(d[:2])) for _, d in SEED_ROWS]
    assert [e.published for e in listing.episodes] == days
    # No duration on radio.net's page; the API has it.
    assert all(e.duration_seconds is None for e in listing.episodes)
    assert listing.next == [f"{API}?podcastIds=ai-post-transformers&count=100&offset=0"]
    open_source = listing.episodes[1]
    assert open_source.description == (
        "Special announcement: AI Post Transformers is now open source under the MIT license. "
        "New home at podcast.do-not-panic.com, interactive paper visualizations, community "
        "paper submissions, deep dive into the editorial queue algorithm, and "
        "internationalization roadmap.")
    flash = listing.episodes[0].description
    assert flash.startswith("Hal Turing and Dr. Ada Shannon dig into FlashAttention-4, a March")
    assert "Blackwell's scaling profile.\n\nTo frame why this matters, Shannon traces" in flash
    assert ("Sources:\n1. https://arxiv.org/pdf/2603.05451v1\n2. FlashAttention: Fast and "
            "Memory-Efficient Exact Attention with IO-Awareness — Tri Dao") in flash
    assert flash.endswith("Interactive Visualization: FlashAttention-4: Algorithm & Kernel "
                          "Co-Design\nhttps://do-not-panic.com/viz/2026/03/06/flashattention4.html")
    assert listing.episodes[4].description.startswith(
        "This episode explores the groundbreaking paper \"FlashOptim: Optimizers for Memory")
    assert all(e.audio_url and e.audio_url.endswith(".mp3") for e in listing.episodes)


def test_dom_only_page_reads_printed_dates():
    listing = parse(BY_NAME["show-dom-only"])
    assert [(e.title, e.published_raw) for e in listing.episodes] == SEED_ROWS
    assert [e.published for e in listing.episodes] == [
        date(2026, 3, 6), date(2026, 3, 6), date(2026, 3, 4), date(2026, 3, 4),
        date(2026, 3, 2)]
    assert all(e.published_flag is None and e.audio_url is None for e in listing.episodes)
    state = parse(BY_NAME["show"])
    # Same ids, titles and descriptions as the state: the page and the API rows merge.
    assert [e.id for e in listing.episodes] == [e.id for e in state.episodes]
    assert [e.description for e in listing.episodes] == [e.description for e in state.episodes]
    assert listing.show.to_json() == state.show.to_json()


def test_every_show_variant_reads_the_same_episodes():
    ids = [e.id for e in parse(BY_NAME["show"]).episodes]
    for name in ("show-de", "show-next-data", "show-flight-2025", "show-legacy-next-data",
                 "show-dom-only"):
        assert [e.id for e in parse(BY_NAME[name]).episodes] == ids, name
    legacy = BY_NAME["show-legacy-next-data"].path.read_text("utf-8")
    assert 'id="__NEXT_DATA__"' in legacy and "__next_f" not in legacy
    dom_only = BY_NAME["show-dom-only"].path.read_text("utf-8")
    assert "__NEXT_DATA__" not in dom_only and "__next_f" not in dom_only


def test_state_comes_before_the_dom():
    case = BY_NAME["show"]
    text = case.path.read_text("utf-8").replace(
        'data-testid="episode-title">FlashAttention-4', 'data-testid="episode-title">DOM title')
    listing = parse(case, text.encode())
    assert listing.episodes[0].title.startswith("FlashAttention-4")
    assert listing.episodes[0].audio_url  # only the state has the audio


def test_consent_layer_is_ignored():
    case = BY_NAME["show-dom-only"]
    text = case.path.read_text("utf-8")
    assert 'id="onetrust-banner-sdk"' in text
    # A consent layer whose markup looks like an episode row must not become one.
    fake = ('<div id="onetrust-consent-sdk"><ul><li data-testid="episode-item" '
            'data-episode-id="cookie"><h3>Strictly necessary cookies</h3></li></ul></div>')
    with_fake = text.replace('<div id="onetrust-consent-sdk"', fake + '<div id="x"', 1)
    without = re.sub(r'<div id="onetrust-consent-sdk".*?<header', "<header", text, flags=re.S)
    assert "onetrust" not in without.split("<header", 1)[1].split("</main>")[0]
    for body in (with_fake, without):
        got = parse(case, body.encode()).to_json()
        assert got == parse(case).to_json()


def test_app_router_page_outlines_long_descriptions_as_text_rows():
    text = BY_NAME["show"].path.read_text("utf-8")
    rows = next_flight(text)
    outlined = {key: value for key, value in rows.items() if isinstance(value, str)
                and len(value) >= 1024}
    assert outlined, "the 2026 page outlines long strings as Flight text rows"
    pushes = re.findall(r'self\.__next_f\.push\(\[1,("(?:[^"\\]|\\.)*")\]\)', text)
    stream = "".join(json.loads(p) for p in pushes)
    def row(key: str) -> str:  # a text row: no newline after it, byte length in hex
        return f"{key}:T{len(outlined[key].encode()):x},{outlined[key]}"

    first = min(outlined, key=lambda k: stream.index(row(k)))
    start = stream.index(row(first))
    # Some push ends inside that text row: the reader must join chunks before reading rows.
    ends = set(itertools.accumulate(len(json.loads(p)) for p in pushes))
    assert any(start < end < start + len(outlined[first]) for end in ends)
    listing = parse(BY_NAME["show"])
    assert any(e.description and len(e.description) >= 1000 for e in listing.episodes)
    assert "broadcast" in text and '"podcast":{' not in text
    assert BY_NAME["show-flight-2025"].path.read_text("utf-8").count(":T") == 0


# ---------------------------------------------------------------------------------------------
# The chain: show page -> API pages


def test_paged_chain_reaches_the_full_list():
    start = next(c for c in CASES if c.demo_source)
    assert start.url == SHOW_URL and start.podcast == "AI Post Transformers"
    queue, seen, merged, pages = [ADAPTER.canonical_url(start.url)], set(), None, 0
    while queue:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        case = BY_URL.get(_key(url))
        assert case is not None, f"next URL not recorded: {url}"
        page = parse(case)
        pages += 1
        merged = merge_page(merged, page)
        queue.extend(page.next)
    assert pages == 6  # the show page and offsets 0, 100, 200, 300, 400
    ids = [e.id for e in merged.episodes]
    assert len(ids) == len(set(ids)) == 458 == merged.show.claimed_count
    assert set(ids) == set(GROUND_TRUTH)
    cutoff = CATALOGUE["cutoff"]["radionet"]
    keys = {e["key"] for e in CATALOGUE["episodes"] if e["published"] <= cutoff}
    assert set(GROUND_TRUTH.values()) == keys
    by_key = {e["key"]: e for e in CATALOGUE["episodes"]}
    for episode in merged.episodes:
        truth = by_key[GROUND_TRUTH[episode.id]]
        assert episode.published.isoformat() == truth["published"], episode.title
        assert episode.duration_seconds == truth["duration_seconds"], episode.title
        assert episode.audio_url == truth["audio_url"]
    # The page rows were merged with their API rows (no duplicates, API fields filled in).
    flash = next(e for e in merged.episodes if e.title.startswith("FlashAttention-4"))
    assert flash.duration_seconds and flash.published == date(2026, 3, 6)


def test_api_pages_follow_offsets_until_total():
    offsets = []
    for case in CASES:
        if case.name.startswith("api-offset-"):
            listing = parse(case)
            offset = int(dict(parse_qsl(urlsplit(case.url).query))["offset"])
            offsets.append(offset)
            assert listing.show is None and listing.page_kind == "api"
            assert len(listing.episodes) == min(100, 458 - offset)
            expected_next = (
                [f"{API}?podcastIds=ai-post-transformers&count=100&offset={offset + 100}"]
                if offset + 100 < 458 else [])
            assert listing.next == expected_next
            assert all(e.duration_seconds and e.published for e in listing.episodes)
            assert all(e.published_raw.isdigit() for e in listing.episodes)
    assert sorted(offsets) == [0, 100, 200, 300, 400]


def test_api_newest_first_with_exact_dates():
    listing = parse(BY_NAME["api-offset-0000"])
    days = [e.published for e in listing.episodes]
    assert days == sorted(days, reverse=True)
    assert days[0] == date(2026, 3, 6)
    last = parse(BY_NAME["api-offset-0400"]).episodes[-1]
    assert last.published == date(2025, 9, 1)


# ---------------------------------------------------------------------------------------------
# Failures


def test_blocked_page():
    with pytest.raises(BlockedError, match="CloudFront"):
        parse(BY_NAME["blocked"])


def test_layout_drift_is_a_warning_when_the_page_still_names_the_podcast():
    listing = parse(BY_NAME["show-layout-drift"])
    assert listing.episodes == [] and listing.show.claimed_count == 458
    assert listing.show.title == "AI Post Transformers"
    assert listing.next == [f"{API}?podcastIds=ai-post-transformers&count=100&offset=0"]
    assert listing.warnings and listing.warnings[0].startswith(
        "layout_drift: no episode rows found on the show page (tried: ")
    with pytest.raises(LayoutError, match="no podcast title"):
        parse(BY_NAME["layout-no-title"])


def test_api_id_form_and_an_empty_api_list_fails():
    ids = [e.id for e in parse(BY_NAME["api-offset-0000"]).episodes]
    assert all(re.fullmatch(r"ai-post-transformers_[a-z0-9-]+_[0-9a-f]{10}", i) for i in ids)
    with pytest.raises(LayoutError, match="lists no episodes"):
        parse(BY_NAME["api-offset-0000"], b'{"totalCount": 0, "episodes": []}')


def test_unexpected_api_shape():
    with pytest.raises(LayoutError, match="unexpected episodes API response"):
        parse(BY_NAME["api-unexpected-shape"])


@pytest.mark.parametrize("body", [
    b"<html>maintenance</html>",
    b'{"totalCount": 458, "episodes": []}',
    b'{"totalCount": 458, "episodes": [{"name": "no id"}]}',
    b'[{"id": "x", "title": "y"}]',
])
def test_broken_api_pages(body):
    with pytest.raises(LayoutError):
        parse(BY_NAME["api-offset-0100"], body)


def test_empty_api_page_past_the_end_is_fine():
    listing = parse(BY_NAME["api-offset-0400"], b'{"totalCount": 400, "episodes": []}')
    assert listing.episodes == [] and listing.next == []


def test_dom_rows_without_ids_are_left_to_the_api_with_a_warning():
    """Rows that cannot be merged by id are not guessed at: the API, asked in any case,
    gives every episode with its id; the page says what it could not read."""
    case = BY_NAME["show-dom-only"]
    text = re.sub(r' data-episode-id="[^"]+"', "", case.path.read_text("utf-8"))
    listing = parse(case, text.encode())
    assert listing.episodes == []
    assert listing.next and "by-podcast-ids" in listing.next[0]
    assert any(w.startswith("layout_drift: 5 episode row(s) without data-episode-id")
               for w in listing.warnings), listing.warnings


# ---------------------------------------------------------------------------------------------
# A garbled date is kept raw and flagged, not dropped


def test_garbled_printed_date_is_kept_and_flagged():
    case = BY_NAME["show-dom-only"]
    text = case.path.read_text("utf-8")
    marker = 'data-testid="episode-date">04/03/2026<'
    assert text.count(marker) == 2
    listing = parse(case, text.replace(marker, 'data-testid="episode-date">04/3x/2O26<', 1)
                    .encode())
    assert len(listing.episodes) == 5
    ptp = listing.episodes[2]
    assert ptp.title.startswith("Parallel Token Prediction")
    assert ptp.published_raw == "04/3x/2O26"
    assert ptp.published is None and ptp.published_flag == "unparsed"
    assert listing.episodes[3].published == date(2026, 3, 4)


def test_garbled_api_date_is_kept_and_flagged():
    case = BY_NAME["api-offset-0000"]
    data = json.loads(case.path.read_text("utf-8"))
    data["episodes"][3]["publishDate"] = "sometime"
    listing = parse(case, json.dumps(data).encode())
    assert len(listing.episodes) == 100
    episode = listing.episodes[3]
    assert episode.published_raw == "sometime"
    assert episode.published is None and episode.published_flag == "unparsed"
