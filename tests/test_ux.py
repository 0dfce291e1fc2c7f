"""A new user's first hour (issue 12): clean one-line errors, output that fits or is plain,
CSV, `episode`, `diff --fail-on`, `replay` + demo.toml, `parse` without --url, and the
Datasette reports on the demo archive. Commands run as subprocesses, as a user runs them."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from rich.console import Console

from scraper.datasette import free_port, serve
from scraper.fixtures import load_cases
from scraper.tables import Column, render

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def cli(*args: str, env: dict | None = None, cwd: Path | None = None
        ) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scraper", *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})}, cwd=cwd)


def one_line_usage_error(result: subprocess.CompletedProcess, *words: str, code: int = 2
                         ) -> None:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def demo_platforms(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {r[0] for r in conn.execute("select distinct platform from sources")}


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("ux") / "demo.db"
    result = cli("demo", "--db", str(db), "--json")
    assert result.returncode == 0, result.stderr
    return db


# ---------------------------------------------------------------------------------------------
# --db that is not an archive


@pytest.mark.parametrize("command", ["diff", "episodes", "changes", "serve", "reparse", "feed"])
def test_db_that_is_text_or_another_apps_sqlite_is_one_line(tmp_path, command):
    text = tmp_path / "notes.txt"
    text.write_text("hello, not a database\n")
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("create table photos (id integer primary key, path text)")
    for path in (text, other):
        before = sorted(p.name for p in tmp_path.iterdir())
        result = cli(command, "--db", str(path))
        one_line_usage_error(result, str(path), "not a scraper archive", code=5)
        assert "canonical episodes" not in result.stdout
        assert sorted(p.name for p in tmp_path.iterdir()) == before  # no .lock, no -wal
    assert text.read_text() == "hello, not a database\n"


def test_episode_and_sources_refuse_a_foreign_db(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("x")
    one_line_usage_error(cli("episode", "1", "--db", str(text)), "not a scraper archive",
                         code=5)
    config = tmp_path / "s.toml"
    config.write_text('[[podcasts]]\nname = "X"\nsources = [{ url = '
                      '"https://podcast.do-not-panic.com/feed.xml" }]\n')
    one_line_usage_error(cli("sources", "-c", str(config), "--db", str(text)),
                         "not a scraper archive", code=5)


# ---------------------------------------------------------------------------------------------
# Option values


def test_bad_option_values_are_one_line_usage_errors(demo_db):
    db = str(demo_db)
    one_line_usage_error(cli("changes", "--db", db, "--since", "garbage"), "--since")
    one_line_usage_error(cli("diff", "--db", db, "--platform", "myspace"), "unknown platform")
    one_line_usage_error(cli("changes", "--db", db, "--platform", "myspace"),
                         "unknown platform")
    one_line_usage_error(cli("diff", "--db", db, "--podcast", "Nope"), "no podcast named")
    one_line_usage_error(cli("episodes", "--db", db, "--podcast", "Nope"), "no podcast named")
    one_line_usage_error(cli("diff", "--db", db, "--json", "--markdown"), "--json and --markdown")
    one_line_usage_error(cli("episodes", "--db", db, "--json", "--csv"), "--json and --csv")
    one_line_usage_error(cli("episodes", "--db", db, "--limit", "-1"), "--limit")
    one_line_usage_error(cli("reparse", "--db", db, "--platform", "rss", "--platform", "audible"),
                         "--platform")
    one_line_usage_error(cli("diff", "--db", db, "--fail-on", "missing,typo"), "--fail-on")
    good = cli("changes", "--db", db, "--since", "2026-03-01", "--json")
    assert good.returncode == 0 and json.loads(good.stdout)


def test_a_second_platform_for_sync_is_refused(tmp_path):
    config = tmp_path / "s.toml"
    config.write_text('[[podcasts]]\nname = "X"\nsources = [{ url = '
                      '"https://podcast.do-not-panic.com/feed.xml" }]\n')
    one_line_usage_error(cli("sync", "-c", str(config), "--platform", "rss", "--platform",
                             "audible"), "--platform")
    assert not (tmp_path / "data").exists()


# ---------------------------------------------------------------------------------------------
# A host that is down; --ignore-robots


def _down_config(tmp_path: Path) -> tuple[Path, str]:
    port = free_port()  # nothing listens there
    url = f"http://127.0.0.1:{port}/feed.xml"
    config = tmp_path / "s.toml"
    config.write_text(f'db = "a.db"\n[[podcasts]]\nname = "X"\nsources = [{{ url = "{url}", '
                      'platform = "rss" }]\n[fetch]\nretries = 2\nmin_delay = 0.01\n'
                      'allow_private = true\n')
    return config, url


def test_a_host_that_is_down_is_one_connection_failure(tmp_path):
    config, url = _down_config(tmp_path)
    result = cli("sync", "-c", str(config))
    assert result.returncode == 1
    said = result.stdout + result.stderr  # a cron log holds both
    assert "robots" not in said.lower(), said
    failure_lines = [line for line in said.splitlines() if "connection failed" in line]
    assert len(failure_lines) == 1, said
    assert failure_lines[0].count(url) == 1
    added = cli("add", url, "--podcast", "X", "--platform", "rss", "-c", str(config))
    assert added.returncode == 1
    assert "RobotsDisallowed" not in added.stderr and "robots" not in added.stderr.lower()
    assert added.stderr.count(url) == 1 and "connection failed" in added.stderr
    assert len(added.stderr.strip().splitlines()) == 1


def test_ignore_robots_warns_once_cleanly(tmp_path):
    config, _ = _down_config(tmp_path)
    result = cli("sync", "-c", str(config), "--ignore-robots")
    warnings = [line for line in result.stderr.splitlines() if "robots" in line.lower()]
    assert len(warnings) == 1, result.stderr
    assert "UserWarning" not in result.stderr and ".py:" not in result.stderr


# ---------------------------------------------------------------------------------------------
# Help


def test_help_has_readable_metavars_completion_and_verbosity():
    for command in ("sync", "parse", "add", "diff", "changes", "episodes", "episode"):
        text = cli(command, "--help", env={"COLUMNS": "120"}).stdout
        assert "<list[str]>" not in text and "{file}" not in text, command
    assert "PREFIX=BASE" in cli("sync", "--help", env={"COLUMNS": "120"}).stdout
    top = cli("--help", env={"COLUMNS": "120"}).stdout
    for flag in ("--install-completion", "--quiet", "--verbose"):
        assert flag in top
    quiet = cli("--quiet", "sync", "-c", "/nonexistent.toml")
    assert quiet.returncode == 2



def test_installed_bash_completion_completes_commands_and_flags(tmp_path):
    """`scraper --install-completion bash` into a fresh HOME, then a bash that loads what it
    installed completes commands and a command's flags through the console script."""
    script = shutil.which("scraper")
    assert script, "the `scraper` console script is not on PATH (pip install -e .)"
    env = {"HOME": str(tmp_path), "PATH": f"{Path(script).parent}:{os.environ['PATH']}",
           "SHELL": "/bin/bash"}
    # From a terminal the shell is found among the parent processes (shellingham); a test
    # has none for sure, so it names the shell, through typer's own switch for tests.
    installed = subprocess.run(
        [script, "--install-completion", "bash"], capture_output=True, text=True, timeout=60,
        env={**env, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"})
    assert installed.returncode == 0, installed.stderr
    assert "_scraper_completion" in (tmp_path / ".bashrc").read_text() + "".join(
        f.read_text() for f in tmp_path.rglob("*scraper*") if f.is_file())

    def complete(*words: str) -> list[str]:
        line = " ".join(words)
        probe = (f"source {tmp_path}/.bashrc; COMP_WORDS=({line}); "
                 f"COMP_CWORD={len(words) - 1}; _scraper_completion scraper; "
                 'printf "%s\\n" "${COMPREPLY[@]}"')
        done = subprocess.run(["bash", "--norc", "--noprofile", "-c", probe],
                              capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert "sync" in complete("scraper", "sy") and "serve" not in complete("scraper", "sy")
    assert complete("scraper", "diff", "--fail") == ["--fail-on"]


# ---------------------------------------------------------------------------------------------
# Tables at 80 columns and in pipes


def test_piped_tables_are_plain_tab_separated_lines(demo_db):
    out = cli("diff", "--db", str(demo_db)).stdout
    assert "…" not in out and "┃" not in out
    header = next(line for line in out.splitlines() if line.startswith("platform\t"))
    assert header.split("\t")[:2] == ["platform", "missing"]
    rows = [line.split("\t") for line in out.splitlines() if line.startswith("audible\t")]
    assert rows and len(rows[0]) == len(header.split("\t"))
    sources = cli("episodes", "--db", str(demo_db), "--limit", "3").stdout
    assert "…" not in sources and len(sources.splitlines()) == 5  # title, header, 3 rows


def test_terminal_tables_fit_80_columns_without_cutting_cells(demo_db):
    result = cli("diff", "--db", str(demo_db), env={"COLUMNS": "80", "FORCE_COLOR": "1",
                                                    "TTY_COMPATIBLE": "1"})
    out = ANSI.sub("", result.stdout)
    assert "…" not in out
    table = out.split("missing on")[0]
    assert all(len(line) <= 80 for line in table.splitlines()), table
    for platform in ("audible", "castbox", "radionet", "podtail"):
        assert re.search(rf"^\s*{platform}\s", table, re.M), table


def test_fit_drops_low_priority_columns_and_wraps_long_text():
    rows = [{"name": "radionet", "url": "https://www.radio.net/podcast/ai-post-transformers",
             "n": 458, "note": "x" * 30}]
    columns = [Column("name", "name"), Column("n", "n", right=True),
               Column("note", "note", priority=2), Column("url", "url", priority=1, wrap=True)]
    buffer = io.StringIO()
    render(rows, columns, console=Console(file=buffer, width=60, force_terminal=True,
                                          color_system=None))
    text = buffer.getvalue()
    assert "note" not in text.splitlines()[0] and "not shown at this width: note" in text
    assert "radionet" in text and "458" in text and "…" not in text
    assert all(len(line) <= 60 for line in text.splitlines())
    assert "radio.net/podcast" in text.replace("\n", "").replace(" ", "")


# ---------------------------------------------------------------------------------------------
# CSV


def test_csv_on_episodes_diff_changes_and_sources(demo_db, tmp_path):
    episodes = list(csv.DictReader(io.StringIO(cli("episodes", "--db", str(demo_db),
                                                   "--csv").stdout)))
    assert len(episodes) == 658 and episodes[0]["id"] and episodes[0]["title"]
    assert json.loads(episodes[0]["links"])[0]["platform"]
    drift = list(csv.DictReader(io.StringIO(cli("diff", "--db", str(demo_db), "--csv").stdout)))
    report = json.loads(cli("diff", "--db", str(demo_db), "--json").stdout)
    total = sum(sum(s["counts"].values()) for s in report["podcasts"][0]["sources"])
    assert len(drift) == total
    assert {r["kind"] for r in drift} >= {"missing", "not_yet_seen", "truncated_descriptions"}
    changes = list(csv.DictReader(io.StringIO(cli("changes", "--db", str(demo_db),
                                                  "--csv").stdout)))
    assert len(changes) == len(json.loads(cli("changes", "--db", str(demo_db),
                                              "--json").stdout))
    config = demo_db.parent / "demo.toml"
    sources = list(csv.DictReader(io.StringIO(cli("sources", "-c", str(config),
                                                  "--csv").stdout)))
    assert {r["platform"] for r in sources} == demo_platforms(demo_db)
    assert all(r["status"] == "ok" for r in sources)


# ---------------------------------------------------------------------------------------------
# diff: attention first; --fail-on


def test_diff_puts_missing_first_and_counts_not_yet_seen(demo_db):
    out = cli("diff", "--db", str(demo_db)).stdout
    lines = out.splitlines()
    first_detail = next(i for i, line in enumerate(lines) if line.startswith("missing on"))
    assert all(not line.startswith(("truncated", "republications")) for line in
               lines[:first_detail])
    assert "not yet seen on" not in out
    summary = next(line for line in lines if line.startswith("not yet seen"))
    assert "audible 202" in summary and "castbox 206" in summary
    expanded = cli("diff", "--db", str(demo_db), "--all").stdout
    assert "not yet seen on audible (202)" in expanded
    markdown = cli("diff", "--db", str(demo_db), "--markdown").stdout
    assert markdown.index("missing on") < markdown.index("truncated descriptions on")
    assert "not yet seen on" not in markdown


def test_fail_on_exits_4_only_for_drift_new_since_the_last_check(tmp_path):
    db = tmp_path / "demo.db"
    assert cli("demo", "--db", str(db), "--json").returncode == 0
    first = cli("diff", "--db", str(db), "--fail-on", "missing,date,title,new")
    assert first.returncode == 0, first.stderr  # the baseline
    again = cli("diff", "--db", str(db), "--fail-on", "missing,date,title,new")
    assert again.returncode == 0
    with sqlite3.connect(db) as conn:  # a platform drops an episode it listed
        (pe_id,) = conn.execute(
            "select pe.id from platform_episodes pe join episode_links l on "
            "l.platform_episode_id = pe.id join episodes e on e.id = l.episode_id "
            "where pe.platform = 'castbox' and e.title like 'FlashOptim%'").fetchone()
        conn.execute("update platform_episodes set listed = 0 where id = ?", [pe_id])
    new = cli("diff", "--db", str(db), "--fail-on", "missing")
    assert new.returncode == 4, new.stderr
    assert "missing on castbox" in new.stderr and "FlashOptim" in new.stderr
    assert cli("diff", "--db", str(db), "--fail-on", "missing").returncode == 0


# ---------------------------------------------------------------------------------------------
# episode


def test_episode_shows_every_platform_side_by_side(demo_db):
    data = json.loads(cli("episode", "FlashOptim", "--db", str(demo_db), "--json").stdout)
    episode = data["episode"]
    assert episode["title"].startswith("FlashOptim")
    assert episode["description_from"].startswith("rss ")
    assert ":" not in episode["description_from"].split(" ")[0]
    platforms = {row["platform"] for row in data["listings"]}
    with sqlite3.connect(demo_db) as conn:
        linked = {r[0] for r in conn.execute(
            "select pe.platform from episode_links l join platform_episodes pe on "
            "pe.id = l.platform_episode_id where l.episode_id = ?", [episode["id"]])}
    assert platforms == linked and {"rss", "audible", "podtail", "radionet"} <= platforms
    podtail = next(r for r in data["listings"] if r["platform"] == "podtail")
    assert podtail["description_cut"] is True
    rss = next(r for r in data["listings"] if r["platform"] == "rss")
    assert rss["description_cut"] is False and rss["description_length"] > 0
    assert [c["field"] for c in data["conflicts"]] == ["duration_seconds"]
    assert {h["change"] for h in data["history"]} == {"added"}
    by_id = json.loads(cli("episode", str(episode["id"]), "--db", str(demo_db),
                           "--json").stdout)
    assert by_id["episode"]["id"] == episode["id"]
    text = cli("episode", str(episode["id"]), "--db", str(demo_db)).stdout
    assert "conflict duration_seconds" in text and "audible" in text
    ambiguous = cli("episode", "Edge Devices", "--db", str(demo_db))
    one_line_usage_error(ambiguous, "episodes match", "give the id")
    one_line_usage_error(cli("episode", "999999", "--db", str(demo_db)), "no canonical episode")


# ---------------------------------------------------------------------------------------------
# parse without --url


def test_parse_takes_url_from_the_fixtures_index_or_the_page(tmp_path):
    cases = load_cases()
    checked = 0
    per_kind: dict[tuple[str, str], int] = {}
    for case in cases:
        if case.expected is None or case.error:
            continue
        kind = (case.platform, case.path.suffix)  # pages and API recordings of each platform
        per_kind[kind] = per_kind.get(kind, 0) + 1
        if per_kind[kind] > 2:
            continue
        result = cli("parse", str(case.path), "--platform", case.platform)
        assert result.returncode == 0, (case.platform, case.name, result.stderr)
        assert json.loads(result.stdout) == case.expected_json(), (case.platform, case.name)
        checked += 1
    assert checked >= 8
    assert any(c.path.suffix == ".json" for c in cases if c.expected)
    show = next(c for c in cases if c.platform == "audible" and c.name == "show-in")
    copy = tmp_path / "page.html"
    copy.write_bytes(show.path.read_bytes())
    result = cli("parse", str(copy), "--platform", "audible", "--fetched-at",
                 show.fetched_at.isoformat())
    assert result.returncode == 0, result.stderr
    api = next(c for c in cases if c.path.suffix == ".json" and c.expected)
    bare = tmp_path / "response.json"
    bare.write_bytes(api.path.read_bytes())
    one_line_usage_error(cli("parse", str(bare), "--platform", api.platform), "--url")


# ---------------------------------------------------------------------------------------------
# demo.toml + replay: sync, sources and add offline


def test_replay_serves_demo_toml_for_sync_sources_and_add(tmp_path):
    db = tmp_path / "demo.db"
    assert cli("demo", "--db", str(db), "--json").returncode == 0
    config = tmp_path / "demo.toml"
    port = free_port()
    text = config.read_text().replace(":8123/", f":{port}/")
    config.write_text(text)
    env = {**os.environ}
    replay = subprocess.Popen([sys.executable, "-m", "scraper", "replay", "--port", str(port)],
                              stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert "replaying" in replay.stderr.readline()
        synced = cli("sync", "--config", str(config), "--json")
        assert synced.returncode == 0, synced.stderr
        assert {s["status"] for s in json.loads(synced.stdout)["sources"]} == {"unchanged"}
        listed = cli("sources", "--config", str(config), "--json")
        assert {r["status"] for r in json.loads(listed.stdout)} == {"unchanged"}
        show = next(c for c in load_cases() if c.platform == "audible" and c.name == "show-in")
        added = cli("add", show.url, "--podcast", "Second", "--config", str(config))
        assert added.returncode == 0, added.stderr
        assert "Second" in config.read_text()
    finally:
        replay.send_signal(signal.SIGTERM)
        assert replay.wait(timeout=10) == 0
        replay.stderr.close()


# ---------------------------------------------------------------------------------------------
# Datasette on the demo archive


def wait_until_up(base: str, process) -> None:
    """Until Datasette answers at `base` (30 s, and only while `serve`'s process lives)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{base}/-/versions.json", timeout=5).read()
            return
        except OSError:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.2)


@pytest.fixture(scope="module")
def datasette(demo_db):
    port = free_port()
    process = serve(demo_db, "127.0.0.1", port, wait=False)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, process)
        yield base
    finally:
        process.stop()


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=20) as response:
        return json.loads(response.read())


def test_truncated_descriptions_report_counts_what_diff_counts(demo_db, datasette):
    report = json.loads(cli("diff", "--db", str(demo_db), "--json").stdout)
    expected = sum(s["counts"]["truncated_descriptions"]
                   for s in report["podcasts"][0]["sources"])
    rows = get_json(f"{datasette}/demo/truncated_descriptions.json?_shape=array&podcast=")
    assert len(rows) == expected == 636


def test_datasette_index_reports_hidden_tables_and_labelled_views(demo_db, datasette):
    index = urllib.request.urlopen(f"{datasette}/", timeout=20).read().decode()
    for title in ("Coverage matrix", "Duration conflicts", "Truncated descriptions"):
        assert title in index
    database = get_json(f"{datasette}/demo.json")
    hidden = {t["name"] for t in database["tables"] if t["hidden"]}
    assert {"_sqlite_migrations", "reconcile_marks"} <= hidden
    first = next(t["name"] for t in database["tables"] if not t["hidden"])
    assert not first.startswith("_")
    durations = get_json(f"{datasette}/demo/duration_conflicts.json?_shape=array&podcast=")
    assert len(durations) == 3 and all("audible 30 s" in r["platform_durations"]
                                       for r in durations)
    links = get_json(f"{datasette}/demo/episode_links_labelled.json?_shape=array"
                     "&platform=audible&_size=1")
    assert links[0]["canonical_title"] and links[0]["platform_episode_id"].startswith("B0")
    labelled = get_json(f"{datasette}/demo/episodes_labelled.json?_shape=array&_size=5")
    assert all(r["description_from"].startswith("rss ") for r in labelled)


def test_recent_changes_pages_past_1000_rows(demo_db, datasette):
    with sqlite3.connect(demo_db) as conn:
        (total,) = conn.execute("select count(*) from platform_episode_versions").fetchone()
    assert total > 1000
    seen, url = 0, f"{datasette}/demo/recent_changes.json?_size=1000"
    while url:
        page = get_json(url)
        seen += len(page["rows"])
        url = page.get("next_url")
    assert seen == total
    query = urllib.parse.urlencode({"_shape": "array"})
    assert get_json(f"{datasette}/demo/recent_changes.json?{query}")


# ---------------------------------------------------------------------------------------------
# The picture: /chart in headless Chromium, compared with what SQL says


def _per_month(db: Path) -> dict[tuple[str, str], int]:
    with sqlite3.connect(db) as conn:
        counts: dict[tuple[str, str], set[int]] = {}
        for month, platform, episode in conn.execute(
            "select substr(e.published, 1, 7), pe.platform, e.id from episodes e "
            "join episode_links l on l.episode_id = e.id join platform_episodes pe "
            "on pe.id = l.platform_episode_id where e.platforms > 0 and e.published is not null "
            "and coalesce(pe.listed, 1) = 1"):
            counts.setdefault((month, platform), set()).add(episode)
            counts.setdefault((month, "canonical"), set()).add(episode)
    return {key: len(ids) for key, ids in counts.items()}


@pytest.fixture(scope="module")
def lagged_db(demo_db, tmp_path_factory) -> Path:
    """The demo archive where a later sync found some episodes days after publication."""
    path = tmp_path_factory.mktemp("lag") / "lagged.db"
    with sqlite3.connect(demo_db) as source, sqlite3.connect(path) as target:
        source.backup(target)
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "select pe.id, e.published from platform_episodes pe join episode_links l on "
            "l.platform_episode_id = pe.id join episodes e on e.id = l.episode_id "
            "where pe.platform in ('radionet', 'castbox') and e.published is not null "
            "order by e.published desc, pe.id limit 6").fetchall()
        for days, (pe_id, published) in enumerate(rows, start=1):
            conn.execute("update platform_episodes set first_seen_run = first_seen_run + 5, "
                         "first_seen_at = date(?, ?) || 'T12:00:00+00:00' where id = ?",
                         [published, f"+{days} days", pe_id])
    return path


def test_chart_draws_what_the_data_says_in_chromium(lagged_db, tmp_path):
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("SCRAPER_CHROMIUM", "/usr/bin/chromium")
    assert Path(chromium).exists(), f"no Chromium at {chromium}: apt-get install -y chromium"
    port = free_port()
    process = serve(lagged_db, "127.0.0.1", port, wait=False)
    base = f"http://127.0.0.1:{port}"
    outside: list[str] = []
    try:
        wait_until_up(base, process)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium,
                                        args=["--no-sandbox", "--disable-gpu"])
            try:
                page = browser.new_page(viewport={"width": 1000, "height": 1100})
                page.on("request", lambda r: None if r.url.startswith(base)
                        else outside.append(r.url))
                page.goto(f"{base}/chart", wait_until="load")
                page.wait_for_function("window.scraperCharts && (window.scraperCharts.ready "
                                       "|| window.scraperCharts.error)", timeout=30000)
                assert page.evaluate("window.scraperCharts.error") is None
                months = page.evaluate("window.scraperCharts.perMonth.data('months')")
                lags = page.evaluate("window.scraperCharts.lag.data('lags')")
                series_lines = page.locator("#per-month svg g.mark-line.role-mark path").count()
                points = page.locator("#per-month svg g.mark-symbol.role-mark path").count()
                ticks = page.locator("#lag svg g.mark-rect.role-mark path").count()
                legend = page.locator("#per-month svg .role-legend").text_content()
                page.screenshot(path=str(tmp_path / "chart.png"), full_page=True)
            finally:
                browser.close()
    finally:
        process.stop()
    assert not outside, outside  # vega is served locally: nothing from a CDN
    drawn = {(r["month"], r["series"]): r["episodes"] for r in months}
    assert drawn == _per_month(lagged_db)
    series = {s for _, s in drawn}
    assert series == {"canonical"} | demo_platforms(lagged_db)
    assert series_lines == len(series) and points == len(drawn)
    for name in series:
        assert name in legend
    assert sorted(r["lag_days"] for r in lags) == [1.5, 2.5, 3.5, 4.5, 5.5, 6.5]
    assert {r["platform"] for r in lags} <= {"radionet", "castbox"} and ticks == len(lags)
    png = (tmp_path / "chart.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000
