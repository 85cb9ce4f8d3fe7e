"""Hostile names are data, never SQL; timeouts and secrets are handled."""

from __future__ import annotations

import socket
from pathlib import Path

import psycopg
import pytest

from esctl.admin.doctor import diagnose
from esctl.admin.init import init_store
from esctl.errors import EsctlError, StoreUnavailable
from esctl.lifecycle.audit import record
from esctl.lifecycle.protection import set_protection
from tests.support.data import seed_events, write_config
from tests.support.processes import run_process
from tests.support.stores import Target

HOSTILE_SCHEMAS = [
    'we"ird',
    "semi; DROP SCHEMA public CASCADE; --",
    "dollar$$quote$$",
    "back\\slash",
    "ünïcødé-схема",
    "x" * 63,
]


@pytest.mark.postgres
@pytest.mark.parametrize("schema", HOSTILE_SCHEMAS)
def test_hostile_schema_names_are_quoted(pg_server_url: str, schema: str) -> None:
    target = Target("postgresql", pg_server_url, schema)
    try:
        with target.open() as store:
            init_store(store)
            assert diagnose(store).ok
            assert set_protection(store, True) and diagnose(store).protected is True
            seed_events(store, [("Order-1", "Placed", {})])
            with store.writing() as tx:  # an audited change passes the trigger in this schema
                record(tx, None, "test", "Order-1", {}, changes_events=True)
                assert tx.execute("DELETE FROM {events}") == 1
            with pytest.raises(EsctlError, match="events are protected"), store.writing() as tx:
                tx.execute("DELETE FROM {events}")
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            tables = conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                "ORDER BY table_name",
                [schema],
            ).fetchall()
            assert [t[0] for t in tables] == [
                "esctl_audit",
                "esctl_checkpoint_history",
                "esctl_leases",
                "esctl_schema",
                "esctl_stream_tombstones",
                "events",
                "snapshots",
                "subscription_checkpoints",
            ]
            assert conn.execute(
                "SELECT count(*) FROM pg_namespace WHERE nspname = 'public'"
            ).fetchone() == (1,)
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(
                psycopg.sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                    psycopg.sql.Identifier(schema)
                )
            )


@pytest.mark.postgres
def test_statement_timeout_gives_a_clear_error(pg_target: Target) -> None:
    with pg_target.open(statement_timeout_ms=50) as store:
        init_store(store)
        with pytest.raises(StoreUnavailable) as error, store.reading() as session:
            session.execute("SELECT pg_sleep(2)")
    assert "statement_timeout 50 ms" in error.value.message
    assert error.value.exit_code == 5


def test_passwords_never_appear_in_output(tmp_path: Path) -> None:
    sentinel = "Sentinel-Pa55word-9f3k"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = write_config(
        tmp_path / "c.yaml",
        {
            "url": {"store": f"postgresql://app:{sentinel}@127.0.0.1:{port}/db"},
            "conninfo": {"store": f"host=127.0.0.1 port={port} password={sentinel} dbname=db"},
            "env": {"store": f"postgresql://app@127.0.0.1:{port}/db", "password_env": "SECRET"},
        },
    )
    for profile in ("url", "conninfo", "env"):
        for args in (
            ["doctor"],
            ["init"],
            ["config", "show"],
            ["config", "profiles"],
            ["-v", "doctor"],
        ):
            for fmt in ("table", "json"):
                result = run_process(
                    "-c",
                    str(config),
                    "-p",
                    profile,
                    "-o",
                    fmt,
                    *args,
                    env={"SECRET": sentinel, "PGPASSWORD": sentinel},
                )
                where = (profile, args, fmt, result.stdout[-2000:], result.stderr[-2000:])
                assert sentinel not in result.stdout + result.stderr, where
                # The command really ran (an esctl that dies on import would print nothing).
                code, stdout_has, stderr_has = _expected(profile, args, fmt, port)
                assert result.returncode == code, where
                assert all(s in result.stdout for s in stdout_has), where
                assert all(s in result.stderr for s in stderr_has), where


def _expected(
    profile: str, args: list[str], fmt: str, port: int
) -> tuple[int, list[str], list[str]]:
    """Exit code, and what stdout and stderr must hold, for one run against the closed port."""
    shown = {
        "url": f"postgresql://app:***@127.0.0.1:{port}/db",
        "conninfo": f"host=127.0.0.1 port={port} password=*** dbname=db",
        "env": f"postgresql://app@127.0.0.1:{port}/db",
    }[profile]
    unavailable = f"Error: store {shown} unavailable: "
    if args[-1] == "doctor":
        data = ['"connected": false', f'"store": "{shown}"'] if fmt == "json" else ["FAIL", shown]
        return 5, data, [unavailable]
    if args == ["init"]:
        return 5, [], [unavailable]
    if args == ["config", "show"]:
        data = [f'"store": "{shown}"'] if fmt == "json" else [shown[:20]]
        return 0, data, []
    return 0, [f'"name": "{profile}"'] if fmt == "json" else [profile], []
