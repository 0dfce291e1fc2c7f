"""The settings of the sources file's `[fetch]` and `[browser]` tables, and their checking.

`FetchPolicy` (for `scraper.fetch`) and `BrowserOptions` (for `scraper.browser`) are the one
list of what may be set, of which type, with which default: `check_table` reads a table
against them, so a key they do not have, or a value of another type, is a `ConfigError`
naming the table and the key, never a `TypeError` from a constructor later. This module
imports neither httpx nor Playwright: reading the sources file stays light.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from scraper.errors import ConfigError

DEFAULT_USER_AGENT = (
    "scraper/0.1 (+https://github.com/scraper-archive/scraper; podcast listing archiver)"
)
DEFAULT_CHROMIUM = "/usr/bin/chromium"
# Field metadata of a setting that must be above zero (a zero deadline would fail every
# request); every other number must not be negative.
ABOVE_ZERO = {"above_zero": True}


@dataclass
class FetchPolicy:
    """`[fetch]`: politeness and limits of plain HTTP fetching."""

    user_agent: str = DEFAULT_USER_AGENT
    min_delay: float = 1.0  # seconds between two requests to the same host
    timeout: float = field(default=20.0, metadata=ABOVE_ZERO)  # each connect/read/write
    retries: int = 3  # extra attempts on connection errors, 5xx, 429 (and 408)
    backoff_base: float = 0.5  # exponential backoff base, with full jitter
    backoff_max: float = 30.0
    max_retry_after: float = 120.0  # a Retry-After longer than this is clamped
    max_bytes: int = field(default=50 * 2**20, metadata=ABOVE_ZERO)  # of the DECOMPRESSED body
    max_redirects: int = 5
    obey_robots: bool = True
    # Wall-clock bounds (seconds): one request from connect to its last byte (headers and
    # every retry-free read included), one source (all its pages), one whole run.
    request_deadline: float = field(default=60.0, metadata=ABOVE_ZERO)
    source_deadline: float = field(default=600.0, metadata=ABOVE_ZERO)
    run_deadline: float = field(default=3600.0, metadata=ABOVE_ZERO)
    # Seconds of retry waiting (backoff, Retry-After) one source may spend in total.
    retry_budget: float = 120.0
    # Loopback, private, link-local and metadata addresses are refused unless this is set
    # (a routed request's target is trusted: routes are written on purpose).
    allow_private: bool = False


def _default_executable() -> str:
    return os.environ.get("SCRAPER_CHROMIUM") or DEFAULT_CHROMIUM


@dataclass
class BrowserOptions:
    """`[browser]`: the Chromium that renders pages and how it behaves."""

    # Defaults to $SCRAPER_CHROMIUM when set, else /usr/bin/chromium.
    executable_path: str = field(default_factory=_default_executable)
    timeout: float = field(default=30.0, metadata=ABOVE_ZERO)  # navigation / waiting, s
    max_clicks: int = 50  # "next page"/"load more" clicks per page
    min_delay: float = 1.0  # politeness between requests to the same host (page loads/clicks)
    user_agent: str | None = None  # None = Chromium's own
    # Wall-clock bound on one fetch: load, waits and every click (each wait alone is bounded
    # by `timeout`, but 50 clicks of 30 s each would hold a source for 25 minutes).
    page_deadline: float = field(default=180.0, metadata=ABOVE_ZERO)
    # Unrouted requests to loopback, private or link-local addresses are aborted unless set.
    allow_private: bool = False


def _type_name(hint: Any) -> str:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        return " or ".join(_type_name(a) for a in args if a is not type(None)) + (
            " (or leave it out)" if type(None) in args else "")
    return getattr(typing.get_origin(hint) or hint, "__name__", str(hint))


def _fits(value: Any, hint: Any) -> bool:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_fits(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:  # TOML writes 1 for 1.0
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    origin = typing.get_origin(hint) or hint
    return isinstance(origin, type) and isinstance(value, origin)


def settings_fields(cls: type) -> dict[str, Any]:
    """Name -> type hint of every setting the dataclass `cls` takes."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}


def check_table(table: Any, cls: type, section: str) -> dict[str, Any]:
    """`table` (a `[section]` of the sources file, or None) as keyword arguments for `cls`."""
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise ConfigError(f"[{section}] must be a table of settings (key = value lines)")
    known = settings_fields(cls)
    above_zero = {f.name for f in dataclasses.fields(cls) if f.metadata.get("above_zero")}
    for key, value in table.items():
        if key not in known:
            raise ConfigError(f"[{section}] unknown setting {key!r} "
                              f"(known: {', '.join(known)})")
        if not _fits(value, known[key]):
            raise ConfigError(f"[{section}] {key} must be {_type_name(known[key])}, "
                              f"got {value!r}")
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if number and (value < 0 or value == 0 and key in above_zero):
            raise ConfigError(f"[{section}] {key} must be above zero, got {value!r}")
    return dict(table)
