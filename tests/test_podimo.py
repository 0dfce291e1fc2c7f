"""Podimo: URL forms, per-region dates, the state/DOM/GraphQL chain, seed values, failures."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, date, datetime
from urllib.parse import urlsplit

import pytest
from rendered import browser_capture

import adapters
from adapters.base import nuxt_state
from adapters.podimo import PodimoAdapter, graphql_request, graphql_url
from scraper.errors import BlockedError, FetchError, LayoutError
from scraper.fixtures import FIXTURES_DIR, load_cases
from scraper.models import Request, request_key
from scraper.normalize import parse_date, parse_duration
from scraper.parsing import parse_capture

ADAPTER = PodimoAdapter()
CASES = [c for c in load_cases() if c.platform == "podimo"]
# Keyed on the request (url, method, body hash): every GraphQL page has the same URL.
BY_REQUEST = {(c.request or Request(c.url)).key: c for c in CASES
              if not c.name.startswith(("show-no-nuxt", "drift-nouuid"))}
BY_NAME = {c.name: c for c in CASES}
CATALOGUE = json.loads((FIXTURES_DIR / "catalogue" / "catalogue.json").read_text("utf-8"))
GROUND_TRUTH = json.loads((FIXTURES_DIR / "podimo" / "ground_truth.json").read_text("utf-8"))
CAPTURED = datetime.fromisoformat(CATALOGUE["captures"]["podimo"])
EPISODE_UUID = "790ab3e0-4c46-5553-84c5-8ea84a34eb49"
REGIONS = ("no", "dk", "de", "es", "nl", "fi", "uk", "mx", "latam", "en")


def parse(case_name: str, body: bytes | None = None, **changes):
    capture = BY_NAME[case_name].capture()
    if body is not None:
        capture.body = body
    if changes:
        capture = replace(capture, **changes)
    return parse_capture(ADAPTER, capture)


# ---------------------------------------------------------------------------------------------
# URLs


@pytest.mark.parametrize("region", REGIONS)
def test_show_and_episode_urls_of_every_region_are_detected(region):
    show = f"https://podimo.com/{region}/shows/ai-post-transformers"
    episode = f"{show}/episode/{EPISODE_UUID}"
    for url in (show, show + "/", episode, f"https://www.podimo.com/{region}/shows/x?utm_source=a"):
        assert ADAPTER.suitable(url), url
        assert adapters.detect(url).name == "podimo", url


def test_graphql_pages_are_detected():
    assert ADAPTER.suitable(graphql_url("15a05b3a-df6c-533b-a4fa-4bc20c767c79", 200))
    assert adapters.detect(graphql_url("15a05b3a-df6c-533b-a4fa-4bc20c767c79")).name == "podimo"


@pytest.mark.parametrize("url", [
    "https://podimo.com/se/shows/ai-post-transformers",  # no such region
    "https://podimo.com/no/",
    "https://podimo.com/no/audiobooks/some-book",
    "https://open.podimo.com/podcast/15a05b3a-df6c-533b-a4fa-4bc20c767c79",
    "https://podimo.com.evil.example/no/shows/x",
    "https://graphql.podimo.com.example/graphql",
    "https://podtail.com/no/podcast/ai-post-transformers/",
    "https://castbox.fm/channel/AI-Post-Transformers-id6771040",
    "https://www.audible.in/podcast/AI-Post-Transformers/B0DP5Q3C2N",
    "https://www.radio.net/podcast/ai-post-transformers",
    "https://podcast.do-not-panic.com/feed.xml",
])
def test_other_urls_are_rejected(url):
    assert not ADAPTER.suitable(url)


def test_canonical_url_drops_tracking_fragment_www_and_trailing_slash():
    url = ("https://www.podimo.com/no/shows/ai-post-transformers/?utm_source=newsletter"
           "&utm_medium=email&fbclid=abc#episodes")
    assert ADAPTER.canonical_url(url) == "https://podimo.com/no/shows/ai-post-transformers"
    assert ADAPTER.start_urls(url) == ["https://podimo.com/no/shows/ai-post-transformers"]
    episode = f"https://podimo.com/no/shows/ai-post-transformers/episode/{EPISODE_UUID}?si=x"
    assert ADAPTER.canonical_url(episode) == episode.split("?")[0]


def test_graphql_urls_survive_canonicalisation_unchanged():
    for case in CASES:
        if case.name.startswith("graphql"):
            assert ADAPTER.canonical_url(case.url) == case.url


def test_graphql_request_is_the_json_post_apollo_accepts():
    request = graphql_request("15a05b3a-df6c-533b-a4fa-4bc20c767c79", 300)
    parts = urlsplit(request.url)
    assert (parts.scheme, parts.netloc, parts.path, parts.query) == (
        "https", "graphql.podimo.com", "/graphql", "")
    assert request.method == "POST"
    assert dict(request.headers) == {"content-type": "application/json"}
    body = json.loads(request.body)
    assert set(body) == {"operationName", "query", "variables"}
    assert body["operationName"] == "PodcastEpisodesByPodcastId"
    assert "openPodcastEpisodesByPodcastId(podcastId: $podcastId, offset: $offset, " \
           "limit: $limit)" in body["query"]
    for field in ("id", "title", "description", "duration", "publishedOn"):
        assert re.search(rf"\b{field}\b", body["query"].split("{", 2)[2])
    assert body["variables"] == {
        "podcastId": "15a05b3a-df6c-533b-a4fa-4bc20c767c79", "offset": 300, "limit": 100}
    # The same request every time: recordings and dedupe match on the body's bytes.
    assert graphql_request("15a05b3a-df6c-533b-a4fa-4bc20c767c79", 300) == request


def test_an_older_get_recording_still_parses_and_pages_by_get():
    case = BY_NAME["graphql-000"]
    podcast_id = json.loads(case.request.body)["variables"]["podcastId"]
    url = graphql_url(podcast_id, 0)
    capture = replace(case.capture(), url=url, method="GET", request_body=None)
    listing = parse_capture(ADAPTER, capture)
    assert len(listing.episodes) == 100 and listing.next == [graphql_url(podcast_id, 100)]


# ---------------------------------------------------------------------------------------------
# Dates and durations per region


@pytest.mark.parametrize(("region", "languages"), [
    ("no", ("nb",)), ("dk", ("da",)), ("de", ("de",)), ("es", ("es",)), ("mx", ("es",)),
    ("latam", ("es",)), ("nl", ("nl",)), ("fi", ("fi",)), ("uk", ("en",)), ("en", ("en",)),
])
def test_date_style_per_region(region, languages):
    style = ADAPTER.date_style(f"https://podimo.com/{region}/shows/x")
    assert style.languages == languages
    assert style.order == "DMY"
    episode = ADAPTER.date_style(f"https://podimo.com/{region}/shows/x/episode/{EPISODE_UUID}")
    assert episode == style


@pytest.mark.parametrize(("region", "printed", "expected", "flag"), [
    ("no", "27. mai 2026", date(2026, 5, 27), None),
    ("no", "I går", date(2026, 5, 28), "relative"),
    ("no", "i går", date(2026, 5, 28), "relative"),
    ("no", "I dag", date(2026, 5, 29), "relative"),
    ("dk", "27. maj 2026", date(2026, 5, 27), None),
    ("dk", "I går", date(2026, 5, 28), "relative"),
    ("de", "27. Mai 2026", date(2026, 5, 27), None),
    ("de", "gestern", date(2026, 5, 28), "relative"),
    ("de", "Gestern", date(2026, 5, 28), "relative"),
    ("es", "27 de mayo de 2026", date(2026, 5, 27), None),
    ("es", "hace 2 días", date(2026, 5, 27), "relative"),
    ("mx", "ayer", date(2026, 5, 28), "relative"),
    ("latam", "23 de mayo de 2026", date(2026, 5, 23), None),
    ("nl", "27 mei 2026", date(2026, 5, 27), None),
    ("nl", "gisteren", date(2026, 5, 28), "relative"),
    ("fi", "27. toukokuuta 2026", date(2026, 5, 27), None),
    ("fi", "eilen", date(2026, 5, 28), "relative"),
    ("uk", "27 May 2026", date(2026, 5, 27), None),
    ("en", "3 June 2025", date(2025, 6, 3), None),
])
def test_region_dates_read_by_normalize(region, printed, expected, flag):
    style = ADAPTER.date_style(f"https://podimo.com/{region}/shows/x")
    parsed = parse_date(printed, style, CAPTURED)
    assert (parsed.value, parsed.flag) == (expected, flag)


def test_day_first_numeric_dates_are_not_read_month_first():
    style = ADAPTER.date_style("https://podimo.com/uk/shows/x")
    assert parse_date("03/05/2026", style, CAPTURED).value == date(2026, 5, 3)


@pytest.mark.parametrize(("printed", "seconds"), [
    ("1 h 0 min", 3600), ("57 min", 3420), ("1 Std. 0 Min.", 3600), ("58 Min.", 3480),
    ("1 h 2 min", 3720),
])
def test_durations_as_regions_print_them(printed, seconds):
    assert parse_duration(printed).seconds == seconds


# ---------------------------------------------------------------------------------------------
# The whole list: page -> GraphQL pages


def follow(start_name: str) -> tuple[dict[str, dict], list[tuple]]:
    """Parse the start page and every request its `next` leads to, by their exact requests in
    the manifest (as the sync does through the replay server). Returns merged episodes and the
    request keys visited."""
    merged: dict[str, dict] = {}
    visited: list[tuple] = []
    start = BY_NAME[start_name]
    queue: list = [start.request or Request(start.url)]
    first = True
    while queue:
        key = request_key(queue.pop(0))
        assert key not in visited, f"{key} fetched twice"
        case = start if first else BY_REQUEST.get(key)
        first = False
        assert case is not None, f"next request not recorded: {key}"
        visited.append(key)
        listing = parse_capture(ADAPTER, case.capture())
        for episode in listing.episodes:
            merged.setdefault(episode.id, episode.to_json())
        queue.extend(listing.next)
    return merged, visited


def test_demo_source_chain_reaches_every_claimed_episode():
    demo = [c for c in CASES if c.demo_source]
    assert [c.name for c in demo] == ["show-no"]
    assert demo[0].podcast == "AI Post Transformers"
    merged, visited = follow("show-no")
    claimed = parse("show-no").show.claimed_count
    assert claimed == 662 == CATALOGUE["claimed"]["podimo"]
    assert len(merged) == claimed
    assert set(merged) == set(GROUND_TRUTH)
    assert len(visited) == 1 + 7  # the page, then offsets 0..600 (the last one short)
    last = parse_capture(ADAPTER, BY_REQUEST[visited[-1]].capture())
    assert len(last.episodes) == 62 and last.next == []


def test_full_list_is_the_catalogue_up_to_the_cutoff_plus_legacy_copies():
    merged, _ = follow("show-no")
    cutoff = CATALOGUE["cutoff"]["podimo"]
    entries = {e["key"]: e for e in CATALOGUE["episodes"]}
    expected_keys = {k for k, e in entries.items() if e["published"] <= cutoff}
    assert set(GROUND_TRUTH.values()) == expected_keys
    per_key: dict[str, list[str]] = {}
    for episode_id, key in GROUND_TRUTH.items():
        per_key.setdefault(key, []).append(merged[episode_id]["title"])
    doubled = {k for k, titles in per_key.items() if len(titles) == 2}
    assert doubled == {k for k, e in entries.items() if "podimo" in e.get("republished_on", ())}
    for key in doubled:
        assert sorted(per_key[key]) == sorted(
            [entries[key]["title"], f"Episode: {entries[key]['title']}"])


def test_episode_page_leads_into_the_same_list():
    merged, visited = follow("episode-no")
    assert len(merged) == 662
    assert visited[1:] == follow("show-no")[1][1:]


def test_graphql_rows_carry_exact_values():
    listing = parse("graphql-000")
    assert listing.show is None and listing.page_kind == "api"
    assert len(listing.episodes) == 100
    start = parse("show-no").next[0]
    podcast_id = json.loads(start.body)["variables"]["podcastId"]
    assert podcast_id in BY_NAME["show-no"].path.read_text("utf-8")  # state and canonical
    assert listing.next == [graphql_request(podcast_id, 100)]
    newest = listing.episodes[0]
    assert newest.title == "Generative Recursive Reasoning in Latent Space"
    assert newest.published == date(2026, 5, 28) and newest.published_flag is None
    assert newest.published_raw == "2026-05-28T00:00:00.000Z"
    entries = {e["key"]: e for e in CATALOGUE["episodes"]}
    for episode in listing.episodes:  # exact seconds, not a 60 s bucket
        assert episode.duration_seconds == entries[GROUND_TRUTH[episode.id]]["duration_seconds"]
    assert newest.url is None and newest.audio_url is None


def test_graphql_answer_rendered_by_a_browser_parses_the_same():
    case = BY_NAME["graphql-100"]
    raw = case.path.read_text("utf-8")
    wrapped = ('<html><head><meta name="color-scheme" content="light dark"></head><body><pre '
               'style="word-wrap: break-word; white-space: pre-wrap;">'
               + raw.replace("&", "&amp;").replace("<", "&lt;") + "</pre></body></html>")
    capture = replace(case.capture(), body=wrapped.encode(), via="browser",
                      headers={"content-type": "text/html; charset=utf-8"})
    assert parse_capture(ADAPTER, capture).to_json() == case.expected_json()


# ---------------------------------------------------------------------------------------------
# Seed 003 by hand


SEED_ROWS = [
    ("Beluga: CXL Memory Pooling for LLM KV Cache", "27. mai 2026", date(2026, 5, 27), None),
    ("DFX: Multi-FPGA Acceleration for Transformer Inference", "27. mai 2026",
     date(2026, 5, 27), None),
    ("Trajectory Summaries for Long-Horizon Coding Agents", "27. mai 2026", date(2026, 5, 27),
     None),
    ("Generative Recursive Reasoning in Latent Space", "I går", date(2026, 5, 28), "relative"),
    ("LPU Chip for Low-Latency LLM Inference", "23. mai 2026", date(2026, 5, 23), None),
]


@pytest.mark.parametrize("name", ["show-no", "episode-no"])
def test_rows_as_seed_003_prints_them(name):
    listing = parse(name)
    rows = listing.episodes[1:] if name == "episode-no" else listing.episodes
    got = [(e.title, e.published_raw, e.published, e.published_flag) for e in rows]
    assert got == SEED_ROWS  # seed order: not sorted by date
    assert all(e.duration_seconds == 3600 for e in rows)  # "1 h 0 min"
    beluga = rows[0]
    assert beluga.description.startswith(
        "This episode explores Beluga, a systems paper that tackles one of the biggest "
        "practical bottlenecks in long-context LLM inference")
    assert beluga.description.endswith(
        "Interactive Visualization: Beluga: CXL Memory Pooling for LLM KV Cache "
        "[https://podcast.do-not-panic.com/viz/2026-05-27-beluga-cxl-memory-pooling-for-llm-kv"
        "-cac-b6142f.html]")
    assert len(beluga.description) > 6000  # full text: the clamp is CSS only
    assert not beluga.description_truncated
    assert listing.show.title == "AI Post Transformers"
    assert listing.show.claimed_count == 662


def test_episode_page_header_as_seed_003_prints_it():
    listing = parse("episode-no")
    assert listing.page_kind == "episode"
    header = listing.episodes[0]
    assert header.id == BY_NAME["episode-no"].url.rsplit("/", 1)[1]
    assert header.title == "After Titans: Behrouz on Nested Learning and Hope"
    assert (header.published_raw, header.published) == ("22. mai 2026", date(2026, 5, 22))
    assert header.duration_seconds == 3600
    assert header.description.startswith(
        "Episode title: After Titans: Behrouz on Nested Learning and Hope The followup to our "
        "Titans episode, by the same core team a year later.")
    assert header.url == BY_NAME["episode-no"].url
    page = BY_NAME["episode-no"].path.read_text("utf-8")
    for words in ("Beskrivelse", "Kommentarer", "Vær den første til å kommentere",
                  "Registrer deg nå og bli medlem av AI Post Transformers sitt community!",
                  "2 Måneder for 19\u00a0kr", "Deretter 99\u00a0kr / Måned · Avslutt når som "
                  "helst.", "Eksklusive podkaster", "Alle episoder", "662 Episoder",
                  "episode Beluga: CXL Memory Pooling for LLM KV Cache cover"):
        assert words in page, words


def test_date_and_duration_sit_in_adjacent_elements():
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(BY_NAME["show-no"].path.read_text("utf-8"))
    row = tree.css_first('[data-cy="EpisodeListItem"]')
    meta = row.css_first('[data-cy="Datetime"]').parent
    assert meta.text() == "27. mai 20261 h 0 min"  # what seed 003's text rendering shows
    assert parse("show-no").episodes[0].published_raw == "27. mai 2026"


def test_other_regions_print_their_own_words():
    de, es = parse("show-de"), parse("show-es")
    assert [e.published_raw for e in de.episodes] == [
        "27. Mai 2026", "27. Mai 2026", "27. Mai 2026", "Gestern", "23. Mai 2026"]
    assert [e.published_raw for e in es.episodes] == [
        "hace 2 días", "hace 2 días", "hace 2 días", "ayer", "23 de mayo de 2026"]
    assert [e.published for e in de.episodes] == [e.published for e in es.episodes] == [
        row[2] for row in SEED_ROWS]
    assert es.episodes[0].published_flag == "relative"
    assert all(e.duration_seconds == 3600 for e in de.episodes + es.episodes)
    assert "1 Std. 0 Min." in BY_NAME["show-de"].path.read_text("utf-8")
    assert "662 Episoden" in BY_NAME["show-de"].path.read_text("utf-8")
    assert "662 episodios" in BY_NAME["show-es"].path.read_text("utf-8")
    assert de.episodes[0].url.startswith("https://podimo.com/de/shows/ai-post-transformers/")


# ---------------------------------------------------------------------------------------------
# State first, DOM second


def _without_state(body: bytes) -> bytes:
    stripped = re.sub(rb'<script id="__NEXT_DATA__".*?</script>', b"", body, flags=re.S)
    assert stripped != body
    return stripped


@pytest.mark.parametrize("name", ["show-no", "show-de", "show-es"])
def test_dom_alone_gives_the_same_parse(name):
    case = BY_NAME[name]
    got = parse(name, _without_state(case.path.read_bytes())).to_json()
    assert got == case.expected_json()


def test_state_is_read_before_the_dom():
    case = BY_NAME["show-no"]
    body = case.path.read_bytes().replace(b'data-cy="EpisodeListItem"', b'data-cy="Renamed"')
    body = body.replace(b"EpisodeListItem_root__", b"Renamed_root__")
    assert parse("show-no", body).to_json() == case.expected_json()


def test_podcast_uuid_from_the_canonical_link_without_state():
    case = BY_NAME["show-no"]
    body = _without_state(case.path.read_bytes())
    assert b'<link rel="canonical" href="https://podimo.com/no/shows/' in body
    assert parse("show-no", body).to_json()["next"] == case.expected_json()["next"]
    no_link = re.sub(rb'<link rel="canonical"[^>]*>', b"", body)
    listing = parse("show-no", no_link)
    assert listing.next == [] and "UUID" in listing.incomplete_reason
    assert len(listing.episodes) == 5


# ---------------------------------------------------------------------------------------------
# Failures and degraded values


def test_cloudflare_challenge_is_blocked():
    with pytest.raises(BlockedError, match="Cloudflare challenge"):
        parse("blocked-dk")


def test_challenge_recognised_by_markup_alone():
    # A browser hands over the rendered challenge with no telling headers.
    case = BY_NAME["blocked-dk"]
    capture = replace(case.capture(), status=200, headers={"content-type": "text/html"})
    with pytest.raises(BlockedError, match="Just a moment"):
        parse_capture(ADAPTER, capture)


def test_challenge_header_alone_is_blocked():
    capture = replace(BY_NAME["show-no"].capture(), body=b"<html></html>",
                      headers={"content-type": "text/html", "CF-Mitigated": "challenge"})
    with pytest.raises(BlockedError, match="cf-mitigated"):
        parse_capture(ADAPTER, capture)


def test_plain_403_is_the_bot_wall_and_500_a_fetch_error():
    capture = replace(BY_NAME["show-no"].capture(), status=403, body=b"Forbidden")
    with pytest.raises(BlockedError, match="403"):
        parse_capture(ADAPTER, capture)
    capture = replace(BY_NAME["show-no"].capture(), status=500, body=b"oops")
    with pytest.raises(FetchError):
        parse_capture(ADAPTER, capture)


def test_cloudflare_script_on_a_normal_page_is_not_a_challenge():
    body = BY_NAME["show-no"].path.read_text("utf-8")
    assert "/cdn-cgi/challenge-platform/scripts/jsd/main.js" in body
    assert len(parse("show-no").episodes) == 5


def test_unreadable_rows_with_the_canonical_uuid_is_ok_with_a_layout_drift_warning():
    listing = parse("drift-nl")
    assert listing.episodes == [] and listing.incomplete_reason is None
    assert listing.next == parse("show-no").next  # the whole list still comes from the API
    assert [w.split(":")[0] for w in listing.warnings] == ["layout_drift"]
    assert "no episode rows" in listing.warnings[0]
    assert listing.show.title == "AI Post Transformers" and listing.show.claimed_count == 662


def test_no_rows_no_state_no_uuid_is_a_layout_error():
    with pytest.raises(LayoutError, match="no podcast UUID"):
        parse("drift-nouuid-nl")


# ---------------------------------------------------------------------------------------------
# Nuxt generations (research §9)


@pytest.mark.parametrize("generation", [2, 3])
def test_nuxt_pages_give_the_rows_and_lead_to_the_whole_list(generation):
    name = f"show-no-nuxt{generation}"
    html = BY_NAME[name].path.read_text("utf-8")
    assert "__NEXT_DATA__" not in html and 'data-cy="EpisodeListItem"' not in html
    marker = "window.__NUXT__=(function(" if generation == 2 else 'id="__NUXT_DATA__"'
    assert marker in html
    listing = parse(name)
    assert listing.warnings == []
    assert [e.title for e in listing.episodes] == [e.title for e in parse("show-no").episodes]
    # The page rows hold the whole description; the state's exact dates are read.
    for mine, theirs in zip(listing.episodes, parse("show-no").episodes, strict=True):
        assert (mine.id, mine.description, mine.published) == (
            theirs.id, theirs.description, theirs.published)
    merged, visited = follow(name)
    assert len(merged) == 662 and set(merged) == set(GROUND_TRUTH)
    assert len(visited) == 1 + 7


def test_nuxt2_state_binds_the_hoisted_arguments():
    html = BY_NAME["show-no-nuxt2"].path.read_text("utf-8")
    state = nuxt_state(html)
    page = state["data"][0]
    assert page["podcast"]["id"] == "15a05b3a-df6c-533b-a4fa-4bc20c767c79"
    assert state["serverRendered"] is True and state["fetch"] == {}
    episodes = page["episodes"]
    # `tags` is one list shared by every row: devalue hoists it and fills it by statements.
    assert all(e["tags"] == ["ai", "research"] for e in episodes)
    assert "tags:" in html and re.search(r"[a-zA-Z_$]+\[0\]=\"ai\"", html)
    assert page["podcast"]["trailer"] is None  # `void 0`


def test_nuxt3_state_resolves_index_references_and_wrappers():
    html = BY_NAME["show-no-nuxt3"].path.read_text("utf-8")
    raw = json.loads(re.search(r'id="__NUXT_DATA__">(.*?)</script>', html).group(1))
    assert any(isinstance(v, list) and v[:1] == ["ShallowReactive"] for v in raw)
    state = nuxt_state(html)
    page = next(iter(state["data"].values()))
    assert page["podcast"]["title"] == "AI Post Transformers"
    assert page["podcast"]["trailer"] is None  # index -1
    assert len(page["episodes"]) == 5 and state["state"] == {"i18n": {"locale": "no"}}


def test_graphql_errors_are_a_layout_error():
    body = json.dumps({"errors": [{"message": "Cannot query field \"openPodcastEpisodesByPodc"
                                              "astId\" on type \"Query\"."}], "data": None})
    with pytest.raises(LayoutError, match="Cannot query field"):
        parse("graphql-000", body.encode())
    with pytest.raises(LayoutError, match="not JSON"):
        parse("graphql-000", b"<html><body>upstream error</body></html>")


def test_garbled_date_is_kept_raw_and_flagged():
    case = BY_NAME["show-no"]
    body = case.path.read_bytes()
    assert body.count(b"23. mai 2026") == 2  # state and DOM
    garbled = body.replace(b"23. mai 2026", b"Invalid Date")
    for page in (garbled, _without_state(garbled)):
        listing = parse("show-no", page)
        assert len(listing.episodes) == 5
        lpu = listing.episodes[4]
        assert lpu.title == "LPU Chip for Low-Latency LLM Inference"
        assert (lpu.published_raw, lpu.published, lpu.published_flag) == (
            "Invalid Date", None, "unparsed")
        assert listing.episodes[0].published == date(2026, 5, 27)


def test_fixture_metadata():
    assert {c.name for c in CASES} >= {"show-no", "episode-no", "show-de", "show-es",
                                       "show-no-nuxt2", "show-no-nuxt3", "blocked-dk",
                                       "drift-nl", "drift-nouuid-nl"}
    for case in CASES:
        if case.name.startswith("graphql"):
            assert case.request is not None and case.request.method == "POST"
    for case in CASES:
        assert case.fetched_at == CAPTURED
        assert ADAPTER.suitable(case.url)
    size = sum(p.stat().st_size for p in (FIXTURES_DIR / "podimo").iterdir())
    assert size < 3_000_000
    for case in CASES:
        expected = case.expected_json()
        for episode in (expected or {}).get("episodes", []):
            assert episode["id"] in GROUND_TRUTH


def test_capture_time_is_what_relative_dates_resolve_against():
    case = BY_NAME["show-no"]
    later = replace(case.capture(), fetched_at=datetime(2026, 6, 2, 9, 0, tzinfo=UTC))
    generative = parse_capture(ADAPTER, later).episodes[3]
    assert (generative.published_raw, generative.published) == ("I går", date(2026, 6, 1))


# ---------------------------------------------------------------------------------------------
# Through a real browser (the BrowserFetcher hands the rendered DOM to the same adapter)


@pytest.mark.parametrize("name", ["show-no", "graphql-600"])
def test_pages_rendered_by_chromium_parse_the_same(name):
    case = BY_NAME[name]
    capture = browser_capture(case, ADAPTER.browser_wait_for)
    if case.content_type.startswith("application/json"):
        assert capture.body == case.path.read_bytes()  # the document, not the JSON viewer
    else:
        assert capture.body != case.path.read_bytes()  # the DOM, re-serialised
    assert parse_capture(ADAPTER, capture).to_json() == case.expected_json()


def test_a_show_without_episodes_is_empty_not_a_layout_error():
    podcast_id = "0b8f6a52-3c1e-4d7a-9f20-6e5d4c3b2a19"
    state = {"props": {"pageProps": {"podcast": {"id": podcast_id, "slug": "new-show",
                                                 "title": "New Show", "episodeCount": 0},
                                     "episodes": []}}}
    body = ('<!DOCTYPE html><html><head><script id="__NEXT_DATA__" type="application/json">'
            f"{json.dumps(state)}</script></head><body><main></main></body></html>")
    capture = replace(BY_NAME["show-no"].capture(), url="https://podimo.com/no/shows/new-show",
                      final_url=None, body=body.encode())
    listing = parse_capture(ADAPTER, capture)
    assert listing.episodes == [] and listing.show.claimed_count == 0
    assert listing.next == [graphql_request(podcast_id)]
    assert listing.warnings == []
    # The same page claiming episodes but showing none: the API still has the list (the
    # sync's plausibility check holds it to the claim), the page gets a layout_drift warning.
    body = body.replace('"episodeCount": 0', '"episodeCount": 12')
    drifted = parse_capture(ADAPTER, replace(capture, body=body.encode()))
    assert drifted.show.claimed_count == 12 and drifted.next == listing.next
    assert drifted.warnings and drifted.warnings[0].startswith("layout_drift:")


def test_graphql_rows_in_the_podcast_episodes_shape_read_the_same():
    """Rows shaped as the site's own `podcastEpisodes` query (research §9) parse too."""
    source = json.loads(BY_NAME["graphql-000"].path.read_text("utf-8"))["data"]["episodes"][:3]
    rows = [{"id": r["id"], "title": r["title"], "description": r["description"],
             "datetime": r["publishedOn"], "publishDatetime": r["publishedOn"],
             "podcastId": "15a05b3a-df6c-533b-a4fa-4bc20c767c79",
             "podcastName": "AI Post Transformers", "status": "PUBLISHED", "tags": [],
             "imageUrl": r["coverImage"], "deepLink": None} for r in source]
    body = json.dumps({"data": {"podcastEpisodes": rows}}).encode()
    listing = parse("graphql-000", body)
    expected = parse("graphql-000").episodes[:3]
    assert [(e.id, e.title, e.published, e.description) for e in listing.episodes] == [
        (e.id, e.title, e.published, e.description) for e in expected]
    assert listing.next == []  # a short page ends the paging
