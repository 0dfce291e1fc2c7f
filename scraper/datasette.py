"""Browsing the archive with Datasette 0.65: metadata, full-text search, `scraper serve`.

`data/metadata.json` is the template: table and column descriptions, facets, FTS config and
canned queries, under the database name "archive". `metadata_for(db_path)` renames that
entry to the served file's name and rebuilds the coverage matrix with one column per
platform present. The database is served mutable (never `-i`): a sync may be writing.
Datasette escapes every cell, so scraped HTML is shown as text (never rendered).
"""

from __future__ import annotations

import contextlib
import ctypes
import html
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlite_utils

from scraper.archive import ensure_search, migrate
from scraper.reads import coverage_sql, present_platforms
from scraper.resources import shipped

__all__ = ["coverage_sql", "enable_search", "metadata_for", "present_platforms", "serve"]

DATA_DIR = shipped("data")  # the checkout's data/, or the wheel's copy
METADATA_PATH = DATA_DIR / "metadata.json"
# Our Datasette plugin (SQL functions, canned queries on the index) and templates.
PLUGINS_DIR = DATA_DIR / "plugins"
TEMPLATES_DIR = DATA_DIR / "templates"
# vega, vega-lite and vega-embed from npm (BSD-3-Clause), served locally: no CDN.
VEGA_DIR = DATA_DIR / "static" / "vega"
TEMPLATE_DATABASE = "archive"
CONTRACT_PLATFORMS = ("rss", "audible", "castbox", "podimo", "podtail", "radionet")
# Kept in sync with scraper.datasette_feed.SHIM (not imported: that module needs Datasette).
FEED_PLUGIN_SHIM = "from scraper.datasette_feed import register_routes  # noqa: F401\n"


