"""Against a real primary and streaming standby: reads routed to the replica, writes to the
primary, doctor's view of both, and a clear error for a write sent to a standby."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from esctl.admin.init import init_store
from esctl.cli.state import AppState
from esctl.store import open_store
from tests.support.data import write_config
from tests.support.processes import run_cli
from tests.support.stores import Target

pytestmark = [pytest.mark.postgres, pytest.mark.replication]


@pytest.fixture
def replicated(cluster: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Target:
    """A schema initialised on the primary, replicated, and a profile with both nodes."""
    schema = f"esctl_repl_{uuid.uuid4().hex[:8]}"
    target = Target("postgresql", cluster.primary_url, schema)
    with target.open() as store:
        init_store(store)
    cluster.wait_for_replay()
    config = write_config(
        tmp_path / "cluster.yaml",
        {
            "ha": {
                "store": cluster.primary_url,
                "read_store": cluster.replica_url,
                "schema": schema,
            },
            "replica-only": {"store": cluster.replica_url, "schema": f"{schema}_new"},
        },
    )
    monkeypatch.setenv("ESCTL_CONFIG", str(config))
    return target


def test_reads_go_to_the_replica_and_writes_to_the_primary(replicated: Target) -> None:
    app = AppState(profile="ha")
    assert app.open_store().node_status().role == "standby"
    assert app.open_store(write=True).node_status().role == "primary"
    assert AppState(profile="ha", primary=True).open_store().node_status().role == "primary"
    app.close()


def test_doctor_shows_each_node_and_the_replica_lag(replicated: Target, cluster: Any) -> None:
    result = run_cli("-p", "ha", "doctor", "-o", "json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    roles = {node["name"]: node for node in report["nodes"]}
    assert roles["store"]["role"] == "primary"
    assert roles["read_store"]["role"] == "standby"
    assert (
        isinstance(roles["read_store"]["lag_bytes"], int) and roles["read_store"]["lag_bytes"] >= 0
    )
    table = run_cli("-p", "ha", "doctor")
    assert "standby" in table.stdout and "replication lag" in table.stdout


def test_a_write_to_a_standby_is_a_clear_exit_5(replicated: Target, cluster: Any) -> None:
    result = run_cli("-p", "replica-only", "init")
    assert result.exit_code == 5, result.stderr
    assert result.stderr.startswith("Error: node ")
    assert "accepts no writes (a standby?)" in result.stderr


def test_library_write_to_standby_names_the_node(cluster: Any) -> None:
    from esctl.config import Settings
    from esctl.errors import StoreUnavailable

    store = open_store(
        Settings(store=cluster.replica_url, schema="x_" + uuid.uuid4().hex[:6]), write=True
    )
    with pytest.raises(StoreUnavailable, match=str(cluster.replica_dir)):
        init_store(store)


def test_tail_on_the_replica_delivers_every_event_written_on_the_primary(
    replicated: Target, cluster: Any
) -> None:
    import subprocess
    import sys
    import threading

    import psycopg

    tail = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "esctl",
            "-p",
            "ha",
            "tail",
            "--all",
            "--from-start",
            "--checkpoint",
            "replica-tail",
            "--idle-timeout",
            "4",
            "-o",
            "jsonl",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    written: list[str] = []
    lock = threading.Lock()

    def writer(n: int) -> None:
        with psycopg.connect(cluster.primary_url, autocommit=True) as conn:
            conn.execute(
                psycopg.sql.SQL("SET search_path TO {}").format(
                    psycopg.sql.Identifier(replicated.schema)
                )
            )
            for i in range(25):
                with conn.transaction():
                    row = conn.execute(  # the seed's plain INSERT
                        "INSERT INTO events (id, stream_id, stream_type, event_type, event_data, "
                        "metadata, version, created_at) VALUES (gen_random_uuid(), %s, 'Repl', "
                        "'Tick', '{}', '{}', %s, now()) RETURNING id",
                        [f"Repl-{n}", i + 1],
                    ).fetchone()
                    assert row is not None
                with lock:
                    written.append(str(row[0]))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out, err = tail.communicate(timeout=60)
    assert tail.returncode == 0, err
    delivered = [json.loads(line)["event_id"] for line in out.splitlines()]
    assert len(delivered) == len(set(delivered)), "an event was delivered twice"
    assert sorted(delivered) == sorted(written), "an event was lost"
    with psycopg.connect(cluster.primary_url, autocommit=True) as conn:
        saved = conn.execute(
            psycopg.sql.SQL(
                "SELECT last_position FROM {} WHERE subscription_id = 'replica-tail'"
            ).format(psycopg.sql.Identifier(replicated.schema, "subscription_checkpoints"))
        ).fetchone()
    assert saved is not None and saved[0] > 0, "the checkpoint is written to the primary"


def test_checkpoints_list_on_a_lagging_replica_says_so(replicated: Target, cluster: Any) -> None:
    assert run_cli("-p", "ha", "checkpoints", "list").exit_code == 0
    # Pause replay on the standby, then write on the primary: the replica falls behind.
    import psycopg

    with psycopg.connect(cluster.replica_url, autocommit=True) as replica:
        replica.execute("SELECT pg_wal_replay_pause()")
        try:
            with psycopg.connect(cluster.primary_url, autocommit=True) as primary:
                primary.execute(
                    psycopg.sql.SQL(
                        "INSERT INTO {} (stream_id, stream_type, event_type, event_data, version) "
                        "VALUES ('Lag-1', 'Lag', 'Tick', '{{}}', 1)"
                    ).format(psycopg.sql.Identifier(replicated.schema, "events"))
                )
            result = run_cli("-p", "ha", "checkpoints", "list")
            assert result.exit_code == 0
            assert "behind the primary" in result.stderr
            assert "--primary" in result.stderr
            primary_view = run_cli("-p", "ha", "--primary", "checkpoints", "list")
            assert "behind the primary" not in primary_view.stderr
        finally:
            replica.execute("SELECT pg_wal_replay_resume()")
