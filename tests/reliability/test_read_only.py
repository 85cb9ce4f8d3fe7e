"""Read-only safety: every write command is refused under `read_only: true` (exit 8, before any
connection), and every read command works against a PostgreSQL role that has only SELECT."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from esctl.admin.init import init_store
from tests.support.data import all_events, write_config, write_jsonl
from tests.support.figures import record
from tests.support.processes import run_cli
from tests.support.stores import Target

pytestmark = pytest.mark.reliability


def write_commands(tmp_path: Path) -> list[list[str]]:
    events = write_jsonl(
        tmp_path / "ro-events.jsonl", [{"stream_id": "Order-9", "event_type": "Placed", "data": {}}]
    )
    return [
        ["init"],
        ["append", str(events)],
        ["append", "-", "--stream", "Order-9"],
        ["checkpoints", "set", "sub", "--to-start", "--execute"],
        ["checkpoints", "delete", "sub", "--execute"],
        ["snapshots", "rebuild", "--all"],
        ["snapshots", "rebuild", "Order-1"],
        ["tail", "--all", "--checkpoint", "sub", "--idle-timeout", "0.2"],
    ]


def _read_only_config(tmp_path: Path, url: str, schema: str) -> Path:
    return write_config(
        tmp_path / "ro.yaml", {"ro": {"store": url, "schema": schema, "read_only": True}}
    )


def test_every_write_command_is_refused_under_read_only(
    initialised_target: Target, tmp_path: Path
) -> None:
    config = _read_only_config(tmp_path, initialised_target.url, initialised_target.schema)
    commands = write_commands(tmp_path)
    for args in commands:
        result = run_cli("-c", str(config), "-p", "ro", *args, input="")
        assert result.exit_code == 8, (args, result.stderr)
        assert result.stderr.startswith(
            "Error: profile 'ro' is read-only: refusing to write to "
        ), (
            args,
            result.stderr,
        )
    assert all_events(initialised_target) == []
    record(
        f"read_only profile [{initialised_target.backend}]",
        write_commands=len(commands),
        refused_exit_8=len(commands),
    )


def test_read_only_refuses_before_connecting(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = _read_only_config(tmp_path, f"postgresql://app@127.0.0.1:{port}/db", "public")
    for args in write_commands(tmp_path):
        result = run_cli("-c", str(config), "-p", "ro", *args, input="")
        assert result.exit_code == 8, (args, result.stderr)  # not 5: no connection was tried


# --- a role with only SELECT ------------------------------------------------------------------


@pytest.fixture
def select_only_url(pg_target: Target) -> Iterator[str]:
    """A login role that may only SELECT from this test's schema; dropped afterwards."""
    import psycopg
    from psycopg import sql

    role = f"esctl_ro_{uuid.uuid4().hex[:10]}"
    schema = sql.Identifier(pg_target.schema)
    with pg_target.open() as store:
        init_store(store)
    with psycopg.connect(pg_target.url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        admin.execute(
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, sql.Identifier(role))
        )
        admin.execute(
            sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(
                schema, sql.Identifier(role)
            )
        )
    parts = urlsplit(pg_target.url)
    host = parts.hostname or ""
    netloc = f"{role}@{host}" + (f":{parts.port}" if parts.port else "")
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
def test_every_read_command_works_with_only_select(
    pg_target: Target, select_only_url: str, tmp_path: Path
) -> None:
    admin = write_config(
        tmp_path / "admin.yaml", {"admin": {"store": pg_target.url, "schema": pg_target.schema}}
    )
    events = [
        {"stream_id": f"Order-{n % 3}", "event_type": "Placed", "data": {"n": n}} for n in range(9)
    ]
    base = ["-c", str(admin), "-p", "admin"]
    assert run_cli(*base, "append", str(write_jsonl(tmp_path / "e.jsonl", events))).exit_code == 0
    assert (
        run_cli(*base, "checkpoints", "set", "sub", "--position", "3", "--execute").exit_code == 0
    )
    assert run_cli(*base, "snapshots", "rebuild", "--all").exit_code == 0
    event_id = json.loads(run_cli(*base, "read", "Order-1", "-o", "jsonl").stdout.splitlines()[0])[
        "event_id"
    ]
    config = write_config(
        tmp_path / "reader.yaml", {"reader": {"store": select_only_url, "schema": pg_target.schema}}
    )
    reads = [
        ["doctor"],
        ["init", "--dry-run"],
        ["append", str(tmp_path / "e.jsonl"), "--dry-run"],
        ["read", "Order-1"],
        ["read", "Order-1", "--backwards", "-o", "json"],
        ["read", "--all", "-o", "jsonl"],
        ["read", "--all", "--category", "Order", "--type", "Placed", "-o", "csv"],
        ["events", "show", event_id],
        ["tail", "--all", "--from-start", "--max", "9", "--idle-timeout", "5"],
        ["streams", "list"],
        ["streams", "show", "Order-1"],
        ["stats"],
        ["checkpoints", "list"],
        ["checkpoints", "show", "sub"],
        ["checkpoints", "set", "sub", "--to-end"],
        ["checkpoints", "delete", "sub"],
        ["snapshots", "list"],
        ["snapshots", "show", "Order-1"],
        ["snapshots", "verify", "--all"],
        ["snapshots", "rebuild", "--all", "--dry-run"],
        ["config", "show"],
    ]
    for args in reads:
        result = run_cli("-c", str(config), "-p", "reader", *args)
        assert result.exit_code == 0, (args, result.stdout[-1000:], result.stderr)
    # The role really cannot write: a write command fails cleanly, with nothing written.
    denied = run_cli("-c", str(config), "-p", "reader", "append", str(tmp_path / "e.jsonl"))
    assert denied.exit_code == 1, denied.stderr  # permission denied: not a read-only profile
    assert denied.stderr.startswith("Error: permission denied"), denied.stderr
    assert len(all_events(pg_target)) == 9
    record(
        "SELECT-only PostgreSQL role",
        read_commands=len(reads),
        worked=len(reads),
        write_refused_exit=1,
    )
