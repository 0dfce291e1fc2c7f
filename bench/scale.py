"""Scale: the archive at 10 platforms x 50,000 episodes (485k platform listings).

The synthetic show of benchmark 3 (`bench.reconcile`: titles, typos, shifted dates, cut
descriptions, 3% missing per platform) is written through the archive's real write path,
`Archive.record_source` (one listing per platform, as a sync records it), then measured:

- reconcile cold, re-run with nothing new, and after one new feed episode (recorded as a
  sync records it) -- each in a fresh child process;
- `scraper diff --json`, `scraper diff --markdown`, `scraper episodes --json` and
  `scraper changes --json` (every version row: a first sync's are the whole archive), the
  command's own code (`scraper.cli.app`) in a child process, stdout to /dev/null;
- the first page of every Datasette canned query (what Datasette fetches: up to
  max_returned_rows + 1 = 1,001 rows), with the template's default parameters.

Peak memory is each child process's own peak RSS (VmHWM, read by the child as it ends;
`ru_maxrss` would start at the forking parent's size), so it includes the interpreter and
imports; `scale.child_baseline_peak_mib` is that floor (a child that imports the package
and opens the archive). Figures go to bench/results.json.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bench.common import ROOT, Row, Section, fmt_seconds, md_table
from bench.reconcile import PLATFORMS, WORDS, platform_variant
from scraper.matching import normalize_title

RESULTS_JSON = Path(__file__).resolve().parent / "results.json"
PER_PLATFORM = 50_000
QUICK_PER_PLATFORM = 5_000
# Datasette fetches max_returned_rows + 1 rows for a page (default 1,000).
FIRST_PAGE = 1001
GOALS = {"reconcile_one_new_s": 0.5, "reconcile_one_new_peak_mib": 300,
         "diff_json_peak_mib": 250, "episodes_json_peak_mib": 250, "changes_json_peak_mib": 250,
         "canned_query_first_page_max_s": 0.1}


def _titles(rng: random.Random, count: int) -> list[str]:
    titles: list[str] = []
    seen: set[str] = set()
    while len(titles) < count:
        title = " ".join(w.capitalize() for w in rng.sample(WORDS, 6))
        key = normalize_title(title)
        if key not in seen:
            seen.add(key)
            titles.append(title)
    return titles


def build(path: Path, per_platform: int, seed: int = 7) -> None:
    """Write the synthetic show through `Archive.record_source`, one listing per platform."""
    from scraper.archive import Archive, SourceOutcome
    from scraper.models import Capture, Episode, Listing, Show

    rng = random.Random(seed)
    titles = _titles(rng, per_platform)
    archive = Archive(path)
    podcast = archive.ensure_podcast("Synthetic Show")
    run = archive.start_run("sync", os.getpid())
    base = 738000  # an ordinal day in 2021; four episodes a day
    for platform in PLATFORMS:
        url = f"https://{platform}.example/show"
        source = archive.ensure_source(podcast, platform, url, "http")
        episodes = []
        for n, title in enumerate(titles):
            variant = platform_variant(title, platform, rng)
            if variant is None:
                continue
            shown, shift, cut = variant
            description = f"{title}. Paper {n} walkthrough, arXiv:{2100 + n // 1000}.{n:05d}."
            episodes.append(Episode(
                id=f"{platform}-{n}", title=shown,
                published=date.fromordinal(base + n // 4 + shift),
                duration_seconds=1800 + n % 600,
                description=description[:30] + ", ..." if cut else description,
                description_truncated=cut, url=f"{url}/{n}",
                extra={"duration_precision": 1},
            ))
        listing = Listing(platform=platform, url=url, show=Show(title="Synthetic Show"),
                          episodes=episodes)
        capture = Capture(url=url, status=200, body=f"{platform} listing".encode(),
                          fetched_at=datetime(2031, 6, 1, tzinfo=UTC))
        archive.record_source(run, SourceOutcome(source, "ok", [capture], listing))
    archive.finish_run(run, [])
    archive.close()


def add_one_episode(path: Path) -> None:
    """One new feed episode, recorded as a sync records a listing that has it."""
    from scraper.archive import Archive, SourceOutcome
    from scraper.models import Capture, Episode, Listing

    archive = Archive(path)
    source = archive.db.execute("SELECT id FROM sources WHERE platform = 'rss'").fetchone()[0]
    run = archive.start_run("sync", os.getpid())
    url = "https://rss.example/show"
    episode = Episode(id="rss-new", title="A Brand New Episode About Benchmarks At Scale",
                      published=date(2031, 6, 2), duration_seconds=2000,
                      description="Something nobody said before. arXiv:3106.00001.")
    capture = Capture(url=url, status=200, body=b"new", fetched_at=datetime(2031, 6, 2, tzinfo=UTC))
    # A partial listing records the new episode without re-reading the other 50,000.
    archive.record_source(run, SourceOutcome(source, "partial", [capture], Listing(
        platform="rss", url=url, episodes=[episode])))
    archive.finish_run(run, [])
    archive.close()


# --- children ------------------------------------------------------------------------------


def _child(args: list[str]) -> dict[str, Any]:
    """Run `python -m bench.scale_child ARGS` (stdout to /dev/null); its result, with its
    own peak resident memory (see bench/scale_child.py for why not ru_maxrss)."""
    with tempfile.TemporaryDirectory(prefix="bench-scale-child-") as tmp:
        out = Path(tmp) / "result.json"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "SCALE_RESULT": str(out)}
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bench.scale_child", *args], cwd=ROOT, env=env,
                       stdout=subprocess.DEVNULL, check=True)
        result = json.loads(out.read_text("utf-8"))
    result["wall_s"] = time.perf_counter() - started
    return result


def canned_first_pages(path: Path) -> dict[str, float]:
    """Seconds to the first page of each canned query, default parameters."""
    import sqlite3

    from scraper.datasette import metadata_for

    metadata = metadata_for(path)
    queries = next(iter(metadata["databases"].values()))["queries"]
    conn = sqlite3.connect(path)
    out: dict[str, float] = {}
    try:
        for name, query in queries.items():
            sql = query["sql"]
            params = {p: "" for p in ("podcast", "platform", "since") if f":{p}" in sql}
            best = float("inf")
            for _ in range(3):
                started = time.perf_counter()
                conn.execute(sql, params).fetchmany(FIRST_PAGE)
                best = min(best, time.perf_counter() - started)
            out[name] = best
    finally:
        conn.close()
    return out


def write_results(figures: dict[str, float]) -> None:
    current = json.loads(RESULTS_JSON.read_text("utf-8")) if RESULTS_JSON.exists() else {}
    current.update(figures)
    RESULTS_JSON.write_text(json.dumps(dict(sorted(current.items())), indent=2) + "\n", "utf-8")


def run(quick: bool = False, per_platform: int | None = None) -> Section:
    started_all = time.perf_counter()
    per = per_platform or (QUICK_PER_PLATFORM if quick else PER_PLATFORM)
    section = Section("scale", f"Scale: 10 platforms x {per:,} episodes")
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        path = Path(tmp) / "scale.db"
        started = time.perf_counter()
        build(path, per)
        build_s = time.perf_counter() - started
        base = _child(["baseline", str(path)])
        cold = _child(["reconcile", str(path)])
        again = _child(["reconcile", str(path)])
        add_one_episode(path)
        one = _child(["reconcile", str(path)])
        assert one["episodes_created"] == 1, one
        pages = canned_first_pages(path)
        db = ["--db", str(path)]
        diff_json = _child(["cli", "diff", "--json", *db])
        diff_md = _child(["cli", "diff", "--markdown", *db])
        episodes_json = _child(["cli", "episodes", "--json", *db])
        changes_json = _child(["cli", "changes", "--json", *db])
        size_mib = path.stat().st_size / 2**20
    figures = {
        "scale.rows": cold["rows"],
        "scale.episodes_per_platform": per,
        "scale.build_s": round(build_s, 2),
        "scale.archive_mib": round(size_mib, 1),
        "scale.child_baseline_peak_mib": round(base["peak_mib"], 1),
        "scale.reconcile_cold_s": round(cold["seconds"], 3),
        "scale.reconcile_cold_peak_mib": round(cold["peak_mib"], 1),
        "scale.reconcile_rerun_s": round(again["seconds"], 4),
        "scale.reconcile_one_new_s": round(one["seconds"], 4),
        "scale.reconcile_one_new_peak_mib": round(one["peak_mib"], 1),
        "scale.diff_json_s": round(diff_json["wall_s"], 2),
        "scale.diff_json_peak_mib": round(diff_json["peak_mib"], 1),
        "scale.diff_markdown_s": round(diff_md["wall_s"], 2),
        "scale.diff_markdown_peak_mib": round(diff_md["peak_mib"], 1),
        "scale.episodes_json_s": round(episodes_json["wall_s"], 2),
        "scale.episodes_json_peak_mib": round(episodes_json["peak_mib"], 1),
        "scale.changes_json_s": round(changes_json["wall_s"], 2),
        "scale.changes_json_peak_mib": round(changes_json["peak_mib"], 1),
        "scale.canned_query_first_page_max_s": round(max(pages.values()), 4),
        **{f"scale.canned_query.{name}_s": round(s, 4) for name, s in pages.items()},
    }
    write_results(figures)
    rows = figures["scale.rows"]
    section.rows += [
        Row(f"scale: reconcile 1 new episode at {rows:,} rows",
            fmt_seconds(one["seconds"]), f"{fmt_seconds(cold['seconds'])} (cold reconcile)",
            f"{one['seconds'] / cold['seconds']:.2%} of cold",
            f"peak {one['peak_mib']:,.0f} MiB (goal < 0.5 s, < 300 MiB); "
            f"nothing new {fmt_seconds(again['seconds'])}"),
        Row(f"scale: diff --json at {rows:,} rows", f"{diff_json['peak_mib']:,.0f} MiB peak",
            "-", "-", f"{fmt_seconds(diff_json['wall_s'])}; --markdown "
            f"{diff_md['peak_mib']:,.0f} MiB (goal < 250 MiB)"),
        Row(f"scale: episodes --json at {rows:,} rows",
            f"{episodes_json['peak_mib']:,.0f} MiB peak", "-", "-",
            f"{fmt_seconds(episodes_json['wall_s'])} (goal < 250 MiB)"),
        Row(f"scale: changes --json at {rows:,} rows (every version of the first sync)",
            f"{changes_json['peak_mib']:,.0f} MiB peak", "-", "-",
            f"{fmt_seconds(changes_json['wall_s'])} (goal < 250 MiB)"),
        Row(f"scale: slowest canned query first page at {rows:,} rows",
            fmt_seconds(max(pages.values())), "-", "-",
            f"{max(pages, key=pages.get)} (goal < 100 ms)"),
    ]
    section.details.append(md_table(
        ["figure (bench/results.json)", "value", "goal"],
        [[f"`{k}`", f"{v:,}" if isinstance(v, int) else f"{v}",
          f"< {GOALS[k[6:]]}" if k[6:] in GOALS else ""] for k, v in figures.items()],
    ))
    section.details.append(
        f"Built through `Archive.record_source` in {fmt_seconds(build_s)} "
        f"({size_mib:,.0f} MiB archive, full-text search and match index included). Peak "
        f"figures are each child's peak RSS, interpreter included (a child that only imports "
        f"and opens the archive peaks at {base['peak_mib']:,.0f} MiB)."
    )
    missed = [k for k, goal in GOALS.items() if figures[f"scale.{k}"] >= goal]
    section.slower += [f"scale goal missed: `scale.{k}` = {figures[f'scale.{k}']} "
                       f"(goal < {GOALS[k]})" for k in missed]
    section.seconds = time.perf_counter() - started_all
    return section
