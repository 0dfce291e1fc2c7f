"""reconcile(): canonical episodes against a hand-written ground truth, stability, scale."""

from __future__ import annotations

import itertools
import random
import time
from collections import defaultdict

import pytest
from archive_rows import (
    EXPECTED_CONFLICTS,
    GROUND_TRUTH,
    add_episode,
    add_podcast,
    add_source,
    build_ground_truth,
    create_archive,
    episode_row,
    truth_labels,
)

from bench.reconcile import platform_variant
from scraper.matching import link_keys, normalize_title
from scraper.reconcile import canonical_episodes_json, reconcile


def links_of(db) -> dict[int, int]:
    return {
        r["platform_episode_id"]: r["episode_id"] for r in db["episode_links"].rows
    }


def precision_recall(predicted: dict[int, int], truth: dict[int, str]) -> tuple[float, float]:
    """Pairwise: a pair of platform rows is positive when both link to one episode."""
    ids = sorted(truth)
    true_pairs = {(a, b) for a, b in itertools.combinations(ids, 2) if truth[a] == truth[b]}
    found = {
        (a, b) for a, b in itertools.combinations(ids, 2) if predicted[a] == predicted[b]
    }
    hits = len(true_pairs & found)
    return (hits / len(found) if found else 1.0, hits / len(true_pairs) if true_pairs else 1.0)


def episode_by_label(db) -> dict[str, int]:
    labels = truth_labels(db)
    out: dict[str, set[int]] = defaultdict(set)
    for pe, episode in links_of(db).items():
        out[labels[pe]].add(episode)
    assert all(len(ids) == 1 for ids in out.values()), out
    return {label: ids.pop() for label, ids in out.items()}


def snapshot(db) -> dict[str, list[tuple]]:
    return {
        "episodes": db.execute("SELECT * FROM episodes ORDER BY id").fetchall(),
        "episode_links": db.execute(
            "SELECT * FROM episode_links ORDER BY platform_episode_id"
        ).fetchall(),
        "conflicts": db.execute("SELECT * FROM conflicts ORDER BY episode_id, field").fetchall(),
    }


@pytest.fixture
def truth_db():
    db = create_archive()
    truth = build_ground_truth(db)
    report = reconcile(db)
    return db, truth, report


# ---------------------------------------------------------------------------------------------
# Normalisation


@pytest.mark.parametrize(
    ("title", "key"),
    [
        ("Episode: Regular Fourier Features", "regular fourier features"),
        ("Ep. 12: Regular Fourier Features", "regular fourier features"),
        ("Episode 12 - Regular  Fourier Features", "regular fourier features"),
        ("#12: Regular Fourier Features", "regular fourier features"),
        ("REGULAR fourier-features!", "regular fourier features"),
        ("Live Q&amp;A &#8211; NeurIPS", "live q a neurips"),
        ("Épisode: Café Attention…", "cafe attention"),
        ("Episode Zero of the Season", "episode zero of the season"),  # no separator: kept
        ("Epic Attention Tricks", "epic attention tricks"),
    ],
)
def test_normalize_title(title, key):
    assert normalize_title(title) == key


def test_link_keys_arxiv_doi_urls():
    keys = link_keys(
        "See arXiv:2512.21323v2 and https://arxiv.org/abs/2407.08608, doi 10.1145/3600006.3613165.",
        ["https://www.GitHub.com/Dao-AILab/flash-attention/?utm=x#readme"],
    )
    assert keys == {
        "arxiv:2512.21323", "arxiv:2407.08608", "doi:10.1145/3600006.3613165",
        "url:github.com/Dao-AILab/flash-attention",
    }


# ---------------------------------------------------------------------------------------------
# Ground truth


def test_ground_truth_links_are_exact(truth_db):
    db, truth, report = truth_db
    predicted = links_of(db)
    assert set(predicted) == set(truth), "every platform episode links exactly once"
    precision, recall = precision_recall(predicted, truth)
    assert (precision, recall) == (1.0, 1.0)
    assert report.episodes == len(GROUND_TRUTH) == db["episodes"].count


