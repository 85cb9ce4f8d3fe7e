"""`init` and `doctor` on both backends, and upgrading a store made from the seed template."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import yaml

from esctl.admin import diagnose, init_store
from esctl.errors import ReadOnlyRefused, SchemaMissing
from esctl.store.base import SCHEMA_VERSION
from tests.support.processes import run_cli
from tests.support.stores import Target

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


def test_a_new_store_has_no_index_that_duplicates_another_and_doctor_notes_one(
    target: Target,
) -> None:
    # The seed design's idx_events_stream_id is the unique index of (stream_id, version) again,
    # and every insert paid for both: esctl no longer makes it, and doctor notes it where found.
    with target.open() as store:
        init_store(store)
        schema = "{schema}." if target.backend == "postgresql" else ""
        with store.reading() as tx:
            if target.backend == "postgresql":
                rows = tx.fetchall(
                    "SELECT indexname AS name FROM pg_indexes WHERE schemaname = %s",
                    [target.schema],
                )
            else:
                rows = tx.fetchall("SELECT name FROM sqlite_master WHERE type = 'index'")
        names = {r["name"] for r in rows}
        assert "idx_events_stream_id" not in names and "idx_events_created_at" in names
        report = diagnose(store)
        assert report.ok and not any("duplicates" in n for n in report.notes)
        with store.writing() as tx:  # as the seed's DDL made it
            tx.execute(f"CREATE INDEX idx_events_stream_id ON {schema}events (stream_id, version)")
        report = diagnose(store)
    assert report.ok  # a note, not a failure
    (note,) = [n for n in report.notes if "duplicates" in n]
    drop = "DROP INDEX CONCURRENTLY" if target.backend == "postgresql" else "DROP INDEX"
    assert note.startswith("index idx_events_stream_id duplicates the unique index on ")
    assert f"`{drop} " in note and note.endswith("idx_events_stream_id` removes it")


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


# --- init by a role without the privileges it needs (issue 13) ---------------------------------


@pytest.fixture
def plain_role(pg_target: Target) -> Iterator[tuple[str, str]]:
    """A login role with no privileges beyond PUBLIC's, and its URL; dropped afterwards."""
    from psycopg import sql

    role = f"esctl_nocreate_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_target.url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    parts = urlsplit(pg_target.url)
    netloc = f"{role}@{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
    try:
        yield role, urlunsplit(parts._replace(netloc=netloc))
    finally:
        with psycopg.connect(pg_target.url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", [role]
            )
            admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def _tables(url: str, schema: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema]
        ).fetchall()
    return sorted(r[0] for r in rows)


@pytest.mark.postgres
def test_init_without_create_on_the_database_names_the_privilege(
    pg_target: Target, plain_role: tuple[str, str]
) -> None:
    role, url = plain_role
    config_args = _config(url, pg_target.schema)
    result = run_cli(*config_args, "init")
    assert result.exit_code == 1, result.stderr  # not 8: this is no read-only profile
    assert f"role {role} lacks CREATE on database" in result.stderr, result.stderr
    assert f"(needed to create schema {pg_target.schema})" in result.stderr
    assert "read-only" not in result.stderr
    with psycopg.connect(pg_target.url) as conn:
        exists = conn.execute(
            "SELECT count(*) FROM pg_namespace WHERE nspname = %s", [pg_target.schema]
        ).fetchone()
    assert exists == (0,), "nothing may be created"


@pytest.mark.postgres
def test_init_without_create_on_the_schema_names_the_privilege(
    pg_target: Target, plain_role: tuple[str, str]
) -> None:
    from psycopg import sql

    role, url = plain_role
    with psycopg.connect(pg_target.url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(pg_target.schema)))
        admin.execute(
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
                sql.Identifier(pg_target.schema), sql.Identifier(role)
            )
        )
    result = run_cli(*_config(url, pg_target.schema), "init")
    assert result.exit_code == 1, result.stderr
    assert result.stderr.startswith(
        f"Error: role {role} lacks CREATE on schema {pg_target.schema}"
    ), result.stderr
    assert f'GRANT CREATE ON SCHEMA "{pg_target.schema}" TO "{role}"' in result.stderr
    assert _tables(pg_target.url, pg_target.schema) == []


