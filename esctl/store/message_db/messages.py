"""Message DB's `message_store.messages` rows as esctl's events, and esctl's filters on them.

`MESSAGES` is a subquery that names Message DB's columns as esctl's (`stream_name` is
`stream_id`, `position` is `version`, `type` is `event_type`, `data` is `event_data`, `time`, a
UTC timestamp without zone, is `created_at`); PostgreSQL flattens it, so a condition on
`stream_type` (Message DB's own `message_store.category(stream_name)`, the text before the first
`-`) is served by its `messages_category` index, and one on `stream_id, version` by
`messages_stream`. SQL here holds no `{`/`}` (the engine formats table names into queries)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from esctl.ports import EventFilter
from esctl.store.esctl_layout.where import condition_sql

TABLE = "message_store.messages"

MESSAGES = (
    "(SELECT global_position, stream_name AS stream_id, "
    "message_store.category(stream_name) AS stream_type, position AS version, "
    "type AS event_type, id AS message_id, CAST(id AS text) AS id, data AS event_data, metadata, "
    "(time AT TIME ZONE 'UTC') AS created_at, xmin AS row_xmin "
    "FROM message_store.messages) AS m"
)

# The keys of RecordedEvent.from_row, from MESSAGES.
COLUMNS = (
    "global_position, stream_id, stream_type, version, event_type, id, event_data, metadata, "
    "created_at"
)

SELECT = "SELECT " + COLUMNS + " FROM " + MESSAGES + " "  # noqa: S608 - fixed fragments

NO_CONDITION = "TRUE"


def category_of(stream_name: str) -> str:
    """Message DB's category: the stream name up to its first `-` (`message_store.category`)."""
    return stream_name.split("-", 1)[0]


def filter_sql(
    where: EventFilter, time_param: Callable[[datetime], Any] | None = None
) -> tuple[str, list[Any]]:
    """`where` as a condition on MESSAGES and its parameters."""
    bind = time_param or (lambda value: value)
    parts: list[str] = []
    params: list[Any] = []
    if where.stream_id is not None:
        parts.append("stream_id = %s")
        params.append(where.stream_id)
    if where.category is not None:
        parts.append("stream_type = %s")
        params.append(where.category)
    if where.types:
        parts.append("event_type IN (" + ", ".join(["%s"] * len(where.types)) + ")")
        params += list(where.types)
    if where.since is not None:
        parts.append("created_at >= %s")
        params.append(bind(where.since))
    if where.until is not None:
        parts.append("created_at < %s")
        params.append(bind(where.until))
    if where.from_position is not None:
        parts.append("global_position >= %s")
        params.append(where.from_position)
    for expression in where.conditions:
        sql, values = condition_sql(expression, "postgresql")
        parts.append(sql)
        params += values
    return (" AND ".join(parts) or NO_CONDITION), params