def test_ground_truth_rules(truth_db):
    db, truth, _ = truth_db
    rows = {
        (r["platform"], r["episode_id"]): (r["rule"], r["score"], r["republication"])
        for r in db.query(
            "SELECT pe.platform, pe.episode_id, l.rule, l.score, l.republication "
            "FROM episode_links l JOIN platform_episodes pe ON pe.id = l.platform_episode_id"
        )
    }
    assert rows["radionet", "rn-e9"][0] == "shared-links"  # retitled; the arXiv id decides
    assert rows["castbox", "cb-e4b"][0] == "fuzzy-title+date"  # the typo
    assert rows["audible", "B0E8"][0] == "exact-title"  # four days late
    assert rows["audible", "B0E2"] == ("exact-title+date", 1.0, 0)  # "Episode: " prefix
    assert rows["podtail", "pt-e7"][0] == "exact-title+date"  # relative date, 2 days off
    assert all(0.0 <= score <= 1.0 for _, score, _ in rows.values())
    flagged = {key for key, (_, _, rep) in rows.items() if rep}
    assert flagged == {("castbox", "cb-e3-legacy"), ("castbox", "cb-e3-new")}


def test_republication_reported(truth_db):
    db, _, report = truth_db
    ids = episode_by_label(db)
    assert [(r["episode_id"], r["platform"]) for r in report.republications] == [
        (ids["E3"], "castbox")
    ]
    assert len(report.republications[0]["platform_episode_ids"]) == 2


def test_conflicts_exactly_as_ground_truth(truth_db):
    db, _, report = truth_db
    label_of = {v: k for k, v in episode_by_label(db).items()}
    found = {(label_of[r["episode_id"]], r["field"]) for r in db["conflicts"].rows}
    assert found == EXPECTED_CONFLICTS
    assert report.conflicts == len(EXPECTED_CONFLICTS)
    date = next(r for r in db["conflicts"].rows if r["field"] == "published")
    assert "audible 2026-02-14 (+4 d" in date["detail"]


def test_canonical_fields_and_provenance(truth_db):
    db, _, _ = truth_db
    ids = episode_by_label(db)
    rows = {label: db["episodes"].get(ids[label]) for label in ids}
    # The feed wins title, date, duration and description when it has them.
    e1 = rows["E1"]
    assert e1["title_source"].startswith("rss:") and e1["description_source"].startswith("rss:")
    assert e1["duration_seconds"] == 1712 and e1["duration_source"].startswith("rss:")
    assert e1["published"] == "2026-03-02" and e1["description_truncated"] == 0
    assert rows["E2"]["title"] == "Regular Fourier Features for Nonstationary Gaussian Processes"
    assert rows["E7"]["published"] == "2026-03-06"  # not podtail's relative 03-04
    # No feed: a complete description beats Audible's longer cut one, and beats
    # Castbox's whole-looking text that is a strict prefix of radio.net's.
    e10 = rows["E10"]
    assert e10["description_source"].startswith("radionet:") and not e10["description_truncated"]
    assert e10["title"] == "Sparse Autoencoders Find Interpretable Features"
    assert rows["E5"]["title"] == "Live Q&A from the NeurIPS Poster Session"
    assert rows["E3"]["platforms"] == 4 and rows["E5"]["platforms"] == 1


def test_idempotent(truth_db):
    db, _, _ = truth_db
    before = snapshot(db)
    report = reconcile(db)
    assert snapshot(db) == before
    assert (report.episodes_created, report.episodes_updated, report.links_created,
            report.links_updated, report.conflicts_changed) == (0, 0, 0, 0, 0)


