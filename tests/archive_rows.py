"""Archive rows for tests: the tables the archive writer creates (same columns), and small
helpers to insert podcasts, sources, runs, listings and platform episodes."""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

TABLES: dict[str, dict[str, type]] = {
    "podcasts": {"id": int, "name": str},
    "sources": {"id": int, "podcast_id": int, "platform": str, "url": str, "fetch_mode": str},
    "runs": {"id": int, "started_at": str, "finished_at": str, "status": str},
    "listings": {
        "id": int, "run_id": int, "source_id": int, "status": str, "error_kind": str,
        "error": str, "claimed_count": int, "listed_count": int, "pages": int,
        "fetched_at": str, "show_title": str, "show_author": str, "show_description": str,
        "warnings": str, "window": int, "window_from": str,
    },
    "platform_episodes": {
        "id": int, "source_id": int, "podcast_id": int, "platform": str, "episode_id": str,
        "title": str, "published": str, "published_raw": str, "published_flag": str,
        "duration_seconds": int, "duration_precision": int, "description": str,
        "description_truncated": int, "url": str, "audio_url": str, "extra": str,
        "first_seen_run": int, "last_seen_run": int, "first_seen_at": str,
        "last_seen_at": str, "listed": int,
    },
    "platform_episode_versions": {
        "id": int, "platform_episode_id": int, "run_id": int, "seen_at": str, "change": str,
        "changes": str,
    },
}


def create_archive(path: str | None = None) -> sqlite_utils.Database:
    """A database with the archive's tables (in memory unless `path`)."""
    db = sqlite_utils.Database(path) if path else sqlite_utils.Database(memory=True)
    for name, columns in TABLES.items():
        db[name].create(columns, pk="id", if_not_exists=True)
    db["podcasts"].create_index(["name"], unique=True, if_not_exists=True)
    db["platform_episodes"].create_index(
        ["source_id", "episode_id"], unique=True, if_not_exists=True
    )
    return db


def add_podcast(db: sqlite_utils.Database, name: str) -> int:
    return db["podcasts"].insert({"name": name}).last_pk


def add_source(
    db: sqlite_utils.Database, podcast_id: int, platform: str, url: str | None = None
) -> int:
    url = url or f"https://{platform}.example/show"
    row = {"podcast_id": podcast_id, "platform": platform, "url": url, "fetch_mode": "http"}
    return db["sources"].insert(row).last_pk


def add_run(db: sqlite_utils.Database, started_at: str, status: str = "ok") -> int:
    row = {"started_at": started_at, "finished_at": started_at, "status": status}
    return db["runs"].insert(row).last_pk


def add_listing(
    db: sqlite_utils.Database,
    run_id: int,
    source_id: int,
    fetched_at: str,
    *,
    claimed_count: int | None = None,
    listed_count: int | None = None,
    status: str = "ok",
) -> int:
    row = {
        "run_id": run_id, "source_id": source_id, "status": status, "fetched_at": fetched_at,
        "claimed_count": claimed_count, "listed_count": listed_count, "pages": 1,
    }
    return db["listings"].insert(row).last_pk


def episode_row(
    source: dict[str, Any],
    episode_id: str,
    title: str,
    published: str | None,
    *,
    seen_at: str = "2026-03-08T06:00:00+00:00",
    run_id: int = 1,
    **fields: Any,
) -> dict[str, Any]:
    """One platform_episodes row for `source` (a sources row); `fields` override columns."""
    extra = fields.pop("extra", None)
    row: dict[str, Any] = {
        "source_id": source["id"],
        "podcast_id": source["podcast_id"],
        "platform": source["platform"],
        "episode_id": episode_id,
        "title": title,
        "published": published,
        "published_raw": published,
        "published_flag": None,
        "duration_seconds": None,
        "duration_precision": None,
        "description": None,
        "description_truncated": 0,
        "url": f"{source['url']}/{episode_id}",
        "audio_url": None,
        "extra": json.dumps(extra) if extra is not None else None,
        "first_seen_run": run_id,
        "last_seen_run": run_id,
        "first_seen_at": seen_at,
        "last_seen_at": seen_at,
        "listed": 1,
    }
    row.update(fields)
    return row


def add_episode(
    db: sqlite_utils.Database,
    source_id: int,
    episode_id: str,
    title: str,
    published: str | None,
    **fields: Any,
) -> int:
    source = db["sources"].get(source_id)
    return db["platform_episodes"].insert(
        episode_row(source, episode_id, title, published, **fields)
    ).last_pk


