"""Database faults as one line each: what is wrong with the archive file and what to do.

Checked before the write lock is taken (so no `.lock` file is left beside a file that is
not an archive), and translated from sqlite3 errors while a sync writes.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from scraper.errors import ArchiveError

SQLITE_MAGIC = b"SQLite format 3\x00"
# The table sqlite-utils keeps its migration log in: every scraper archive has it.
MIGRATIONS_TABLE = "_sqlite_migrations"


def check_archive_file(path: Path, *, writing: bool) -> None:
    """Raise ArchiveError unless `path` is absent, empty or a scraper archive we can use."""
    folder = path.parent if str(path.parent) else Path(".")
    if writing and not path.exists() and folder.exists() and not os.access(folder, os.W_OK):
        raise ArchiveError(f"{folder} is read-only: cannot create the archive {path.name} "
                           f"there; choose another --db")
    if not path.exists():
        return
    if path.is_dir():
        raise ArchiveError(f"{path} is a folder, not an archive file; give --db a file name")
    try:
        with path.open("rb") as handle:
            header = handle.read(100)
    except OSError as error:
        raise ArchiveError(
            f"cannot read {path} ({error.strerror}); check its permissions") from None
    if not header:
        return  # an empty file becomes a new archive
    if not header.startswith(SQLITE_MAGIC):
        raise ArchiveError(f"{path} is not a SQLite file, so not a scraper archive; give "
                           f"--db an archive or a new file name")
    _check_size(path, header)
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            tables = {row[0] for row in connection.execute(
                "select name from sqlite_master where type = 'table'")}
            migrated = MIGRATIONS_TABLE in tables and connection.execute(
                f"select count(*) from {MIGRATIONS_TABLE} where migration_set = 'scraper'"
            ).fetchone()[0]
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:
        raise describe(error, path) from None
    if tables and not migrated:
        shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
        raise ArchiveError(f"{path} is not a scraper archive (another program's SQLite "
                           f"database, with tables {shown}); give --db another file")
    if writing:
        for part, what in ((path, "file"), (folder, "folder")):
            if not os.access(part, os.W_OK):
                raise ArchiveError(_read_only(path, what))


def _check_size(path: Path, header: bytes) -> None:
    """A file shorter than its header's page count was cut (a partial copy or download).
    Skipped while a -wal file exists: the newest pages may live there."""
    if Path(f"{path}-wal").exists() or len(header) < 32:
        return
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    if pages and path.stat().st_size < pages * page_size:
        raise ArchiveError(f"{path} is truncated ({path.stat().st_size} of "
                           f"{pages * page_size} bytes): restore it from a backup or give "
                           f"--db a new file")


def _read_only(path: Path, what: str) -> str:
    if what == "folder":
        return (f"the folder of {path} is read-only (SQLite writes {path.name}-wal beside "
                f"it): make it writable or choose another --db")
    return f"{path} is read-only: make it writable (chmod u+w) or choose another --db"


def describe(error: sqlite3.Error, path: Path, source: str | None = None) -> ArchiveError:
    """One line for a sqlite3 error met while using the archive at `path`."""
    text = str(error).lower()
    code = getattr(error, "sqlite_errorname", "") or ""
    if "full" in text or code == "SQLITE_FULL":
        where = f" while writing source {source}: nothing from it was kept" if source else ""
        return ArchiveError(f"disk full{where} ({path}); free some space and sync again")
    if "readonly" in text or "read-only" in text or code.startswith("SQLITE_READONLY"):
        return ArchiveError(_read_only(path, "file"))
    if "unable to open" in text or code == "SQLITE_CANTOPEN":
        return ArchiveError(_read_only(path, "folder") if not os.access(
            path.parent, os.W_OK) else f"cannot open {path} ({error}); check the path")
    if "not a database" in text or code == "SQLITE_NOTADB":
        return ArchiveError(f"{path} is not a SQLite file, so not a scraper archive; give "
                            f"--db an archive or a new file name")
    if "malformed" in text or code == "SQLITE_CORRUPT":
        return ArchiveError(f"{path} is damaged ({error}): restore it from a backup or give "
                            f"--db a new file")
    return ArchiveError(f"{path}: database error ({error})")
