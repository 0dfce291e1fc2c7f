"""Small real RSS feeds served from a loopback server, for sync tests."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape

from httpserver import LocalServer, Request


@dataclass
class Item:
    guid: str
    title: str
    day: date
    seconds: int = 3600
    description: str = "An episode about attention."


def items(count: int, start: date = date(2026, 5, 1), prefix: str = "Episode") -> list[Item]:
    return [
        Item(guid=f"guid-{prefix}-{n}", title=f"{prefix} number {n}",
             day=start - timedelta(days=n), seconds=3000 + n,
             description=f"<p>{prefix} {n} looks at paper {n}.</p>"
                         f"<p>Sources: arXiv 2605.{n:05d}</p>")
        for n in range(count)
    ]


def render(entries: list[Item], title: str = "Test Show") -> bytes:
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/">',
        f"<channel><title>{escape(title)}</title><link>https://show.example/</link>",
        "<description>A show for tests.</description><itunes:author>tester</itunes:author>",
    ]
    for item in entries:
        stamp = format_datetime(datetime(item.day.year, item.day.month, item.day.day, tzinfo=UTC),
                                usegmt=True)
        parts.append(
            f"<item><title>{escape(item.title)}</title>"
            f'<guid isPermaLink="false">{item.guid}</guid><pubDate>{stamp}</pubDate>'
            f'<enclosure url="https://show.example/{item.guid}.mp3" length="1000" '
            f'type="audio/mpeg"/><itunes:duration>{item.seconds}</itunes:duration>'
            f"<description>{escape(item.description)}</description></item>"
        )
    parts.append("</channel></rss>")
    return "\n".join(parts).encode("utf-8")


@dataclass
class FeedServer:
    """Serves feeds at /<name>.xml with ETags; swap `bodies[name]` to change a feed."""

    server: LocalServer
    bodies: dict[str, bytes] = field(default_factory=dict)
    content_types: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    def serve(self, name: str, body: bytes, content_type: str = "application/rss+xml") -> str:
        self.bodies[name] = body
        self.content_types[name] = content_type
        path = f"/{name}.xml"

        def handler(request: Request, name: str = name) -> None:
            import time

            if self.delay:
                time.sleep(self.delay)
            body = self.bodies[name]
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if request.headers.get("if-none-match") == etag:
                return request.reply(304, b"", {"ETag": etag})
            request.reply(200, body, {"Content-Type": self.content_types[name], "ETag": etag})

        self.server.on(path, handler)
        return self.server.url(path)
