"""The SQLite schema esctl manages and what `doctor` expects to find there, derived from esctl's
layout declaration (`esctl.store.esctl_layout.tables`)."""

from __future__ import annotations

from esctl.store.esctl_layout.tables import (
    expected_columns,
    expected_indexes,
    migrations,
    placeholders,
)

# `{events}` … as SQLite's sessions fill them in: the quoted table name.
TABLES = {key: f'"{name}"' for key, name in placeholders().items()}

MIGRATIONS = migrations(
    "sqlite",
    [
        "event store tables (seed Template 1) and esctl_schema",
        "esctl additions: subscription_checkpoints.last_transaction_id",
        "esctl additions: esctl_leases (the lease a running `tail --checkpoint` holds)",
        "esctl additions: esctl_checkpoint_history (recent checkpoint moves: rewinds)",
        "esctl additions: esctl_audit (the audit trail) and esctl_stream_tombstones (soft deletes)",
    ],
)

EXPECTED_COLUMNS = expected_columns("sqlite")
EXPECTED_INDEXES = expected_indexes("sqlite")
