"""Incremental reconcile gives what a full run gives.

Two archives receive the same writes (through `Archive.record_source`, as a sync makes
them); after each round one reconciles incrementally (only the queued platform episodes),
the other with `full=True` (every platform episode of the podcast). Their canonical tables
must be identical after every round: ids, links, scores, rules, fields and conflicts.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest

import scraper.reconcile
from scraper.archive import Archive, SourceOutcome
from scraper.demo import demo_config
from scraper.fixtures import load_cases
from scraper.models import Capture, Episode, Listing, Show
from scraper.reconcile import reconcile
from scraper.replay import ReplayServer
from scraper.sync import sync

PLATFORMS = ("rss", "audible", "castbox", "podimo")
WORDS = ["sparse", "attention", "routing", "mixture", "experts", "scaling", "laws", "decoding",
         "draft", "model", "state", "space", "duality", "kernel", "fourier", "features",
         "linear", "transformer", "memory"]
BOILERPLATE = " Support us at https://www.patreon.com/show and https://show.example/ ."


def snapshot(db) -> dict[str, list[tuple]]:
    return {
        "episodes": db.execute("SELECT * FROM episodes ORDER BY id").fetchall(),
        "episode_links": db.execute(
            "SELECT * FROM episode_links ORDER BY platform_episode_id").fetchall(),
        "conflicts": db.execute("SELECT * FROM conflicts ORDER BY episode_id, field").fetchall(),
    }


class Show_:
    """A show's real episodes and how each platform currently lists them."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.next = 0
        self.listed: dict[str, dict[str, Episode]] = {p: {} for p in PLATFORMS}

    def real_episode(self) -> tuple[str, date, str]:
        self.next += 1
        words = self.rng.sample(WORDS, 4)
        title = f"{' '.join(words).title()} Part {self.rng.randint(1, 3)}"
        day = date(2026, 1, 1) + timedelta(days=self.rng.randint(0, 40))
        arxiv = f"https://arxiv.org/abs/2601.{self.rng.randint(10000, 10030)}"
        text = f"We read {title.lower()} and {' '.join(self.rng.sample(WORDS, 8))}. {arxiv}"
        return title, day, text + BOILERPLATE

    def add(self, platforms: list[str]) -> None:
        title, day, text = self.real_episode()
        for platform in platforms:
            shown = title.upper() if platform == "audible" else title
            if self.rng.random() < 0.2:
                day = day + timedelta(days=self.rng.choice((-1, 1, 5)))
            self.listed[platform][f"{platform}-{self.next}"] = Episode(
                id=f"{platform}-{self.next}", title=shown, published=day,
                description=text[: self.rng.choice((60, 200, 400))],
                duration_seconds=self.rng.choice((None, 1800, 1805, 2400)),
                extra={"guid": f"g{self.next}"} if platform == "rss" else {},
            )

    def edit(self) -> None:
        platform = self.rng.choice(PLATFORMS)
        episodes = self.listed[platform]
        if not episodes:
            return
        key = self.rng.choice(sorted(episodes))
        episode = episodes[key]
        action = self.rng.choice(("remove", "retitle", "redate", "describe"))
        if action == "remove":
            del episodes[key]
        elif action == "retitle":
            episode.title = (episode.title or "") + " (updated)"
        elif action == "redate":
            episode.published = (episode.published or date(2026, 1, 1)) + timedelta(days=3)
        else:
            episode.description = (episode.description or "") + BOILERPLATE


def record(archive: Archive, podcast_id: int, show: Show_, platforms: list[str]) -> None:
    run = archive.start_run("sync", 1)
    for platform in platforms:
        source = archive.ensure_source(podcast_id, platform, f"https://{platform}.example/s",
                                       "http")
        episodes = [Episode(**vars(e)) for e in show.listed[platform].values()]
        listing = Listing(platform=platform, url="u", show=Show(title="S"), episodes=episodes)
        capture = Capture(url="u", status=200, body=b"x",
                          fetched_at=datetime(2026, 3, 1, tzinfo=UTC))
        archive.record_source(run, SourceOutcome(source, "ok", [capture], listing))
    archive.finish_run(run, [])


@pytest.mark.parametrize("seed", range(6))
def test_random_edit_sequences_match_a_full_run(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    show = Show_(rng)
    archives = [Archive(tmp_path / "incremental.db"), Archive(tmp_path / "full.db")]
    pods = [a.ensure_podcast("Show") for a in archives]
    for _ in range(8):  # syncs
        for _ in range(rng.randint(1, 6)):
            show.add(rng.sample(PLATFORMS, rng.randint(1, len(PLATFORMS))))
        for _ in range(rng.randint(0, 4)):
            show.edit()
        platforms = rng.sample(PLATFORMS, rng.randint(1, len(PLATFORMS)))
        for archive, pod in zip(archives, pods, strict=True):
            record(archive, pod, show, platforms)
        if rng.random() < 0.2:  # a platform row deleted by hand
            victim = archives[0].db.execute(
                "SELECT episode_id FROM platform_episodes ORDER BY id DESC").fetchone()
            for archive in archives:
                with archive.db.atomic():
                    archive.db.execute(
                        "DELETE FROM platform_episode_versions WHERE platform_episode_id IN "
                        "(SELECT id FROM platform_episodes WHERE episode_id = ?)", victim)
                    archive.db.execute(
                        "DELETE FROM platform_episodes WHERE episode_id = ?", victim)
        incremental = reconcile(archives[0].db)
        reconcile(archives[1].db, full=True)
        assert snapshot(archives[0].db) == snapshot(archives[1].db)
        assert incremental.episodes == reconcile(archives[1].db).episodes
    assert not list(archives[0].db.query("SELECT * FROM reconcile_queue"))
    for archive in archives:
        archive.close()


def test_incremental_reconcile_reads_only_the_queue(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "a.db")
    pod = archive.ensure_podcast("Show")
    show = Show_(random.Random(7))
    for _ in range(30):
        show.add(list(PLATFORMS))
    record(archive, pod, show, list(PLATFORMS))
    assert reconcile(archive.db).platform_episodes == 120  # first run: everything
    show.add(["rss", "audible"])
    record(archive, pod, show, ["rss", "audible"])
    report = reconcile(archive.db)
    assert report.platform_episodes == 2 and report.links_created == 2
    assert report.episodes_created == 1 and report.rules.get("new") == 1
    assert reconcile(archive.db).platform_episodes == 0  # nothing queued: nothing read
    archive.close()


def test_every_recording_synced_platform_by_platform_matches_a_full_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ground-truth recordings, one platform per sync: the sync's own (incremental)
    reconcile against the same syncs reconciled by full runs."""
    paths = {"incremental": tmp_path / "incremental.db", "full": tmp_path / "full.db"}
    incremental = scraper.reconcile.reconcile
    with ReplayServer(load_cases()) as server:
        platforms = sorted({s.platform for s in demo_config(server, paths["full"]).sources()})
        for platform in platforms:
            for name, path in paths.items():
                chosen = partial(incremental, full=True) if name == "full" else incremental
                monkeypatch.setattr(scraper.reconcile, "reconcile", chosen)
                summary = sync(demo_config(server, path), path, platform=platform)
                assert summary.ok, [s.error for s in summary.sources if s.error]
            archives = {name: Archive(path) for name, path in paths.items()}
            assert snapshot(archives["incremental"].db) == snapshot(archives["full"].db)
            for archive in archives.values():
                archive.close()
    assert len(platforms) >= 5
