"""`scraper inspect URL|FILE [--platform P] [--save]`, run as a user runs it (subprocesses):
on recorded and changed pages, on files outside fixtures/, and on URLs fetched through the
normal fetcher from a replay server on 127.0.0.1 (routes from the sources file). `--save`
writes a capture and an index entry that load as a test case and parse as recorded."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from httpserver import LocalServer
from mutations import rows_and_state_removed

import adapters
from scraper import errors
from scraper.fixtures import FIXTURES_DIR, load_cases
from scraper.parsing import parse_capture
from scraper.replay import ReplayServer

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scraper", *args], capture_output=True,
                          text=True, timeout=120, check=False, cwd=cwd or ROOT)


def lines(output: str) -> list[str]:
    return [" ".join(line.split()) for line in output.splitlines()]


def test_a_recorded_app_router_page_as_a_checklist():
    done = cli("inspect", str(FIXTURES_DIR / "radionet" / "show.html"))
    assert done.returncode == 0, done.stderr
    out = lines(done.stdout)
    assert out[0].startswith("https://www.radio.net/podcast/ai-post-transformers (radionet, "
                             "HTTP 200")
    assert "[x] state self.__next_f.push (Next.js App Router Flight): 9 rows" in out
    assert "[x] show_id ai-post-transformers from canonical" in out
    assert "[x] title AI Post Transformers from meta" in out
    assert "[x] count 458 from state" in out
    assert "[x] rows 5 episode(s) read (show page)" in out
    assert ("next https://prod.radio-api.net/podcasts/episodes/by-podcast-ids?podcastIds="
            "ai-post-transformers&count=100&offset=0") in out
    assert out[-1] == "result: ok"


def test_a_page_outside_fixtures_is_recognised_by_its_canonical_link(tmp_path):
    page = tmp_path / "saved.html"
    page.write_bytes((FIXTURES_DIR / "podimo" / "show-no-nuxt3.html").read_bytes())
    done = cli("inspect", str(page), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["platform"] == "podimo"
    assert [s["kind"] for s in report["states"]] == ["nuxt3"]
    facts = {f["name"]: f for f in report["facts"]}
    assert facts["podcast_id"]["signal"] == "canonical"
    assert facts["podcast_id"]["value"] == "15a05b3a-df6c-533b-a4fa-4bc20c767c79"
    assert report["rows"] == 5
    assert report["next"] == ["POST https://graphql.podimo.com/graphql"]
    assert report["error"] is None


def test_a_changed_page_says_what_was_not_found(tmp_path):
    """The rows and the state gone: the checklist shows no state, the facts still read from
    the head, no rows, the API as next, and the layout_drift warning a sync would record."""
    case = next(c for c in load_cases() if c.platform == "radionet" and c.name == "show")
    page = tmp_path / "drifted.html"
    page.write_text(rows_and_state_removed(case.path.read_text("utf-8"), "radionet"), "utf-8")
    done = cli("inspect", str(page))
    assert done.returncode == 0, done.stderr
    out = lines(done.stdout)
    assert any(line.startswith("[ ] state not on the page: Next.js App Router Flight, "
                               "Next.js __NEXT_DATA__") for line in out), out
    assert "[x] count 458 (printed \"458 episodes\") from text" in out
    assert "[-] rows 0 episode(s) read (show page)" in out
    assert any(line.startswith("[ ] warning layout_drift: no episode rows found on the show "
                               "page") for line in out), out
    assert out[-1] == "result: ok with warnings"


def test_a_page_no_platform_recognises_needs_platform(tmp_path):
    page = tmp_path / "unknown.html"
    page.write_text("<html><head><title>x</title></head><body>hi</body></html>", "utf-8")
    done = cli("inspect", str(page))
    assert done.returncode == 2
    assert "no platform recognises the page" in done.stderr and "--platform" in done.stderr
    assert "Traceback" not in done.stderr
    given = cli("inspect", str(page), "--platform", "radionet", "--url",
                "https://www.radio.net/podcast/x")
    assert given.returncode == 1  # read, and failed as a sync would: no title
    assert "result: layout: radionet: no podcast title" in given.stdout


def _sources(tmp_path: Path, server: ReplayServer) -> Path:
    path = tmp_path / "scraper.toml"
    routes = "\n".join(f'"{k}" = "{v}"' for k, v in server.routes_for([]).items())
    path.write_text(f"[routes]\n{routes}\n[fetch]\nmin_delay = 0.0\nretries = 1\n", "utf-8")
    return path


def test_url_mode_fetches_through_the_routes_and_saves_a_test_case(tmp_path):
    cases = [c for c in load_cases() if c.platform == "castbox"]
    channel = next(c for c in cases if c.name == "channel")
    with ReplayServer(cases) as server:
        toml = _sources(tmp_path, server)
        done = cli("inspect", channel.url, "--config", str(toml), "--save", "--fixtures",
                   str(tmp_path / "fixtures"))
        assert done.returncode == 0, done.stderr
        assert any(hit.startswith("/castbox.fm/channel/") for hit in server.hits)
    out = lines(done.stdout)
    assert "[x] state window.__INITIAL_STATE__ (URL-encoded JSON): ch.eps: 20 episodes" in out
    assert "[x] rows 20 episode(s) read (show page)" in out
    saved = re.search(r"saved (\S+)", done.stdout).group(1)
    index = json.loads((tmp_path / "fixtures" / "castbox" / "index.json").read_text("utf-8"))
    assert [e["file"] for e in index] == [Path(saved).name]
    entry = index[0]
    assert entry["url"] == channel.url and entry["status"] == 200
    assert entry["expected"].endswith(".expected.json")
    # The saved case is a ready test case: it loads and parses to its expected JSON.
    [case] = load_cases(tmp_path / "fixtures")
    assert case.path.read_bytes() == channel.path.read_bytes()
    got = parse_capture(adapters.get("castbox"), case.capture()).to_json()
    assert got == case.expected_json()


def test_url_mode_on_a_captcha_keeps_the_page_as_an_error_case(tmp_path):
    cases = [c for c in load_cases() if c.platform == "audible"]
    captcha = next(c for c in cases if c.name == "captcha-com")
    with ReplayServer(cases) as server:
        toml = _sources(tmp_path, server)
        done = cli("inspect", captcha.url, "--config", str(toml), "--save", "--fixtures",
                   str(tmp_path / "fx"))
    assert done.returncode == 1
    assert "result: blocked: audible: Amazon captcha" in done.stdout
    [case] = load_cases(tmp_path / "fx")
    assert case.status == 503 and case.error["type"] == "BlockedError"
    with pytest.raises(getattr(errors, case.error["type"]), match=case.error["match"]):
        parse_capture(adapters.get("audible"), case.capture())


def test_url_mode_refuses_loopback_without_a_route(tmp_path):
    """The normal fetcher's address rule holds: a loopback URL with no route and no
    allow_private is refused in one line."""
    with LocalServer() as server:
        server.on("/podcast/x", lambda req: req.reply(200, b"<html></html>", {}))
        done = cli("inspect", f"{server.base}/podcast/x", "--platform", "radionet",
                   "--config", str(tmp_path / "none.toml"))
        assert server.count("/podcast/x") == 0
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
