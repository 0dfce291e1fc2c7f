"""Checking a settings table of the sources file against the dataclass it configures.

`[fetch]` configures `FetchPolicy`, `[browser]` configures `BrowserOptions`: the dataclass
is the one list of what may be set, of which type, with which default. A key it does not
have, or a value of another type, is a `ConfigError` naming the table and the key, never a
`TypeError` from the constructor later.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from scraper.errors import ConfigError


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
    for key, value in table.items():
        if key not in known:
            raise ConfigError(f"[{section}] unknown setting {key!r} "
                              f"(known: {', '.join(known)})")
        if not _fits(value, known[key]):
            raise ConfigError(f"[{section}] {key} must be {_type_name(known[key])}, "
                              f"got {value!r}")
    return dict(table)
