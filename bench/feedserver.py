"""A loopback feed server for the sync benchmark, run as its own process:

    python -m bench.feedserver --feeds 200 --hosts 20 --seed 1

prints `PORT <n>` once listening and serves until killed. Feed `i` lives at
`/h<i % hosts>/show<i>.xml` (so a route `https://feeds<k>.example` -> `/h<k>` gives 20
platform hosts), has 50-300 items, and answers `If-None-Match` with 304. Every request
waits a seeded random 50-150 ms before answering (a realistic remote server); `/__stats`
answers at once with the request counts by status.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

PARAGRAPH = (
    "Hal and Ada read the paper closely: what problem it sets out to solve, how the method "
    "differs from the work it builds on, which experiments carry the claims and which "
    "baselines are missing. They close with what would change their minds."
)


def feed_path(index: int, hosts: int) -> str:
    return f"/h{index % hosts}/show{index}.xml"


def render_feed(index: int, seed: int) -> bytes:
    """Feed `index`: a show with 50-300 items, each with a ~700-character HTML description."""
    rng = random.Random(f"{seed}:{index}")
    count = rng.randint(50, 300)
    start = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/">',
        f"<channel><title>Bench Show {index}</title><link>https://show{index}.example/</link>",
        f"<description>Synthetic show {index} for the sync benchmark.</description>",
        "<itunes:author>bench</itunes:author>",
    ]
    for n in range(count):
        day = start - timedelta(days=n * rng.choice((1, 2, 3, 7)))
        description = escape(
            f"<p>Episode {n} of show {index}: paper arXiv 2603.{rng.randint(0, 99999):05d}."
            f"</p><p>{PARAGRAPH}</p><p>{PARAGRAPH}</p>"
        )
        parts.append(
            f"<item><title>Show {index} episode {n}: "
            f"{' '.join(rng.sample(PARAGRAPH.split(), 6))}</title>"
            f'<guid isPermaLink="false">bench-{index}-{n}</guid>'
            f"<pubDate>{format_datetime(day)}</pubDate>"
            f'<enclosure url="https://cdn.example/{index}/{n}.mp3" '
            f'length="{rng.randint(10**6, 10**8)}" '
            f'type="audio/mpeg"/><itunes:duration>{rng.randint(600, 5400)}</itunes:duration>'
            f"<description>{description}</description></item>"
        )
    parts.append("</channel></rss>")
    return "\n".join(parts).encode()


class FeedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real feed hosts do
    feeds: dict[str, tuple[bytes, str]] = {}
    stats: Counter = Counter()
    lock = threading.Lock()
    seed = 1
    latency = (0.05, 0.15)

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def _reply(self, status: int, body: bytes = b"",
               headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path == "/__stats":
            with self.lock:
                body = json.dumps(dict(self.stats)).encode()
            return self._reply(200, body, {"Content-Type": "application/json"})
        with self.lock:
            self.stats["requests"] += 1
            number = self.stats["requests"]
        time.sleep(random.Random(f"{self.seed}:{self.path}:{number}").uniform(*self.latency))
        feed = self.feeds.get(self.path.split("?")[0])
        if feed is None:
            status = 404
            self._reply(404, b"not found", {"Content-Type": "text/plain"})
        else:
            body, etag = feed
            if self.headers.get("If-None-Match") == etag:
                status = 304
                self._reply(304, b"", {"ETag": etag})
            else:
                status = 200
                self._reply(200, body, {"Content-Type": "application/rss+xml; charset=utf-8",
                                        "ETag": etag})
        with self.lock:
            self.stats[str(status)] += 1
            self.stats["bytes"] += len(feed[0]) if feed and status == 200 else 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--min-latency", type=float, default=0.05)
    parser.add_argument("--max-latency", type=float, default=0.15)
    args = parser.parse_args()
    for index in range(args.feeds):
        body = render_feed(index, args.seed)
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        FeedHandler.feeds[feed_path(index, args.hosts)] = (body, etag)
    FeedHandler.seed = args.seed
    FeedHandler.latency = (args.min_latency, args.max_latency)
    server = ThreadingHTTPServer(("127.0.0.1", 0), FeedHandler)
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
