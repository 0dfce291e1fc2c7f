"""Browsing the archive with Datasette 0.65: metadata, full-text search, `scraper serve`.

`data/metadata.json` is the template: table and column descriptions, facets, FTS config and
canned queries, under the database name "archive". `metadata_for(db_path)` renames that
entry to the served file's name and rebuilds the coverage matrix with one column per
platform present. The database is served mutable (never `-i`): a sync may be writing.
Datasette escapes every cell, so scraped HTML is shown as text (never rendered).
"""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import sqlite_utils

from scraper.matching import platform_rank

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
METADATA_PATH = DATA_DIR / "metadata.json"
# Our Datasette plugin (SQL functions, canned queries on the index) and templates.
PLUGINS_DIR = DATA_DIR / "plugins"
TEMPLATES_DIR = DATA_DIR / "templates"
# vega, vega-lite and vega-embed from npm (BSD-3-Clause), served locally: no CDN.
VEGA_DIR = DATA_DIR / "static" / "vega"
TEMPLATE_DATABASE = "archive"
CONTRACT_PLATFORMS = ("rss", "audible", "castbox", "podimo", "podtail", "radionet")
SEARCHABLE = {"episodes": ("title", "description"), "platform_episodes": ("title", "description")}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def coverage_sql(platforms: list[str] | tuple[str, ...]) -> str:
    """Canonical episode x platform: one column per platform, "✓" when listed there,
    "✓×2" for a republication, "gone" when only an unlisted row remains."""
    columns = []
    for platform in platforms:
        listed = f"sum(pe.platform = {_literal(platform)} AND coalesce(pe.listed, 1) = 1)"
        seen = f"sum(pe.platform = {_literal(platform)})"
        columns.append(
            f"CASE WHEN {listed} = 1 THEN '✓' WHEN {listed} > 1 THEN '✓×' || {listed} "
            f"WHEN {seen} > 0 THEN 'gone' ELSE '' END AS {_quote(platform)}"
        )
    select = ",\n  ".join(["e.id AS episode", "e.published", "e.title", "e.platforms", *columns])
    return (
        f"SELECT\n  {select}\n"
        "FROM episodes e\n"
        "JOIN podcasts p ON p.id = e.podcast_id\n"
        "LEFT JOIN episode_links l ON l.episode_id = e.id\n"
        "LEFT JOIN platform_episodes pe ON pe.id = l.platform_episode_id\n"
        "WHERE e.platforms > 0 AND (:podcast = '' OR p.name = :podcast)\n"
        "GROUP BY e.id\n"
        "ORDER BY e.published IS NULL, e.published DESC, e.id DESC"
    )


def present_platforms(db: sqlite_utils.Database) -> list[str]:
    if not db["platform_episodes"].exists():
        return []
    rows = db.execute("SELECT DISTINCT platform FROM platform_episodes").fetchall()
    return sorted((r[0] for r in rows if r[0]), key=platform_rank)


def load_template(path: Path = METADATA_PATH) -> dict[str, Any]:
    return json.loads(path.read_text("utf-8"))


def metadata_for(db_path: str | Path, template: dict[str, Any] | None = None) -> dict[str, Any]:
    """The template with its database entry named after `db_path` and a coverage matrix
    for the platforms in that database (the contract six when it has none yet)."""
    metadata = json.loads(json.dumps(template or load_template()))  # deep copy
    databases = metadata.setdefault("databases", {})
    entry = databases.pop(TEMPLATE_DATABASE, {})
    databases[Path(db_path).stem] = entry
    db = sqlite_utils.Database(db_path)
    try:
        platforms = present_platforms(db) or list(CONTRACT_PLATFORMS)
    finally:
        db.close()
    entry.setdefault("queries", {}).setdefault("coverage_matrix", {})["sql"] = coverage_sql(
        platforms
    )
    return metadata


def enable_search(db: sqlite_utils.Database) -> list[str]:
    """FTS5 over title and description of canonical and platform episodes, kept current by
    triggers. Idempotent. Returns the tables that have search."""
    enabled = []
    for table, columns in SEARCHABLE.items():
        if db[table].exists():
            db[table].enable_fts(columns, create_triggers=True, replace=True)
            enabled.append(table)
    return enabled


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def serve_command(
    db_path: str | Path, metadata_path: str | Path, host: str, port: int
) -> list[str]:
    # No `-i`: immutable mode assumes nobody writes, and a sync may be running.
    return [
        sys.executable, "-m", "datasette", "serve", str(db_path),
        "--metadata", str(metadata_path), "--host", host, "--port", str(port),
        "--setting", "sql_time_limit_ms", "5000",
        "--plugins-dir", str(PLUGINS_DIR), "--template-dir", str(TEMPLATES_DIR),
        "--static", f"vega:{VEGA_DIR}",
    ]


def serve(
    db_path: str | Path,
    host: str = "127.0.0.1",
    port: int = 8001,
    *,
    wait: bool = True,
    search: bool = True,
) -> subprocess.Popen[bytes]:
    """Run `datasette serve` on the archive with the generated metadata. With `wait` it
    blocks until Datasette exits; otherwise it returns the running process (the caller
    stops it). The metadata file lives in a temporary directory next to nothing else."""
    if not Path(db_path).is_file():
        raise FileNotFoundError(f"no archive at {db_path}: run `scraper sync` or `scraper demo`")
    if search:
        db = sqlite_utils.Database(db_path)
        try:
            enable_search(db)
        except sqlite3.OperationalError as error:  # a sync holds the write lock
            print(f"search not enabled ({error}); browsing without it", file=sys.stderr)
        finally:
            db.close()
    folder = Path(tempfile.mkdtemp(prefix="scraper-datasette-"))
    metadata_path = folder / "metadata.json"
    metadata_path.write_text(json.dumps(metadata_for(db_path), indent=2), "utf-8")
    process = subprocess.Popen(serve_command(db_path, metadata_path, host, port))
    if wait:
        try:
            process.wait()
        except KeyboardInterrupt:
            process.terminate()
            process.wait()
    return process
