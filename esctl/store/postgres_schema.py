"""The PostgreSQL schema esctl manages: the seed's Template 1, esctl's additions, and what
`doctor` expects to find. Statements are templates: `{events}`, `{schema}`, … are filled in with
quoted identifiers by `PostgresStore.compose`."""

from __future__ import annotations

from esctl.store.esctl_layout.filters import PG_CATEGORY_SQL
from esctl.store.esctl_layout.tables import expected_columns, expected_indexes, migrations

_NOTIFY = [
    """CREATE OR REPLACE FUNCTION {notify_function}() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('esctl_events', '');
    RETURN NULL;
END
$$""",
    "DROP TRIGGER IF EXISTS esctl_notify_events ON {events}",
    "CREATE TRIGGER esctl_notify_events AFTER INSERT ON {events} "
    "FOR EACH STATEMENT EXECUTE FUNCTION {notify_function}()",
]

# The tables, columns and indexes come from esctl's layout declaration; PostgreSQL adds its
# schema and the NOTIFY trigger that wakes `tail`.
MIGRATIONS = migrations(
    "postgresql",
    [
        "event store tables and indexes (seed Template 1) and esctl_schema",
        "esctl additions: events.transaction_id, checkpoints.last_transaction_id, NOTIFY trigger",
        "esctl additions: esctl_leases (the lease a running `tail --checkpoint` holds)",
        "esctl additions: esctl_checkpoint_history (recent checkpoint moves: rewinds)",
        "esctl additions: esctl_audit (the audit trail) and esctl_stream_tombstones (soft deletes)",
    ],
    before={1: ["CREATE SCHEMA IF NOT EXISTS {schema}"]},
    after={2: _NOTIFY},
)

# Built outside any transaction with CREATE INDEX CONCURRENTLY, so writers are never blocked;
# `init` checks these every run and rebuilds one left invalid by an interrupted build.
CONCURRENT_INDEXES = {
    "idx_events_transaction_id": "CREATE INDEX CONCURRENTLY IF NOT EXISTS {index} "
    "ON {events} (transaction_id, global_position)",
    # `read --all --category C`: without it, a rare category is a scan of the whole log.
    "idx_events_category": "CREATE INDEX CONCURRENTLY IF NOT EXISTS {index} "
    f"ON {{events}} (({PG_CATEGORY_SQL}), global_position)",
}

EXPECTED_COLUMNS = expected_columns("postgresql")
EXPECTED_INDEXES = [
    "unique_stream_version",
    *expected_indexes("postgresql"),
    *CONCURRENT_INDEXES,
]