def podcast_feeds(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    from scraper.feed import podcasts

    return podcasts(db)


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
        feeds = podcast_feeds(db)
    finally:
        db.close()
    entry.setdefault("queries", {}).setdefault("coverage_matrix", {})["sql"] = coverage_sql(
        platforms
    )
    if feeds:
        metadata["description_html"] = _feeds_html(metadata.get("description"), feeds)
    return metadata


def _feeds_html(description: str | None, feeds: list[dict[str, Any]]) -> str:
    """The index page's description with a link to each podcast's rebuilt feed."""
    from scraper.feed import FEED_PATH

    links = ", ".join(
        f'<a href="{html.escape(FEED_PATH.format(slug=f["slug"]))}">'
        f"{html.escape(f['name'])}</a>"
        for f in feeds
    )
    text = f"<p>{html.escape(description)}</p>" if description else ""
    return f"{text}<p>Rebuilt RSS feeds (<code>scraper feed</code>): {links}</p>"


def enable_search(db: sqlite_utils.Database) -> list[str]:
    """Full-text search as the archive's migrations create it (for archives opened without
    `Archive`). Idempotent. Returns the tables that have search."""
    return ensure_search(db)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def serve_command(
    db_path: str | Path, metadata_path: str | Path, host: str, port: int,
    plugins_dir: str | Path | None = None,
) -> list[str]:
    # No `-i`: immutable mode assumes nobody writes, and a sync may be running.
    command = [
        sys.executable, "-m", "datasette", "serve", str(db_path),
        "--metadata", str(metadata_path), "--host", host, "--port", str(port),
        "--setting", "sql_time_limit_ms", "5000",
        # Datasette takes one --plugins-dir: serve() copies ours into its folder.
        "--plugins-dir", str(plugins_dir or PLUGINS_DIR), "--template-dir", str(TEMPLATES_DIR),
        "--static", f"vega:{VEGA_DIR}",
    ]
    return command


# Signals that stop `scraper serve`: each is passed on to Datasette's process group.
FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
# How long Datasette gets to stop after a forwarded signal before it is killed.
STOP_GRACE = 10.0
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: its own process group (so the group can be signalled as
    one), and SIGTERM when its parent dies, even by SIGKILL (Linux only; best effort)."""
    os.setpgid(0, 0)
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class DatasetteProcess(subprocess.Popen):
    """The running Datasette. Once it has been waited for, its temporary metadata folder
    is removed, however it stopped."""

    metadata_folder: Path | None = None

    def wait(self, timeout: float | None = None) -> int:
        code = super().wait(timeout)
        if self.metadata_folder is not None:
            shutil.rmtree(self.metadata_folder, ignore_errors=True)
            self.metadata_folder = None
        return code

    def stop(self, sig: int = signal.SIGTERM, grace: float = STOP_GRACE) -> int:
        """Signal the whole process group; kill it if it is still there after `grace`."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)
        try:
            return self.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
            return self.wait()


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def exit_code(returncode: int) -> int:
    """A shell's exit code for a child's return code (killed by signal N: 128 + N)."""
    return 128 - returncode if returncode < 0 else returncode


def serve(
    db_path: str | Path,
    host: str = "127.0.0.1",
    port: int = 8001,
    *,
    wait: bool = True,
    search: bool = True,
) -> DatasetteProcess:
    """Run `datasette serve` on the archive with the generated metadata, in its own process
    group. With `wait` it blocks until Datasette exits, passing SIGTERM, SIGINT and SIGHUP
    on to it (so it never outlives `scraper serve`), and returns it with its returncode
    set; otherwise it returns the running process (the caller stops it with `.stop()`).
    The metadata file lives in a temporary folder, removed once Datasette has exited."""
    if not Path(db_path).is_file():
        raise FileNotFoundError(f"no archive at {db_path}: run `scraper sync` or `scraper demo`")
    if search:
        db = sqlite_utils.Database(db_path)
        try:
            # An archive last synced by an older version: the canned queries read columns
            # and indexes its newer migrations add (m040's per-source presence).
            migrate(db)
            enable_search(db)
        except sqlite3.OperationalError as error:  # a sync holds the write lock
            print(f"archive not brought up to date ({error}); search and some reports may "
                  "be missing until the next `scraper sync`", file=sys.stderr)
        finally:
            db.close()
    folder = Path(tempfile.mkdtemp(prefix="scraper-datasette-"))
    try:
        metadata_path = folder / "metadata.json"
        metadata_path.write_text(json.dumps(metadata_for(db_path), indent=2), "utf-8")
        # The feed route (/-/feed/<slug>.xml) as a plugins-dir plugin: a shim importing it.
        plugins = folder / "plugins"
        plugins.mkdir()
        (plugins / "scraper_feed.py").write_text(FEED_PLUGIN_SHIM, "utf-8")
        for plugin in PLUGINS_DIR.glob("*.py"):  # SQL functions, index reports, chart
            shutil.copyfile(plugin, plugins / plugin.name)
        process = DatasetteProcess(serve_command(db_path, metadata_path, host, port, plugins),
                                   preexec_fn=_die_with_parent)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    process.metadata_folder = folder
    if wait:
        _wait_forwarding_signals(process)
    return process


def _wait_forwarding_signals(process: DatasetteProcess) -> None:
    signalled: list[float] = []

    def forward(signum: int, _frame: object) -> None:
        signalled.append(time.monotonic())
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signum)

    # A signal ignored when we started stays ignored (`nohup scraper serve` ignores SIGHUP,
    # and so does Datasette, which inherits that): forwarding it would only get Datasette
    # killed after the grace period.
    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED_SIGNALS
                if signal.getsignal(sig) != signal.SIG_IGN}
    try:
        while True:
            try:
                process.wait(timeout=0.5)
                return
            except subprocess.TimeoutExpired:
                if signalled and time.monotonic() - signalled[0] > STOP_GRACE:
                    process.stop(signal.SIGKILL, grace=STOP_GRACE)
                    return
    finally:
        if process.poll() is None:  # an exception on our side: never leave it behind
            process.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
