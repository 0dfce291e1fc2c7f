"""Where a saved page came from, for `scraper parse FILE` without `--url` when no fixtures
index.json lists it (scraper.fixtures.case_for_file): an HTML page usually names itself in
`<link rel="canonical">` or `og:url`. Adapters need the URL: paging and API responses
are read relative to it.
"""

from __future__ import annotations


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
