"""Reconciliation of the recorded platforms against the ground truth.

Each platform's recordings come with `ground_truth.json` (platform episode id -> the
catalogue episode it is), written by its fixture generator from the catalogue, never from
our parse. A real sync of every recording through the replay server must link them exactly
as the ground truth says, and the drift report must find what the catalogue implies.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import date, datetime
from math import comb
from pathlib import Path

import pytest
import sqlite_utils

from scraper.demo import demo_config
from scraper.drift import diff_report
from scraper.fixtures import FIXTURES_DIR, load_cases
from scraper.replay import ReplayServer
from scraper.sync import sync

CATALOGUE = json.loads((FIXTURES_DIR / "catalogue" / "catalogue.json").read_text("utf-8"))


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> sqlite_utils.Database:
    db_path: Path = tmp_path_factory.mktemp("truth") / "archive.db"
    with ReplayServer(load_cases()) as server:
        summary = sync(demo_config(server, db_path), db_path)
    assert summary.ok, [s.error for s in summary.sources if s.error]
    return sqlite_utils.Database(db_path)


def truth() -> dict[tuple[str, str], str]:
    pairs = {}
    for path in sorted(FIXTURES_DIR.glob("*/ground_truth.json")):
        for episode_id, key in json.loads(path.read_text("utf-8")).items():
            pairs[(path.parent.name, episode_id)] = key
    return pairs


def linked(archive) -> dict[tuple[str, str], int]:
    return {
        (row["platform"], row["episode_id"]): row["episode"]
        for row in archive.query(
            "select pe.platform, pe.episode_id, l.episode_id as episode from platform_episodes pe "
            "join episode_links l on l.platform_episode_id = pe.id")
    }


def test_every_archived_platform_episode_is_in_the_ground_truth(archive):
    expected = truth()
    archived = {(r["platform"], r["episode_id"])
                for r in archive.query("select platform, episode_id from platform_episodes")}
    assert archived == set(expected)
    assert len(linked(archive)) == len(archived), "every platform episode is linked once"


def test_matching_precision_and_recall_are_one(archive):
    expected = truth()
    got = linked(archive)
    # Pair counting: two listings are "the same episode" in the ground truth when they share
    # a catalogue key, and in our archive when they share a canonical episode.
    cells = Counter((got[item], expected[item]) for item in expected)
    predicted = Counter(got[item] for item in expected)
    actual = Counter(expected.values())
    true_pairs = sum(comb(n, 2) for n in cells.values())
    precision = true_pairs / sum(comb(n, 2) for n in predicted.values())
    recall = true_pairs / sum(comb(n, 2) for n in actual.values())
    print(f"\nmatching over {len(expected)} platform listings: "
          f"precision {precision:.4f}, recall {recall:.4f}")
    assert (precision, recall) == (1.0, 1.0)
    assert len(predicted) == len(actual) == len(CATALOGUE["episodes"])


def _keys_by_canonical(archive) -> dict[int, str]:
    expected = truth()
    return {episode: expected[item] for item, episode in linked(archive).items()}


def test_missing_and_not_yet_seen_follow_each_platforms_capture_time(archive):
    key_of = _keys_by_canonical(archive)
    published = {e["key"]: date.fromisoformat(e["published"]) for e in CATALOGUE["episodes"]}
    listed_by: dict[str, set[str]] = defaultdict(set)
    for (platform, _), key in truth().items():
        listed_by[platform].add(key)
    report = diff_report(archive)["podcasts"][0]
    assert {s["platform"] for s in report["sources"]} == set(CATALOGUE["captures"])
    for source in report["sources"]:
        platform = source["platform"]
        captured = datetime.fromisoformat(CATALOGUE["captures"][platform]).date()
        absent = set(published) - listed_by[platform]
        # A windowed platform (Apple: the newest 200) says nothing about what is older than
        # the oldest episode its window holds: that is beyond its window, not missing.
        oldest = min(published[k] for k in listed_by[platform]) if source["window"] else None
        expected_beyond = {k for k in absent if oldest and published[k] <= oldest}
        expected_missing = {k for k in absent if published[k] <= captured} - expected_beyond
        expected_later = {k for k in absent if published[k] > captured}
        assert {key_of[e["id"]] for e in source["missing"]} == expected_missing, platform
        assert {key_of[e["id"]] for e in source["not_yet_seen"]} == expected_later, platform
        assert {key_of[e["id"]] for e in source["beyond_window"]} == expected_beyond, platform
        assert source["extra"] == []
        assert source["date_disagreements"] == [], platform


def test_apple_lists_its_newest_200_and_the_rest_are_beyond_its_window(archive):
    apple = next(s for s in diff_report(archive)["podcasts"][0]["sources"]
                 if s["platform"] == "apple")
    on_apple = [e for e in CATALOGUE["episodes"]
                if e["published"] <= CATALOGUE["cutoff"]["apple"]]
    assert (apple["window"], apple["listed_count"], apple["claimed_count"]) == (
        200, 200, len(on_apple))
    assert apple["counts"]["beyond_window"] == len(on_apple) - 200
    assert apple["counts"]["missing"] == 0
    removed = archive.execute("select count(*) from platform_episode_versions "
                              "where change = 'removed'").fetchone()[0]
    assert removed == 0


def test_conflicts_are_the_disagreements_the_recordings_hold(archive):
    key_of = _keys_by_canonical(archive)
    conflicts = {(key_of[r["episode_id"]], r["field"])
                 for r in archive.query("select episode_id, field from conflicts")}
    # Audible prints "Less than 1 minute" for the seed's three hour-long episodes.
    expected = {
        (e["key"], "duration_seconds") for e in CATALOGUE["episodes"]
        if e["variants"].get("audible", {}).get("duration_raw") == "Less than 1 minute"
    }
    assert len(expected) == 3
    assert conflicts == expected


def test_canonical_fields_prefer_the_feed_and_complete_descriptions(archive):
    by_key = {e["key"]: e for e in CATALOGUE["episodes"]}
    key_of = _keys_by_canonical(archive)
    rows = {key_of[row["id"]]: row for row in archive.query("select * from episodes")}
    for key, row in rows.items():
        assert row["title"] == by_key[key]["title"]
        assert row["published"] == by_key[key]["published"]
        assert row["duration_seconds"] == by_key[key]["duration_seconds"]
        assert row["title_source"].startswith("rss:")
    ptp = next(k for k, e in by_key.items() if e["title"].startswith("Parallel Token"))
    assert not rows[ptp]["description_truncated"]
    assert "37. AI Post Transformers: The Free Transformer" in rows[ptp]["description"]


def test_republications_on_podimo_are_linked_and_reported(archive):
    legacy = {e["key"] for e in CATALOGUE["episodes"] if "podimo" in e.get("republished_on", ())}
    key_of = _keys_by_canonical(archive)
    republished = {key_of[r["episode_id"]] for r in archive.query(
        "select distinct episode_id from episode_links where republication = 1")}
    assert republished == legacy
    report = diff_report(archive)["podcasts"][0]
    podimo = next(s for s in report["sources"] if s["platform"] == "podimo")
    assert podimo["counts"]["republications"] == len(legacy)
