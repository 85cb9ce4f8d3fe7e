"""Columns of a listing and how one value reads in a table cell or a CSV field.

Every format module uses these: a table shows `Column.cell`, CSV writes `csv_value`, JSON writes
the row itself (through `esctl.encoding.dumps`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from esctl.display import UTC_ZONE, Kind, Zone, age, count, kind_of, table_time
from esctl.encoding import dumps, to_jsonable
from esctl.types import iso_time


@dataclass(frozen=True)
class Column:
    """A column of a table: the row key, its header, and how the table shows it.

    How a value reads follows from its key (`esctl.display.kind_of`: times, ages, ids and
    positions, statuses) unless `kind`, `format` or `cell_of` says otherwise. In a narrow terminal a
    `shrink` column is cut (ellipsis) and a `wrap` column folds; every other column stays whole,
    and whole columns are dropped, highest `priority` first (0: never), before an identity is cut.
    Only tables use `format` and `cell_of`: CSV and JSON write the row's own value."""

    key: str
    header: str | None = None
    format: Callable[[Any], str] | None = None
    justify: Literal["left", "right", "center"] = "left"
    max_width: int | None = None  # for `shrink` and `wrap` columns only: ids are never cut
    wrap: bool = False  # free text (details, messages) may wrap; ids and numbers never do
    shrink: bool = False  # in a narrow terminal, this column gives up its width first (ellipsis)
    priority: int = 0
    kind: Kind | None = None
    # The cell from the whole row, for a value another field qualifies (`~1,234` when the row's
    # `lag_estimated` is true): a table shows the mark, data formats keep both fields apart.
    cell_of: Callable[[Mapping[str, Any]], str] | None = None

    @property
    def value_kind(self) -> Kind | None:
        return self.kind or kind_of(self.key)

    def cell(self, row: Mapping[str, Any], zone: Zone = UTC_ZONE) -> str:
        """The cell's text (before control characters are escaped)."""
        if self.cell_of is not None:
            return self.cell_of(row)
        value = row.get(self.key)
        if self.format is not None:
            return self.format(value)
        return table_value(value, self.value_kind, zone)


def table_value(value: Any, kind: Kind | None, zone: Zone = UTC_ZONE) -> str:
    """How a value reads in a table cell, by kind: the one place for times, ages and numbers."""
    if kind == "time" or isinstance(value, datetime):
        return table_time(value, zone)
    if kind == "age":
        return age(value)
    if kind in ("id", "status", "text"):  # positions, versions, ids: never `1,234`
        return plain(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return count(value)
    return plain(value)


def plain(value: Any) -> str:
    """How a value reads in a table cell or a CSV field."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return iso_time(value)
    if isinstance(value, dict | list):
        return dumps(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def csv_value(value: Any) -> str:
    """How a value is written in CSV: for scripts, so raw numbers, `true`/`false`, ISO 8601 times
    and compact JSON (never a table's `3,725.12` or `yes`)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return iso_time(value)
    if isinstance(value, dict | list):
        return json.dumps(value, default=to_jsonable, ensure_ascii=False, separators=(",", ":"))
    return str.__str__(value) if isinstance(value, str) else str(value)


def truncate(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"
