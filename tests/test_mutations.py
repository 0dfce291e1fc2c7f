"""The mutation suite: every platform's show-page generations changed the way a site's next
deploy changes them (tests/mutations.py: classes renamed, data-* hooks removed, the state
script removed or moved to the other generation, long strings outlined as Flight text rows,
the rows removed, the count printed in another language, a consent layer), each run through
a real sync against the replay server on 127.0.0.1 (the variant at the page's real URL, the
platform's other recordings and API answers beside it). Each must give the complete list (the
same episodes as a sync of the unchanged page; a `layout_drift` warning where something was
not read) or fail the source loudly with the page kept; never fewer episodes silently.

The outcomes form a table printed at the end of the run (tests/conftest.py) and kept in the
README's platform section; `test_readme_table_is_current` fails when the two differ."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from functools import cache
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
from mutations import GENERATIONS, RESULTS, VARIANTS, readme_table, table

from scraper.config import parse_config
from scraper.fixtures import FixtureCase, load_cases
from scraper.replay import ReplayServer
from scraper.sync import sync

ROOT = Path(__file__).resolve().parent.parent
FAST = {"min_delay": 0.0, "retries": 1, "timeout": 5.0}
LOUD = ("layout", "blocked", "partial")


@cache
def _cases(platform: str) -> list[FixtureCase]:
    cases = [c for c in load_cases() if c.platform == platform]
    return cases + _castbox_from_zero(cases) if platform == "castbox" else cases


def _castbox_from_zero(cases: list[FixtureCase]) -> list[FixtureCase]:
    """Castbox's signed API from skip=0 (where a page with neither state nor rows starts),
    answered with the whole list the recordings hold: the page's 20, then the API pages.
    (Its recordings start at skip=20, after the page's own rows.)"""
    from adapters.castbox import episode_list_url

    by_name = {c.name: c for c in cases}
    html = by_name["channel"].path.read_text("utf-8")
    state = json.loads(unquote(re.search(r'__INITIAL_STATE__ = "([^"]*)"', html).group(1)))
    items = list(state["ch"]["eps"])
    pages = sorted(n for n in by_name if re.fullmatch(r"episode-list-skip\d+", n))
    for name in pages:
        items += json.loads(by_name[name].path.read_text("utf-8"))["data"]["episode_list"]
    template = by_name[pages[0]]
    cid = dict(parse_qsl(urlsplit(template.url).query))["cid"]
    day = template.fetched_at.strftime("%Y%m%d")
    folder = Path(tempfile.mkdtemp(prefix="castbox-api-"))
    _TEMP.append(folder)
    made = []
    for skip in range(0, len(items) + 1, 100):
        path = folder / f"from-zero-{skip}.json"
        body = {"code": 0, "msg": "", "data": {"episode_list": items[skip:skip + 100]}}
        path.write_text(json.dumps(body), "utf-8")
        made.append(replace(template, name=f"api-from-zero-{skip}", path=path,
                            url=episode_list_url(cid, skip, day), expected=None))
    return made


_TEMP: list[Path] = []


def _ids(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {r[0] for r in conn.execute(
            "select episode_id from platform_episodes where listed = 1")}


def _kept(db: Path, url: str) -> bool:
    with sqlite3.connect(db) as conn:
        return conn.execute("select count(*) from captures where url = ?",
                            (url,)).fetchone()[0] > 0


def _sync(platform: str, start: FixtureCase, served: list[FixtureCase], db: Path):
    with ReplayServer(served) as server:
        settings = parse_config({
            "podcasts": [{"name": "Mutated", "sources": [
                {"url": start.url, "platform": platform}]}],
            "routes": server.routes_for([start.url]), "fetch": FAST})
        return sync(settings, db).sources[0]


_BASELINES: dict[tuple[str, str], set[str]] = {}


def baseline(platform: str, generation: str, tmp: Path) -> set[str]:
    """The episodes a sync of the unchanged page archives: the complete list."""
    key = (platform, generation)
    if key not in _BASELINES:
        cases = _cases(platform)
        start = next(c for c in cases if c.name == generation)
        db = tmp / f"baseline-{platform}-{generation}.db"
        source = _sync(platform, start, [start, *cases], db)
        assert source.status == "ok", (platform, generation, source.error)
        _BASELINES[key] = _ids(db)
        assert _BASELINES[key]
    return _BASELINES[key]


def outcome(platform: str, generation: str, variant: str, tmp: Path) -> str:
    """Run one variant; the table's cell, or an AssertionError on silent loss."""
    key = (platform, generation, variant)
    if key in RESULTS:
        return RESULTS[key]
    cases = _cases(platform)
    start = next(c for c in cases if c.name == generation)
    mutate = VARIANTS[variant]
    folder = tmp / f"{platform}-{generation}-{variant.replace(' ', '_')}"
    folder.mkdir()
    served: list[FixtureCase] = []
    start_changed = False
    for case in [start, *(c for c in cases if c is not start)]:
        if case.error is None and case.content_type.startswith("text/html"):
            changed = mutate(case.path.read_text("utf-8"), platform)
            if changed is not None:
                path = folder / case.path.name
                path.write_text(changed, "utf-8")
                case = replace(case, path=path)
                start_changed = start_changed or case.name == start.name
        served.append(case)
    if not start_changed:
        RESULTS[key] = "n/a"
        return "n/a"
    complete = baseline(platform, generation, tmp)
    db = folder / "a.db"
    source = _sync(platform, start, served, db)
    if source.status in LOUD:
        assert _kept(db, start.url), f"{key}: failed as {source.status} without the page kept"
        assert source.error, key
        cell = source.status
    else:
        got = _ids(db)
        assert source.status == "ok", (key, source.status, source.error)
        assert got == complete, (
            f"{key}: {len(got)} of {len(complete)} episodes, silently "
            f"(missing e.g. {sorted(complete - got)[:3]}, extra {sorted(got - complete)[:3]})")
        drift = any(w.startswith("layout_drift") for w in source.warnings)
        cell = ("complete +drift" if drift else "complete +warning" if source.warnings
                else "complete")
    RESULTS[key] = cell
    return cell


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("mutations")
    while _TEMP:
        shutil.rmtree(_TEMP.pop(), ignore_errors=True)


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("platform,generation", [
    (p, g) for p, generations in GENERATIONS.items() for g in generations])
def test_variant_gives_the_whole_list_or_fails_loudly(platform, generation, variant, workdir):
    cell = outcome(platform, generation, variant, workdir)
    assert cell in ("complete", "complete +drift", "complete +warning", "n/a", *LOUD)


def test_the_variants_change_what_they_say(workdir):
    """Guards against variants that silently do nothing: the core ones apply to every
    platform's first generation, and the state moves to every Next.js and Nuxt page."""
    for platform, generations in GENERATIONS.items():
        first = generations[0]
        for variant in ("classes renamed", "rows removed", "consent layer"):
            assert outcome(platform, first, variant, workdir) != "n/a", (platform, variant)
    for platform, generation in [("radionet", "show"), ("radionet", "show-next-data"),
                                 ("podimo", "show-no-nuxt2"), ("podimo", "show-no-nuxt3")]:
        assert outcome(platform, generation, "state moved", workdir) != "n/a"
    assert outcome("radionet", "show-next-data", "flight text rows", workdir) != "n/a"


def test_readme_table_is_current(workdir):
    for platform, generations in GENERATIONS.items():
        for generation in generations:
            for variant in VARIANTS:
                outcome(platform, generation, variant, workdir)
    generated = table(RESULTS)
    assert readme_table(ROOT / "README.md") == generated, (
        "the README's mutation table is stale; replace it with:\n" + generated)


def test_state_moves_write_the_other_generation_in_its_real_format():
    """The moved state is read back by the toolkit's own readers as the other generation,
    with the same content (Pages Router <-> Flight, Nuxt 2 <-> Nuxt 3, text rows)."""
    from mutations import flight_text_rows, state_moved

    from adapters._nuxt import nuxt_state_with_kind
    from adapters.base import find_objects, flight_stream, next_data, next_flight

    pages = {c.name: c.path.read_text("utf-8") for c in _cases("radionet")}
    flight_page = pages["show"]
    moved = state_moved(flight_page, "radionet")
    assert "__next_f" not in moved and next_data(moved) is not None
    ids = [e["id"] for e in find_objects(next_flight(flight_page), {"id", "title"})
           if "parentId" in e]
    assert ids and [e["id"] for e in find_objects(next_data(moved), {"id", "title"})
                    if "parentId" in e] == ids
    back = state_moved(pages["show-next-data"], "radionet")
    assert "__NEXT_DATA__" not in back and next_flight(back)
    outlined = flight_text_rows(pages["show-next-data"], "radionet")
    stream = flight_stream(outlined)
    assert re.search(rb"\n?[0-9a-f]+:T[0-9a-f]+,", stream)  # text rows by byte length
    titles = {e["title"] for e in find_objects(next_data(pages["show-next-data"]),
                                               {"id", "title"}) if "parentId" in e}
    assert titles <= {e.get("title") for e in find_objects(next_flight(outlined), {"id"})}

    nuxt = {c.name: c.path.read_text("utf-8") for c in _cases("podimo")}
    two, three = nuxt["show-no-nuxt2"], nuxt["show-no-nuxt3"]
    assert nuxt_state_with_kind(state_moved(two, "podimo"))[0] == "nuxt3"
    kind, state = nuxt_state_with_kind(state_moved(three, "podimo"))
    assert kind == "nuxt2"
    assert [e["id"] for e in find_objects(state, {"id", "title", "datetime"})] == [
        e["id"] for e in find_objects(nuxt_state_with_kind(three)[1], {"id", "title", "datetime"})]
