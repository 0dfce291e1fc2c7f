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


def _command_row(name: str) -> str:
    rows = [line for line in README.splitlines() if line.startswith(f"| `scraper {name}")
            and line[len(f"| `scraper {name}"):][:1] in (" ", "`")]
    assert rows, f"README's command table has no row for `scraper {name}`"
    return rows[0]


def test_every_flag_of_every_command_is_in_its_readme_row():
    """The README's command table matches `--help`: each option (its long name) of each
    command is in that command's row, and the row names no option the command lacks."""
    import typer.main

    for name, command in typer.main.get_command(app).commands.items():
        row = _command_row(name)
        options = {opt for param in command.params for opt in param.opts + param.secondary_opts
                   if opt.startswith("--") and opt != "--help"}
        for option in options:
            assert re.search(rf"{re.escape(option)}(?![\w-])", row), \
                f"`scraper {name}`: {option} is not in its README row"
        documented = set(re.findall(r"--[a-z][a-z-]*", row.split("|")[1]))
        assert documented <= options, f"`scraper {name}`: README names {documented - options}"


def test_global_options_and_exit_codes_are_documented():
    import typer.main

    group = typer.main.get_command(app)
    for param in group.params:
        for option in param.opts:
            if option.startswith("--") and option != "--help":
                assert f"`{option}`" in README, option
    for code in ("**0**", "**1**", "**2**", "**3**", "**4**"):
        assert code in README


def test_the_layout_names_every_module():
    layout = README.split("## Layout", 1)[1].split("```")[1]
    words = set(re.findall(r"[a-z_]+", layout))
    for package in ("scraper",):
        for path in sorted((ROOT / package).glob("*.py")):
            if path.stem.startswith("__"):
                continue
            assert path.stem in words, f"README's Layout does not name {package}/{path.name}"
