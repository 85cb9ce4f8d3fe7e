"""An `EventFilter` compiled to a SQL condition on `{events}`, written once for both engines:
the one place the filter of `read --all` and `tail` becomes SQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from esctl.ports import EventFilter
from esctl.store.esctl_layout.where import condition_sql

NO_CONDITION = "1 = 1"
# Events of streams not soft-deleted (`streams delete`): what reads show unless include_deleted.
HIDDEN = "stream_id NOT IN (SELECT stream_id FROM {tombstones})"


# An event's category on PostgreSQL (esctl.values.category_of: up to the first `-` that does not
# start the id). `idx_events_category` indexes exactly this expression with global_position, so
# `read --all --category C --limit N` costs the same on any size of store, even for a rare C.
PG_CATEGORY_SQL = (
    "CASE WHEN strpos(substr(stream_id, 2), '-') > 0 "
    "THEN substr(stream_id, 1, strpos(substr(stream_id, 2), '-')) ELSE stream_id END"
)


def category_condition(category: str, backend: str = "sqlite") -> tuple[str, list[Any]]:
    """Events of `category`: the stream id up to its first `-`. substr, not LIKE, because
    SQLite's LIKE ignores case and `_`/`%` in a category are data. On PostgreSQL, the indexed
    expression (the same events)."""
    if backend == "postgresql":
        return f"({PG_CATEGORY_SQL}) = %s", [category]
    prefix = category + "-"
    return "(stream_id = %s OR substr(stream_id, 1, %s) = %s)", [category, len(prefix), prefix]


def filter_sql(
    where: EventFilter,
    backend: str,
    time_param: Callable[[datetime], Any] | None = None,
    *,
    hide_deleted: bool = True,
) -> tuple[str, list[Any]]:
    """The condition and its parameters on `backend` ("postgresql" or "sqlite"); `time_param`
    is the session's (for since/until); `hide_deleted` leaves out soft-deleted streams."""
    bind = time_param or (lambda value: value)
    parts: list[str] = [HIDDEN] if hide_deleted else []
    params: list[Any] = []
    if where.stream_id is not None:
        parts.append("stream_id = %s")
        params.append(where.stream_id)
    if where.category is not None:
        condition, values = category_condition(where.category, backend)
        parts.append(condition)
        params += values
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
        sql, values = condition_sql(expression, backend)
        parts.append(sql)
        params += values
    return (" AND ".join(parts) or NO_CONDITION), params
