"""Generated variants of the recorded show pages, as a site's next deploy might serve them,
and the outcome of a real sync over each (used by tests/test_mutations.py; the table of
outcomes is printed at the end of the test run and kept in the README).

Every variant is a function of the page's HTML (and its platform). A variant that does not
apply to a page (no state to move, no count printed) gives None and is shown as "n/a".
The state moves use the real formats: the Pages Router's `__NEXT_DATA__` and the App
Router's Flight pushes (rows, module rows, text rows by byte length, `$<id>` references),
Nuxt 2's devalue IIFE and Nuxt 3's `__NUXT_DATA__` (written by the fixture builders'
serialisers).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from selectolax.lexbor import LexborHTMLParser

from adapters.base import next_data, next_flight, nuxt_state
from scraper.fixtures import FIXTURES_DIR

# ---------------------------------------------------------------------------------------------
# Which pages: the show-page generations a source can start from, per platform, whose whole
# list is recorded (audible show-de and podtail show-de have only their first page; apple
# show-layout-drift has no lookup recorded for its storefront).

GENERATIONS: dict[str, tuple[str, ...]] = {
    "radionet": ("show", "show-de", "show-next-data", "show-flight-2025",
                 "show-legacy-next-data", "show-dom-only", "show-layout-drift"),
    "podimo": ("show-no", "show-de", "show-es", "show-no-nuxt2", "show-no-nuxt3", "drift-nl"),
    "audible": ("show-in",),
    "castbox": ("channel", "channel-2026", "channel-nonascii-slug", "layout-drift"),
    "podtail": ("show-no-p01", "show-no-v2-p01"),
    "apple": ("show-us", "show-no"),
}

#: Episode rows as each platform renders them (every generation's form).
ROW_SELECTORS: dict[str, str] = {
    "radionet": '[data-testid="episode-item"], li[class*="EpisodeListItem_item"]',
    "podimo": '[data-cy="EpisodeListItem"], [class*="EpisodeListItem_root__"], li.episode-row',
    "audible": "li.productListItem",
    "castbox": "section.episodeRow .ep-item",
    "podtail": "li.episode, article.episode-card",
    "apple": "li.shelf-grid__list-item",
}

_STATE_SCRIPT = re.compile(
    r"<script\b(?![^>]*application/ld\+json)[^>]*>(?:(?!</script>).)*?"
    r"(?:__NEXT_DATA__|__next_f|__NUXT__|__NUXT_DATA__|__INITIAL_STATE__|__APOLLO_STATE__|"
    r"serialized-server-data|shoebox)(?:(?!</script>).)*</script>",
    re.S | re.I,
)
_STATE_ATTR = re.compile(
    r'<script\b[^>]*\bid=["\'](?:__NEXT_DATA__|__NUXT_DATA__|serialized-server-data|'
    r'shoebox-[^"\']*)["\'][^>]*>.*?</script>', re.S | re.I)
_NEXT_DATA_TAG = re.compile(r'<script[^>]*\bid=["\']__NEXT_DATA__["\'][^>]*>.*?</script>',
                            re.S | re.I)
_FLIGHT_TAG = re.compile(r"<script>(?:(?!</script>).)*?__next_f(?:(?!</script>).)*</script>",
                         re.S)
_NUXT2_TAG = re.compile(r"<script>window\.__NUXT__=\((?:(?!</script>).)*</script>", re.S)
_NUXT3_TAG = re.compile(r'<script[^>]*\bid=["\']__NUXT_DATA__["\'][^>]*>.*?</script>',
                        re.S | re.I)
_TAG = re.compile(r"<[a-zA-Z][^<>]*>")
_CLASS = re.compile(r'(\sclass=)(["\'])(.*?)\2', re.S)
_DATA_ATTR = re.compile(r"""\sdata-[\w.:-]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'>]+))?""")


def _builder(platform: str) -> ModuleType:
    """The platform's fixture builder (for its state serialisers)."""
    return _load_builder(platform)


