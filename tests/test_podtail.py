"""Podtail: URL forms, per-locale dates, the ?page=N chain, catalogue values, failures."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime

import pytest
from rendered import browser_capture

import adapters
from adapters.podtail import PodtailAdapter
from scraper.errors import BlockedError, FetchError, LayoutError
from scraper.fixtures import FIXTURES_DIR, load_cases
from scraper.normalize import parse_date, parse_duration
from scraper.parsing import parse_capture

ADAPTER = PodtailAdapter()
CASES = [c for c in load_cases() if c.platform == "podtail"]
# The first page generation by URL (the second generation's pages share those URLs).
BY_URL = {c.url: c for c in CASES if "-v2-" not in c.name}
BY_NAME = {c.name: c for c in CASES}
CATALOGUE = json.loads((FIXTURES_DIR / "catalogue" / "catalogue.json").read_text("utf-8"))
GROUND_TRUTH = json.loads((FIXTURES_DIR / "podtail" / "ground_truth.json").read_text("utf-8"))
CAPTURED = datetime.fromisoformat(CATALOGUE["captures"]["podtail"])
ROOT = "https://podtail.com/no/podcast/ai-post-transformers/"


def parse(case_name: str, body: bytes | None = None):
    capture = BY_NAME[case_name].capture()
    if body is not None:
        capture.body = body
    return parse_capture(ADAPTER, capture)


# ---------------------------------------------------------------------------------------------
# URLs


@pytest.mark.parametrize("url", [
    "https://podtail.com/podcast/ai-post-transformers/",
    "https://podtail.com/podcast/ai-post-transformers",
    "https://podtail.com/no/podcast/ai-post-transformers/",
    "https://podtail.com/de/podcast/ai-post-transformers/",
    "https://podtail.com/en/podcast/ai-post-transformers/",
    "https://www.podtail.com/sv/podcast/ai-post-transformers/",
    "https://podtail.se/podcast/ai-post-transformers/",
    "https://podtail.com/no/podcast/ai-post-transformers/?page=2&append=false&sort=latest",
    "https://podtail.com/podcast/ai-post-transformers/preston-van-loon-co-founder-of-prysmatic-"
    "labs-the-/",
    "https://podtail.se/podcast/ai-post-transformers/flashoptim-optimizers-for-memory-efficient/",
])
def test_show_episode_and_page_urls_are_detected(url):
    assert ADAPTER.suitable(url)
    assert adapters.detect(url).name == "podtail"


@pytest.mark.parametrize("url", [
    "https://podtail.com/podcast/episode/json/?id=339153550",
    "https://podtail.com/de/search/?q=ai",
    "https://podtail.com/no/",
    "https://podtail.org/podcast/ai-post-transformers/",
    "https://podtail.com.example/podcast/x/",
    "https://podimo.com/no/shows/ai-post-transformers",
    "https://castbox.fm/channel/AI-Post-Transformers-id6771040",
    "https://www.radio.net/podcast/ai-post-transformers",
    "https://www.audible.in/podcast/AI-Post-Transformers/B0DP5Q3C2N",
])
def test_other_urls_are_rejected(url):
    assert not ADAPTER.suitable(url)


def test_canonical_url_keeps_paging_and_drops_tracking():
    url = ("https://www.podtail.com/no/podcast/ai-post-transformers?page=3&append=false"
           "&sort=latest&utm_source=x&fbclid=y#top")
    assert ADAPTER.canonical_url(url) == ROOT + "?page=3&append=false&sort=latest"


def test_start_urls_are_the_show_root():
    assert ADAPTER.start_urls(ROOT + "?page=7&append=false&sort=latest&utm_medium=a") == [ROOT]
    episode = ROOT + "flashoptim-optimizers-for-memory-efficient-training/"
    assert ADAPTER.start_urls(episode) == [ROOT]
    assert ADAPTER.start_urls("https://podtail.se/podcast/x") == ["https://podtail.se/podcast/x/"]


def test_page_urls_follow_podtails_parameter_order():
    assert PodtailAdapter.page_url(ROOT, 2) == ROOT + "?page=2&append=false&sort=latest"
    assert ADAPTER.canonical_url(PodtailAdapter.page_url(ROOT, 9)) == PodtailAdapter.page_url(
        ROOT, 9)


# ---------------------------------------------------------------------------------------------
# Dates and durations per locale


@pytest.mark.parametrize(("url", "languages", "order"), [
    ("https://podtail.com/no/podcast/x/", ("nb",), "DMY"),
    ("https://podtail.com/de/podcast/x/", ("de",), "DMY"),
    ("https://podtail.com/sv/podcast/x/", ("sv",), "DMY"),
    ("https://podtail.se/podcast/x/", ("sv",), "DMY"),
    ("https://podtail.com/podcast/x/", ("en",), "MDY"),
    ("https://podtail.com/en/podcast/x/", ("en",), "MDY"),
    ("https://podtail.com/no/podcast/x/some-episode/", ("nb",), "DMY"),
])
def test_date_style_per_locale(url, languages, order):
    style = ADAPTER.date_style(url)
    assert (style.languages, style.order) == (languages, order)


@pytest.mark.parametrize(("url", "printed", "expected"), [
    ("https://podtail.com/no/podcast/x/", "19. mai 2026", date(2026, 5, 19)),
    ("https://podtail.com/no/podcast/x/", "2. mars 2026", date(2026, 3, 2)),
    ("https://podtail.com/de/podcast/x/", "19. Mai 2026", date(2026, 5, 19)),
    ("https://podtail.com/de/podcast/x/", "3. März 2026", date(2026, 3, 3)),
    ("https://podtail.se/podcast/x/", "19 maj 2026", date(2026, 5, 19)),
    ("https://podtail.com/podcast/x/", "May 19, 2026", date(2026, 5, 19)),
    ("https://podtail.com/podcast/x/", "03/05/2026", date(2026, 3, 5)),
])
def test_locale_dates_read_by_normalize(url, printed, expected):
    parsed = parse_date(printed, ADAPTER.date_style(url), CAPTURED)
    assert (parsed.value, parsed.flag) == (expected, None)


@pytest.mark.parametrize(("printed", "seconds"), [
    ("58 min", 3480), ("1 t 2 min", 3720), ("58 Min.", 3480), ("1 Std. 2 Min.", 3720),
    ("1 h 2 min", 3720),
])
def test_durations_as_locales_print_them(printed, seconds):
    assert parse_duration(printed).seconds == seconds


# ---------------------------------------------------------------------------------------------
# The whole list: ?page=N until "No episodes found."


def follow(start_name: str) -> tuple[dict[str, dict], list[str]]:
    merged: dict[str, dict] = {}
    visited: list[str] = []
    queue = [BY_NAME[start_name].url]
    while queue:
        url = queue.pop(0)
        assert url not in visited, f"{url} fetched twice"
        assert url in BY_URL, f"next URL not recorded: {url}"
        visited.append(url)
        listing = parse_capture(ADAPTER, BY_URL[url].capture())
        for episode in listing.episodes:
            assert episode.id not in merged, f"{episode.id} on two pages"
            merged[episode.id] = episode.to_json()
        queue.extend(listing.next)
    return merged, visited


@pytest.mark.parametrize("first, second", [("show-no-p01", "show-no-v2-p01"),
                                           ("show-no-p33", "show-no-v2-p33")])
def test_second_page_generation_parses_the_same(first, second):
    html = BY_NAME[second].path.read_text("utf-8")
    assert 'id="episodes"' not in html and 'class="episode"' not in html
    assert BY_NAME[second].url == BY_NAME[first].url
    assert parse(second).to_json() == parse(first).to_json() == BY_NAME[second].expected_json()


def test_second_generation_rows_carry_spotify_links_not_taken_for_audio():
    listing = parse("show-no-v2-p01")
    assert "open.spotify.com/episode/" in BY_NAME["show-no-v2-p01"].path.read_text("utf-8")
    assert len(listing.episodes) == 20
    assert all(e.audio_url and "spotify" not in e.audio_url for e in listing.episodes)


def test_demo_source_chain_reaches_the_whole_list():
    demo = [c for c in CASES if c.demo_source]
    assert [c.url for c in demo] == [ROOT]
    assert demo[0].podcast == "AI Post Transformers"
    merged, visited = follow(demo[0].name)
    cutoff = CATALOGUE["cutoff"]["podtail"]
    full = [e for e in CATALOGUE["episodes"] if e["published"] <= cutoff]
    assert len(merged) == len(full) == 635
    assert set(merged) == set(GROUND_TRUTH)
    assert set(GROUND_TRUTH.values()) == {e["key"] for e in full}
    assert len(visited) == 33  # 31 full pages, one of 15, then "No episodes found."
    assert visited[1] == ROOT + "?page=2&append=false&sort=latest"
    last = BY_URL[visited[-1]]
    assert "<p>No episodes found.</p>" in last.path.read_text("utf-8")
    assert parse_capture(ADAPTER, last.capture()).episodes == []
    # Newest first, as Podtail sorts with sort=latest.
    days = [merged[i]["published"] for i in merged]
    assert days == sorted(days, reverse=True)
    assert parse(demo[0].name).show.claimed_count is None  # Podtail prints no count


def test_values_match_the_catalogue():
    merged, _ = follow("show-no-p01")
    entries = {e["key"]: e for e in CATALOGUE["episodes"]}
    for podtail_id, episode in merged.items():
        entry = entries[GROUND_TRUTH[podtail_id]]
        assert episode["title"] == entry["title"]
        assert episode["published"] == entry["published"]
        assert episode["audio_url"] == entry["audio_url"]
        assert entry["duration_seconds"] - 60 < episode["duration_seconds"] <= entry[
            "duration_seconds"]
        stem = episode["description"].removesuffix("…")
        assert " ".join(entry["description"].split()).startswith(stem)
        assert episode["description_truncated"] == episode["description"].endswith("…")
        slug = episode["url"].removeprefix(ROOT).strip("/")
        assert 0 < len(slug) <= 50


def test_real_episodes_by_hand():
    merged, _ = follow("show-no-p01")
    by_title = {e["title"]: e for e in merged.values()}
    flash = by_title["FlashOptim: Optimizers for Memory Efficient Training"]
    assert (flash["published_raw"], flash["published"]) == ("2. mars 2026", "2026-03-02")
    assert flash["audio_url"].startswith("https://podcast.do-not-panic.com/episodes/2026-03-02-")
    assert flash["audio_url"].endswith(".mp3")
    # the slug cut at 50 characters, as Podtail cuts them
    assert flash["url"] == ROOT + "flashoptim-optimizers-for-memory-efficient-trainin/"
    assert flash["description"].endswith("…") and flash["description_truncated"]
    rff = by_title["Regular Fourier Features for Nonstationary Gaussian Processes"]
    assert rff["published"] == "2026-03-01"
    assert "Episode: Regular Fourier Features for Nonstationary Gaussian Processes" not in (
        by_title)  # the legacy copy is on Podimo only
    first = parse("show-no-p01").episodes[0]
    assert (first.published_raw, first.published) == ("19. mai 2026", date(2026, 5, 19))


def test_german_page_reads_herunterladen_links_and_german_dates():
    listing = parse("show-de")
    page = BY_NAME["show-de"].path.read_text("utf-8")
    assert 'title="Herunterladen"' in page and 'title="Download"' not in page
    assert all(e.audio_url and e.audio_url.endswith(".mp3") for e in listing.episodes)
    assert listing.episodes[0].published_raw == "19. Mai 2026"
    assert "Std." in page and "Min." in page
    assert [e.id for e in listing.episodes] == [e.id for e in parse("show-no-p01").episodes]
    assert listing.next == [
        "https://podtail.com/de/podcast/ai-post-transformers/?page=2&append=false&sort=latest"]


def test_title_segments():
    page = BY_NAME["show-no-p01"].path.read_text("utf-8")
    assert "<title>AI Post Transformers | Podcast | Podtail</title>" in page
    # Without JSON-LD and h1 the title's first " | " segment names the show.
    body = page.replace('type="application/ld+json"', 'type="text/plain"').replace(
        'class="podcast-title"', 'class="x"')
    assert parse("show-no-p01", body.encode()).show.title == "AI Post Transformers"


# ---------------------------------------------------------------------------------------------
# Failures and degraded values


def test_cloudflare_403_is_blocked():
    with pytest.raises(BlockedError, match="Cloudflare challenge"):
        parse("blocked-se")


def test_challenge_recognised_by_markup_alone():
    capture = replace(BY_NAME["blocked-se"].capture(), status=200,
                      headers={"content-type": "text/html"})
    with pytest.raises(BlockedError, match="Just a moment"):
        parse_capture(ADAPTER, capture)


def test_plain_403_is_the_bot_wall_and_500_a_fetch_error():
    with pytest.raises(BlockedError, match="403"):
        parse_capture(ADAPTER, replace(BY_NAME["show-de"].capture(), status=403, body=b"no"))
    with pytest.raises(FetchError):
        parse_capture(ADAPTER, replace(BY_NAME["show-de"].capture(), status=502, body=b"no"))


def test_normal_pages_with_cloudflares_script_are_not_blocked():
    assert "/cdn-cgi/challenge-platform/scripts/jsd/main.js" in BY_NAME[
        "show-no-p01"].path.read_text("utf-8")
    assert len(parse("show-no-p01").episodes) == 20


def test_layout_drift_is_a_layout_error():
    with pytest.raises(LayoutError, match="no episode rows"):
        parse("drift-en")


def test_renamed_rows_are_a_layout_error_not_an_empty_page():
    body = BY_NAME["show-no-p05"].path.read_bytes().replace(b'class="episode"', b'class="ep"')
    with pytest.raises(LayoutError, match="no episode rows"):
        parse("show-no-p05", body)


def test_garbled_date_is_kept_raw_and_flagged():
    case = BY_NAME["show-no-p01"]
    listing = parse_capture(ADAPTER, case.capture())
    target = listing.episodes[7]
    body = case.path.read_text("utf-8")
    marker = f'<time class="episode-date">{target.published_raw}</time>'
    index = body.index(f'data-episode-id="{target.id}"')
    at = body.index(marker, index)
    garbled = body[:at] + '<time class="episode-date">19.05.20x6</time>' + body[
        at + len(marker):]
    listing = parse("show-no-p01", garbled.encode())
    assert len(listing.episodes) == 20
    episode = listing.episodes[7]
    assert episode.id == target.id
    assert (episode.published_raw, episode.published, episode.published_flag) == (
        "19.05.20x6", None, "unparsed")
    assert listing.episodes[6].published is not None


def test_row_without_data_id_reads_the_element_id():
    case = BY_NAME["show-no-p01"]
    first = parse("show-no-p01").episodes[0]
    body = case.path.read_text("utf-8").replace(f'data-episode-id="{first.id}"', "", 1)
    assert f'id="episode-{first.id}"' in body
    assert parse("show-no-p01", body.encode()).episodes[0].id == first.id


def test_row_without_any_episode_number_fails_instead_of_changing_ids():
    case = BY_NAME["show-no-p01"]
    first = parse("show-no-p01").episodes[0]
    body = case.path.read_text("utf-8").replace(f'data-episode-id="{first.id}"', "", 1)
    body = body.replace(f'id="episode-{first.id}"', "", 1)
    with pytest.raises(LayoutError, match="no Podtail episode number"):
        parse("show-no-p01", body.encode())


def test_fixture_metadata():
    for case in CASES:
        assert case.fetched_at == CAPTURED
        assert ADAPTER.suitable(case.url)
        for episode in (case.expected_json() or {}).get("episodes", []):
            assert episode["id"] in GROUND_TRUTH
    size = sum(p.stat().st_size for p in (FIXTURES_DIR / "podtail").iterdir())
    assert size < 3_000_000


# ---------------------------------------------------------------------------------------------
# Through a real browser (the BrowserFetcher hands the rendered DOM to the same adapter)


@pytest.mark.parametrize("name", ["show-no-p01", "show-no-p33", "show-de"])
def test_pages_rendered_by_chromium_parse_the_same(name):
    case = BY_NAME[name]
    capture = browser_capture(case, ADAPTER.browser_wait_for)
    assert capture.body != case.path.read_bytes()
    assert parse_capture(ADAPTER, capture).to_json() == case.expected_json()


def test_challenge_rendered_by_chromium_is_blocked():
    capture = browser_capture(BY_NAME["blocked-se"], None)
    with pytest.raises(BlockedError, match="Cloudflare challenge"):
        parse_capture(ADAPTER, capture)
