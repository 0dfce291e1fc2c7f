"""Tables for people and for logs.

On a terminal a table fits its width: columns are dropped by priority (least important
first) and long text wraps inside its cell, instead of every cell being cut to `plat…`.
Off a terminal (a pipe, a cron log) there is no width to fit: one plain line per row, cells
separated by tabs, nothing wrapped or cut, so `grep` and `cut -f` work on it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

# Narrowest a wrapping column gets before it is dropped instead.
MIN_WRAP_WIDTH = 12
# Rich's SIMPLE box: one space of padding each side plus one separator between columns.
CELL_OVERHEAD = 3


@dataclass(frozen=True)
class Column:
    """One column: `priority` 0 is never dropped; higher numbers go first when space runs
    out. `wrap` columns (titles, URLs) may wrap; the others keep their whole value."""

    header: str
    key: str | Callable[[dict[str, Any]], Any]
    priority: int = 0
    wrap: bool = False
    right: bool = False

    def value(self, row: dict[str, Any]) -> str:
        raw = self.key(row) if callable(self.key) else row.get(self.key)
        return "-" if raw is None or raw == "" else str(raw)


def stdout_console() -> Console:
    return Console(soft_wrap=False)


def _needed(column: Column, cells: list[str]) -> int:
    widest = max([len(column.header), *(len(c) for c in cells)])
    return min(widest, max(MIN_WRAP_WIDTH, len(column.header))) if column.wrap else widest


def fit_columns(columns: Sequence[Column], rows: Sequence[dict[str, Any]], width: int
                ) -> list[Column]:
    """The columns that fit `width`, dropping the highest priority number first (the last
    such column first when tied)."""
    kept = list(columns)
    cells = {c.header: [c.value(r) for r in rows] for c in columns}
    while True:
        need = sum(_needed(c, cells[c.header]) + CELL_OVERHEAD for c in kept)
        droppable = [c for c in kept if c.priority > 0]
        if need <= width or not droppable:
            return kept
        worst = max(c.priority for c in droppable)
        victim = [c for c in droppable if c.priority == worst][-1]
        kept.remove(victim)


def render(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[Column],
    *,
    title: str | None = None,
    console: Console | None = None,
    footer: str | None = None,
) -> None:
    """Print `rows` as a fitted table on a terminal, or as tab-separated lines otherwise."""
    console = console or stdout_console()
    if not console.is_terminal:
        out = console.file
        if title:
            out.write(f"# {title}\n")
        out.write("\t".join(c.header for c in columns) + "\n")
        for row in rows:
            out.write("\t".join(c.value(row).replace("\t", " ").replace("\n", " ")
                                for c in columns) + "\n")
        if footer:
            out.write(f"# {footer}\n")
        out.flush()
        return
    kept = fit_columns(columns, rows, console.width)
    table = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                  title_justify="left")
    for column in kept:
        table.add_column(column.header, justify="right" if column.right else "left",
                         no_wrap=not column.wrap, overflow="fold")
    for row in rows:
        table.add_row(*(column.value(row) for column in kept))
    console.print(table, highlight=False)
    dropped = [c.header for c in columns if c not in kept]
    if dropped:
        console.print(f"(not shown at this width: {', '.join(dropped)}; widen the terminal "
                      "or use --json/--csv)", highlight=False)
    if footer:
        console.print(footer, highlight=False, soft_wrap=True)
