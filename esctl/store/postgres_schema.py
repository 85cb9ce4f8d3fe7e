"""The PostgreSQL schema esctl manages: the seed's Template 1, esctl's additions, and what
`doctor` expects to find. Statements are templates: `{events}`, `{schema}`, … are filled in with
quoted identifiers by `PostgresStore.compose`."""

from __future__ import annotations

from esctl.store.base import LEASE_COLUMNS, Migration

MIGRATIONS = [
    Migration(
        1,
        "event store tables and indexes (seed Template 1) and esctl_schema",
        [
            "CREATE SCHEMA IF NOT EXISTS {schema}",
            """CREATE TABLE IF NOT EXISTS {events} (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    stream_id VARCHAR(255) NOT NULL,
    stream_type VARCHAR(255) NOT NULL,
    event_type VARCHAR(255) NOT NULL,
    event_data JSONB NOT NULL,
    metadata JSONB DEFAULT '{{}}',
    version BIGINT NOT NULL,
    global_position BIGSERIAL,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    CONSTRAINT unique_stream_version UNIQUE (stream_id, version)
)""",
            "CREATE INDEX IF NOT EXISTS idx_events_stream_id ON {events}(stream_id, version)",
            "CREATE INDEX IF NOT EXISTS idx_events_global_position ON {events}(global_position)",
            "CREATE INDEX IF NOT EXISTS idx_events_event_type ON {events}(event_type)",
            "CREATE INDEX IF NOT EXISTS idx_events_created_at ON {events}(created_at)",
            """CREATE TABLE IF NOT EXISTS {snapshots} (
    stream_id VARCHAR(255) PRIMARY KEY,
    stream_type VARCHAR(255) NOT NULL,
    snapshot_data JSONB NOT NULL,
    version BIGINT NOT NULL,
    created_at TIMESTAMPTZ DEFAULT NOW()
)""",
            """CREATE TABLE IF NOT EXISTS {checkpoints} (
    subscription_id VARCHAR(255) PRIMARY KEY,
    last_position BIGINT NOT NULL DEFAULT 0,
    updated_at TIMESTAMPTZ DEFAULT NOW()
)""",
            """CREATE TABLE IF NOT EXISTS {esctl_schema} (
    version INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    esctl_version TEXT NOT NULL
)""",
        ],
    ),
    Migration(
        2,
        "esctl additions: events.transaction_id, checkpoints.last_transaction_id, NOTIFY trigger",
        [
            # No default in the ADD COLUMN: adding a column without a volatile default is a
            # catalog-only change, so a large `events` table is neither rewritten nor long-locked.
            # Old rows keep NULL, which readers treat as committed long ago.
            "ALTER TABLE {events} ADD COLUMN IF NOT EXISTS transaction_id xid8",
            "ALTER TABLE {events} ALTER COLUMN transaction_id SET DEFAULT pg_current_xact_id()",
            "ALTER TABLE {checkpoints} ADD COLUMN IF NOT EXISTS last_transaction_id xid8",
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
        ],
    ),
    Migration(
        3,
        "esctl additions: esctl_leases (the lease a running `tail --checkpoint` holds)",
        [
            # A table of its own: the seed's subscription_checkpoints keeps its columns, and its
            # subscriber's plain INSERT/UPDATE of a checkpoint keeps working.
            """CREATE TABLE IF NOT EXISTS {leases} (
    subscription_id VARCHAR(255) PRIMARY KEY,
    holder_host TEXT NOT NULL,
    holder_pid BIGINT NOT NULL,
    token TEXT NOT NULL,
    since TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
)""",
        ],
    ),
]

# Built outside any transaction with CREATE INDEX CONCURRENTLY, so writers are never blocked;
# `init` checks these every run and rebuilds one left invalid by an interrupted build.
CONCURRENT_INDEXES = {
    "idx_events_transaction_id": "CREATE INDEX CONCURRENTLY IF NOT EXISTS {index} "
    "ON {events} (transaction_id, global_position)",
}

EXPECTED_COLUMNS = {
    "events": [
        "id",
        "stream_id",
        "stream_type",
        "event_type",
        "event_data",
        "metadata",
        "version",
        "global_position",
        "created_at",
        "transaction_id",
    ],
    "snapshots": ["stream_id", "stream_type", "snapshot_data", "version", "created_at"],
    "subscription_checkpoints": [
        "subscription_id",
        "last_position",
        "updated_at",
        "last_transaction_id",
    ],
    "esctl_schema": ["version", "description", "applied_at", "esctl_version"],
    "esctl_leases": LEASE_COLUMNS,
}
EXPECTED_INDEXES = [
    "unique_stream_version",
    "idx_events_stream_id",
    "idx_events_global_position",
    "idx_events_event_type",
    "idx_events_created_at",
    *CONCURRENT_INDEXES,
]
