"""Emmett's `emt_messages` rows as esctl's events, and esctl's filters on them.

Emmett (`@event-driven-io/emmett-postgresql`, 0.42) keeps every message in `emt_messages`
(list-partitioned by `partition`, then by `is_archived`): `stream_id`, `stream_position` (a
stream's first message is at 1), `global_position` (one sequence), `transaction_id xid8` (the
appending transaction, `pg_current_xact_id()`), `created timestamptz`, `message_type`,
`message_id`, `message_data` and `message_metadata` (jsonb). `MESSAGES` names them as esctl's
columns; `transaction_id` is widened to bigint so esctl's cursors compare with it. The stream type
is the category (the id up to its first `-`), which is how Emmett's event store derives the
`stream_type` it writes to `emt_streams`. Templates hold `{schema}`: the engine fills it in quoted."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from esctl.ports import EventFilter
from esctl.store.esctl_layout.where import condition_sql

CATEGORY = (
    "CASE WHEN strpos(substr(stream_id, 2), '-') > 0 "
    "THEN substr(stream_id, 1, strpos(substr(stream_id, 2), '-')) ELSE stream_id END"
)
TRANSACTION = "CAST(CAST(transaction_id AS text) AS bigint)"

MESSAGES = (
    "(SELECT global_position, stream_id, " + CATEGORY + " AS stream_type, "  # noqa: S608 - fixed fragments
    "stream_position AS version, message_type AS event_type, message_id AS id, "
    "message_data AS event_data, message_metadata AS metadata, created AS created_at, "
    + TRANSACTION
    + " AS transaction_id, partition, is_archived FROM {schema}.emt_messages) AS m"
)

# The keys of RecordedEvent.from_row, from MESSAGES.
COLUMNS = (
    "global_position, stream_id, stream_type, version, event_type, id, event_data, metadata, "
    "created_at"
)

ACTIVE = "NOT is_archived"  # Emmett's readers never return archived messages
ANY = "TRUE"
DEFAULT_PARTITION = "emt:default"  # Emmett's `defaultTag`


def base_condition(*, include_archived: bool) -> str:
    """The rows esctl shows: Emmett's active messages, archived ones too when asked."""
    return ANY if include_archived else ACTIVE


def filter_sql(
    where: EventFilter, base: str, time_param: Callable[[datetime], Any] | None = None
) -> tuple[str, list[Any]]:
    """`where` as a condition on MESSAGES (besides `base`) and its parameters."""
    bind = time_param or (lambda value: value)
    parts: list[str] = [base]
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
    return " AND ".join(parts), params