def test_new_platforms_keep_ids():
    db = create_archive()
    build_ground_truth(db, ("rss", "audible", "castbox", "radionet"))
    reconcile(db)
    before = links_of(db)
    old_ids = {r["id"]: r["key"] for r in db["episodes"].rows}
    reconcile(db)
    assert links_of(db) == before
    build_ground_truth(db, ("podimo", "podtail"))
    report = reconcile(db)
    after = links_of(db)
    assert {pe: after[pe] for pe in before} == before, "existing links never move"
    assert {r["id"]: r["key"] for r in db["episodes"].rows if r["id"] in old_ids} == old_ids
    # Only the Podimo-only episode is new, numbered after every old one.
    assert report.episodes_created == 1
    assert min(set(after.values()) - set(old_ids)) > max(old_ids)
    assert precision_recall(after, truth_labels(db)) == (1.0, 1.0)


def test_empty_archive():
    db = create_archive()
    report = reconcile(db)
    assert (report.episodes, report.platform_episodes) == (0, 0)
    assert {"episodes", "episode_links", "conflicts"} <= set(db.table_names())
    assert canonical_episodes_json(db) == []


def test_deleted_ids_are_not_reused():
    db = create_archive()
    pod = add_podcast(db, "Show")
    rss = add_source(db, pod, "rss")
    first = add_episode(db, rss, "a", "A First Long Episode Title", "2026-01-01")
    add_episode(db, rss, "b", "A Second Long Episode Title", "2026-01-08")
    reconcile(db)
    top = db.execute("SELECT max(id) FROM episodes").fetchone()[0]
    db.execute("DELETE FROM episode_links WHERE episode_id = ?", [top])
    db.execute("DELETE FROM episodes WHERE id = ?", [top])
    db.execute("DELETE FROM platform_episodes WHERE id != ?", [first])
    add_episode(db, rss, "c", "A Third Long Episode Title", "2026-01-15")
    reconcile(db)
    assert db.execute("SELECT max(id) FROM episodes").fetchone()[0] == top + 1


def test_deterministic_whatever_the_insert_order():
    def build(seed: int):
        db = create_archive()
        rows = []
        pod = add_podcast(db, "AI Post Transformers")
        for platform in ("rss", "audible", "castbox", "podimo", "podtail", "radionet"):
            source = db["sources"].get(add_source(db, pod, platform))
            for _, _, by_platform in GROUND_TRUTH.values():
                for episode_id, title, published, fields in by_platform.get(platform, []):
                    rows.append(episode_row(source, episode_id, title, published, **fields))
        random.Random(seed).shuffle(rows)
        db["platform_episodes"].insert_all(rows)
        reconcile(db)
        return db

    def canonical_view(db):
        # Row ids differ between the builds; compare by (platform, episode id).
        key = {
            r["id"]: (r["platform"], r["episode_id"]) for r in db["platform_episodes"].rows
        }
        groups = defaultdict(set)
        for pe, episode in links_of(db).items():
            groups[episode].add(key[pe])
        return sorted(
            (db["episodes"].get(e)["key"], sorted(members)) for e, members in groups.items()
        )

    assert canonical_view(build(1)) == canonical_view(build(2))


# ---------------------------------------------------------------------------------------------
# Rules one at a time


def two_platforms():
    db = create_archive()
    pod = add_podcast(db, "Show")
    return db, pod, add_source(db, pod, "rss"), add_source(db, pod, "audible")


def test_same_day_generic_titles_are_not_merged():
    db, _, rss, audible = two_platforms()
    template = " In this episode the hosts read a new paper. https://podcast.example/ ."
    titles = [
        "Paper Review: Attention Is Not All You Need",
        "Paper Review: Attention Is All You Want",
        "Paper Review: Sparse Attention Is All You Need",
        "Paper Review: Linear Attention Is All You Need",
    ]
    for n, title in enumerate(titles):
        add_episode(db, rss, f"r{n}", title, "2026-02-01", description=title + template)
        add_episode(db, audible, f"a{n}", title.upper(), "2026-02-01",
                    description=title + template)
    report = reconcile(db)
    assert report.episodes == 4
    pairs = db.execute(
        "SELECT group_concat(pe.episode_id, ',') FROM episode_links l "
        "JOIN platform_episodes pe ON pe.id = l.platform_episode_id "
        "GROUP BY l.episode_id ORDER BY l.episode_id"
    ).fetchall()
    assert sorted(sorted(p[0].split(",")) for p in pairs) == [
        ["a0", "r0"], ["a1", "r1"], ["a2", "r2"], ["a3", "r3"]
    ]
    assert not report.republications


