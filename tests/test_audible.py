"""The Audible adapter: URL forms on every storefront, canonical URLs, per-storefront dates and
durations, the paged episode list followed to the end, seed values checked by hand, and the
pages that are not the page asked for (captcha, region 404, consent wall, layout drift)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date

import pytest

import adapters
from scraper.errors import BlockedError, FetchError, LayoutError
from scraper.fixtures import FIXTURES_DIR, load_cases
from scraper.normalize import parse_date, parse_duration
from scraper.parsing import parse_capture

ADAPTER = adapters.get("audible")
CASES = {case.name: case for case in load_cases() if case.platform == "audible"}
BY_URL = {case.url: case for case in CASES.values()}
TRUTH = json.loads((FIXTURES_DIR / "audible" / "ground_truth.json").read_text("utf-8"))
CATALOGUE = json.loads((FIXTURES_DIR / "catalogue" / "catalogue.json").read_text("utf-8"))

STOREFRONTS = ("com", "in", "co.uk", "de", "fr", "it", "ca", "com.au", "co.jp")
SHOW_PATH = "/podcast/AI-Post-Transformers/B0DASOKD90"
EPISODE_PATH = "/podcast/Parallel-Token-Prediction-From-ProphetNet/B0G27BLQZV"
LIST_PATH = "/podcast/AI-Post-Transformers/episodes/B0DASOKD90"


def parse(name: str):
    return parse_capture(ADAPTER, CASES[name].capture())


def parse_body(name: str, body: str):
    return parse_capture(ADAPTER, replace(CASES[name].capture(), body=body.encode("utf-8")))


def body(name: str) -> str:
    return CASES[name].path.read_text("utf-8")


# --- URLs ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("tld", STOREFRONTS)
@pytest.mark.parametrize("host", ["www", "origin-www"])
@pytest.mark.parametrize(
    "path",
    [SHOW_PATH, EPISODE_PATH, LIST_PATH, LIST_PATH + "?page=3",
     SHOW_PATH + "?qid=1741170000&sr=1-1&source_code=ASSORAP0511160006&share_location=pdp",
     SHOW_PATH + "/", EPISODE_PATH + "?eac_link=abc&ref=a_search_c3_lProduct_1_1#reviews"],
)
def test_detects_every_storefront_and_url_form(tld, host, path):
    url = f"https://{host}.audible.{tld}{path}"
    assert ADAPTER.suitable(url)
    found = adapters.detect(url)
    assert found is not None and found.name == "audible"


@pytest.mark.parametrize(
    "url",
    [
        "https://castbox.fm/channel/AI-Post-Transformers-id6789012",
        "https://www.radio.net/podcast/ai-post-transformers",
        "https://podimo.com/no/shows/ai-post-transformers",
        "https://podtail.com/podcast/ai-post-transformers/",
        "https://podcast.do-not-panic.com/feed.xml",
        "https://www.audible.com/pd/Project-Hail-Mary-Audiobook/B08G9PRS1K",  # an audiobook
        "https://www.audible.com/podcasts",
        "https://www.audible.com/podcast/AI-Post-Transformers",  # no ASIN
        "https://www.audible.com/podcast/AI-Post-Transformers/B0DASOKD9",  # 9 characters
        "https://www.audible.com.evil.example/podcast/AI-Post-Transformers/B0DASOKD90",
        "https://notaudible.com/podcast/AI-Post-Transformers/B0DASOKD90",
        "https://www.amazon.com/podcast/AI-Post-Transformers/B0DASOKD90",
        "https://music.amazon.com/podcasts/0c7bd6d5-4d4d-4a1f-8f5c-9e1f5e2d3a11",
    ],
)
def test_rejects_other_urls(url):
    assert not ADAPTER.suitable(url)


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        (f"https://www.audible.in{SHOW_PATH}?qid=1741170000&sr=1-1",
         f"https://www.audible.in{SHOW_PATH}"),
        (f"https://www.audible.in{SHOW_PATH}?source_code=ASSORAP0511160006&share_location=pdp",
         f"https://www.audible.in{SHOW_PATH}"),
        (f"https://www.audible.de{EPISODE_PATH}?eac_link=x&eac_selected_type=asin&eac_id=1"
         "&ref=a_pd_c1&ref_=x&plc=y&pf_rd_p=z&pf_rd_r=w&plink=v&pageLoadId=u&creativeId=t",
         f"https://www.audible.de{EPISODE_PATH}"),
        (f"http://WWW.Audible.CO.UK{SHOW_PATH}/#reviews", f"https://www.audible.co.uk{SHOW_PATH}"),
        (f"https://www.audible.in{LIST_PATH}?ref=a_pd_AI-Pos_c4_pg_3&page=3",
         f"https://www.audible.in{LIST_PATH}?page=3"),
        (f"https://www.audible.in{LIST_PATH}?page=1", f"https://www.audible.in{LIST_PATH}"),
        ("https://www.audible.in/podcast/AI-Post-Transformers/b0dasokd90",
         f"https://www.audible.in{SHOW_PATH}"),
        (f"https://origin-www.audible.in{SHOW_PATH}?page=2",
         f"https://origin-www.audible.in{SHOW_PATH}"),
    ],
)
def test_canonical_url_strips_tracking(url, canonical):
    assert ADAPTER.canonical_url(url) == canonical


def test_start_urls_begin_at_the_show_page():
    assert ADAPTER.start_urls(f"https://www.audible.in{LIST_PATH}?page=5&ref=x") == [
        f"https://www.audible.in{SHOW_PATH}"
    ]
    assert ADAPTER.start_urls(f"https://www.audible.in{SHOW_PATH}?qid=1&sr=1-1") == [
        f"https://www.audible.in{SHOW_PATH}"
    ]


# --- dates and durations per storefront ----------------------------------------------------------
@pytest.mark.parametrize(
    ("tld", "raw", "expected"),
    [
        ("in", "Mar 4 2026", date(2026, 3, 4)),
        ("com", "Mar 4 2026", date(2026, 3, 4)),
        ("co.uk", "Feb 28 2026", date(2026, 2, 28)),
        ("com.au", "Dec 31 2025", date(2025, 12, 31)),
        ("ca", "Sep 1 2025", date(2025, 9, 1)),
        ("de", "4. März 2026", date(2026, 3, 4)),
        ("de", "1. Mai 2026", date(2026, 5, 1)),
        ("de", "04.03.2026", date(2026, 3, 4)),  # numeric: day first on audible.de
        ("fr", "4 mars 2026", date(2026, 3, 4)),
        ("fr", "1er mars 2026", date(2026, 3, 1)),
        ("it", "4 marzo 2026", date(2026, 3, 4)),
        ("co.jp", "2026/03/04", date(2026, 3, 4)),
    ],
)
def test_dates_in_each_storefronts_language(tld, raw, expected):
    style = ADAPTER.date_style(f"https://www.audible.{tld}{SHOW_PATH}")
    parsed = parse_date(raw, style)
    assert (parsed.value, parsed.flag) == (expected, None)


def test_date_order_is_decided_per_storefront():
    assert ADAPTER.date_style(f"https://www.audible.com{SHOW_PATH}").order == "MDY"
    assert ADAPTER.date_style(f"https://www.audible.de{SHOW_PATH}").order == "DMY"
    assert ADAPTER.date_style(f"https://www.audible.co.jp{SHOW_PATH}").order == "YMD"
    assert ADAPTER.date_style(f"https://origin-www.audible.de{SHOW_PATH}").languages == ("de",)


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ("Less than 1 minute", 30), ("28 mins", 1680), ("1 min", 60), ("1 hr", 3600),
        ("1 hr and 2 mins", 3720), ("2 hrs and 5 mins", 7500),
        ("Weniger als 1 Minute", 30), ("58 Min.", 3480), ("1 Std. 2 Min.", 3720),
        ("1 Std. und 2 Min.", 3720), ("1 h et 2 min", 3720), ("Moins d'1 minute", 30),
        ("1 ora e 2 min", 3720), ("Meno di 1 minuto", 30), ("1 時間 2 分", 3720), ("1分未満", 30),
    ],
)
def test_durations_as_audible_prints_them(raw, seconds):
    assert parse_duration(raw).seconds == seconds


def test_french_less_than_a_minute_in_words():
    assert parse_duration("Moins d'une minute").seconds == 30


# --- the whole list ------------------------------------------------------------------------------
def test_paged_chain_reaches_the_full_list():
    demo = [case for case in CASES.values() if case.demo_source]
    assert [case.name for case in demo] == ["show-in"]
    assert demo[0].podcast == "AI Post Transformers"
    queue, seen_urls, ids, pages = [demo[0].url], set(), [], 0
    while queue:
        url = queue.pop(0)
        assert url not in seen_urls, f"{url} fetched twice"
        seen_urls.add(url)
        assert url in BY_URL, f"next URL {url} is not recorded"
        listing = parse_capture(ADAPTER, BY_URL[url].capture())
        pages += 1
        ids.extend(episode.id for episode in listing.episodes)
        queue.extend(listing.next)
    cutoff = CATALOGUE["cutoff"]["audible"]
    listed = [e["key"] for e in CATALOGUE["episodes"] if e["published"] <= cutoff]
    assert pages == 1 + 23
    assert len(set(ids)) == len(listed) == len(TRUTH) == 455
    assert set(ids) == set(TRUTH)
    assert sorted(TRUTH.values()) == sorted(listed)
    assert len(ids) == 455 + 3  # the show page's three rows come again in the list


def test_list_pages_carry_no_show_and_page_one_by_one():
    first = parse("list-in-p01")
    assert first.show is None
    assert len(first.episodes) == 20
    assert first.next == [f"{CASES['list-in-p01'].url}?page=2"]
    last = parse("list-in-p23")
    assert last.next == [] and len(last.episodes) == 455 - 22 * 20


def test_a_full_page_without_pager_reports_what_it_cannot_reach():
    html = re.sub(r'<div class="bc-row bc-spacing-top-l pagingElements">.*?</div>', "",
                  body("list-in-p01"), flags=re.S)
    assert "nextButton" not in html
    listing = parse_body("list-in-p01", html)
    assert listing.next == []
    assert listing.incomplete_reason and "no pager" in listing.incomplete_reason


# --- seed values, checked by hand ----------------------------------------------------------------
def test_show_page_holds_the_seed_rows():
    listing = parse("show-in")
    assert listing.show.to_json() == {
        "title": "AI Post Transformers",
        "author": "mcgrof",
        "description": (
            "AI-generated podcast where hosts Hal Turing and Dr. Ada Shannon discuss the latest "
            "research papers and reports in machine learning, AI systems, and optimization. "
            "Featuring honest critical analysis, proper citations, and nerdy humor."
        ),
        "claimed_count": None,
    }
    assert listing.show.url == CASES["show-in"].url
    rows = [(e.title, e.published_raw, e.published, e.duration_seconds) for e in listing.episodes]
    assert rows == [
        ("Parallel Token Prediction: From ProphetNet to Dependent Multi-Token Generation",
         "Mar 4 2026", date(2026, 3, 4), 30),
        ("FlashOptim: Optimizers for Memory Efficient Training", "Mar 2 2026", date(2026, 3, 2),
         30),
        ("Episode: Regular Fourier Features for Nonstationary Gaussian Processes", "Mar 1 2026",
         date(2026, 3, 1), 30),
    ]
    ptp, flash, fourier = listing.episodes
    assert ptp.description.startswith(
        "This episode examines the fundamental latency bottleneck in autoregressive language "
        "models: sequential token generation requires one full transformer forward pass")
    assert ptp.description.endswith(
        "11. Spec-Bench: A Benchmark for Evaluating Speculative Decoding Approaches — Heming Xia, "
        "Zhe Yang, Qingxiu Dong, Peiyi Wang, ...")
    assert ptp.description_truncated and 4900 < len(ptp.description) < 5000
    assert flash.description.startswith(
        'In this episode, hosts Hal Turing and Dr. Ada Shannon explore the groundbreaking paper '
        '"FlashOptim: Optimizers for Memory Efficient Training" by researchers from Databricks')
    assert "Better & Faster" in ptp.description  # entities decoded
    assert flash.description.endswith(
        "https://podcast.do-not-panic.com/episodes/2026-03-02_urls_1.mp3")
    assert not flash.description_truncated and not fourier.description_truncated
    assert fourier.description.endswith("Point+Estimates+of+Local+Smoothness")
    assert all(e.audio_url is None for e in listing.episodes)
    assert all(re.fullmatch(r"https://www\.audible\.in/podcast/[\w-]+/B0[0-9A-Z]{8}", e.url)
               for e in listing.episodes)
    assert listing.next == [CASES["list-in-p01"].url]


def test_expander_labels_never_join_descriptions():
    assert "Show More" in body("show-in") and "Mehr anzeigen" in body("show-de")
    for name, case in CASES.items():
        if case.error:
            continue
        for episode in parse(name).episodes:
            for label in ("Show More", "Show Less", "Mehr anzeigen", "Weniger anzeigen"):
                assert label not in (episode.description or ""), (name, episode.id)


def test_episode_page_seed_004():
    listing = parse("episode-in-ptp")
    assert listing.page_kind == "episode"
    assert listing.next == []
    assert listing.show.url == CASES["show-in"].url  # "View show details", not followed
    (episode,) = listing.episodes
    assert episode.title == (
        "Parallel Token Prediction: From ProphetNet to Dependent Multi-Token Generation")
    assert episode.published is None and episode.published_raw is None
    assert episode.duration_seconds is None
    assert episode.description.endswith("Qingxiu Dong, Peiyi Wang, ...")
    assert episode.description_truncated
    assert episode.id == parse("show-in").episodes[0].id
    assert episode.audio_url is None


def test_german_storefront():
    show = parse("show-de")
    assert show.show.title == "AI Post Transformers" and show.show.author == "mcgrof"
    assert [(e.published_raw, e.published, e.duration_seconds) for e in show.episodes] == [
        ("4. März 2026", date(2026, 3, 4), 30), ("2. März 2026", date(2026, 3, 2), 30),
        ("1. März 2026", date(2026, 3, 1), 30),
    ]
    assert all(e.url.startswith("https://www.audible.de/podcast/") for e in show.episodes)
    listing = parse("list-de-p01")
    printed = {e.id: e for e in listing.episodes}
    english = {e.id: e for e in parse("list-in-p01").episodes}
    assert printed.keys() == english.keys()
    for asin, episode in printed.items():
        assert episode.published == english[asin].published
        assert episode.duration_seconds == english[asin].duration_seconds
        assert episode.published_flag is None
    assert any("Std. und" in (e.duration_raw or "") for e in listing.episodes)


def test_show_fields_fall_back_to_the_page_without_json_ld():
    html = re.sub(r'<script type="application/ld\+json">.*?</script>', "", body("show-in"),
                  flags=re.S)
    assert "PodcastSeries" not in html
    assert parse_body("show-in", html).show.to_json() == parse("show-in").show.to_json()
    html = re.sub(r"<adbl-product-metadata.*?</adbl-product-metadata>", "", html, flags=re.S)
    assert parse_body("show-in", html).show.author == "mcgrof"  # "Written by:" line


def test_one_garbled_date_is_kept_raw_not_dropped():
    html = body("list-in-p02")
    good = parse("list-in-p02")
    victim = good.episodes[4]
    pattern = (rf'(id="product-list-item-{victim.id}".*?releaseDateLabel"><span[^>]*>)'
               rf"{re.escape(victim.published_raw)}<")
    garbled, count = re.subn(pattern, r"\g<1>Fbx 31 2O26<", html, count=1, flags=re.S)
    assert count == 1
    listing = parse_body("list-in-p02", garbled)
    assert [e.id for e in listing.episodes] == [e.id for e in good.episodes]
    broken = listing.episodes[4]
    assert (broken.published_raw, broken.published, broken.published_flag) == (
        "Fbx 31 2O26", None, "unparsed")
    assert all(e.published is not None for i, e in enumerate(listing.episodes) if i != 4)


# --- pages that are not the page asked for -------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "status", "match"),
    [
        ("captcha-com", 503, "captcha"),
        ("captcha-in-origin", 200, "captcha"),
        ("region404-couk", 404, "region 404"),
        ("consent-fr", 200, "consent"),
    ],
)
def test_blocked_pages(name, status, match):
    assert CASES[name].status == status
    with pytest.raises(BlockedError, match=match):
        parse(name)


def test_a_cookie_banner_inside_a_normal_page_is_ignored():
    for name in ("show-in", "show-de", "list-in-p01", "episode-in-ptp"):
        assert 'id="sp-cc"' in body(name)
        assert parse(name).episodes


def test_other_error_statuses_are_fetch_errors():
    capture = replace(CASES["show-in"].capture(), status=500,
                      body=b"<html><body>oops</body></html>")
    with pytest.raises(FetchError) as caught:
        parse_capture(ADAPTER, capture)
    assert not isinstance(caught.value, BlockedError)


def test_layout_drift_on_a_list_page_is_a_layout_error_on_the_show_page_a_warning():
    with pytest.raises(LayoutError, match="no episode rows"):
        parse("drift-ca")
    html = re.sub(r'<li class="bc-list-item productListItem".*?\n</li>', "", body("show-in"),
                  flags=re.S)
    assert "productListItem" not in html
    listing = parse_body("show-in", html)  # the list pages still give every episode
    assert listing.episodes == [] and listing.show.title == "AI Post Transformers"
    assert listing.next == [f"https://www.audible.in{LIST_PATH}"]
    assert listing.warnings == [
        "layout_drift: no episode rows found on the show page (tried: li.productListItem "
        "rows); the list came from the episode list pages"]
    html = re.sub(r'<script type="application/ld\+json">.*?</script>', "", html, flags=re.S)
    with pytest.raises(LayoutError, match="neither a show page"):
        parse_body("show-in", html)


# --- research §9: ASIN forms, the older URL form, tracking parameters -------------------------

@pytest.mark.parametrize(("url", "canonical"), [
    ("https://www.audible.com/podcast/Some-Show/1541419359",
     "https://www.audible.com/podcast/Some-Show/1541419359"),
    ("https://www.audible.com/pd/AI-Post-Transformers-Podcast/B0DASOKD90?ref_pageloadid=x"
     "&pageLoadId=y&creativeId=z&pf_rd_p=1&pf_rd_r=2",
     "https://www.audible.com/podcast/AI-Post-Transformers/B0DASOKD90"),
    ("https://www.audible.com/podcast/AI-Post-Transformers/episodes/B0DASOKD90?page=2"
     "&ref_pageloadid=x&pageLoadId=y",
     "https://www.audible.com/podcast/AI-Post-Transformers/episodes/B0DASOKD90?page=2"),
])
def test_asin_forms_older_url_form_and_tracking(url, canonical):
    assert ADAPTER.suitable(url)
    assert ADAPTER.canonical_url(url) == canonical


def test_audiobook_pd_urls_are_not_podcasts():
    assert not ADAPTER.suitable("https://www.audible.com/pd/Atomic-Habits-Audiobook/B07RFSSYBH")


def test_tracking_parameters_are_dropped_everywhere():
    from adapters.base import strip_tracking

    assert strip_tracking("https://x.example/a?ref_pageloadid=1&pageLoadId=2&creativeId=3"
                          "&pf_rd_s=4&keep=5") == "https://x.example/a?keep=5"
