"""Datasette plugin for the archive (loaded by `scraper serve` with --plugins-dir):

- `scraper_is_cut(text, canonical)`: the same "strict prefix of the canonical description"
  test `scraper diff` uses (scraper.normalize.is_strict_prefix), so the "Truncated
  descriptions" report counts what the command line counts;
- the canned queries of each database listed on the index page;
- which database the /chart page (templates/pages/chart.html) draws.
"""

from __future__ import annotations

from datasette import hookimpl

from scraper.normalize import is_strict_prefix


def _is_cut(text: str | None, canonical: str | None) -> int:
    return int(is_strict_prefix(text, canonical))


@hookimpl
def prepare_connection(conn) -> None:
    conn.create_function("scraper_is_cut", 2, _is_cut, deterministic=True)


@hookimpl
def extra_template_vars(template, datasette):
    if template == "pages/chart.html":
        # The chart reads the first database served (scraper serve serves one archive).
        return {"chart_database": next(
            (name for name in datasette.databases if name != "_internal"), None)}
    if template != "index.html":
        return {}

    async def canned():
        out = {}
        for name in datasette.databases:
            queries = await datasette.get_canned_queries(name, None)
            out[name] = [(key, query.get("title") or key) for key, query in queries.items()]
        return {"canned_queries": out}

    return canned
