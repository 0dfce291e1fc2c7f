"""Writing JSON as it is produced: the text of `json.dumps(value, indent=2,
ensure_ascii=False, default=str)`, where any list may be given as an iterator (written one
item at a time, never held whole)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

INDENT = "  "


def _dumps(value: Any, level: int) -> str:
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return text.replace("\n", "\n" + INDENT * level) if level else text


def write_json(value: Any, write: Callable[[str], Any], level: int = 0) -> None:
    """Write `value` through `write` in pieces; iterators become JSON arrays."""
    if isinstance(value, Iterator):
        _write_items(value, write, level)
    elif isinstance(value, dict) and any(_lazy(v) for v in value.values()):
        if not value:
            write("{}")
            return
        write("{")
        for n, (key, item) in enumerate(value.items()):
            write(("," if n else "") + "\n" + INDENT * (level + 1) + _dumps(str(key), 0) + ": ")
            write_json(item, write, level + 1)
        write("\n" + INDENT * level + "}")
    else:
        write(_dumps(value, level))


def _lazy(value: Any) -> bool:
    return isinstance(value, Iterator) or (
        isinstance(value, dict) and any(_lazy(v) for v in value.values()))


def _write_items(items: Iterator[Any], write: Callable[[str], Any], level: int) -> None:
    first = True
    for item in items:
        write(("[" if first else ",") + "\n" + INDENT * (level + 1))
        write_json(item, write, level + 1)
        first = False
    write("[]" if first else "\n" + INDENT * level + "]")
