"""The schema admin port and the engines' error translation, one suite run over every engine:
what `init` and `doctor` ask of a store, and the table of driver errors (produced for real, on a
real file or server) and the esctl error and exit code each must become."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from esctl.admin.init import init_store
from esctl.errors import (
    Conflict,
    EsctlError,
    PermissionDenied,
    ReadOnlyRefused,
    SchemaMissing,
    StoreUnavailable,
)
from esctl.store.base import Store
from esctl.store.esctl_layout.tables import TABLES, expected_columns
from esctl.types import SCHEMA_VERSION, NewEventRow
from tests.conftest import Target


def test_a_new_store_has_every_migration_pending(target: Target) -> None:
    with target.open() as store:
        admin = store.admin
        assert admin.server_version()
        assert admin.schema_version() is None
        versions = [m.version for m in admin.migrations()]
        assert versions == list(range(1, SCHEMA_VERSION + 1))
        assert [m.version for m in admin.pending_migrations()] == versions
        rendered = "\n".join(s for m in admin.migrations() for s in admin.render_migration(m))
        for table in TABLES:  # every declared table is created, every column in it
            assert f"CREATE TABLE IF NOT EXISTS {_quoted(store, table.name)}" in rendered
            for column in table.columns:
                assert f"{column.name} " in rendered
        assert "{" + "events}" not in rendered, "placeholders are filled in"
        report = admin.inspect()
        assert not report.ok and report.missing


def _quoted(store: Store, table: str) -> str:
    return table if store.backend == "sqlite" else f'"{store.settings.schema}"."{table}"'


def test_apply_then_inspect_matches_the_declaration(target: Target) -> None:
    with target.open() as store:
        admin = store.admin
        admin.check_init_privileges(alters=True)  # the owner of its store lacks nothing
        admin.apply_migrations(admin.pending_migrations())
        assert admin.schema_version() == SCHEMA_VERSION
        assert admin.pending_migrations() == []
        assert admin.repairs() == []
        report = admin.inspect()
        assert report.ok, report
        assert report.missing == [] and report.extra == []
        facts = admin.doctor_facts()
        assert facts["sizes"]
        status = admin.node_status()
        assert status.role == ("embedded" if store.backend == "sqlite" else "primary")


def test_inspect_names_what_is_missing_and_extra(store: Store) -> None:
    with store.writing() as tx:
        tx.execute("DROP TABLE {leases}")
        tx.execute("ALTER TABLE {snapshots} DROP COLUMN created_at")
        tx.execute("ALTER TABLE {checkpoints} ADD COLUMN owner_note TEXT")
    report = store.admin.inspect()
    assert "column snapshots.created_at" in report.missing
    leases = (
        "esctl_leases" if store.backend == "sqlite" else f"{store.settings.schema}.esctl_leases"
    )
    assert f"table {leases}" in report.missing
    assert report.extra == ["column subscription_checkpoints.owner_note"]
    assert expected_columns("sqlite").keys() == expected_columns("postgresql").keys()


def test_drop_schema_is_postgresql_only(target: Target) -> None:
    with target.open() as store:
        if store.backend == "sqlite":
            with pytest.raises(EsctlError):
                store.admin.drop_schema()
            return
        init_store(store)
        store.admin.drop_schema()
        assert store.admin.schema_version() is None


# --- driver errors -> esctl errors ---------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unreachable(target: Target, tmp_path: Path) -> Callable[[], object]:
    """Connection refused (PostgreSQL: nothing listens), not a database (SQLite)."""
    if target.backend == "sqlite":
        path = tmp_path / "garbage.db"
        path.write_bytes(b"this is not a SQLite database, just bytes " * 200)
        url = f"sqlite:///{path}"
    else:
        url = f"postgresql://127.0.0.1:{_free_port()}/postgres?connect_timeout=2"
    store = Target(target.backend, url, target.schema).open(write=False, create=False)

    def act() -> object:
        with store.reading() as tx:
            return tx.log.head()

    return act


def missing_table(target: Target, tmp_path: Path) -> Callable[[], object]:
    store = target.open()
    init_store(store)
    with store.writing() as tx:
        tx.execute(
            "DROP TABLE {events} CASCADE" if target.backend != "sqlite" else "DROP TABLE {events}"
        )

    def act() -> object:
        with store.reading() as tx:
            return tx.log.head()

    return act


def write_in_a_read_only_transaction(target: Target, tmp_path: Path) -> Callable[[], object]:
    """A write the driver refuses: SQLite's mode=ro connection, PostgreSQL's READ ONLY."""
    with target.open() as writable:
        init_store(writable)
    store = target.open(write=False)

    def act() -> object:
        with store.reading() as tx:
            return tx.execute("DELETE FROM {events}")

    return act


def unique_violation(target: Target, tmp_path: Path) -> Callable[[], object]:
    store = target.open()
    init_store(store)
    row = NewEventRow(str(uuid.uuid4()), "Order-1", "Order", "Placed", {}, {}, 1)

    def act() -> object:
        with store.writing() as tx:
            store.insert_events(tx, [row, row._replace(event_id=str(uuid.uuid4()))])
        return None

    return act


ERRORS = [
    pytest.param(unreachable, StoreUnavailable, 5, id="unreachable"),
    pytest.param(missing_table, SchemaMissing, 7, id="missing-table"),
    pytest.param(write_in_a_read_only_transaction, ReadOnlyRefused, 8, id="read-only"),
    pytest.param(unique_violation, Conflict, 3, id="unique-violation"),
]


@pytest.mark.parametrize(("make", "error", "exit_code"), ERRORS)
def test_driver_errors_become_esctl_errors(
    target: Target,
    tmp_path: Path,
    make: Callable[[Target, Path], Callable[[], object]],
    error: type[EsctlError],
    exit_code: int,
) -> None:
    act = make(target, tmp_path)
    with pytest.raises(error) as raised:
        act()
    assert raised.value.exit_code == exit_code
    assert raised.value.__cause__ is not None, "translated from the driver's own error"


@pytest.fixture
def no_privileges_url(pg_target: Target) -> Iterator[str]:
    """A login role with no privilege on this test's schema; dropped afterwards."""
    import psycopg
    from psycopg import sql

    role = f"esctl_none_{uuid.uuid4().hex[:10]}"
    with pg_target.open() as store:
        init_store(store)
    with psycopg.connect(pg_target.url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        admin.execute(
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
                sql.Identifier(pg_target.schema), sql.Identifier(role)
            )
        )
    parts = urlsplit(pg_target.url)
    netloc = f"{role}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    try:
        yield urlunsplit(parts._replace(netloc=netloc))
    finally:
        with psycopg.connect(pg_target.url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", [role]
            )
            admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


@pytest.mark.postgres
def test_permission_denied_is_exit_1_naming_the_role(
    pg_target: Target, no_privileges_url: str
) -> None:
    store = Target("postgresql", no_privileges_url, pg_target.schema).open(write=False)
    with store, pytest.raises(PermissionDenied) as raised, store.reading() as tx:
        tx.log.head()
    assert raised.value.exit_code == 1
    assert "esctl_none_" in raised.value.message
