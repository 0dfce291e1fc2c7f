"""Apple Podcasts: URL forms, the lookup API's recordings, and syncs through a loopback
replay server (the newest 200 archived, the rest beyond Apple's window, nothing removed,
linked to the publisher's feed by guid), and `scraper add` proposing the feed."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlite_utils

import adapters
from adapters.apple import AppleAdapter, lookup_url
from scraper.config import Config, PodcastConfig, SourceConfig
from scraper.fixtures import FIXTURES_DIR, FixtureCase, load_cases
from scraper.parsing import parse_capture
from scraper.replay import ReplayServer
from scraper.routes import Routes
from scraper.sync import reparse, sync

CATALOGUE = json.loads((FIXTURES_DIR / "catalogue" / "catalogue.json").read_text("utf-8"))
CASES = load_cases()
APPLE = {c.name: c for c in CASES if c.platform == "apple"}
FEED = next(c for c in CASES if c.platform == "rss" and c.demo_source)
SHOW_ID = "1781640912"
PODCAST = "AI Post Transformers"
ON_APPLE = sorted(
    (e for e in CATALOGUE["episodes"] if e["published"] <= CATALOGUE["cutoff"]["apple"]),
    key=lambda e: (e["published"], e["key"]), reverse=True)
TRUTH = json.loads((FIXTURES_DIR / "apple" / "ground_truth.json").read_text("utf-8"))


# --- URLs ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "cc", "page"), [
    ("https://podcasts.apple.com/us/podcast/ai-post-transformers/id1781640912", "us",
     "https://podcasts.apple.com/us/podcast/ai-post-transformers/id1781640912"),
    ("https://podcasts.apple.com/no/podcast/id1781640912", "no",
     "https://podcasts.apple.com/no/podcast/id1781640912"),
    ("http://podcasts.apple.com/DE/podcast/ai-post-transformers/id1781640912/?uo=4#x", "de",
     "https://podcasts.apple.com/de/podcast/ai-post-transformers/id1781640912"),
    ("https://podcasts.apple.com/podcast/id1781640912", "us",
     "https://podcasts.apple.com/us/podcast/id1781640912"),
    ("https://podcasts.apple.com/gb/podcast/some-episode/id1781640912?i=1000702345678&uo=4",
     "gb", "https://podcasts.apple.com/gb/podcast/some-episode/id1781640912"),
    ("https://itunes.apple.com/jp/podcast/ai-post-transformers/id1781640912?mt=2&uo=4", "jp",
     "https://podcasts.apple.com/jp/podcast/ai-post-transformers/id1781640912"),
])
def test_every_show_url_form_starts_with_the_lookup_api_then_the_page(url, cc, page):
    adapter = adapters.detect(url)
    assert isinstance(adapter, AppleAdapter)
    assert adapter.start_urls(url) == [lookup_url(SHOW_ID, cc), page]
    assert adapter.optional_page(page) and not adapter.optional_page(lookup_url(SHOW_ID, cc))


def test_lookup_urls_are_apples_and_kept_as_built():
    url = lookup_url(SHOW_ID, "no")
    assert url == ("https://itunes.apple.com/lookup?id=1781640912&media=podcast"
                   "&entity=podcastEpisode&limit=200&country=no")
    assert adapters.detect(url).name == "apple"
    assert adapters.get("apple").start_urls(url) == [url]
    assert adapters.detect("https://www.apple.com/apple-podcasts/") is None
    assert adapters.detect("https://music.apple.com/us/album/x/id123") is None


# --- the recordings ----------------------------------------------------------------------------

@pytest.mark.parametrize("cc", ["us", "no"])
def test_the_lookup_answer_is_the_newest_200_of_658_with_guids_and_the_feed(cc):
    case = APPLE[f"lookup-{cc}"]
    listing = parse_capture(adapters.get("apple"), case.capture())
    assert listing.window == 200 and len(listing.episodes) == 200
    assert listing.show.claimed_count == len(ON_APPLE) == 658
    assert listing.show.feed_url == CATALOGUE["show"]["feed_url"]
    assert listing.show.url == f"https://podcasts.apple.com/{cc}/podcast/ai-post-transformers/id{SHOW_ID}"
    by_key = {e["key"]: e for e in ON_APPLE}
    assert [TRUTH[e.id] for e in listing.episodes] == [e["key"] for e in ON_APPLE[:200]]
    for episode in listing.episodes:
        entry = by_key[TRUTH[episode.id]]
        assert episode.published.isoformat() == entry["published"]
        assert episode.duration_seconds == entry["duration_seconds"]
        assert episode.audio_url == entry["audio_url"]
        assert f"/{cc}/podcast/" in episode.url and episode.url.endswith(f"?i={episode.id}")
    guids = {e.id: e.guid for e in listing.episodes}
    with_guid = [i for i, g in guids.items() if g]
    assert 150 < len(with_guid) < 200, "most carry the feed's guid, some do not"
    assert all(guids[i] == by_key[TRUTH[i]]["guid"] for i in with_guid)


def test_a_complete_small_show_has_no_window_and_a_teaser_is_flagged_cut():
    listing = parse_capture(adapters.get("apple"), APPLE["lookup-small"].capture())
    assert listing.window is None and len(listing.episodes) == listing.show.claimed_count == 3
    teaser = next(e for e in listing.episodes if e.title == "Two: Tokenizers")
    assert teaser.description_truncated
    assert listing.show.feed_url == "https://feeds.example.org/small.xml"


def test_the_show_page_gives_the_show_and_the_feed_and_a_printed_count():
    case = APPLE["show-us"]
    listing = parse_capture(adapters.get("apple"), case.capture())
    assert listing.episodes == [] and listing.show.title == PODCAST
    assert listing.show.feed_url == CATALOGUE["show"]["feed_url"]
    assert listing.show.claimed_count is None  # the recorded page prints none
    counted = case.path.read_text("utf-8").replace('"adamId"', '"episodeCount": 658, "adamId"')
    capture = dataclasses.replace(case.capture(), body=counted.encode())
    assert parse_capture(adapters.get("apple"), capture).show.claimed_count == 658


# --- syncs -------------------------------------------------------------------------------------

def _config(server: ReplayServer, db: Path, *urls: str) -> Config:
    sources = [SourceConfig(podcast=PODCAST, url=FEED.url, platform="rss")]
    sources += [SourceConfig(podcast=PODCAST, url=u, platform="apple") for u in urls]
    return Config(podcasts=[PodcastConfig(name=PODCAST, sources=sources)],
                  routes=Routes(server.routes_for([])), fetch={"min_delay": 0.0, "retries": 1},
                  db=db)


def _apple_cases(folder: Path, **bodies: bytes | tuple[int, bytes]) -> list[FixtureCase]:
    """The recordings, with some Apple answers replaced (name -> body or (status, body));
    the replacements are written into `folder`."""
    out: list[FixtureCase] = []
    for case in CASES:
        if case.name in bodies and case.platform == "apple":
            value = bodies[case.name]
            status, body = value if isinstance(value, tuple) else (case.status, value)
            path = folder / case.path.name
            path.write_bytes(body)
            out.append(dataclasses.replace(case, status=status, path=path))
        else:
            out.append(case)
    return out


def _links(db: Path) -> dict[tuple[str, str], tuple[int, str]]:
    rows = sqlite_utils.Database(db).query(
        "select pe.platform, pe.episode_id, l.episode_id as canonical, l.rule "
        "from episode_links l join platform_episodes pe on pe.id = l.platform_episode_id")
    return {(r["platform"], r["episode_id"]): (r["canonical"], r["rule"]) for r in rows}


def test_sync_archives_the_200_newest_in_two_storefronts_and_links_them_by_guid(tmp_path):
    db = tmp_path / "archive.db"
    pages = [APPLE["show-us"].url, APPLE["show-no"].url]
    with ReplayServer(CASES) as server:
        summary = sync(_config(server, db, *pages), db)
        again = sync(_config(server, db, *pages), db)
    assert summary.ok and again.ok
    apple = [s for s in summary.sources if s.platform == "apple"]
    assert [(s.status, s.listed, s.claimed, s.window, s.removed) for s in apple] == [
        ("ok", 200, 658, 200, 0)] * 2
    assert apple[0].note.startswith("Apple Podcasts lists the newest 200 of 658 episodes")
    assert apple[0].pages == 2 and apple[0].warnings == []
    assert {s.status for s in again.sources} == {"unchanged"}
    assert [s.window for s in again.sources if s.platform == "apple"] == [200, 200]
    reparsed = reparse(db)  # the stored lookup answers and pages, no network
    assert [(s.status, s.listed, s.window, s.removed) for s in reparsed.sources
            if s.platform == "apple"] == [("ok", 200, 200, 0)] * 2
    links = _links(db)
    feed = {episode_id: canonical for (platform, episode_id), (canonical, _) in links.items()
            if platform == "rss"}
    by_key = {e["key"]: e for e in ON_APPLE}
    for track, key in TRUTH.items():
        canonical, rule = links[("apple", track)]
        assert canonical == feed[by_key[key]["guid"]]
        assert rule == ("exact-title+date" if int(key[2:]) % 10 == 3 else "same-guid")
    database = sqlite_utils.Database(db)
    assert database.execute("select count(*) from platform_episodes where platform = 'apple'"
                            ).fetchone()[0] == 400
    # Datasette's "missing per platform" agrees: what is beyond Apple's window is not missing.
    metadata = json.loads((Path(__file__).parent.parent / "data" / "metadata.json").read_text())
    sql = metadata["databases"]["archive"]["queries"]["missing_per_platform"]["sql"]
    assert database.execute(sql, {"podcast": "", "platform": "apple"}).fetchall() == []
    no_window = sql.replace("w.window_from IS NULL", "1")
    assert len(database.execute(no_window, {"podcast": "", "platform": "apple"}).fetchall()) \
        == 2 * (658 - 200)


def _lookup(case: FixtureCase) -> dict:
    return json.loads(case.path.read_text("utf-8"))


def _body(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode()


def test_a_moving_window_removes_nothing_beyond_it_and_a_renamed_episode_keeps_its_guid(tmp_path):
    """Ten new episodes push nine old ones out of Apple's window: those are beyond it, not
    removed. One episode inside the window vanishes: that one is removed. One is renamed on
    Apple: the guid still links it to the feed's item."""
    db = tmp_path / "archive.db"
    page = APPLE["show-us"].url
    with ReplayServer(CASES) as server:
        assert sync(_config(server, db, page), db).ok
    payload = _lookup(APPLE["lookup-us"])
    show, episodes = payload["results"][0], payload["results"][1:]
    fresh = []
    for n in range(10):
        item = dict(episodes[0])
        item.update(trackId=1000799990000 + n, trackName=f"A newer paper, part {n + 1}",
                    episodeGuid=f"new-guid-{n}", releaseDate="2026-05-28T12:00:00Z",
                    description=f"Newer material number {n + 1}.")
        fresh.append(item)
    gone = episodes[50]
    renamed = next(e for e in episodes[60:] if e.get("episodeGuid"))
    renamed = {**renamed, "trackName": "A title Apple rewrote entirely"}
    kept = [renamed if e["trackId"] == renamed["trackId"] else e
            for e in episodes[:191] if e is not gone]
    moved = {**payload, "resultCount": 201, "results": [show, *fresh, *kept]}
    assert len(moved["results"]) == 201
    with ReplayServer(_apple_cases(tmp_path, **{"lookup-us": _body(moved)})) as server:
        summary = sync(_config(server, db, page), db)
    apple = next(s for s in summary.sources if s.platform == "apple")
    assert (summary.ok, apple.status, apple.window, apple.new, apple.removed) == (
        True, "ok", 200, 10, 1)
    database = sqlite_utils.Database(db)
    listed = {r["episode_id"]: r["listed"] for r in database.query(
        "select episode_id, listed from platform_episodes where platform = 'apple'")}
    assert listed[str(gone["trackId"])] == 0
    assert all(listed[str(e["trackId"])] == 1 for e in episodes[191:])  # beyond: kept
    canonical, rule = _links(db)[("apple", str(renamed["trackId"]))]
    feed_row = _links(db)[("rss", renamed["episodeGuid"])]
    assert (canonical, rule) == (feed_row[0], "same-guid")


