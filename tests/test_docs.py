"""Docs beside code: every command is in the README, every archive table is described for
Datasette, every platform is in the README's platform table."""

from __future__ import annotations

import json
import re
from pathlib import Path

import adapters
from scraper.archive import Archive
from scraper.cli import app
from scraper.datasette import enable_search
from scraper.reconcile import ensure_tables

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text("utf-8")


def test_every_command_is_documented_in_the_readme():
    import typer.main

    commands = typer.main.get_command(app).commands
    assert len(commands) >= 10
    for name in commands:
        assert f"`scraper {name}" in README, f"README does not document `scraper {name}`"


def test_every_platform_is_in_the_readme_table():
    for name in adapters.names():
        assert re.search(rf"^\| `{name}` \|", README, re.M), name


def test_the_readme_platform_rows_are_what_the_adapters_declare():
    for name in adapters.names():
        row = type(adapters.get(name)).doc_row
        assert row is not None, f"adapters/{name}.py declares no doc_row (its README row)"
        line = f"| `{name}` | " + " | ".join(row) + " |"
        assert line in README.splitlines(), f"README's {name} row differs from its doc_row"


def test_the_quick_start_is_the_contract_and_ci_runs_its_test_line():
    lines = [line for line in README.splitlines() if line.startswith("pip install -e ")]
    assert lines[0].startswith("pip install -e . && scraper demo")
    test_line = lines[1].split("#")[0].strip()
    assert test_line.startswith("pip install -e '.[test]' && ")
    assert test_line in (ROOT / ".ci" / "run").read_text("utf-8")


def test_every_archive_table_is_described_for_datasette(tmp_path):
    archive = Archive(tmp_path / "a.db")
    ensure_tables(archive.db)
    enable_search(archive.db)
    metadata = json.loads((ROOT / "data" / "metadata.json").read_text("utf-8"))
    described = metadata["databases"]["archive"]["tables"]
    tables = [t for t in archive.db.table_names()
              if not t.startswith(("_", "sqlite_")) and "_fts" not in t]
    missing = [t for t in tables if not described.get(t, {}).get("description")]
    assert not missing, f"tables without a description in data/metadata.json: {missing}"
