"""The driver errors the checkpoint, lease and snapshot ports meet, and the esctl error (and exit
code) each must become, on both engines: one table, one test per row and engine."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from esctl.errors import EsctlError, ReadOnlyRefused, SchemaMissing
from esctl.store.base import Session
from esctl.types import Cursor
from tests.conftest import Target
from tests.contracts.helpers import checkpoints, leases, snapshots

NOW = datetime(2026, 1, 1, tzinfo=UTC)

Action = Callable[[Session], Any]

# (the table dropped before the call; the call; the esctl error; its exit code)
DRIVER_ERRORS: list[tuple[str, str, Action, type[EsctlError], int]] = [
    ("checkpoint-table-gone", "checkpoints", lambda tx: checkpoints(tx).get("c"), SchemaMissing, 7),
    (
        "checkpoint-cas-table-gone",
        "checkpoints",
        lambda tx: checkpoints(tx).compare_and_set("c", Cursor(0, 1), Cursor(0, 2)),
        SchemaMissing,
        7,
    ),
    ("lease-table-gone", "leases", lambda tx: leases(tx).holders(), SchemaMissing, 7),
    (
        "snapshot-table-gone",
        "snapshots",
        lambda tx: list(snapshots(tx).all()),
        SchemaMissing,
        7,
    ),
    (
        "snapshot-upsert-table-gone",
        "snapshots",
        lambda tx: snapshots(tx).upsert_if_newer("S-1", "S", 1, {}, NOW),
        SchemaMissing,
        7,
    ),
]

# Writes through a store opened read-only (SQLite: mode=ro; PostgreSQL: a READ ONLY transaction).
READ_ONLY_WRITES: list[tuple[str, Action]] = [
    ("checkpoint-save", lambda tx: checkpoints(tx).save("c", Cursor(0, 1))),
    ("checkpoint-create", lambda tx: checkpoints(tx).create_if_absent("c", Cursor(0, 1))),
    ("lease-release", lambda tx: leases(tx).release("c", "token")),
    ("snapshot-upsert", lambda tx: snapshots(tx).upsert_if_newer("S-1", "S", 1, {}, NOW)),
]


@pytest.mark.parametrize(
    ("dropped", "action", "error", "exit_code"),
    [pytest.param(*row[1:], id=row[0]) for row in DRIVER_ERRORS],
)
def test_a_missing_table_is_the_schema_error(
    target: Target,
    dropped: str,
    action: Action,
    error: type[EsctlError],
    exit_code: int,
) -> None:
    from esctl.admin.init import init_store

    with target.open() as store:
        init_store(store)
        with store.writing() as tx:
            tx.execute(f"DROP TABLE {{{dropped}}}")
        with pytest.raises(error) as raised, store.writing() as tx:
            action(tx)
    assert raised.value.exit_code == exit_code
    assert "esctl init" in (raised.value.hint or "")


@pytest.mark.parametrize(
    "action", [pytest.param(action, id=name) for name, action in READ_ONLY_WRITES]
)
def test_a_write_through_a_read_only_store_is_exit_8(target: Target, action: Action) -> None:
    from esctl.admin.init import init_store

    with target.open() as store:
        init_store(store)
    read_only = target.open(write=False, create=False)
    with read_only, pytest.raises(ReadOnlyRefused) as raised, read_only.reading() as tx:
        action(tx)
    assert raised.value.exit_code == 8
    with target.open() as store, store.reading() as tx:  # and nothing was written
        assert checkpoints(tx).all() == [] and leases(tx).holders() == []
        assert list(snapshots(tx).all()) == []
