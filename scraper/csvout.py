"""CSV on stdout (`--csv`): a header row, then one row per record, RFC 4180 quoting.

Nested values (lists, dicts) are written as compact JSON so nothing is lost."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any, TextIO


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return value


def write_csv(rows: Iterable[dict[str, Any]], fields: Sequence[str],
              out: TextIO | None = None) -> None:
    writer = csv.writer(out or sys.stdout, lineterminator="\n")
    writer.writerow(fields)
    for row in rows:
        writer.writerow([_cell(row.get(field)) for field in fields])