def test_an_unreadable_show_page_is_a_warning_and_an_unknown_show_fails_loudly(tmp_path):
    db = tmp_path / "archive.db"
    page = APPLE["show-us"].url
    error_page = b"<html><body>Internal error</body></html>"
    broken = _apple_cases(tmp_path, **{"show-us": (500, error_page)})
    with ReplayServer(broken) as server:
        summary = sync(_config(server, db, page), db)
        unknown = sync(_config(server, db, "https://podcasts.apple.com/us/podcast/id1000000001"),
                       db)
    apple = next(s for s in summary.sources if s.platform == "apple")
    assert summary.ok and (apple.status, apple.listed) == ("ok", 200)
    assert len(apple.warnings) == 1 and "optional_page" in apple.warnings[0]
    assert "HTTP 500" in apple.warnings[0]
    missing = next(s for s in unknown.sources if s.platform == "apple")
    assert not unknown.ok and missing.status == "failed"
    assert "knows no show with id 1000000001" in missing.error


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scraper", *args], capture_output=True,
                          text=True, timeout=300)


def test_sync_of_a_windowed_source_exits_0_and_says_why(tmp_path):
    config = tmp_path / "scraper.toml"
    with ReplayServer(CASES) as server:
        routes = "\n".join(f'"{p}" = "{b}"' for p, b in server.routes_for([]).items())
        config.write_text(
            f'db = "a.db"\n[[podcasts]]\nname = "{PODCAST}"\n'
            f'sources = [{{ url = "{APPLE["show-no"].url}" }}]\n'
            f'[fetch]\nmin_delay = 0.0\n[routes]\n{routes}\n', "utf-8")
        result = cli("sync", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "Apple Podcasts lists the newest 200 of 658 episodes" in result.stdout


def test_add_proposes_the_publishers_feed_and_with_feed_adds_it(tmp_path):
    config = tmp_path / "scraper.toml"
    url = APPLE["show-us"].url + "?uo=4"
    with ReplayServer(CASES) as server:
        routes = [f"--route={p}={b}" for p, b in server.routes_for([]).items()]
        proposed = cli("add", url, "--podcast", PODCAST, "--config", str(config), *routes)
        assert proposed.returncode == 0, proposed.stderr
        assert "checked: AI Post Transformers: 200 episodes" in proposed.stdout
        assert ("apple names the publisher's feed https://podcast.do-not-panic.com/feed.xml"
                in proposed.stdout)
        assert "feed.xml" not in config.read_text("utf-8")
        other = tmp_path / "other.toml"
        both = cli("add", url, "--podcast", PODCAST, "--config", str(other), "--with-feed",
                   *routes)
    assert both.returncode == 0, both.stderr
    text = other.read_text("utf-8")
    assert APPLE["show-us"].url in text and "https://podcast.do-not-panic.com/feed.xml" in text
    assert "added rss source https://podcast.do-not-panic.com/feed.xml" in both.stdout


def test_a_shared_guid_wins_over_an_exact_title_and_date():
    """Apple's episode carries the guid of feed item A but the title and date of feed item B
    (a publisher re-titled items): the guid is proof, the title only evidence."""
    import itertools

    from scraper.matching import Matcher, item_from_row

    def row(pk: int, source: int, platform: str, title: str, guid: str) -> dict:
        return {"id": pk, "source_id": source, "podcast_id": 1, "platform": platform,
                "episode_id": f"{platform}-{pk}", "title": title, "published": "2026-05-01",
                "duration_seconds": 3600, "extra": json.dumps({"guid": guid})}

    matcher = Matcher(itertools.count(1))
    feed = [item_from_row(row(1, 1, "rss", "Alpha: Sparse Mixtures of Experts", "g-1")),
            item_from_row(row(2, 1, "rss", "Beta: Dense Mixtures of Experts", "g-2"))]
    matcher.link_source(feed)
    apple = item_from_row(row(3, 2, "apple", "Beta: Dense Mixtures of Experts", "g-1"))
    matcher.link_source([apple])
    cluster = next(c for c in matcher.clusters.values() if apple in c.members)
    assert feed[0] in cluster.members and cluster.links[apple.id] == (1.0, "same-guid")
