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

from scraper.archive import ensure_search
from scraper.reads import coverage_sql, present_platforms

__all__ = ["coverage_sql", "enable_search", "metadata_for", "present_platforms", "serve"]

METADATA_PATH = Path(__file__).resolve().parent.parent / "data" / "metadata.json"
TEMPLATE_DATABASE = "archive"
CONTRACT_PLATFORMS = ("rss", "audible", "castbox", "podimo", "podtail", "radionet")


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
    """Full-text search as the archive's migrations create it (for archives opened without
    `Archive`). Idempotent. Returns the tables that have search."""
    return ensure_search(db)


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
