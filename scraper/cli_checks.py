"""Checks on command-line values that click cannot express, each failing with one line
(`UsageProblem`, exit 2), plus the global `--quiet` / `--verbose` state."""

from __future__ import annotations

import logging
import re
import warnings
from datetime import date, datetime

import sqlite_utils


class UsageProblem(ValueError):
    """A bad option value: the message is the whole line shown to the user."""


class Verbosity:
    quiet = False
    verbose = False


def configure_output(quiet: bool, verbose: bool, debug: bool = False) -> None:
    """Log lines go to stderr as plain text. By default only errors: a retry that later
    succeeds, or each attempt of a failure reported once at the end, is noise."""
    if quiet and verbose:
        raise UsageProblem("--quiet and --verbose cannot be used together")
    Verbosity.quiet, Verbosity.verbose = quiet, verbose
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("scraper")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG if debug else logging.INFO if verbose else logging.ERROR)
    # The CLI says it once, cleanly (see robots_warning); no raw UserWarning with source.
    warnings.filterwarnings("ignore", message="robots.txt is being ignored")


ROBOTS_WARNING = ("warning: --ignore-robots: robots.txt is not obeyed in this run; "
                  "only crawl sites you may")


def one_platform(values: list[str] | None) -> str | None:
    if not values:
        return None
    if len(set(values)) > 1:
        raise UsageProblem(f"--platform is given {len(values)} times here "
                           f"({', '.join(values)}); this command takes one")
    return known_platforms(values)[0]


def known_platforms(values: list[str] | None) -> list[str]:
    import adapters

    names = adapters.names()
    for value in values or []:
        if value not in names:
            raise UsageProblem(f"unknown platform {value!r}; known: {', '.join(names)}")
    return list(values or [])


def known_podcast(db: sqlite_utils.Database, name: str | None) -> str | None:
    if name is None:
        return None
    from scraper.reads import podcasts

    names = sorted(row["name"] for row in podcasts(db, None))
    if name not in names:
        raise UsageProblem(f"no podcast named {name!r} in the archive; it has: "
                           f"{', '.join(names) or 'none'}")
    return name


_RUN = re.compile(r"^(?:run:)?\d+$", re.IGNORECASE)


def since_value(value: str | None) -> str | None:
    """A run id ("3", "run:3") or an ISO date/time, as given; anything else is refused
    (it used to be compared as a string and matched nothing)."""
    if value is None:
        return None
    text = value.strip()
    if _RUN.match(text):
        return text
    try:
        date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        raise UsageProblem(f"--since {value!r} is neither a run id (3, run:3) nor an ISO "
                           "date or time (2026-03-01, 2026-03-01T12:00)") from None
    return text


def one_format(**flags: bool) -> None:
    given = [f"--{name.replace('_', '-')}" for name, on in flags.items() if on]
    if len(given) > 1:
        raise UsageProblem(f"{' and '.join(given)} cannot be used together; pick one output")


def non_negative(name: str, value: int) -> int:
    if value < 0:
        raise UsageProblem(f"{name} must be 0 or more (got {value})")
    return value