@pytest.mark.postgres
def test_init_upgrading_tables_another_role_owns_names_the_owner(
    pg_target: Target, plain_role: tuple[str, str]
) -> None:
    from psycopg import sql

    role, url = plain_role
    seed = SEED_SCHEMA.read_text().replace("public.", f'"{pg_target.schema}".')
    with psycopg.connect(pg_target.url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(pg_target.schema)))
        admin.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(pg_target.schema)))
        admin.execute(seed)  # type: ignore[call-overload]
        owner = admin.execute("SELECT current_user").fetchone()[0]  # type: ignore[index]
        admin.execute(
            sql.SQL("GRANT USAGE, CREATE ON SCHEMA {} TO {}").format(
                sql.Identifier(pg_target.schema), sql.Identifier(role)
            )
        )
    result = run_cli(*_config(url, pg_target.schema), "init")
    assert result.exit_code == 1, result.stderr
    assert f"role {role} does not own table {pg_target.schema}." in result.stderr, result.stderr
    assert f"(owner: {owner}); upgrading it needs the owner" in result.stderr
    assert "esctl_schema" not in _tables(pg_target.url, pg_target.schema)


@pytest.mark.postgres
def test_permission_denied_on_a_write_is_exit_1_naming_the_role(
    pg_target: Target, plain_role: tuple[str, str], tmp_path: Path
) -> None:
    from psycopg import sql

    role, url = plain_role
    with pg_target.open() as store:
        init_store(store)
    with psycopg.connect(pg_target.url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
                sql.Identifier(pg_target.schema), sql.Identifier(role)
            )
        )
    events = tmp_path / "e.jsonl"
    events.write_text('{"stream_id": "Order-1", "event_type": "Placed", "data": {}}\n')
    result = run_cli(*_config(url, pg_target.schema), "append", str(events))
    assert result.exit_code == 1, result.stderr
    assert result.stderr.startswith("Error: permission denied for table"), result.stderr
    assert f"(role {role})" in result.stderr


def _config(url: str, schema: str) -> list[str]:
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="esctl-role-")) / "c.yaml"
    path.write_text(yaml.safe_dump({"profiles": {"role": {"store": url, "schema": schema}}}))
    return ["-c", str(path), "-p", "role"]


# --- doctor and init agree on a seed store with an inline UNIQUE (issue 13) --------------------


