"""How PostgreSQL runs a `--where` read (`-v`): the indexes in its plan (`EXPLAIN`, never
`ANALYZE`: nothing is read), the GIN indexes on `event_data` and `metadata`, and the
`CREATE INDEX CONCURRENTLY` that would serve an equality no GIN index covers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from esctl.conditions import WherePlan
from esctl.ports import EventFilter
from esctl.store.esctl_layout.where import COLUMNS

if TYPE_CHECKING:
    from esctl.store.base import Session

# A GIN index on a jsonb column, with either operator class (jsonb_path_ops is smaller and
# serves @>, which is all equality needs).
JSON_INDEXES = (
    "SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS definition "
    "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
    "JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
    "JOIN pg_am am ON am.oid = c.relam "
    "WHERE n.nspname = %s AND t.relname = 'events' AND am.amname = 'gin' AND i.indisvalid "
    "ORDER BY c.relname"
)


def _index_names(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if "Index Name" in node:
            yield str(node["Index Name"])
        for value in node.values():
            yield from _index_names(value)
    elif isinstance(node, list):
        for value in node:
            yield from _index_names(value)


def json_indexes(session: Session, schema: str) -> dict[str, str]:
    """The valid GIN indexes on the events table: name -> definition."""
    return {
        str(row["name"]): str(row["definition"]) for row in session.fetchall(JSON_INDEXES, [schema])
    }


def where_plan(
    session: Session, schema: str, where: EventFilter, query: str, params: list[Any]
) -> WherePlan:
    """The plan of `SELECT … {query}` (the read's FROM … WHERE … ORDER BY …)."""
    rows = session.fetchall("EXPLAIN (FORMAT JSON) SELECT global_position " + query, params)
    plan = next(iter(rows[0].values())) if rows else []
    if isinstance(plan, str):
        plan = json.loads(plan)
    used = tuple(dict.fromkeys(_index_names(plan)))
    indexes = json_indexes(session, schema)
    suggestions = []
    for column in dict.fromkeys(COLUMNS[c.column] for c in where.conditions if c.op == "="):
        if not any(f"gin ({column}" in definition.lower() for definition in indexes.values()):
            quoted = '"' + schema.replace('"', '""') + '"'
            suggestions.append(
                f"CREATE INDEX CONCURRENTLY events_{column}_gin ON {quoted}.events "
                f"USING gin ({column} jsonb_path_ops);"
            )
    return WherePlan(used, tuple(indexes), tuple(suggestions))
