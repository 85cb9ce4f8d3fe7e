"""What `doctor` shows about a PostgreSQL store beyond its schema: the role it connected as, the
schema checked, and each table's size; and whether `events` is unique on (stream_id, version)
under any name (a seed store written with an inline `UNIQUE (stream_id, version)` has
`events_stream_id_version_key`, not `unique_stream_version`)."""

from __future__ import annotations

from typing import Any

SIZED_TABLES = ("events", "snapshots", "subscription_checkpoints")

_FACTS = (
    "SELECT current_user AS role, current_database() AS database, "
    "current_setting('server_version') AS server_version"
)
_SIZES = (
    "SELECT c.relname AS table, c.reltuples::bigint AS rows_estimate, "
    "pg_catalog.pg_total_relation_size(c.oid) AS bytes "
    "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND c.relname = ANY(%s) ORDER BY c.relname"
)
_RELATION_SIZES = (
    "SELECT c.relname AS table, c.reltuples::bigint AS rows_estimate, "
    "pg_catalog.pg_relation_size(c.oid) AS table_bytes, "
    "pg_catalog.pg_total_relation_size(c.oid) - pg_catalog.pg_relation_size(c.oid) "
    "- pg_catalog.pg_indexes_size(c.oid) AS toast_bytes, "
    "pg_catalog.pg_indexes_size(c.oid) AS index_bytes, "
    "pg_catalog.pg_total_relation_size(c.oid) AS total_bytes "
    "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND c.relname = ANY(%s) ORDER BY c.relname"
)
# A valid, total (no WHERE, no expressions) unique index on exactly stream_id and version.
_UNIQUE_STREAM_VERSION = (
    "SELECT c.relname FROM pg_catalog.pg_index i "
    "JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid "
    "JOIN pg_catalog.pg_class t ON t.oid = i.indrelid "
    "JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace "
    "WHERE n.nspname = %s AND t.relname = 'events' AND i.indisunique AND i.indisvalid "
    "AND i.indpred IS NULL AND i.indexprs IS NULL AND i.indnkeyatts = 2 "
    "AND (SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_catalog.pg_attribute a "
    "     WHERE a.attrelid = t.oid AND a.attnum = ANY(i.indkey::int2[])) "
    "    = ARRAY['stream_id', 'version'] "
    "ORDER BY c.relname LIMIT 1"
)


def doctor_facts(session: Any, schema: str) -> dict[str, Any]:
    """Role, database, schema and table sizes (rows are the planner's estimate: None until the
    table was first analysed)."""
    facts = dict(session.fetchone(_FACTS, []))
    sizes = []
    for row in session.fetchall(_SIZES, [schema, list(SIZED_TABLES)]):
        estimate = row["rows_estimate"]
        sizes.append(
            {
                "table": row["table"],
                "rows_estimate": int(estimate) if estimate is not None and estimate >= 0 else None,
                "bytes": int(row["bytes"]),
            }
        )
    from esctl.store.esctl_layout.plans import json_indexes

    return {
        "role": facts["role"],
        "database": facts["database"],
        "schema": schema,
        "sizes": sizes,
        "json_indexes": [
            {"name": name, "definition": definition}
            for name, definition in json_indexes(session, schema).items()
        ],
    }


def relation_sizes(session: Any, schema: str) -> list[dict[str, Any]]:
    """Each sized table's heap, TOAST, index and total bytes (catalog functions: no scan)."""
    rows = []
    for row in session.fetchall(_RELATION_SIZES, [schema, list(SIZED_TABLES)]):
        estimate = row["rows_estimate"]
        rows.append(
            {
                "table": row["table"],
                "rows_estimate": int(estimate) if estimate is not None and estimate >= 0 else None,
                **{k: int(row[k]) for k in ("table_bytes", "toast_bytes", "index_bytes")},
                "total_bytes": int(row["total_bytes"]),
            }
        )
    return rows


def unique_stream_version_index(session: Any, schema: str) -> str | None:
    """The name of an index that makes events unique on (stream_id, version), or None."""
    row = session.fetchone(_UNIQUE_STREAM_VERSION, [schema])
    return None if row is None else str(row["relname"])
