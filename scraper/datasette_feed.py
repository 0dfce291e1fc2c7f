"""A Datasette plugin serving the rebuilt feed at `/-/feed/<podcast-slug>.xml`.

`scraper serve` loads it through Datasette's `--plugins-dir` (a one-line shim importing this
module, `scraper.datasette.FEED_PLUGIN_SHIM`); in-process,
`datasette.plugins.pm.register(scraper.datasette_feed)` does the same.
The feed is built per request from the served archive (the first database), on Datasette's
read connection, so it is current even while a sync writes.
"""

from __future__ import annotations

from datasette import hookimpl
from datasette.utils.asgi import Response

ROUTE = r"^/-/feed/(?P<slug>[^/]+)\.xml$"


async def feed_view(datasette, request) -> Response:
    import sqlite_utils

    from scraper.feed import FeedError, feed_for

    slug = request.url_vars["slug"]
    self_url = datasette.absolute_url(request, request.path)
    include_all = request.args.get("all") in ("1", "true", "yes")

    def build(conn):
        try:
            return feed_for(sqlite_utils.Database(conn), slug, include_all=include_all,
                            self_url=self_url)
        except FeedError as error:
            return error

    result = await datasette.get_database().execute_fn(build)
    if isinstance(result, Exception):
        return Response.text(f"{result}\n", status=404)
    return Response(result.xml, content_type="application/rss+xml; charset=utf-8")


@hookimpl
def register_routes():
    return [(ROUTE, feed_view)]
