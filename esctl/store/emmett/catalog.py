"""What Emmett's schema holds, as esctl checks and measures it: its tables and their columns
(`schema/tables.ts`, 0.42) and the sizes of its partitioned tables (each table's leaf partitions
summed). Used by `admin` (doctor) and `event_log` (`stats --by-size`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from esctl.store.base import Session

TABLES: dict[str, tuple[str, ...]] = {
    "emt_messages": (
        "stream_position",
        "global_position",
        "transaction_id",
        "created",
        "is_archived",
        "message_kind",
        "stream_id",
        "partition",
        "message_schema_version",
        "message_id",
        "message_type",
        "message_data",
        "message_metadata",
    ),
    "emt_streams": (
        "stream_id",
        "stream_position",
        "partition",
        "stream_type",
        "stream_metadata",
        "is_archived",
    ),
    "emt_processors": (
        "last_processed_transaction_id",
        "version",
        "processor_id",
        "partition",
        "status",
        "last_processed_checkpoint",
        "processor_instance_id",
        "created_at",
        "last_updated",
    ),
}
# Per table: its leaf partitions, their rows (the planner's estimate: None until each was first
# analysed) and the bytes of the whole tree.
PARTITIONS_SQL = (
    "SELECT c.relname AS table, "
    "array_agg(CAST(l.relname AS text) ORDER BY l.relname) FILTER (WHERE t.isleaf) AS leaves, "
    "CASE WHEN bool_or(l.reltuples < 0) FILTER (WHERE t.isleaf) THEN NULL "
    "ELSE sum(l.reltuples) FILTER (WHERE t.isleaf) END AS rows_estimate, "
    "coalesce(sum(pg_total_relation_size(t.relid)), 0) AS bytes, "
    "c.relkind = 'p' AS partitioned FROM pg_catalog.pg_class c "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "CROSS JOIN LATERAL pg_partition_tree(c.oid) t "
    "JOIN pg_catalog.pg_class l ON l.oid = t.relid "
    "WHERE n.nspname = %s AND c.relname = ANY(%s) GROUP BY c.relname, c.relkind ORDER BY 1"
)


def relation_sizes(session: Session, schema: str) -> list[dict[str, Any]]:
    """Emmett's partitioned tables, each with its partitions' rows and bytes summed."""
    return [
        {
            "table": r["table"],
            "rows_estimate": None if r["rows_estimate"] is None else int(r["rows_estimate"]),
            "table_bytes": int(r["bytes"]),
            "toast_bytes": 0,
            "index_bytes": 0,
            "total_bytes": int(r["bytes"]),
        }
        for r in session.fetchall(PARTITIONS_SQL, [schema, list(TABLES)])
    ]