def add_version(
    db: sqlite_utils.Database,
    platform_episode_id: int,
    run_id: int,
    seen_at: str,
    change: str,
    changes: dict[str, Any] | None = None,
) -> int:
    row = {
        "platform_episode_id": platform_episode_id, "run_id": run_id, "seen_at": seen_at,
        "change": change, "changes": json.dumps(changes or {}),
    }
    return db["platform_episode_versions"].insert(row).last_pk


# ---------------------------------------------------------------------------------------------
# A hand-written ground truth: one show on six platforms, with every quirk reconcile must
# survive. Labels E1..E10 name the real episodes.

PODCAST = "AI Post Transformers"
BOILERPLATE = " More at https://podcast.do-not-panic.com/ and https://www.patreon.com/aipt ."

# Capture time of each source's latest good listing.
CAPTURED = {
    "rss": "2026-03-08T06:00:00+00:00",
    "audible": "2026-03-05T09:00:00+00:00",
    "castbox": "2026-03-03T12:00:00+00:00",
    "podimo": "2026-05-28T08:00:00+00:00",
    "podtail": "2026-03-07T10:00:00+00:00",
    "radionet": "2026-03-07T05:31:18+00:00",
}
CLAIMED = {"rss": 8, "audible": 451, "castbox": 451, "podimo": 662, "podtail": 2, "radionet": 458}

_E1_TEXT = (
    "In this episode, hosts walk through FlashOptim, a family of optimizers whose update "
    "rules fuse into the attention kernel so that optimizer state never leaves on-chip "
    "memory. They compare it with AdamW and Lion on long-context training. Sources: "
    "1. FlashOptim: Optimizers for Flash Attention https://arxiv.org/abs/2603.01234v2"
)
_E10_LONG = (
    "Hosts read the sparse autoencoder paper closely: dictionary learning on residual "
    "stream activations, feature splitting, dead latents and what interpretability means "
    "when a feature fires on one token in a million. " * 4
)
_E10_COMPLETE = (
    "A discussion of sparse autoencoders that recover interpretable features from "
    "language model activations, with notes on scaling the dictionary size. "
    "Sources: https://arxiv.org/abs/2309.08600"
)


def _text(label: str) -> str:
    return f"Notes for {label}: a paper walkthrough with its own story and citations.{BOILERPLATE}"


