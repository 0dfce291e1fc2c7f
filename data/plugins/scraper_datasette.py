"""Datasette plugin for the archive (loaded by `scraper serve` with --plugins-dir):

- the canned queries of each database listed on the index page;
- which database the /chart page (templates/pages/chart.html) draws.
"""

from __future__ import annotations

from datasette import hookimpl


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
