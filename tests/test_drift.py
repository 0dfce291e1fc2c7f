"""drift: per-platform differences as of each capture, and the change history."""

from __future__ import annotations

import json

import pytest
from archive_rows import (
    CAPTURED,
    CLAIMED,
    EXPECTED_DRIFT,
    PODCAST,
    add_listing,
    add_run,
    add_version,
    build_ground_truth,
    create_archive,
    truth_labels,
)

from scraper.drift import changes_report, diff_report, render_markdown
from scraper.reconcile import reconcile

KINDS = {
    "missing": "missing", "not_yet_seen": "not_yet_seen", "extra": "extra",
    "truncated": "truncated_descriptions", "date": "date_disagreements",
    "title": "title_disagreements", "republications": "republications",
}


@pytest.fixture(scope="module")
def archive():
    db = create_archive()
    build_ground_truth(db)
    reconcile(db)
    return db


def label_of(db) -> dict[int, str]:
    """Canonical episode id -> ground-truth label."""
    labels = truth_labels(db)
    return {r["episode_id"]: labels[r["platform_episode_id"]] for r in db["episode_links"].rows}


def test_diff_report_matches_ground_truth(archive):
    report = diff_report(archive)
    json.dumps(report)  # plain JSON all the way down
    (pod,) = report["podcasts"]
    assert pod["podcast"] == PODCAST and pod["canonical_episodes"] == 10
    labels = label_of(archive)
    by_platform = {s["platform"]: s for s in pod["sources"]}
    assert list(by_platform) == ["rss", "audible", "castbox", "podimo", "podtail", "radionet"]
    for platform, expected in EXPECTED_DRIFT.items():
        source = by_platform[platform]
        for short, key in KINDS.items():
            found = {labels[item["id"]] for item in source[key]}
            assert found == expected.get(short, set()), (platform, key)
            assert source["counts"][key] == len(source[key])
        assert source["claimed_count"] == CLAIMED[platform]
        assert source["captured_on"] == CAPTURED[platform][:10]


def test_counts_and_matching(archive):
    by_platform = {s["platform"]: s for s in diff_report(archive)["podcasts"][0]["sources"]}
    castbox = by_platform["castbox"]
    assert castbox["listed_count"] == 7 and castbox["stored_count"] == 7
    assert castbox["matched"] == 6  # E3 counted once despite its two copies
    assert by_platform["podimo"]["matched"] == 9  # E5 is Podimo's alone
    date = by_platform["audible"]["date_disagreements"][0]
    assert (date["platform_value"], date["published"], date["days"]) == (
        "2026-02-14", "2026-02-10", 4,
    )
    title = by_platform["radionet"]["title_disagreements"][0]
    assert title["platform_value"].startswith("FlashAttention-3")


def test_platform_and_podcast_filters(archive):
    report = diff_report(archive, podcast=PODCAST, platforms=["castbox", "podtail"])
    sources = report["podcasts"][0]["sources"]
    assert [s["platform"] for s in sources] == ["castbox", "podtail"]
    # Presence is still judged against every platform: Podimo-only E5 is not "extra" here.
    assert all(not s["extra"] for s in sources)
    assert diff_report(archive, podcast="Nobody")["podcasts"] == []


def test_only_good_listings_set_the_capture_time():
    db = create_archive()
    build_ground_truth(db)
    reconcile(db)
    castbox = next(r["id"] for r in db["sources"].rows if r["platform"] == "castbox")
    run = add_run(db, "2026-06-01T00:00:00+00:00", status="failed")
    add_listing(db, run, castbox, "2026-06-01T00:00:00+00:00", status="blocked")
    source = next(
        s for s in diff_report(db)["podcasts"][0]["sources"] if s["platform"] == "castbox"
    )
    assert source["captured_on"] == "2026-03-03"
    assert source["listing"]["status"] == "ok"
    labels = label_of(db)
    assert {labels[i["id"]] for i in source["not_yet_seen"]} == {"E2", "E5", "E7"}


def test_render_markdown(archive):
    text = render_markdown(diff_report(archive))
    assert text.startswith(f"## {PODCAST}\n")
    assert "| platform | captured | claimed | listed | matched | missing |" in text
    assert "| castbox | 2026-03-03 | 451 | 7 | 6 | 1 | 3 | 0 |" in text
    assert "### castbox (https://castbox.example/ai-post-transformers): missing" in text
    assert "platform says 'Mixture of Expert Routing at Small Scale'" in text


def test_changes_report():
    db = create_archive()
    build_ground_truth(db, ("rss", "audible"))
    ids = {r["episode_id"]: r["id"] for r in db["platform_episodes"].rows}
    run2 = add_run(db, "2026-03-09T06:00:00+00:00")
    run3 = add_run(db, "2026-03-10T06:00:00+00:00")
    add_version(db, ids["g-e1"], 1, "2026-03-08T06:00:00+00:00", "added")
    add_version(db, ids["B0E8"], run2, "2026-03-09T06:00:00+00:00", "changed",
                {"published": ["2026-02-14", "2026-02-10"]})
    add_version(db, ids["B0E9"], run3, "2026-03-10T06:00:00+00:00", "removed")
    everything = changes_report(db)
    assert [c["change"] for c in everything] == ["added", "changed", "removed"]
    changed = everything[1]
    assert changed == {
        "platform": "audible", "source_url": "https://audible.example/ai-post-transformers",
        "podcast": PODCAST, "episode_id": "B0E8", "title": "Attention Sinks in Long Context Models",
        "change": "changed", "changes": {"published": ["2026-02-14", "2026-02-10"]},
        "run_id": run2, "seen_at": "2026-03-09T06:00:00+00:00",
    }
    assert [c["run_id"] for c in changes_report(db, f"run:{run2}")] == [run2, run3]
    assert [c["run_id"] for c in changes_report(db, str(run3))] == [run3]
    assert [c["change"] for c in changes_report(db, "2026-03-09")] == ["changed", "removed"]
    assert [c["platform"] for c in changes_report(db, platforms=["rss"])] == ["rss"]
    assert changes_report(db, podcast="Nobody") == []
