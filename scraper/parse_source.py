"""Where a saved page came from, for `scraper parse FILE` without `--url`.

A recording listed in a `fixtures/*/index.json` carries its real URL, capture time and
headers; any other HTML page usually names itself in `<link rel="canonical">` or
`og:url`. Adapters need the URL: paging and API responses are read relative to it.
"""

from __future__ import annotations

from pathlib import Path

from scraper.fixtures import FixtureCase, load_cases


def recorded_case(file: Path) -> FixtureCase | None:
    """The fixture case recorded in `file`, if it is one (found by its index.json)."""
    target = file.resolve()
    index = target.parent / "index.json"
    if not index.is_file():
        return None
    for case in load_cases(target.parent.parent):
        if case.path.resolve() == target:
            return case
    return None


def url_in_page(body: bytes) -> str | None:
    """The page's own URL from its canonical link or og:url, if it names one."""
    if body.lstrip()[:1] != b"<":
        return None
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(body.decode("utf-8", errors="replace"))
    for selector, attribute in (('link[rel="canonical"]', "href"),
                                ('meta[property="og:url"]', "content")):
        node = tree.css_first(selector)
        value = node.attributes.get(attribute) if node is not None else None
        if value and value.startswith(("http://", "https://")):
            return value.strip()
    return None