@pytest.mark.postgres
@pytest.mark.parametrize(
    "unique",
    [
        "UNIQUE (stream_id, version)",
        "UNIQUE (version, stream_id)",
        "CONSTRAINT uq UNIQUE (stream_id, version)",
    ],
)
def test_an_inline_unique_constraint_satisfies_doctor_and_init(
    pg_target: Target, tmp_path: Path, unique: str
) -> None:
    seed = SEED_SCHEMA.read_text().replace(
        "CONSTRAINT unique_stream_version UNIQUE (stream_id, version)", unique
    )
    assert "unique_stream_version" not in seed
    with psycopg.connect(pg_target.url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{pg_target.schema}"')
        conn.execute(f'SET search_path TO "{pg_target.schema}"')
        conn.execute(seed)  # type: ignore[call-overload]
    args = _config(pg_target.url, pg_target.schema)
    first = run_cli(*args, "init")
    assert first.exit_code == 0, first.stderr
    doctor = run_cli(*args, "doctor", "-o", "json")
    assert doctor.exit_code == 0, doctor.stdout
    report = json.loads(doctor.stdout)
    assert report["ok"] is True and report["missing"] == []
    assert any("unique on (stream_id, version) by" in n for n in report["notes"]), report
    again = run_cli(*args, "init")
    assert again.exit_code == 0 and "nothing to do" in again.stderr


@pytest.mark.postgres
def test_a_store_without_any_unique_stream_version_is_reported(pg_target: Target) -> None:
    with pg_target.open() as store:
        init_store(store)
    with psycopg.connect(pg_target.url, autocommit=True) as conn:
        conn.execute(
            f'ALTER TABLE "{pg_target.schema}".events DROP CONSTRAINT unique_stream_version'
        )
        conn.execute(  # a unique index on other columns is no substitute
            f'CREATE UNIQUE INDEX other_unique ON "{pg_target.schema}".events (stream_id, id)'
        )
    doctor = run_cli(*_config(pg_target.url, pg_target.schema), "doctor", "-o", "json")
    assert doctor.exit_code == 7
    assert "index unique_stream_version" in json.loads(doctor.stdout)["missing"]


# --- doctor and init name the schema, the role and the sizes (issue 14) -------------------------


@pytest.mark.postgres
def test_doctor_shows_role_schema_and_table_sizes(pg_target: Target) -> None:
    with pg_target.open() as store:
        init_store(store)
    args = _config(pg_target.url, pg_target.schema)
    with psycopg.connect(pg_target.url, autocommit=True) as conn:
        role = conn.execute("SELECT current_user").fetchone()[0]  # type: ignore[index]
        conn.execute(f'ANALYZE "{pg_target.schema}".events')
    report = json.loads(run_cli(*args, "doctor", "-o", "json").stdout)
    assert (report["schema"], report["role"], report["database"]) == (
        pg_target.schema,
        role,
        "postgres",
    )
    sizes = {s["table"]: s for s in report["sizes"]}
    assert set(sizes) == {"events", "snapshots", "subscription_checkpoints"}
    assert sizes["events"]["rows_estimate"] == 0 and sizes["events"]["bytes"] > 0
    table = run_cli(*args, "doctor")
    assert table.exit_code == 0, table.stderr
    assert f"as role {role} on database postgres" in table.stdout
    assert pg_target.schema in table.stdout
    assert "size events" in table.stdout and "about 0 rows" in table.stdout


@pytest.mark.postgres
def test_init_names_the_schema_it_changed(pg_target: Target) -> None:
    args = _config(pg_target.url, pg_target.schema)
    dry = run_cli(*args, "init", "--dry-run", "-o", "json")
    assert dry.exit_code == 0 and json.loads(dry.stdout)["schema"] == pg_target.schema
    first = run_cli(*args, "init")
    assert first.exit_code == 0
    assert f"(schema {pg_target.schema}) is at schema version {SCHEMA_VERSION}." in first.stderr
    again = run_cli(*args, "init")
    assert f"(schema {pg_target.schema}) is already at schema version" in again.stderr
    missing = run_cli(*_config(pg_target.url, pg_target.schema + "_none"), "doctor")
    assert missing.exit_code == 7
    assert (
        f"Run `esctl init` to create or upgrade the schema (schema {pg_target.schema}_none)."
        in (missing.stderr)
    )


def test_sqlite_messages_show_the_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "events.db").touch()  # a file, but no esctl schema
    monkeypatch.chdir(elsewhere)
    result = run_cli("-s", "sqlite:///events.db", "read", "--all")
    assert result.exit_code == 7
    assert result.stderr.startswith(
        f"Error: store sqlite:///{elsewhere.resolve() / 'events.db'} has no esctl schema"
    ), result.stderr
    none = run_cli("-s", "sqlite:///nothing.db", "stats")
    assert none.exit_code == 7
    assert f"sqlite:///{elsewhere.resolve() / 'nothing.db'} has no esctl schema" in none.stderr
    assert not (elsewhere / "nothing.db").exists()


