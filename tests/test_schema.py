"""`init` and `doctor` on both backends, and upgrading a store made from the seed template."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest

from esctl.errors import ReadOnlyRefused, SchemaMissing
from esctl.schema import diagnose, init_store
from esctl.store.base import SCHEMA_VERSION
from tests.conftest import Target, run_cli

SEED_SCHEMA = Path(__file__).parent / "seed_schema.sql"


def test_init_twice_changes_nothing_the_second_time(target: Target) -> None:
    with target.open() as store:
        first = init_store(store)
        assert [m.version for m in first.applied] == list(range(1, SCHEMA_VERSION + 1))
        second = init_store(store)
        assert second.applied == []
        assert second.version_after == SCHEMA_VERSION
        assert diagnose(store).ok


def test_dry_run_prints_sql_and_changes_nothing(target: Target) -> None:
    with target.open() as store:
        result = init_store(store, dry_run=True)
        assert any("CREATE TABLE IF NOT EXISTS" in s for s in result.statements)
        assert store.schema_version() is None
        with pytest.raises(SchemaMissing):
            store.require_schema()


def test_doctor_reports_missing_schema_then_ok(target: Target) -> None:
    with target.open() as store:
        report = diagnose(store)
        assert report.connected and not report.ok
        assert report.missing and report.schema_version is None
        init_store(store)
        assert diagnose(store).to_dict()["ok"] is True


def test_cli_init_and_doctor(use_target: Target) -> None:
    before = run_cli("doctor")
    assert before.exit_code == 7
    assert run_cli("init", "--dry-run").exit_code == 0
    assert run_cli("doctor").exit_code == 7, "--dry-run must not create anything"
    assert run_cli("init").exit_code == 0
    again = run_cli("init")
    assert again.exit_code == 0 and "nothing to do" in again.stderr
    doctor = run_cli("doctor", "-o", "json")
    assert doctor.exit_code == 0
    assert '"ok": true' in doctor.stdout


def test_concurrent_init_is_safe(target: Target) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with target.open() as store:
                init_store(store)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with target.open() as store:
        assert diagnose(store).ok


def test_read_only_profile_refuses_init(target: Target) -> None:
    with target.open(read_only=True) as store, pytest.raises(ReadOnlyRefused):
        init_store(store)


def test_missing_schema_is_exit_7_with_one_line(use_target: Target) -> None:
    if use_target.backend == "sqlite":
        Path(use_target.url.removeprefix("sqlite:///")).touch()
    result = run_cli("doctor")
    assert result.exit_code == 7


@pytest.mark.postgres
def test_upgrade_of_a_seed_template_store_keeps_plain_inserts_working(pg_target: Target) -> None:
    with psycopg.connect(pg_target.url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{pg_target.schema}"')
        conn.execute(f'SET search_path TO "{pg_target.schema}"')
        conn.execute(SEED_SCHEMA.read_text())
        conn.execute(
            "INSERT INTO events (stream_id, stream_type, event_type, event_data, version) "
            "SELECT 'Order-' || (g / 10), 'Order', 'Placed', '{\"n\": 1}', g % 10 + 1 "
            "FROM generate_series(0, 999) g"
        )
    with pg_target.open() as store:
        result = init_store(store)
        assert result.version_before is None and result.version_after == SCHEMA_VERSION
        assert diagnose(store).ok
    with psycopg.connect(pg_target.url, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{pg_target.schema}"')
        conn.execute(  # the seed's own INSERT, unchanged
            "INSERT INTO events (id, stream_id, stream_type, event_type, event_data, metadata, "
            "version, created_at) VALUES (gen_random_uuid(), 'Order-x', 'Order', 'Placed', "
            "'{}', '{}', 1, now())"
        )
        counts = conn.execute(
            "SELECT count(*) FILTER (WHERE transaction_id IS NULL), "
            "count(*) FILTER (WHERE transaction_id IS NOT NULL) FROM events"
        ).fetchone()
    assert counts == (1000, 1)


@pytest.mark.postgres
def test_an_interrupted_concurrent_index_is_rebuilt(pg_target: Target) -> None:
    with pg_target.open() as store:
        init_store(store)
    with psycopg.connect(pg_target.url, autocommit=True) as conn:
        conn.execute(
            "UPDATE pg_index SET indisvalid = false WHERE indexrelid = "
            f"'\"{pg_target.schema}\".idx_events_transaction_id'::regclass"
        )
    with pg_target.open() as store:
        assert any("invalid" in m for m in diagnose(store).missing)
        planned = init_store(store, dry_run=True)
        assert any("DROP INDEX CONCURRENTLY" in s for s in planned.statements)
        assert any("CREATE INDEX CONCURRENTLY" in s for s in planned.statements)
        assert not diagnose(store).ok, "--dry-run changed nothing"
        result = init_store(store)
        assert result.repaired == ["built index idx_events_transaction_id"]
        assert diagnose(store).ok
        assert init_store(store, dry_run=True).statements == []


@pytest.mark.postgres
def test_read_transactions_are_read_only(pg_target: Target) -> None:
    with pg_target.open() as store:
        init_store(store)
    with (
        pg_target.open(write=False) as store,
        store.reading() as session,
        pytest.raises(ReadOnlyRefused, match="read-only transaction"),
    ):
        session.execute("DELETE FROM {events}")
