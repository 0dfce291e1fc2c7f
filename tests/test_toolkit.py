"""The shared adapter toolkit (adapters.base): markup readers, the Flight stream reader,
embedded-state search, printed counts, declarative class data and the page-facts routine."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from selectolax.lexbor import LexborHTMLParser

from adapters.base import (
    Adapter,
    BlockMarker,
    Fact,
    canonical_link,
    count_from_text,
    find_objects,
    json_ld,
    meta,
    next_data,
    next_flight,
    text,
)
from scraper.errors import BlockedError
from scraper.models import Capture
from scraper.normalize import DateStyle


def push(chunk: str) -> str:
    """One inline script as Next.js writes it: a JS string literal, '<' escaped."""
    literal = json.dumps(chunk).replace("<", "\\u003c")
    return f"<script>self.__next_f.push([1,{literal}])</script>"


def page(stream: str, cuts: list[int] | None = None) -> str:
    """An App Router page whose Flight stream is split at `cuts` (character offsets)."""
    bounds = [0, *(cuts or []), len(stream)]
    chunks = [stream[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    scripts = "".join(push(chunk) for chunk in chunks)
    return f"<html><body><script>(self.__next_f=self.__next_f||[]).push([0])</script>{scripts}"


def trow(ident: str, value: str) -> str:
    return f"{ident}:T{len(value.encode()):x},{value}"


# --- markup ------------------------------------------------------------------------------------

def test_text_collapses_whitespace_and_empties_to_none():
    tree = LexborHTMLParser("<p id=a>  one\n <b>two</b>\tthree </p><p id=b>  </p>")
    assert text(tree.css_first("#a")) == "one two three"
    assert text(tree.css_first("#b")) is None
    assert text(None) is None
    assert text("  a \n b ") == "a b"


def test_meta_reads_name_property_itemprop_in_given_order():
    tree = LexborHTMLParser(
        '<meta property="og:title" content="OG"><meta name="twitter:title" content="TW">'
        '<meta itemprop="name" content="IP"><meta name="description" content="">'
    )
    assert meta(tree, "og:title", "twitter:title") == "OG"
    assert meta(tree, "twitter:title", "og:title") == "TW"
    assert meta(tree, "name") == "IP"
    assert meta(tree, "description") is None
    assert meta(tree, "missing") is None


def test_canonical_link_prefers_link_then_og_url():
    assert canonical_link(LexborHTMLParser(
        '<link rel="alternate" href="/x"><link rel="canonical" href="https://a/b">'
        '<meta property="og:url" content="https://og/c">')) == "https://a/b"
    assert canonical_link(LexborHTMLParser(
        '<meta property="og:url" content="https://og/c">')) == "https://og/c"
    assert canonical_link(LexborHTMLParser("<p>none</p>")) is None


def test_json_ld_flattens_graph_skips_broken_blocks_and_filters_list_types():
    html = (
        '<script type="application/ld+json">{"@context":"https://schema.org","@graph":['
        '{"@type":"WebPage","name":"page"},{"@type":["PodcastSeries","CreativeWork"],'
        '"name":"show"}]}</script>'
        '<script type="application/ld+json">{"@type": "Broken",, }</script>'
        '<script type="application/ld+json">[{"@type":"PodcastEpisode","name":"e1"},'
        '{"@type":"https://schema.org/PodcastEpisode","name":"e2"}]</script>'
    )
    tree = LexborHTMLParser(html)
    assert [item["name"] for item in json_ld(tree)] == ["page", "show", "e1", "e2"]
    assert [item["name"] for item in json_ld(tree, "PodcastSeries")] == ["show"]
    assert [item["name"] for item in json_ld(tree, "PodcastEpisode")] == ["e1", "e2"]
    assert json_ld(tree, "Organization") == []


def test_next_data_reads_pages_router_state_from_tree_or_html():
    html = ('<script id="__NEXT_DATA__" type="application/json">'
            '{"props":{"pageProps":{"data":{"broadcast":{"id":"x"}}}}}</script>')
    assert next_data(LexborHTMLParser(html))["props"]["pageProps"]["data"]["broadcast"] == {
        "id": "x"}
    assert next_data(html) == next_data(LexborHTMLParser(html))
    assert next_data(LexborHTMLParser("<script id=__NEXT_DATA__>{broken</script>")) is None
    assert next_data("<p>no state</p>") is None


# --- the Flight stream -------------------------------------------------------------------------

def test_flight_json_rows_module_and_hint_rows_skipped():
    stream = (
        '1:I["(app)/page","static/chunks/1.js","default"]\n'
        '2:HL["/_next/static/css/a.css","style"]\n'
        '3:{"podcast":{"id":"show","title":"Show"}}\n'
        '0:["$","div",null,{"children":"$L3"}]\n'
    )
    rows = next_flight(page(stream))
    assert set(rows) == {"0", "3"}
    assert rows["3"]["podcast"]["id"] == "show"
    assert rows["0"][3]["children"] == {"podcast": {"id": "show", "title": "Show"}}


def test_flight_text_row_split_inside_by_chunks_and_without_trailing_newline():
    long = "Line one\nline two: " + "x" * 1100 + "\n0:not a row"
    stream = (trow("a", long) + '4:{"description":"$a","title":"T"}\n')
    # cut inside the length, inside the text, right after the text
    offsets = [3, 40, len(trow("a", long))]
    rows = next_flight(page(stream, offsets))
    assert rows["a"] == long
    assert rows["4"] == {"description": long, "title": "T"}


def test_flight_text_rows_count_utf8_bytes_not_characters():
    value = "Blåbær – Ødegård 🎧 naïve\nzweite Zeile"
    stream = trow("1f", value) + '20:{"d":"$1f"}\n' + trow("21", "é") + '22:["$21"]\n'
    for cut in range(1, len(stream)):
        rows = next_flight(page(stream, [cut]))
        assert rows["1f"] == value, cut
        assert rows["20"] == {"d": value}
        assert rows["22"] == ["é"]


def test_flight_references_nested_escaped_and_special_values():
    stream = (
        '5:{"name":"inner","when":"$D2026-03-07T10:00:00.000Z"}\n'
        '6:{"child":"$5","list":["$5","$$literal","$undefined","$","$@5"],"n":"$n12",'
        '"sym":"$Sreact.suspense"}\n'
        '7:{"deep":"$6","path":"$6:child:name"}\n'
    )
    rows = next_flight(page(stream, [10, 57]))
    assert rows["6"]["child"] == {"name": "inner", "when": "2026-03-07T10:00:00.000Z"}
    assert rows["6"]["list"] == [rows["5"], "$literal", None, "$", rows["5"]]
    assert rows["6"]["n"] == 12
    assert rows["6"]["sym"] == "$Sreact.suspense"
    assert rows["7"]["deep"]["child"]["name"] == "inner"
    assert rows["7"]["path"] == "inner"


def test_flight_cycles_are_cut_not_followed_forever():
    stream = '1:{"self":"$1","other":"$2"}\n2:{"back":"$1","v":1}\n3:["$L3"]\n'
    rows = next_flight(page(stream))
    assert rows["1"]["self"] is None
    assert rows["1"]["other"] == {"back": None, "v": 1}
    assert rows["3"] == [None]


def test_flight_missing_reference_is_none_and_page_without_stream_is_empty():
    assert next_flight(page('1:{"a":"$ff"}\n'))["1"] == {"a": None}
    assert next_flight("<html><p>no flight</p></html>") == {}


def test_flight_surrogate_pair_split_between_chunks():
    value = "🎧 podcast"
    stream = trow("9", value) + "\n"
    rows = next_flight(page(stream, [len("9:T" + format(len(value.encode()), "x") + ",") + 1]))
    assert rows["9"] == value


# --- state and counts --------------------------------------------------------------------------

def test_find_objects_walks_any_state_in_order():
    state = {"a": [{"id": 1, "title": "x"}, {"id": 2}], "b": {"c": {"id": 3, "title": "y",
                                                                   "d": {"id": 4, "title": "z"}}}}
    assert [o["id"] for o in find_objects(state, {"id", "title"})] == [1, 3, 4]
    shared = {"id": 9, "title": "s"}
    assert [o["id"] for o in find_objects([shared, shared], {"id"})] == [9]


@pytest.mark.parametrize(("printed", "count"), [
    ("52 episodes", 52), ("55 Episoder", 55), ("52 Episoden", 52), ("1.234 episodes", 1234),
    ("1,234 Episodes", 1234), ("451 Folgen", 451), ("Season 2 · 52 episodes", 52),
    ("1 episode", 1), ("458\u00a0épisodes", 458), ("no count here", None), ("", None),
])
def test_count_from_text(printed, count):
    assert count_from_text(printed) == count


def test_count_words_can_be_narrowed():
    assert count_from_text("12 Folgen", ("episodes",)) is None


# --- class data --------------------------------------------------------------------------------

class _Toy(Adapter):
    name = "toy"
    url_patterns = (r"^https?://toy\.example/show/(?P<show_id>\w+)",)
    date_styles = {"": DateStyle(("en",), "MDY"), "de": DateStyle(("de",), "DMY")}
    block_markers = (
        BlockMarker("captcha-box", "captcha (HTTP {status})"),
        BlockMarker(re.compile(r"<title>\s*Robot", re.I), "robot check on {host}"),
        BlockMarker("Request blocked", "CDN block", min_status=400),
        BlockMarker("not here", "region wall", unless="episode-row"),
    )
    page_facts = (
        Fact("show_id", canonical=re.compile(r"/show/(\w+)"), state=("show", "id"),
             url=re.compile(r"/show/(\w+)")),
        Fact("title", meta=("og:title",), json_ld=("PodcastSeries", "name"),
             state=("show", "title"), selector="h1", clean=re.compile(r" \| Toy$")),
        Fact("count", required=False, state=("list", "total"), count=True),
    )

    def date_style_key(self, url: str) -> str:
        return "de" if "/de/" in url else ""


def capture(body: str, status: int = 200, url: str = "https://toy.example/show/abc") -> Capture:
    return Capture(url=url, status=status, body=body.encode(),
                   fetched_at=datetime(2026, 3, 1, tzinfo=UTC))


def test_url_patterns_compiled_once_with_flags():
    assert _Toy.url_regexes[0].flags & re.I
    assert _Toy.suitable("HTTPS://TOY.EXAMPLE/show/x")
    assert not _Toy.suitable("https://other.example/show/x")


def test_date_styles_by_key_with_default():
    toy = _Toy()
    assert toy.date_style("https://toy.example/de/show/x").order == "DMY"
    assert toy.date_style("https://toy.example/show/x").order == "MDY"


@pytest.mark.parametrize(("body", "status", "reason"), [
    ("<div class=captcha-box>", 200, "captcha (HTTP 200)"),
    ("<title> Robot Check</title>", 200, "robot check on toy.example"),
    ("Request blocked", 403, "CDN block"),
    ("not here", 404, "region wall"),
])
def test_block_markers(body, status, reason):
    with pytest.raises(BlockedError, match=re.escape(reason)):
        _Toy().check_response(capture(body, status))


def test_block_markers_respect_status_and_unless():
    _Toy().check_response(capture("Request blocked is a phrase in a description"))
    _Toy().check_response(capture("not here <li class=episode-row>"))


def test_read_facts_most_stable_signal_first():
    html = ('<link rel="canonical" href="https://toy.example/show/canon">'
            '<meta property="og:title" content="Meta title | Toy"><h1>Visible</h1>'
            '<p>12 episodes</p>')
    state = {"x": {"show": {"id": "state-id", "title": "State"}, "list": {"total": 40}}}
    facts = _Toy().read_facts(capture(html), state=state)
    assert facts.values == {"show_id": "canon", "title": "Meta title", "count": 40}
    assert facts.signals == {"show_id": "canonical", "title": "meta", "count": "state"}
    assert facts.missing == []


def test_read_facts_falls_back_to_visible_text_and_url():
    facts = _Toy().read_facts(capture("<h1> Only  heading </h1><p>Now 7 episodes</p>"))
    assert facts.values == {"show_id": "abc", "title": "Only heading", "count": 7}
    assert facts.signals == {"show_id": "url", "title": "text", "count": "text"}
    missing = _Toy().read_facts(capture("<p>nothing</p>", url="https://toy.example/other"))
    assert missing.missing == ["show_id", "title"]
    assert "count" not in missing.values
    assert _Toy.facts_doc().splitlines()[0] == "show_id (required): canonical > state > url"


def test_a_count_read_from_the_page_text_must_be_the_only_one():
    # The count's own hook is gone; the page text prints the show's count twice (header
    # and footer): that is the count.
    twice = _Toy().read_facts(capture("<h1>Show</h1><p>458 episodes</p><footer>All 458 "
                                      "episodes</footer>"))
    assert twice.values["count"] == 458 and twice.printed["count"] == "458 episodes"
    # Beside another show's count ("More like this"), the page does not say which is ours:
    # no count rather than the wrong one.
    other = _Toy().read_facts(capture("<h1>Show</h1><aside>More like this: Other Show, "
                                      "80 episodes</aside><p>458 episodes</p>"))
    assert "count" not in other.values and other.missing == []
