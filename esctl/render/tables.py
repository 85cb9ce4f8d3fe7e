"""Rich tables for the renderer: user values as literal text, and a layout that fits the terminal
without cutting an identity (see `esctl.display.fit_columns`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from esctl.display import ColumnFit, Zone, escape_controls, fit_columns, kind_of, status_style
from esctl.encoding import dumps
from esctl.render.columns import Column, table_value

if TYPE_CHECKING:
    from rich.table import Table
    from rich.text import Text
    from rich.tree import Tree as RichTree

    from esctl.render.views import Tree

MIN_FLEXIBLE = 8  # a cut column keeps at least this many cells (or its whole value if shorter)


@dataclass
class Listing:
    """A table ready to print, how many rows it holds, and the columns left out to fit."""

    table: Table | None
    count: int
    dropped: list[str] = field(default_factory=list)


def header_of(column: Column, zone: Zone) -> str:
    """The header; a time column names its zone: `time (UTC)`."""
    header = column.header or column.key
    return f"{header} ({zone.label})" if column.value_kind == "time" else header


def safe_text(text: str, *, style: str | None = None, keep_newlines: bool = False) -> Text:
    """User text as rich shows it literally: no markup, control characters escaped."""
    from rich.text import Text

    return Text(escape_controls(text, keep_newlines=keep_newlines), style=style or "")


def _cell_text(column: Column, text: str) -> Text:
    style = status_style(text) if column.value_kind == "status" else None
    return safe_text(text, style=style, keep_newlines=column.wrap)


def _widest_line(text: str) -> int:
    from rich.cells import cell_len

    return max((cell_len(line) for line in text.split("\n")), default=0)


def listing_table(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[Column],
    *,
    title: str | None,
    zone: Zone,
    width: int,
    wide: bool = False,
) -> Listing:
    """Build the table of a listing for a terminal `width` cells wide."""
    from rich.table import Table

    headers = [header_of(c, zone) for c in columns]
    cells: list[list[Text]] = []
    for row in rows:
        texts = [column.cell(row, zone) for column in columns]
        if not wide:  # a 10 MB value need not be measured to be cut to a terminal's width
            texts = [
                text[: width * 2] if column.shrink else text
                for column, text in zip(columns, texts, strict=True)
            ]
        cells.append([_cell_text(c, t) for c, t in zip(columns, texts, strict=True)])
    if not cells:
        return Listing(None, 0)
    needs = [
        max([_widest_line(h)] + [_widest_line(r[i].plain) for r in cells])
        for i, h in enumerate(headers)
    ]
    table = Table(title=safe_text(title) if title else None, header_style="bold", show_lines=False)
    fits = [_fit_of(column, need, wide) for column, need in zip(columns, needs, strict=True)]
    shown, widths = fit_columns(fits, width)
    for index in shown:
        column = columns[index]
        cut = column.shrink and not column.wrap and not wide
        table.add_column(
            headers[index],
            justify=column.justify,
            width=widths[index],
            # A whole column folds rather than loses characters if even it cannot fit.
            overflow="ellipsis" if cut else "fold",
            no_wrap=cut,
        )
    for row_cells in cells:
        table.add_row(*(row_cells[i] for i in shown))
    dropped = [headers[i] for i in range(len(columns)) if i not in shown]
    return Listing(table, len(cells), dropped)


def _fit_of(column: Column, need: int, wide: bool) -> ColumnFit:
    """Ids, positions, versions, statuses and numbers keep their width; the rest may be cut (a
    `shrink` column) or fold (`wrap`, and with `-o wide` every column but those, never dropped)."""
    if wide:
        flexible = column.shrink or column.wrap or column.value_kind == "time"
        minimum = min(need, MIN_FLEXIBLE) if flexible else need
        return ColumnFit(need=need, minimum=minimum, priority=0, flexible=flexible)
    if column.shrink or column.wrap:
        limit = min(need, column.max_width) if column.max_width else need
        minimum = min(limit, MIN_FLEXIBLE)
        return ColumnFit(need=limit, minimum=minimum, priority=column.priority, flexible=True)
    return ColumnFit(need=need, minimum=need, priority=column.priority)


def record_table(row: Mapping[str, Any], *, title: str | None, zone: Zone) -> Table:
    """One object as a two-column table: keys in bold, values folded (never cut)."""
    from rich.table import Table

    table = Table(
        title=safe_text(title) if title else None,
        show_header=False,
        box=None,
        pad_edge=False,
    )
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in row.items():
        kind = kind_of(key)
        label = f"{key} ({zone.label})" if kind == "time" else key
        if isinstance(value, dict | list):
            shown = safe_text(dumps(value, indent=2), keep_newlines=True)
        else:
            text = table_value(value, kind, zone)
            shown = safe_text(text, style=status_style(text) if kind == "status" else None)
        table.add_row(safe_text(label), shown)
    return table


def tree_of(tree: Tree, zone: Zone) -> RichTree:
    """A rich tree of rows in tree order (each row's `depth` places it under the last row one
    level up); labels and notes are literal text."""
    from rich.tree import Tree as RichTree

    top = RichTree(safe_text(tree.title or ""), hide_root=tree.title is None, guide_style="dim")
    path: list[RichTree] = [top]
    for row in tree.rows:
        depth = max(0, int(row.get("depth") or 0))
        del path[min(depth, len(path) - 1) + 1 :]
        label = safe_text(tree.label(row, zone))
        note = row.get(tree.note_key)
        if note:
            label.append("  ")
            label.append_text(safe_text(f"({note})", style="dim yellow"))
        path.append(path[-1].add(label))
    return top