# label -> (true date, canonical title, {platform: [(episode id, title, date, fields)]})
GROUND_TRUTH: dict[str, tuple[str, str, dict[str, list[tuple[str, str, str, dict]]]]] = {
    "E1": ("2026-03-02", "FlashOptim: Optimizers for Flash Attention", {
        "rss": [("g-e1", "FlashOptim: Optimizers for Flash Attention", "2026-03-02",
                 {"description": _E1_TEXT + BOILERPLATE, "duration_seconds": 1712,
                  "duration_precision": 1})],
        "audible": [("B0E1", "FlashOptim: Optimizers for Flash Attention", "2026-03-02",
                     {"published_raw": "Mar 2 2026", "description": _E1_TEXT[:180] + ", ...",
                      "description_truncated": 1, "duration_seconds": 1680,
                      "duration_precision": 60})],
        "castbox": [("cb-e1", "FlashOptim: Optimizers for Flash Attention", "2026-03-02",
                     {"description": _E1_TEXT[:230]})],
        "radionet": [("rn-e1", "FlashOptim: Optimizers for Flash Attention", "2026-03-02",
                      {"published_raw": "02/03/2026", "duration_seconds": 1712,
                       "duration_precision": 1,
                       "description": "This episode explores FlashOptim and fused updates."})],
        "podimo": [("pd-e1", "FlashOptim: Optimizers for Flash Attention", "2026-03-02", {})],
    }),
    "E2": ("2026-03-04", "Regular Fourier Features for Nonstationary Gaussian Processes", {
        "rss": [("g-e2", "Regular Fourier Features for Nonstationary Gaussian Processes",
                 "2026-03-04", {"description": _text("E2"), "duration_seconds": 1500,
                                "duration_precision": 1})],
        "audible": [("B0E2", "Episode: Regular Fourier Features for Nonstationary Gaussian "
                     "Processes", "2026-03-04", {"published_raw": "Mar 4 2026",
                                                 "duration_seconds": 1500,
                                                 "duration_precision": 60})],
        "radionet": [("rn-e2", "Regular Fourier Features for Nonstationary Gaussian Processes",
                      "2026-03-04", {"published_raw": "04/03/2026", "duration_seconds": 1620,
                                     "duration_precision": 1})],
        "podimo": [("pd-e2", "Regular Fourier Features for Nonstationary Gaussian Processes",
                    "2026-03-05", {"published_raw": "5. mars 2026"})],
        "podtail": [("pt-e2", "Regular Fourier Features for Nonstationary Gaussian Processes",
                     "2026-03-04", {})],
    }),
    "E3": ("2026-02-24", "Scaling Sparse Attention with Block Routing", {
        "rss": [("g-e3-new", "Scaling Sparse Attention with Block Routing", "2026-02-24",
                 {"description": _text("E3")})],
        "audible": [("B0E3", "Scaling Sparse Attention with Block Routing", "2026-02-24", {})],
        # Re-publication: the legacy Anchor item and the regenerated one, two GUIDs.
        "castbox": [
            ("cb-e3-legacy", "Episode: Scaling Sparse Attention with Block Routing",
             "2026-02-20", {}),
            ("cb-e3-new", "Scaling Sparse Attention with Block Routing", "2026-02-24", {}),
        ],
        "podimo": [("pd-e3", "Scaling Sparse Attention with Block Routing", "2026-02-24", {})],
    }),
    # E4a and E4b: the same day, nearly the same words, different episodes.
    "E4a": ("2026-02-27", "Mixture of Experts Routing at Scale", {
        "rss": [("g-e4a", "Mixture of Experts Routing at Scale", "2026-02-27",
                 {"description": _text("E4a")})],
        "audible": [("B0E4a", "Mixture of Experts Routing at Scale", "2026-02-27", {})],
        "radionet": [("rn-e4a", "Mixture of Experts Routing at Scale", "2026-02-27", {})],
        "podimo": [("pd-e4a", "Mixture of Experts Routing at Scale", "2026-02-27", {})],
    }),
    "E4b": ("2026-02-27", "Mixture of Experts Routing at Small Scale", {
        "rss": [("g-e4b", "Mixture of Experts Routing at Small Scale", "2026-02-27",
                 {"description": _text("E4b")})],
        "audible": [("B0E4b", "Mixture of Experts Routing at Small Scale", "2026-02-27", {})],
        # A typo on Castbox: only fuzzy matching finds it, and it must pick E4b, not E4a.
        "castbox": [("cb-e4b", "Mixture of Expert Routing at Small Scale", "2026-02-27", {})],
        "radionet": [("rn-e4b", "Mixture of Experts Routing at Small Scale", "2026-02-27", {})],
        "podimo": [("pd-e4b", "Mixture of Experts Routing at Small Scale", "2026-02-27", {})],
    }),
    # Only Podimo has it, published after every other capture.
    "E5": ("2026-05-20", "Live Q&A from the NeurIPS Poster Session", {
        "podimo": [("pd-e5", "Live Q&amp;A from the NeurIPS Poster Session", "2026-05-20", {})],
    }),
    "E7": ("2026-03-06", "Speculative Decoding Without a Draft Model", {
        "rss": [("g-e7", "Speculative Decoding Without a Draft Model", "2026-03-06",
                 {"description": _text("E7")})],
        "radionet": [("rn-e7", "Speculative Decoding Without a Draft Model", "2026-03-06",
                      {"published_raw": "06/03/2026"})],
        "podimo": [("pd-e7", "Speculative Decoding Without a Draft Model", "2026-03-06", {})],
        # "2 days ago" read against the capture: two days early, inside the relative tolerance.
        "podtail": [("pt-e7", "Speculative decoding without a draft model", "2026-03-04",
                     {"published_raw": "3 days ago", "published_flag": "relative"})],
    }),
    # Audible shows it four days late: matched by title, kept as a date conflict.
    "E8": ("2026-02-10", "Attention Sinks in Long Context Models", {
        "rss": [("g-e8", "Attention Sinks in Long Context Models", "2026-02-10",
                 {"description": _text("E8")})],
        "audible": [("B0E8", "Attention Sinks in Long Context Models", "2026-02-14",
                     {"published_raw": "Feb 14 2026"})],
        "castbox": [("cb-e8", "Attention Sinks in Long Context Models", "2026-02-10", {})],
        "radionet": [("rn-e8", "Attention Sinks in Long Context Models", "2026-02-10", {})],
        "podimo": [("pd-e8", "Attention Sinks in Long Context Models", "2026-02-10", {})],
    }),
    # radio.net retitled it; the shared arXiv id proves it is the same episode.
    "E9": ("2026-02-05", "Tri Dao on FlashAttention 3", {
        "rss": [("g-e9", "Tri Dao on FlashAttention 3", "2026-02-05",
                 {"description": "Tri Dao explains FlashAttention-3. Sources: "
                  "https://arxiv.org/abs/2407.08608 https://github.com/Dao-AILab/flash-attention"
                  + BOILERPLATE})],
        "audible": [("B0E9", "Tri Dao on FlashAttention 3", "2026-02-05", {})],
        "castbox": [("cb-e9", "Tri Dao on FlashAttention 3", "2026-02-05", {})],
        "radionet": [("rn-e9", "FlashAttention-3: Fast and Accurate Attention with Tri Dao",
                      "2026-02-05", {"description": "With Tri Dao. arXiv:2407.08608"})],
        "podimo": [("pd-e9", "Tri Dao on FlashAttention 3", "2026-02-05", {})],
    }),
    # Gone from the publisher's feed; Audible's long description is cut, radio.net's is whole.
    "E10": ("2026-01-15", "Sparse Autoencoders Find Interpretable Features", {
        "audible": [("B0E10", "Sparse Autoencoders Find Interpretable Features", "2026-01-15",
                     {"description": _E10_LONG + ", ...", "description_truncated": 1})],
        "castbox": [("cb-e10", "Sparse Autoencoders Find Interpretable Features", "2026-01-15",
                     {"description": _E10_COMPLETE})],
        "radionet": [("rn-e10", "Sparse Autoencoders Find Interpretable Features",
                      "2026-01-15", {"description": _E10_COMPLETE + " Thanks for listening."})],
        "podimo": [("pd-e10", "Sparse Autoencoders Find Interpretable Features", "2026-01-15",
                    {})],
    }),
}

