"""The event table shared by every command that lists events (read, tail, checkpoints show, …)."""

from __future__ import annotations

import json
from typing import Any

from esctl.output import Column, truncate

DATA_WIDTH = 40


def short_time(value: Any) -> str:
    """`2026-05-01T12:00:00.123456Z` -> `2026-05-01 12:00:00` (UTC; the table is narrow)."""
    text = str(value or "")
    if "T" in text and text.endswith("Z"):
        date, clock = text[:-1].split("T", 1)
        return f"{date} {clock.partition('.')[0]}"
    return text


def short_data(value: Any) -> str:
    """Event data as compact JSON on one line, cut to fit the table."""
    if value is None:
        return ""
    text = (
        value
        if isinstance(value, str)
        else json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    )
    return truncate(text.replace("\n", " "), DATA_WIDTH)


# Keys are those of `RecordedEvent.to_dict()`, so the same rows serve json, jsonl and csv.
EVENT_COLUMNS = [
    Column("global_position", "position", justify="right", max_width=12),
    Column("stream_id", "stream", max_width=32),
    Column("version", "ver", justify="right", max_width=8),
    Column("event_type", "type", max_width=24, shrink=True),
    Column("created_at", "time (UTC)", format=short_time, max_width=19),
    Column("data", "data", format=short_data, max_width=DATA_WIDTH, shrink=True),
]


def event_line(row: dict[str, Any]) -> str:
    """One event as one plain text line (for `tail` in table format, which cannot wait for a
    whole table)."""
    return "  ".join(
        [
            f"{row['global_position']:>8}",
            f"{row['stream_id']}@{row['version']}",
            str(row["event_type"]),
            short_time(row["created_at"]),
            short_data(row["data"]),
        ]
    )
