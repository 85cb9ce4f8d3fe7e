"""`init --protect` (SPEC "Lifecycle"), on both backends: a plain client (the sqlite3 module,
a psycopg connection: not esctl) cannot UPDATE or DELETE events (nor TRUNCATE on PostgreSQL),
nor can esctl's own connection outside an audited lifecycle transaction; an audited one can;
the seed's plain INSERTs keep working; `--unprotect` removes it; `doctor` reports it."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from esctl.errors import EsctlError
from esctl.lifecycle.audit import record
from esctl.lifecycle.protection import is_protected, set_protection
from esctl.store.base import Store
from tests.support.data import seed_events
from tests.support.processes import run_cli
from tests.support.stores import Target

INSERT = (
    "INSERT INTO events (id, stream_id, stream_type, event_type, event_data, version) "
    "VALUES ('6f1c2a3e-0000-4000-8000-000000000001', 'Plain-1', 'Plain', 'Added', '{}', 1)"
)


@contextmanager
def plain_client(target: Target) -> Iterator[Any]:
    """A connection that is not esctl's, autocommitting, with `events` unqualified."""
    if target.backend == "sqlite":
        conn = sqlite3.connect(target.url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            yield conn
        finally:
            conn.close()
        return
    import psycopg

    with psycopg.connect(target.url, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{target.schema}"')
        yield conn


def _refused(target: Target, statement: str) -> str:
    import psycopg

    with (
        plain_client(target) as conn,
        pytest.raises((sqlite3.DatabaseError, psycopg.Error)) as caught,
    ):
        conn.execute(statement)
    return str(caught.value)


def _count(target: Target) -> int:
    with plain_client(target) as conn:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])


def test_protected_events_refuse_plain_changes_and_allow_audited_ones(
    store: Store, target: Target
) -> None:
    seed_events(store, [("Order-1", "Placed", {"n": i}) for i in range(3)])
    assert is_protected(store) is False
    assert set_protection(store, True) is True
    assert set_protection(store, True) is False  # idempotent, audited once
    assert is_protected(store) is True
    for statement in ("DELETE FROM events", "UPDATE events SET event_type = 'X'"):
        message = _refused(target, statement)
        if target.backend == "postgresql":
            assert "events are protected" in message
        else:  # the plain client lacks esctl's function: the trigger fails on it
            assert "esctl_lifecycle" in message
    if target.backend == "postgresql":
        assert "events are protected" in _refused(target, "TRUNCATE events")
        # the setting alone, without an audit row of this transaction, is not enough
        with plain_client(target) as conn, conn.transaction():
            conn.execute("SELECT set_config('esctl.lifecycle', '1', true)")
            with pytest.raises(psycopg_error()):
                conn.execute("DELETE FROM events")
    assert _count(target) == 3
    # esctl's own connection outside an audited transaction is refused too
    with pytest.raises(EsctlError, match="events are protected"), store.writing() as tx:
        tx.execute("DELETE FROM {events}")
    # the seed's plain INSERT still works
    with plain_client(target) as conn:
        conn.execute(INSERT)
    assert _count(target) == 4
    # an audited lifecycle transaction may change events; the next one is protected again
    with store.writing() as tx:
        record(tx, None, "test delete", "Plain-1", {"events": 1}, changes_events=True)
        assert tx.execute("DELETE FROM {events} WHERE stream_id = %s", ["Plain-1"]) == 1
    with pytest.raises(EsctlError, match="events are protected"), store.writing() as tx:
        tx.execute("DELETE FROM {events}")
    assert _count(target) == 3
    assert set_protection(store, False) is True
    with plain_client(target) as conn:
        conn.execute("DELETE FROM events WHERE version = 3")
    assert _count(target) == 2


def psycopg_error() -> type[Exception]:
    import psycopg

    return psycopg.Error


def test_init_protect_and_unprotect_on_the_command_line(initialised: Target) -> None:
    def doctor() -> Any:
        result = run_cli("doctor", "-o", "json")
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)

    assert doctor()["protected"] is False
    both = run_cli("init", "--protect", "--unprotect")
    assert both.exit_code == 2 and both.stderr.startswith("Error: give --protect or --unprotect")
    dry = run_cli("init", "--protect", "--dry-run")
    assert dry.exit_code == 0 and "would be turned on" in dry.stderr
    assert doctor()["protected"] is False
    on = run_cli("init", "--protect")
    assert on.exit_code == 0 and "Protection of events turned on." in on.stderr
    assert doctor()["protected"] is True
    table = run_cli("doctor")
    assert "protection" in table.stdout and "on: UPDATE, DELETE" in table.stdout
    assert "already on" in run_cli("init", "--protect").stderr
    assert run_cli("init", "--unprotect").exit_code == 0
    assert doctor()["protected"] is False
    audit = json.loads(run_cli("audit", "-o", "json").stdout)
    assert [a["operation"] for a in audit] == ["init --unprotect", "init --protect"]
    assert audit[1]["command"] == "esctl init --protect"