@cache
def _load_builder(platform: str) -> ModuleType:
    path = FIXTURES_DIR / platform / "build_fixtures.py"
    spec = importlib.util.spec_from_file_location(f"_build_{platform}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _before_body_end(html: str, insert: str) -> str:
    at = html.lower().rfind("</body>")
    return html + insert if at < 0 else html[:at] + insert + html[at:]


# ---------------------------------------------------------------------------------------------
# The variants


def classes_renamed(html: str, platform: str) -> str | None:
    """Every CSS class renamed the way a new CSS-modules build hashes them."""
    def rename(match: re.Match[str]) -> str:
        names = " ".join("c" + hashlib.sha1(n.encode()).hexdigest()[:7]
                         for n in match.group(3).split())
        return f"{match.group(1)}{match.group(2)}{names}{match.group(2)}"
    return _TAG.sub(lambda tag: _CLASS.sub(rename, tag.group(0)), html)


def data_hooks_removed(html: str, platform: str) -> str | None:
    """Every `data-*` attribute (test ids, data-cy, data-episode-id...) dropped."""
    return _TAG.sub(lambda tag: _DATA_ATTR.sub("", tag.group(0)), html)


def state_removed(html: str, platform: str) -> str | None:
    """The embedded state script gone (JSON-LD kept)."""
    out = _STATE_ATTR.sub("", html)
    out = _STATE_SCRIPT.sub("", out)
    return out if out != html else None


def _next_props(html: str) -> dict[str, Any] | None:
    """The page props of a Next.js page, from either router's state."""
    data = next_data(html)
    if data is not None:
        props = (data.get("props") or {}).get("pageProps")
        return props if isinstance(props, dict) else None
    rows = next_flight(html)
    merged: dict[str, Any] = {}
    for row in rows.values():  # element rows: ["$", component, key, props]
        if (isinstance(row, list) and len(row) == 4 and row[0] == "$"
                and isinstance(row[3], dict)):
            merged.update({k: v for k, v in row[3].items() if k != "children"})
    return {"data": merged} if merged else None


def _without_next_state(html: str) -> str:
    return _FLIGHT_TAG.sub("", _NEXT_DATA_TAG.sub("", html))


def _flight_scripts(props: dict[str, Any], outline_from: int | None) -> str:
    """An App Router page's pushes holding `props` as a client component's element row,
    strings of `outline_from`+ characters outlined as text rows, cut every 700 characters."""
    radio = _builder("radionet")
    text_rows: list[tuple[str, str]] = []
    next_id = [0x20]

    def outline(value: Any) -> Any:
        if isinstance(value, str):
            if outline_from is not None and len(value) >= outline_from:
                ident = format(next_id[0], "x")
                next_id[0] += 1
                text_rows.append((ident, value))
                return "$" + ident
            return "$" + value if value.startswith("$") else value
        if isinstance(value, dict):
            return {k: outline(v) for k, v in value.items()}
        if isinstance(value, list):
            return [outline(v) for v in value]
        return value

    data = props.get("data") if isinstance(props.get("data"), dict) else props
    element = outline(dict(data))
    stream = "".join([
        '1:"$Sreact.fragment"\n',
        "2:I" + radio.compact([61548, ["8812", "static/chunks/app/page-0d1e2f.js"],
                               "ShowPage"]) + "\n",
        "3:HL" + radio.compact(["/_next/static/css/0a1b2c.css", "style"]) + "\n",
        "0:" + radio.compact({"P": None, "b": "mutation", "p": "", "c": ["", "podcast"],
                              "i": False, "f": [[["", {"children": ["__PAGE__", {}]}],
                                                 None, None, True]],
                              "m": "$undefined", "G": ["$1", []], "s": False, "S": True}) + "\n",
        *(f"{ident}:T{len(value.encode()):x},{value}" for ident, value in text_rows),
        "4:" + radio.compact(["$", "$L2", None, element]) + "\n",
    ])
    pushes = [stream[i:i + 700] for i in range(0, len(stream), 700)]
    scripts = ["<script>(self.__next_f=self.__next_f||[]).push([0])</script>"]
    scripts += [f"<script>self.__next_f.push([1,"
                f"{radio.html_escape_json(json.dumps(p, ensure_ascii=False))}])</script>"
                for p in pushes]
    return "\n".join(scripts)


def _next_data_script(props: dict[str, Any]) -> str:
    radio = _builder("radionet")
    data = {"props": {"pageProps": props, "__N_SSP": True}, "page": "/podcast/[slug]",
            "query": {}, "buildId": "mutation", "isFallback": False, "gssp": True,
            "scriptLoader": []}
    body = radio.html_escape_json(json.dumps(data, ensure_ascii=False, separators=(",", ":")))
    return f'<script id="__NEXT_DATA__" type="application/json">{body}</script>'


def _nuxt_moved(html: str) -> str | None:
    """Nuxt 2 <-> Nuxt 3: the same page data written the other generation's way."""
    podimo = _builder("podimo")
    state = nuxt_state(html)
    if not isinstance(state, dict):
        return None
    if _NUXT2_TAG.search(html):
        data = state.get("data")
        pages = data if isinstance(data, list) else [data]
        payload_data = {f"page-{i}": page for i, page in enumerate(pages)}
        inner = {"i18n": (state.get("state") or {}).get("i18n", {})}
        payload = {"data": payload_data, "state": inner, "once": [], "_errors": {},
                   "serverRendered": True, "path": state.get("routePath", "/")}
        script = ('<script type="application/json" data-nuxt-data="nuxt-app" data-ssr="true" '
                  f'id="__NUXT_DATA__">{podimo.devalue_flat(payload, {id(payload_data): "ShallowReactive"})}'  # noqa: E501
                  "</script>")
        return _before_body_end(_NUXT2_TAG.sub("", html), script)
    if _NUXT3_TAG.search(html):
        data = state.get("data")
        pages = list(data.values()) if isinstance(data, dict) else []
        nuxt2 = {"layout": "default", "data": pages, "fetch": {}, "error": None,
                 "state": state.get("state") or {}, "serverRendered": True,
                 "routePath": state.get("path", "/")}
        script = f"<script>window.__NUXT__={podimo.devalue2(nuxt2)};</script>"
        return _before_body_end(_NUXT3_TAG.sub("", html), script)
    return None


def state_moved(html: str, platform: str) -> str | None:
    """The state written the other generation's way: Pages Router <-> App Router Flight
    (radio.net and any Next.js page), Nuxt 2 <-> Nuxt 3 (Podimo)."""
    moved = _nuxt_moved(html)
    if moved is not None:
        return moved
    props = _next_props(html)
    if props is None:
        return None
    if next_data(html) is not None:
        return _before_body_end(_without_next_state(html), _flight_scripts(props, None))
    return _before_body_end(_without_next_state(html), _next_data_script(props))


def flight_text_rows(html: str, platform: str) -> str | None:
    """The state as App Router Flight with every string of 40+ characters outlined as a
    text row (`<id>:T<hex byte length>,<text>`, no newline) referenced as `"$<id>"`."""
    props = _next_props(html)
    if props is None:
        return None
    return _before_body_end(_without_next_state(html), _flight_scripts(props, 40))


def _without(html: str, selector: str) -> str | None:
    tree = LexborHTMLParser(html)
    nodes = tree.css(selector)
    if not nodes:
        return None
    for node in nodes:
        node.decompose()
    return tree.html


def rows_removed(html: str, platform: str) -> str | None:
    """The episode rows gone from the markup (the state kept)."""
    return _without(html, ROW_SELECTORS[platform])


def rows_and_state_removed(html: str, platform: str) -> str | None:
    """Neither rows nor state: only the head, the header and the text are left."""
    without_state = state_removed(html, platform) or html
    return _without(without_state, ROW_SELECTORS[platform]) or (
        without_state if without_state != html else None)


_COUNT = re.compile(
    r"(?<![\w.,])(\d{1,3}(?:[.,\u00a0\u202f ]\d{3})+|\d+)(\s*)(episodes?|Episoden?|Folgen?|"
    r"[Ee]pisoder|avsnitt|afleveringen|épisodes?|episodi|episodios?|episódios?|odcink\w+)"
    r"(?!\w)")


def count_other_language(html: str, platform: str) -> str | None:
    """The printed count in a language the site was not printing before (Finnish
    "458 jaksoa" for an English site, English for the others), number grouping changed."""
    def swap(match: re.Match[str]) -> str:
        number = int(re.sub(r"\D", "", match.group(1)))
        word = "jaksoa" if match.group(3).lower().startswith("episode") else "episodes"
        return f"{number:,}".replace(",", "\u00a0") + " " + word
    out, count = _COUNT.subn(swap, html)
    return out if count else None


CONSENT = (
    '<div id="onetrust-consent-sdk"><div class="onetrust-pc-dark-filter"></div>'
    '<div id="onetrust-banner-sdk" class="otFlat" role="region" aria-label="Cookie banner">'
    '<div class="ot-sdk-container"><h2 id="onetrust-policy-title">We value your privacy</h2>'
    '<p id="onetrust-policy-text">We and our 847 partners store and access information on '
    "your device, such as cookies, to show 12 personalised ads per page and measure 3 "
    'audiences. <a href="/privacy">Privacy policy</a></p>'
    '<button id="onetrust-accept-btn-handler">Accept all</button>'
    '<button id="onetrust-reject-all-handler">Reject all</button></div></div></div>'
    '<div id="sp_message_container_1042" class="sp-message-container">'
    '<iframe src="https://cdn.privacy-mgmt.com/index.html?message_id=1042" '
    'title="SP Consent Message"></iframe></div>'
)


def consent_layer(html: str, platform: str) -> str | None:
    """A cookie-consent layer (OneTrust banner and a Sourcepoint frame) over the page."""
    found = re.search(r"<body\b[^>]*>", html, re.I)
    if not found:
        return None
    return html[:found.end()] + CONSENT + html[found.end():]


Variant = Callable[[str, str], "str | None"]
VARIANTS: dict[str, Variant] = {
    "classes renamed": classes_renamed,
    "data-* removed": data_hooks_removed,
    "state removed": state_removed,
    "state moved": state_moved,
    "flight text rows": flight_text_rows,
    "rows removed": rows_removed,
    "rows+state removed": rows_and_state_removed,
    "count language": count_other_language,
    "consent layer": consent_layer,
}


# ---------------------------------------------------------------------------------------------
# Outcomes and their table

#: (platform, generation, variant) -> outcome, filled as the suite runs.
RESULTS: dict[tuple[str, str, str], str] = {}


def table(results: dict[tuple[str, str, str], str]) -> str:
    """The Markdown table: one row per platform page generation, one column per variant."""
    head = ["page", *VARIANTS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for platform, generations in GENERATIONS.items():
        for generation in generations:
            cells = [results.get((platform, generation, v), "?") for v in VARIANTS]
            lines.append(f"| {platform} {generation} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


LEGEND = ("complete: every episode of the unchanged page's sync; +drift: with a "
          "layout_drift warning; +warning: with another warning (an optional page that "
          "failed); layout/blocked/partial: the source failed loudly, page kept; "
          "n/a: the variant does not apply to that page.")


def readme_table(readme: Path) -> str | None:
    """The mutation table as the README holds it (between its markers), or None."""
    text = readme.read_text("utf-8")
    found = re.search(r"<!-- mutation-table -->\n(.*?)\n<!-- /mutation-table -->", text, re.S)
    return found.group(1).strip() if found else None