def test_republication_by_shared_links():
    db, _, rss, audible = two_platforms()
    text = "Sources: https://arxiv.org/abs/2512.21323 and https://arxiv.org/abs/2501.00001"
    add_episode(db, audible, "old", "Block Routing for Sparse Attention", "2026-01-01",
                description=text)
    add_episode(db, audible, "new", "Block Routing for Sparse Attention (re-upload)",
                "2026-01-11", description="Regenerated. " + text)
    add_episode(db, rss, "g", "Block Routing for Sparse Attention (re-upload)", "2026-01-11",
                description="Regenerated. " + text)
    report = reconcile(db)
    assert report.episodes == 1
    assert {r["rule"] for r in db["episode_links"].rows} == {"new", "exact-title+date",
                                                              "republication"}
    assert sum(r["republication"] for r in db["episode_links"].rows) == 2


def test_date_preference_absolute_over_relative_never_unparsed():
    db = create_archive()
    pod = add_podcast(db, "Show")
    sources = {p: add_source(db, pod, p) for p in ("audible", "castbox", "podimo", "podtail")}
    title = "Speculative Decoding Without a Draft Model"
    add_episode(db, sources["podimo"], "p", title, "2026-03-05", published_flag="relative",
                published_raw="I går")
    add_episode(db, sources["podtail"], "t", title, None, published_flag="unparsed",
                published_raw="??")
    reconcile(db)
    row = next(iter(db["episodes"].rows))
    assert (row["published"], row["published_source"].split(":")[0]) == ("2026-03-05", "podimo")
    add_episode(db, sources["castbox"], "c", title, "2026-03-06")
    add_episode(db, sources["audible"], "a", title, "2026-03-06")
    reconcile(db)
    row = next(iter(db["episodes"].rows))
    assert row["published"] == "2026-03-06" and row["published_source"].startswith("audible:")
    assert not list(db["conflicts"].rows)  # relative date within its 2-day tolerance


def test_undated_episode_matches_by_title():
    db, _, rss, audible = two_platforms()
    add_episode(db, rss, "g", "Mamba Two: State Space Duality Explained", "2026-02-02")
    add_episode(db, audible, "a", "Mamba Two - State Space Duality Explained", None,
                published_flag="unparsed", published_raw="soon")
    report = reconcile(db)
    assert report.episodes == 1 and report.rules.get("exact-title") == 1


def test_numbered_parts_do_not_merge():
    db, _, rss, audible = two_platforms()
    add_episode(db, rss, "g1", "Scaling Laws for Mixture of Experts Part 1", "2026-02-02")
    add_episode(db, audible, "a2", "Scaling Laws for Mixture of Experts Part 2", "2026-02-02")
    assert reconcile(db).episodes == 2


def test_canonical_episodes_json_contract(truth_db):
    db, _, _ = truth_db
    items = canonical_episodes_json(db, "AI Post Transformers")
    assert len(items) == len(GROUND_TRUTH)
    required = {"id", "title", "published", "duration_seconds", "description",
                "description_source", "links"}
    for item in items:
        assert required <= set(item)
        for link in item["links"]:
            assert set(link) == {"platform", "episode_id", "url", "score", "rule"}
    e9 = next(i for i in items if i["title"] == "Tri Dao on FlashAttention 3")
    assert [link["platform"] for link in e9["links"]][0] == "rss"
    assert [c["field"] for c in e9["conflicts"]] == ["title"]
    assert items == canonical_episodes_json(db, 1)
    assert canonical_episodes_json(db, "No such show") == []
    published = [i["published"] for i in items]
    assert published == sorted(published, reverse=True)