# --- identifiers PostgreSQL would truncate (issue 13) -------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize("schema", ["x" * 64, "é" * 32, "s" * 62 + "ü"])
def test_schema_names_over_63_bytes_are_refused(
    pg_server_url: str, tmp_path: Path, schema: str
) -> None:
    args = _config(pg_server_url, schema)
    for command in (["init"], ["doctor"], ["read", "--all"]):
        result = run_cli(*args, *command)
        assert result.exit_code == 2, (command, result.stderr)
        size = len(schema.encode())
        assert f"is {size} bytes; PostgreSQL identifiers are at most 63 bytes" in result.stderr
    with psycopg.connect(pg_server_url) as conn:
        truncated = schema.encode()[:63].decode(errors="ignore")
        assert conn.execute(
            "SELECT count(*) FROM pg_namespace WHERE nspname = %s", [truncated]
        ).fetchone() == (0,)


@pytest.mark.postgres
def test_a_schema_name_of_exactly_63_bytes_works(pg_server_url: str) -> None:
    schema = "é" * 31 + "x"  # 63 bytes
    target = Target("postgresql", pg_server_url, schema)
    try:
        with target.open() as store:
            init_store(store)
            assert diagnose(store).ok
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(
                psycopg.sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                    psycopg.sql.Identifier(schema)
                )
            )


@pytest.mark.postgres
def test_doctor_by_a_role_without_usage_on_the_schema_fails_naming_it(
    pg_target: Target, plain_role: tuple[str, str]
) -> None:
    role, url = plain_role
    with pg_target.open() as store:
        init_store(store)
    result = run_cli(*_config(url, pg_target.schema), "doctor")
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert result.stderr.startswith("Error: permission denied for schema"), result.stderr
    assert f"(role {role})" in result.stderr
    assert "not checked" in result.stdout and "all present" not in result.stdout


def test_init_makes_again_the_tables_and_indexes_dropped_from_a_current_store(
    use_target: Target,
) -> None:
    assert run_cli("init").exit_code == 0
    assert (
        run_cli(
            "append", "-", input='{"stream_id": "Order-1", "event_type": "A", "data": {}}\n'
        ).exit_code
        == 0
    )
    with use_target.open() as store, store.writing() as tx:
        tx.execute("DROP TABLE {snapshots}")
        tx.execute("DROP TABLE {audit}")
        schema = "{schema}." if use_target.backend == "postgresql" else ""
        tx.execute(f"DROP INDEX {schema}idx_checkpoint_history_subscription")
    assert run_cli("doctor").exit_code == 7
    planned = run_cli("init", "--dry-run", "-o", "json")
    assert planned.exit_code == 0, planned.stderr
    statements = json.loads(planned.stdout)["statements"]
    assert any("CREATE TABLE IF NOT EXISTS" in s and "snapshots" in s for s in statements)
    assert run_cli("doctor").exit_code == 7, "--dry-run must not repair anything"
    repaired = run_cli("init", "-o", "json")
    assert repaired.exit_code == 0, repaired.stderr
    done = json.loads(repaired.stdout)["repaired"]
    assert {"created table snapshots", "created table esctl_audit"} <= set(done)
    assert "created index idx_checkpoint_history_subscription" in done
    doctor = run_cli("doctor", "-o", "json")
    assert doctor.exit_code == 0, doctor.stdout
    assert "nothing to do" in run_cli("init").stderr
    events = run_cli("read", "Order-1", "-o", "jsonl").stdout.splitlines()
    assert [json.loads(line)["version"] for line in events] == [1]  # the log was not touched


def test_init_refuses_to_make_a_new_event_log_under_a_current_schema(use_target: Target) -> None:
    assert run_cli("init").exit_code == 0
    with use_target.open() as store, store.writing() as tx:
        cascade = " CASCADE" if use_target.backend == "postgresql" else ""
        tx.execute("DROP TABLE {events}" + cascade)
    refused = run_cli("init")
    assert refused.exit_code == 7
    assert "table events is missing" in refused.stderr and "backup" in refused.stderr
    with use_target.open() as store:
        missing = store.inspect_schema().missing
    assert any(m.startswith("table") and m.endswith("events") for m in missing), missing