# What reconcile and the drift report must find.
EXPECTED_CONFLICTS = {
    ("E8", "published"), ("E9", "title"), ("E4b", "title"), ("E2", "duration_seconds"),
}
EXPECTED_DRIFT = {
    "rss": {"missing": {"E10"}, "not_yet_seen": {"E5"}},
    "audible": {"missing": set(), "not_yet_seen": {"E5", "E7"}, "truncated": {"E1", "E10"},
                "date": {"E8"}},
    # Castbox's E10 text is whole but a strict prefix of radio.net's: counted as cut.
    "castbox": {"missing": {"E4a"}, "not_yet_seen": {"E2", "E5", "E7"},
                "truncated": {"E1", "E10"},
                "title": {"E4b"}, "republications": {"E3"}},
    "podimo": {"missing": set(), "not_yet_seen": set(), "extra": {"E5"}},
    "podtail": {"missing": {"E1", "E3", "E4a", "E4b", "E8", "E9", "E10"},
                "not_yet_seen": {"E5"}},
    "radionet": {"missing": {"E3"}, "not_yet_seen": {"E5"}, "title": {"E9"}},
}


def build_ground_truth(
    db: sqlite_utils.Database, platforms: tuple[str, ...] | None = None
) -> dict[int, str]:
    """Insert the ground truth (only `platforms` when given); returns platform row id ->
    label. Safe to call again with more platforms: existing sources are reused."""
    podcast = db["podcasts"].lookup({"name": PODCAST})
    run_id = add_run(db, "2026-03-08T06:00:00+00:00")
    truth: dict[int, str] = {}
    wanted = platforms or tuple(CAPTURED)
    for platform in wanted:
        url = f"https://{platform}.example/ai-post-transformers"
        existing = list(db["sources"].rows_where("url = ?", [url]))
        if existing:
            continue
        source_id = add_source(db, podcast, platform, url)
        source = db["sources"].get(source_id)
        rows = [
            episode_row(source, episode_id, title, published, run_id=run_id,
                        seen_at=CAPTURED[platform], **fields)
            for label, (_, _, by_platform) in GROUND_TRUTH.items()
            for episode_id, title, published, fields in by_platform.get(platform, [])
        ]
        labels = [
            label
            for label, (_, _, by_platform) in GROUND_TRUTH.items()
            for _ in by_platform.get(platform, [])
        ]
        add_listing(db, run_id, source_id, CAPTURED[platform],
                    claimed_count=CLAIMED[platform], listed_count=len(rows))
        for row, label in zip(rows, labels, strict=True):
            truth[db["platform_episodes"].insert(row).last_pk] = label
    return truth


def truth_labels(db: sqlite_utils.Database) -> dict[int, str]:
    """Platform row id -> ground-truth label, read back from the stored rows."""
    by_key = {
        (platform, episode_id): label
        for label, (_, _, by_platform) in GROUND_TRUTH.items()
        for platform, entries in by_platform.items()
        for episode_id, *_ in entries
    }
    return {
        row["id"]: by_key[(row["platform"], row["episode_id"])]
        for row in db["platform_episodes"].rows
    }