# ---------------------------------------------------------------------------------------------
# Scale: 10 platforms x 5,000 episodes, never all pairs

VOCABULARY = (
    "attention sparse dense routing expert mixture scaling law token model vision language "
    "diffusion kernel memory cache quantized pruning distillation transformer recurrent state "
    "space linear graph neural reward policy agent planning reasoning chain thought retrieval "
    "augmented generation benchmark evaluation alignment safety robust adversarial federated "
    "privacy compression inference training optimizer gradient momentum curvature spectral "
    "fourier gaussian process kernel bayesian variational latent autoencoder contrastive "
    "embedding multimodal speech audio video robotics control simulation physics protein "
    "molecule chemistry climate weather finance causal counterfactual fairness bias "
    "interpretability circuits features probing steering editing unlearning watermark"
)
WORDS = VOCABULARY.split()
PLATFORMS = ("rss", "audible", "castbox", "podimo", "podtail", "radionet",
             "apple", "spotify", "amazon", "youtube")


def synthetic_rows(db, count: int = 5000, seed: int = 7):
    rng = random.Random(seed)
    pod = add_podcast(db, "Synthetic Show")
    titles: list[str] = []
    seen: set[str] = set()
    while len(titles) < count:
        title = " ".join(w.capitalize() for w in rng.sample(WORDS, 6))
        if normalize_title(title) not in seen:
            seen.add(normalize_title(title))
            titles.append(title)
    base = 738000  # an ordinal day in 2021; four episodes a day
    rows, truth_keys = [], []
    for platform in PLATFORMS:
        source = db["sources"].get(add_source(db, pod, platform))
        for n, title in enumerate(titles):
            day = base + n // 4
            description = f"{title}. Paper {n} walkthrough, arXiv:{2100 + n // 1000}.{n:05d}."
            variant = platform_variant(title, platform, rng)
            if variant is None:  # not on this platform
                continue
            shown, shift, cut = variant
            published = date_from_ordinal(day + shift)
            rows.append(episode_row(
                source, f"{platform}-{n}", shown, published,
                description=description[:30] + ", ..." if cut else description,
                description_truncated=int(cut),
                duration_seconds=1800 + n % 600, duration_precision=1,
            ))
            truth_keys.append((platform, f"{platform}-{n}", n))
    return rows, truth_keys


def date_from_ordinal(day: int) -> str:
    from datetime import date

    return date.fromordinal(day).isoformat()


def test_scale_ten_platforms_by_five_thousand():
    db = create_archive()
    rows, truth_keys = synthetic_rows(db)
    db["platform_episodes"].insert_all(rows, batch_size=2000)
    started = time.perf_counter()
    report = reconcile(db)
    elapsed = time.perf_counter() - started
    print(f"\nreconcile: {len(rows)} platform episodes, {report.episodes} canonical, "
          f"{elapsed:.2f} s; rules {report.rules}")
    truth = {(platform, episode_id): n for platform, episode_id, n in truth_keys}
    linked = db.execute(
        "SELECT pe.platform, pe.episode_id, l.episode_id FROM platform_episodes pe "
        "LEFT JOIN episode_links l ON l.platform_episode_id = pe.id"
    ).fetchall()
    assert all(canonical is not None for *_, canonical in linked), "every episode linked"
    groups: dict[int, set[int]] = defaultdict(set)
    for platform, episode_id, canonical in linked:
        groups[canonical].add(truth[platform, episode_id])
    assert all(len(real) == 1 for real in groups.values()), "no two real episodes merged"
    assert len(groups) == len(set(truth.values())) == report.episodes, "none split"
    started = time.perf_counter()
    again = reconcile(db)
    print(f"re-run (nothing new): {time.perf_counter() - started:.2f} s")
    assert again.links_created == again.episodes_created == again.episodes_updated == 0
