"""The event table shared by every command that lists events (read, tail, checkpoints show, …)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from esctl.display import UTC_ZONE, Zone, escape_controls, table_time
from esctl.render import Column


def short_time(value: Any, zone: Zone = UTC_ZONE) -> str:
    """`2026-05-01T12:00:00.123456Z` -> `2026-05-01 12:00:00`: the time format of every table."""
    return table_time(value, zone)


def short_data(value: Any) -> str:
    """Event data as compact JSON on one line (the table cuts it to the room left, `-o wide`
    folds it whole)."""
    if value is None:
        return ""
    text = (
        value
        if isinstance(value, str)
        else json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    )
    return text.replace("\n", " ")


# Keys are those of `RecordedEvent.to_dict()`, so the same rows serve json, jsonl and csv.
# Position, stream and version are never cut; in a narrow terminal the data column is cut first,
# then the time and the data columns are left out (a note says so), then the type is cut.
EVENT_COLUMNS = [
    Column("global_position", "position", justify="right"),
    Column("stream_id", "stream"),
    Column("version", "ver", justify="right"),
    Column("event_type", "type", shrink=True, priority=1),
    Column("created_at", "time", priority=3),
    Column("data", "data", format=short_data, shrink=True, priority=2),
]


# The fields of an event row (`RecordedEvent.to_dict()`), as `--format` templates name them.
EVENT_FIELDS = (
    "global_position",
    "stream_id",
    "stream_type",
    "version",
    "event_type",
    "event_id",
    "data",
    "metadata",
    "created_at",
)


def use_format(out: Any, template: str | None) -> None:
    """`--format TEMPLATE`: rows as lines of the template from now on (a bad one: exit 2)."""
    if template is not None:
        from esctl.render.template import parse_template

        out.use_template(parse_template(template, EVENT_FIELDS))


def event_line(row: Mapping[str, Any], zone: Zone = UTC_ZONE) -> str:
    """One event as one plain text line (for `tail` in table format, which cannot wait for a
    whole table); control characters in user values are escaped, as in every table."""
    return escape_controls(
        "  ".join(
            [
                f"{row['global_position']:>8}",
                f"{row['stream_id']}@{row['version']}",
                str(row["event_type"]),
                short_time(row["created_at"], zone),
                short_data(row["data"]),
            ]
        )
    )
