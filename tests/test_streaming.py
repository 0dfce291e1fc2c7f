"""Streamed reports print exactly what the whole-document JSON printed: `scraper episodes
--json`, `scraper diff --json` and `scraper changes --json`/`--csv` write item by item,
`--markdown` keeps per source only what it shows. Compared with `json.dumps(indent=2)` of
the in-memory reports."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from archive_rows import add_run, add_version, build_ground_truth, create_archive

from scraper.archive import Archive
from scraper.drift import (
    changes_report,
    diff_report,
    iter_changes,
    iter_diff_report,
    iter_markdown,
    render_markdown,
)
from scraper.jsonstream import write_json
from scraper.reads import canonical_episodes_json
from scraper.reconcile import reconcile


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("stream") / "archive.db"
    Archive(path).close()  # the archive's own schema, so the CLI accepts the file
    db = create_archive(str(path))
    build_ground_truth(db)
    reconcile(db)
    # Versions for `changes`: every platform row added in one run, a few changed later.
    first = add_run(db, "2026-03-08T06:00:00+00:00")
    later = add_run(db, "2026-03-09T06:00:00+00:00")
    ids = [r["id"] for r in db["platform_episodes"].rows]
    for pe_id in ids:
        add_version(db, pe_id, first, "2026-03-08T06:00:00+00:00", "added")
    for pe_id in ids[:3]:
        add_version(db, pe_id, later, "2026-03-09T06:00:00+00:00", "changed",
                    {"title": ["Old title", "New title"]})
    db.close()
    return path


def cli(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "scraper", *args], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_episodes_json_is_the_whole_document_streamed(archive: Path) -> None:
    import sqlite_utils

    expected = json.dumps(canonical_episodes_json(sqlite_utils.Database(archive)), indent=2,
                          ensure_ascii=False) + "\n"
    assert cli("episodes", "--db", str(archive), "--json") == expected
    assert len(json.loads(expected)) > 5


def test_diff_json_is_the_whole_document_streamed(archive: Path) -> None:
    import sqlite_utils

    db = sqlite_utils.Database(archive)
    streamed = io.StringIO()
    write_json(iter_diff_report(db), streamed.write)
    whole = diff_report(db)
    text = streamed.getvalue()
    # Same bytes once the clock is set aside.
    got = json.loads(text)
    assert got["podcasts"] and got["podcasts"][0]["sources"]
    whole["generated_at"] = got["generated_at"]
    assert text == json.dumps(whole, indent=2, ensure_ascii=False, default=str)
    printed = json.loads(cli("diff", "--db", str(archive), "--json"))
    printed["generated_at"] = whole["generated_at"]
    assert printed == whole


def test_markdown_keeps_only_what_it_shows(archive: Path) -> None:
    import sqlite_utils

    db = sqlite_utils.Database(archive)
    report = diff_report(db)
    for pod in report["podcasts"]:  # long lists: the "... and N more" line must survive
        for src in pod["sources"]:
            src["missing"] = src["missing"] * 30
            src["counts"]["missing"] = len(src["missing"])
    whole = render_markdown(report)
    assert "more" in whole
    assert "".join(iter_markdown(report)).rstrip() + "\n" == whole
    # The command prints the attention-first rendering (scraper.diff_view, issue 12).
    from scraper.diff_view import render_markdown as attention_first

    assert cli("diff", "--db", str(archive), "--markdown").strip() == attention_first(
        diff_report(db)).strip()


def test_changes_json_and_csv_are_written_as_read(archive: Path) -> None:
    import csv

    import sqlite_utils

    db = sqlite_utils.Database(archive)
    whole = changes_report(db)
    assert len(whole) > 20 and {c["change"] for c in whole} == {"added", "changed"}
    assert not isinstance(iter_changes(db), list)  # a generator: nothing held whole
    printed = cli("changes", "--db", str(archive), "--json")
    assert printed == json.dumps(whole, indent=2, ensure_ascii=False, default=str) + "\n"
    later = json.loads(cli("changes", "--db", str(archive), "--json", "--since",
                           "2026-03-09"))
    assert [c["changes"] for c in later] == [{"title": ["Old title", "New title"]}] * 3
    rows = list(csv.DictReader(io.StringIO(cli("changes", "--db", str(archive), "--csv"))))
    assert [r["episode_id"] for r in rows] == [c["episode_id"] for c in whole]
