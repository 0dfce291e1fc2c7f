"""Normalisation: dates, durations, text and truncation as platforms print them."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from scraper.models import Episode, Listing, Show
from scraper.normalize import (
    DateStyle,
    ParsedDate,
    clean_text,
    date_from_timestamp,
    html_to_text,
    is_strict_prefix,
    looks_truncated,
    normalize_listing,
    parse_date,
    parse_duration,
)

BASE = datetime(2026, 5, 29, 8, 15, tzinfo=UTC)
NORWEGIAN = DateStyle(("nb",), "DMY")
RADIONET = DateStyle(("en",), "DMY", ("%d/%m/%Y",))
AUDIBLE_EN = DateStyle(("en",), "MDY", ("%b %d %Y",))


@pytest.mark.parametrize(
    ("raw", "style", "expected"),
    [
        ("Mar 4 2026", AUDIBLE_EN, date(2026, 3, 4)),
        ("04/03/2026", RADIONET, date(2026, 3, 4)),
        ("06/03/2026", RADIONET, date(2026, 3, 6)),
        ("22. mai 2026", NORWEGIAN, date(2026, 5, 22)),
        ("27. mai 2026", NORWEGIAN, date(2026, 5, 27)),
        ("22. Mai 2026", DateStyle(("de",), "DMY"), date(2026, 5, 22)),
        ("22 mei 2026", DateStyle(("nl",), "DMY"), date(2026, 5, 22)),
        ("22. toukokuuta 2026", DateStyle(("fi",), "DMY"), date(2026, 5, 22)),
        ("22 de mayo de 2026", DateStyle(("es",), "DMY"), date(2026, 5, 22)),
    ],
)
def test_absolute_dates_in_the_platform_language(raw, style, expected):
    parsed = parse_date(raw, style, BASE)
    assert parsed.value == expected
    assert parsed.flag is None


def test_day_month_order_comes_from_the_platform_not_the_string():
    # The same string reads differently for a DMY and an MDY platform.
    assert parse_date("04/03/2026", DateStyle(("en",), "DMY"), BASE).value == date(2026, 3, 4)
    assert parse_date("04/03/2026", DateStyle(("en",), "MDY"), BASE).value == date(2026, 4, 3)
    # Without a declared order an ambiguous numeric date is flagged, not guessed.
    unknown = parse_date("04/03/2026", DateStyle(("en",)), BASE)
    assert unknown.value is None and unknown.flag == "ambiguous"
    # Unambiguous numeric dates need no declared order.
    assert parse_date("25/03/2026", DateStyle(("en",)), BASE).value == date(2026, 3, 25)


@pytest.mark.parametrize(
    ("raw", "languages", "expected"),
    [
        ("I går", ("nb",), date(2026, 5, 28)),
        ("i går", ("nb",), date(2026, 5, 28)),
        ("I dag", ("nb",), date(2026, 5, 29)),
        ("for 3 dager siden", ("nb",), date(2026, 5, 26)),
        ("gestern", ("de",), date(2026, 5, 28)),
        ("hace 2 días", ("es",), date(2026, 5, 27)),
        ("yesterday", ("en",), date(2026, 5, 28)),
        ("i går", ("da",), date(2026, 5, 28)),
    ],
)
def test_relative_dates_resolve_against_the_capture_time_and_are_flagged(raw, languages, expected):
    parsed = parse_date(raw, DateStyle(languages, "DMY"), BASE)
    assert parsed.value == expected
    assert parsed.flag == "relative"


def test_relative_date_moves_with_the_capture_time():
    earlier = datetime(2026, 1, 10, 12, tzinfo=UTC)
    assert parse_date("I går", NORWEGIAN, earlier).value == date(2026, 1, 9)


@pytest.mark.parametrize("raw", ["not a date", "1 h 0 min", "Episode 12", "31/31/2026"])
def test_unreadable_dates_are_flagged_not_invented(raw):
    parsed = parse_date(raw, NORWEGIAN, BASE)
    assert parsed.value is None
    assert parsed.flag in ("unparsed", "ambiguous")


def test_empty_date_is_simply_absent():
    assert parse_date(None).value is None and parse_date(None).flag is None
    assert parse_date("   ").flag is None


def test_timestamps_keep_the_publishers_calendar_date():
    # An offset keeps the date as printed (no shift to UTC) ...
    assert date_from_timestamp("2026-03-04T23:30:00-05:00") == date(2026, 3, 4)
    assert date_from_timestamp("2026-03-05T00:30:00+02:00") == date(2026, 3, 5)
    # ... while epoch values and Z give their UTC date.
    assert date_from_timestamp(1780153200) == date(2026, 5, 30)
    assert date_from_timestamp("1780153200") == date(2026, 5, 30)
    assert date_from_timestamp(1780153200000) == date(2026, 5, 30)  # milliseconds
    assert date_from_timestamp("2026-05-30T23:00:00Z") == date(2026, 5, 30)
    assert date_from_timestamp("Wed, 04 Mar 2026 00:00:00 GMT") == date(2026, 3, 4)
    assert date_from_timestamp("Wed, 04 Mar 2026 22:00:00 EST") == date(2026, 3, 4)
    assert date_from_timestamp("") is None
    assert date_from_timestamp("garbage") is None


@pytest.mark.parametrize(
    ("raw", "seconds", "precision"),
    [
        ("1 h 0 min", 3600, 60),
        ("28 min", 1680, 60),
        ("1 hr and 2 mins", 3720, 60),
        ("2 hrs and 5 mins", 7500, 60),
        ("Less than 1 minute", 30, 60),
        ("Weniger als 1 Minute", 30, 60),
        ("Moins d'une minute", 30, 60),
        ("Menos de un minuto", 30, 60),
        ("1分未満", 30, 60),
        ("01:02:03", 3723, 1),
        ("62:03", 3723, 1),
        ("PT1H2M3S", 3723, 1),
        ("PT58M", 3480, 60),
        ("3723", 3723, 1),
        ("1 Std. 2 Min.", 3720, 60),
        ("1 t 5 min", 3900, 60),
        ("45 sec", 45, 1),
    ],
)
def test_durations_in_every_printed_form(raw, seconds, precision):
    parsed = parse_duration(raw)
    assert (parsed.seconds, parsed.precision) == (seconds, precision)


def test_durations_from_numbers_and_milliseconds():
    assert parse_duration(3723).seconds == 3723
    assert parse_duration(3723000, unit="ms").seconds == 3723
    assert parse_duration("3723000", unit="ms").seconds == 3723


@pytest.mark.parametrize("raw", ["banana", "lots of minutes", "1 fortnight"])
def test_unreadable_durations_give_none(raw):
    assert parse_duration(raw).seconds is None


def test_html_keeps_block_boundaries_and_decodes_entities():
    text = html_to_text("<p>Tri Dao</p><p>https://arxiv.org/pdf/2401.10774</p>")
    assert text == "Tri Dao\n\nhttps://arxiv.org/pdf/2401.10774"
    assert html_to_text("Tri Dao<br>https://x.org &amp; more") == "Tri Dao\nhttps://x.org & more"
    assert html_to_text("<ol><li>One</li><li>Two</li></ol>") == "One\n\nTwo"
    assert html_to_text("a<script>alert(1)</script>b") == "ab"
    assert html_to_text("plain &quot;text&quot;  with   spaces") == 'plain "text" with spaces'


def test_ui_words_are_not_description():
    assert clean_text("Full description here. Show More Show Less") == "Full description here."
    assert clean_text("Beskrivelse av episoden Vis mer") == "Beskrivelse av episoden"


def test_truncation_is_detected_from_the_tail_and_from_other_sources():
    assert looks_truncated("Heming Xia, Zhe Yang, Qingxiu Dong, Peiyi Wang, ...")
    assert looks_truncated("cut off here…")
    assert not looks_truncated("A complete sentence.")
    full = "This episode examines the latency bottleneck in language models. " * 3
    cut = full[:120] + "..."
    assert is_strict_prefix(cut, full)
    assert not is_strict_prefix(full, full)
    assert not is_strict_prefix("short", full)  # too little text to call it a prefix


def test_normalize_listing_fills_parsed_values_and_keeps_raw():
    listing = Listing(
        platform="podimo",
        url="https://podimo.com/no/shows/x",
        show=Show(title=" AI  Post &amp; Transformers ", claimed_count=662),
        episodes=[
            Episode(id="a", title="Beluga", published_raw="27. mai 2026", duration_raw="1 h 0 min",
                    description="<p>One</p><p>Two ...</p>"),
            Episode(id="b", title="Generative", published_raw="I går", duration_raw="58 min"),
            Episode(id="c", title="Garbled", published_raw="32. smai 20x6", duration_raw="??"),
        ],
    )
    normalize_listing(listing, NORWEGIAN, BASE)
    a, b, c = listing.episodes
    assert listing.show.title == "AI Post & Transformers"
    assert (a.published, a.published_flag, a.duration_seconds) == (date(2026, 5, 27), None, 3600)
    assert a.description == "One\n\nTwo ..." and a.description_truncated
    assert (b.published, b.published_flag) == (date(2026, 5, 28), "relative")
    assert c.published is None and c.published_flag == "unparsed"
    assert c.published_raw == "32. smai 20x6"  # kept raw, not dropped
    assert c.duration_seconds is None and c.extra["duration_flag"] == "unparsed"


@pytest.mark.parametrize(
    ("raw", "languages", "expected"),
    [
        ("4. März 2026", ("de",), date(2026, 3, 4)),
        ("22 de mayo de 2026", ("es",), date(2026, 5, 22)),
        ("May 19, 2026", ("en",), date(2026, 5, 19)),
        ("4 mars 2026", ("fr",), date(2026, 3, 4)),
        ("22. maj 2026", ("da",), date(2026, 5, 22)),
    ],
)
def test_month_names_are_read_without_guessing(raw, languages, expected):
    from scraper.normalize import _named_month_date

    assert _named_month_date(raw, languages) == expected
    assert parse_date(raw, DateStyle(languages, "DMY"), BASE).value == expected


def test_impossible_named_dates_are_flagged():
    parsed = parse_date("31. februar 2026", NORWEGIAN, BASE)
    assert (parsed.value, parsed.flag) == (None, "unparsed")


# --- two-digit years and the relative flag (issue 9) --------------------------------------------

MDY = DateStyle(("en",), "MDY", ("%b %d %Y", "%b %d, %Y"))


@pytest.mark.parametrize(("printed", "captured", "expected"), [
    ("01-21-25", datetime(2026, 3, 5), date(2025, 1, 21)),   # not 1925
    ("12-30-26", datetime(2026, 3, 5), date(2026, 12, 30)),  # a pre-order: not 1926
    ("03-04-26", datetime(2026, 3, 5), date(2026, 3, 4)),
    ("12-30-99", datetime(2026, 3, 5), date(1999, 12, 30)),
    ("01-02-03", datetime(2099, 6, 1), date(2103, 1, 2)),
    ("Jan 21, 25", datetime(2026, 3, 5), date(2025, 1, 21)),
])
def test_two_digit_years_take_the_century_nearest_the_capture(printed, captured, expected):
    assert parse_date(printed, MDY, captured) == ParsedDate(expected, None)


def test_two_digit_years_in_day_first_locales():
    german = DateStyle(("de",), "DMY", ("%d.%m.%Y",))
    assert parse_date("21.01.25", german, datetime(2026, 3, 5)) == ParsedDate(date(2025, 1, 21))


@pytest.mark.parametrize(("printed", "style"), [
    ("yesterday", MDY), ("3 days ago", MDY), ("I går", DateStyle(("nb",), "DMY")),
])
def test_relative_flag_only_for_relative_words(printed, style):
    assert parse_date(printed, style, datetime(2026, 3, 5)).flag == "relative"


@pytest.mark.parametrize("printed", ["03-04-26", "4 Mar", "Mar 4 2026", "01-21-25"])
def test_absolute_dates_are_never_flagged_relative(printed):
    assert parse_date(printed, MDY, datetime(2026, 3, 5)).flag is None


def test_yearless_dates_follow_the_capture_time_not_a_cache():
    assert parse_date("4 Mar", MDY, datetime(2026, 3, 5)).value == date(2026, 3, 4)
    assert parse_date("4 Mar", MDY, datetime(2027, 3, 5)).value == date(2027, 3, 4)
