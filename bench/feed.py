"""6. Feed: rebuilding a 5,000-episode show's RSS feed from the archive.

The generated show (`build_show`, also used by tests/test_feed.py) is a real archive file:
the publisher's feed (guids, enclosures with type and length, exact pubDates) missing 10% of
the episodes, Castbox (audio URLs) missing another 10%, and Audible (no audio) listing
everything; 1% of the episodes are on Audible alone, so they have no audio. It is reconciled
with `scraper.reconcile.reconcile`, then `scraper.feed.feed_for` is timed cold (read + build
+ serialise) with its peak Python memory (tracemalloc). The baseline is what every
subscriber pays for the same document: podcastparser (gPodder) and feedparser parsing it.
"""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.common import ROOT, Row, Section, fmt_seconds, md_table
from scraper.archive import Archive
from scraper.reconcile import reconcile

SEEN_AT = "2026-03-08T06:00:00+00:00"
_VOCABULARY = ("attention sparse mixture routing token decoding cache memory kernel fusion linear "
         "state recurrent quantization pruning reasoning reward policy agent retrieval "
         "benchmark alignment privacy inference optimizer gradient spectral latent contrastive "
         "multimodal speech video robotics protein climate causal fairness circuits")
WORDS = _VOCABULARY.split()


def build_show(path: Path, episodes: int = 5000, seed: int = 11) -> dict[str, Any]:
    """Write the generated show to an archive at `path` and reconcile it. Returns what the
    generator knows: `{"podcast", "with_audio", "without_audio", "rss_guids"}`."""
    rng = random.Random(seed)
    archive = Archive(path)
    db = archive.db
    podcast = "Generated Show"
    podcast_id = archive.ensure_podcast(podcast)
    sources = {p: archive.ensure_source(podcast_id, p, url, "http") for p, url in (
        ("rss", "https://feeds.example/generated.xml"),
        ("castbox", "https://castbox.fm/channel/id1"),
        ("audible", "https://www.audible.com/podcast/Generated/B000000000"),
    )}
    run_id = archive.start_run("sync", 0)
    rows: list[dict[str, Any]] = []
    with_audio, without_audio, guids = 0, 0, set()
    first = date(2012, 1, 1)
    for n in range(episodes):
        title = f"{' '.join(rng.sample(WORDS, 4)).capitalize()} part {n}"
        day = first + timedelta(days=n // 2)
        duration = 600 + rng.randrange(7200)
        text = (f"Episode {n} on {title.lower()}.\n\nSources:\n1. Paper {n}\n"
                f"https://arxiv.org/abs/{2000 + n // 1000}.{n:05d}")
        roll = rng.random()
        on_rss, on_castbox = roll >= 0.10, not (0.05 <= roll < 0.16)
        if on_rss or on_castbox:
            with_audio += 1
        else:
            without_audio += 1
        base = {"podcast_id": podcast_id, "title": title, "published": day.isoformat(),
                "published_flag": None, "duration_seconds": duration, "duration_precision": 1,
                "description": text, "description_truncated": 0, "first_seen_run": run_id,
                "last_seen_run": run_id, "first_seen_at": SEEN_AT, "last_seen_at": SEEN_AT,
                "listed": 1}
        if on_rss:
            guid = f"gen-{n:05d}-{rng.getrandbits(32):08x}"
            guids.add(guid)
            audio = f"https://media.example/{n}.mp3"
            extra = {"guid": guid, "guid_is_permalink": False, "enclosure": {
                "url": audio, "type": "audio/mpeg", "length": str(duration * 16000)}}
            rows.append({**base, "source_id": sources["rss"], "platform": "rss",
                         "episode_id": guid, "url": None, "audio_url": audio,
                         "published_raw": f"{day:%a, %d %b %Y} 0{n % 10}:30:00 +0000",
                         "extra": json.dumps(extra)})
        if on_castbox:
            rows.append({**base, "source_id": sources["castbox"], "platform": "castbox",
                         "episode_id": f"cb{n}", "url": f"https://castbox.fm/episode/id{n}",
                         "audio_url": f"https://castbox.example/{n}.m4a",
                         "published_raw": day.isoformat(), "extra": None})
        rows.append({**base, "source_id": sources["audible"], "platform": "audible",
                     "episode_id": f"B{n:09d}", "url": f"https://www.audible.com/pd/B{n:09d}",
                     "audio_url": None, "published_raw": f"{day:%b %d %Y}", "extra": None,
                     "description": text[:40] + "...", "description_truncated": 1})
    db.table("platform_episodes").insert_all(rows, batch_size=500)
    for platform, source_id in sources.items():
        listed = sum(1 for r in rows if r["platform"] == platform)
        db.table("listings").insert({"run_id": run_id, "source_id": source_id, "status": "ok",
                               "listed_count": listed, "fetched_at": SEEN_AT, "pages": 1,
                               "show_title": podcast, "show_author": "Generator"})
    archive.finish_run(run_id, [])
    reconcile(db)
    archive.close()
    return {"podcast": podcast, "with_audio": with_audio, "without_audio": without_audio,
            "rss_guids": guids}


_CHILD = """
import sys
import sqlite_utils
from scraper.feed import feed_for
import feedgen.feed, lxml.etree

def high_water():  # this process's peak RSS in KiB (ru_maxrss would include the parent's)
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))

before = high_water()
feed_for(sqlite_utils.Database(sys.argv[1]), sys.argv[2])
print(high_water() - before)
"""


def _child_peak_rss(path: Path, podcast: str) -> float:
    """MiB the peak RSS of a fresh process grows by while it builds the feed (imports done
    first): counts lxml's C memory, which tracemalloc does not see."""
    out = subprocess.run([sys.executable, "-c", _CHILD, str(path), podcast], check=True,
                         capture_output=True, text=True, cwd=ROOT).stdout
    return int(out.strip()) / 1024


def run(quick: bool = False) -> Section:
    import feedparser
    import podcastparser
    import sqlite_utils

    from scraper.feed import feed_for

    started_all = time.perf_counter()
    size = 1000 if quick else 5000
    section = Section("feed", f"6. Feed: rebuilding a {size:,}-episode show's RSS feed")
    with tempfile.TemporaryDirectory(prefix="bench-feed-") as tmp:
        path = Path(tmp) / "show.db"
        truth = build_show(path, size)
        db = sqlite_utils.Database(path)
        started = time.perf_counter()
        result = feed_for(db, truth["podcast"])
        ours = time.perf_counter() - started
        started = time.perf_counter()
        again = feed_for(db, truth["podcast"])
        warm = time.perf_counter() - started
        tracemalloc.start()  # a third build: tracing slows it, so it is not timed
        feed_for(db, truth["podcast"])
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        db.close()
        rss_growth = _child_peak_rss(path, truth["podcast"])
    assert result.items == truth["with_audio"] and again.xml == result.xml
    started = time.perf_counter()
    parsed = podcastparser.parse("https://feeds.example/rebuilt.xml", io.BytesIO(result.xml))
    pp_seconds = time.perf_counter() - started
    started = time.perf_counter()
    fp = feedparser.parse(result.xml)
    fp_seconds = time.perf_counter() - started
    assert len(parsed["episodes"]) == len(fp.entries) == result.items
    mib = peak / 2**20
    section.rows.append(Row(
        f"feed: {result.items:,} episodes rebuilt", fmt_seconds(ours),
        f"{fmt_seconds(pp_seconds)} (podcastparser parse)",
        f"{ours / pp_seconds:.2f}x podcastparser's parse",
        f"peak RSS +{rss_growth:,.0f} MiB (Python objects {mib:,.1f} MiB); "
        f"{len(result.xml) / 2**20:,.1f} MiB of XML; "
        f"second build {fmt_seconds(warm)}; feedparser parse {fmt_seconds(fp_seconds)}",
    ))
    section.details.append(md_table(
        ["episodes", "with audio (in feed)", "without audio", "build (cold)", "build again",
         "peak RSS growth", "peak Python memory", "feed size", "podcastparser parse",
         "feedparser parse"],
        [[f"{size:,}", f"{result.items:,}", f"{result.without_audio:,}", fmt_seconds(ours),
          fmt_seconds(warm), f"+{rss_growth:,.0f} MiB", f"{mib:,.1f} MiB",
          f"{len(result.xml) / 2**20:,.1f} MiB",
          fmt_seconds(pp_seconds), fmt_seconds(fp_seconds)]],
    ))
    section.details.append(
        "Build = one read of the archive (`scraper.feed.read_show`), feedgen entries and "
        "lxml serialisation, as `scraper feed` and the `/-/feed/<slug>.xml` route do it. "
        "Both builds return the same bytes (the feed's lastBuildDate is the newest episode's "
        "date, not the clock)."
    )
    section.seconds = time.perf_counter() - started_all
    return section
