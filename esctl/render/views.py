"""What a person sees of a result: the table views a command may give `Renderer.result`.

A command hands the renderer its result as one object (what json and jsonl write) and, when a
person deserves something other than the two-column table of that object, one of these views.
Only the formats a person reads (table, wide) look at the view; the others write the object."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from esctl.render.columns import Column

if TYPE_CHECKING:
    from esctl.render.formats.base import LineOf

LIMIT_HINT = "use --limit N to see more"
MORE_HINT = f"{LIMIT_HINT}, or -o jsonl for everything"  # where a person reads a table


@dataclass(frozen=True)
class Listing:
    """Rows in columns, as `Renderer.table` writes them: the table view of a result that is a
    list (doctor's checks, config settings), or the CSV of a result (one table per output)."""

    rows: Iterable[Mapping[str, Any]]
    columns: Sequence[Column]
    title: str | None = None
    empty: str | None = None  # a note when a table has no rows
    legend: str | None = None  # a note explaining the table's columns (table views only)


@dataclass(frozen=True)
class Detail:
    """One object as a two-column table, then the listings that belong to it (a stream's counts
    by type, a checkpoint's pending events). `record` holds the values as a person reads them
    (`~1,234`, `none`), which may differ from the object the data formats write."""

    record: Mapping[str, Any]
    title: str | None = None
    parts: Sequence[Listing] = field(default_factory=tuple)


@dataclass(frozen=True)
class Lines:
    """Plain text on stdout (SQL of a dry run, a path, a plan's summary), then a message or a
    note on stderr. The text is written as it is: the command built it for a terminal."""

    text: str
    note: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class Said:
    """A result told as messages on stderr (`Applied migration 3: …`); stdout stays empty, and
    --quiet silences it."""

    messages: Sequence[str]


@dataclass(frozen=True)
class Tree:
    """Rows in tree order, each with its `depth` (0 for a root), that a person sees as a tree
    (each node the text `label` gives it, `note_key`'s value dimmed after it); the data formats
    write the rows, flat, in `columns`."""

    rows: Sequence[Mapping[str, Any]]
    columns: Sequence[Column]
    label: LineOf
    title: str | None = None
    note_key: str = "note"
    empty: str | None = None


View = Listing | Detail | Lines | Said
