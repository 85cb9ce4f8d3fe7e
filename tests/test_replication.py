"""Against a real primary and streaming standby: reads routed to the replica, writes to the
primary, doctor's view of both, and a clear error for a write sent to a standby."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from esctl.cli.state import AppState
from esctl.schema import init_store
from esctl.store import open_store
from tests.conftest import Target, run_cli, write_config

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
