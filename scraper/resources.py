"""Folders shipped with the package: the recorded pages and Datasette's metadata.

A checkout (and an editable install) keeps them at the repository's top level, `fixtures/`
and `data/`, where tests and contributors use them; a wheel carries the same folders inside
the package as `scraper/_fixtures` and `scraper/_data` (pyproject's `package-dir`).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def shipped(name: str) -> Path:
    """The folder `name` ("fixtures" or "data") of this install."""
    packaged = files("scraper") / f"_{name}"
    if packaged.is_dir():  # an installed wheel: a real folder in site-packages
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / name
