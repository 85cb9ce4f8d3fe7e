"""esctl through a real PgBouncer in transaction pooling mode (issue 21): each transaction may run
on another server session, so nothing may rest on session state. A CLI smoke set with the pooler
detected, and the tail no-loss scenario (concurrent writers, through the pooler too) with
`pooler: pgbouncer` configured: prepared statements off, polling instead of LISTEN, the lease a row."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.support.data import write_config
from tests.support.figures import record
from tests.support.processes import run_cli, run_process
from tests.support.stores import Target, pg_schema
from tests.test_tail_postgres import TailProcess, run_writers

pytestmark = [pytest.mark.postgres, pytest.mark.reliability]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def pooled(pgbouncer_url: str, pg_server_url: str) -> Iterator[Target]:
    """A fresh schema reached through PgBouncer."""
    for schema in pg_schema(pg_server_url):
        yield Target("postgresql", pgbouncer_url, schema)


def use_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **profile: object) -> Path:
    config = write_config(tmp_path / "pooled.yaml", {"pooled": profile})
    monkeypatch.setenv("ESCTL_CONFIG", str(config))
    monkeypatch.setenv("ESCTL_PROFILE", "pooled")
    return config


def ok(*args: str) -> str:
    result = run_cli(*args)
    assert result.exit_code == 0, (args, result.stdout, result.stderr)
    return result.stdout


def test_cli_smoke_set_through_pgbouncer_detected(
    pooled: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No `pooler:` key: esctl detects the pooler (its process id is not the server's). A
    # statement_timeout must then be set per transaction, not left on a pooled server session.
    use_profile(
        tmp_path, monkeypatch, store=pooled.url, schema=pooled.schema, statement_timeout="30s"
    )
    ok("init")
    assert "nothing to do" in run_cli("init").stderr
    for name in ("orders.jsonl", "more-orders.jsonl"):
        ok("append", str(EXAMPLES / name))
    events = json.loads(ok("read", "--all", "-o", "json"))
    assert len(events) > 6
    assert [e["version"] for e in json.loads(ok("read", "Order-1001", "-o", "json"))][:3] == [
        1,
        2,
        3,
    ]
    head = events[-1]["global_position"]
    assert len(json.loads(ok("read", "--all", "--from-position", str(head), "-o", "json"))) == 1
    streams = {s["stream_id"] for s in json.loads(ok("streams", "list", "-o", "json"))}
    assert {"Order-1001", "Order-1002", "Customer-7"} <= streams
    assert json.loads(ok("streams", "show", "Order-1001", "-o", "json"))["version"] >= 3
    assert json.loads(ok("stats", "-o", "json"))["events"] == len(events)
    ok("checkpoints", "set", "billing", "--position", "2", "--execute")
    listed = {c["subscription_id"]: c for c in json.loads(ok("checkpoints", "list", "-o", "json"))}
    assert listed["billing"]["last_position"] == 2 and listed["billing"]["lag"] == len(events) - 2
    tailed = run_cli(
        "tail", "--all", "--checkpoint", "billing", "--max", str(len(events) - 2), "-o", "jsonl"
    )
    assert tailed.exit_code == 0, tailed.stderr
    assert [json.loads(line)["global_position"] for line in tailed.stdout.splitlines()] == [
        e["global_position"] for e in events[2:]
    ]
    assert "pooler: detected" in tailed.stderr and "polled" in tailed.stderr
    ok("checkpoints", "show", "billing")
    after = {c["subscription_id"]: c for c in json.loads(ok("checkpoints", "list", "-o", "json"))}
    assert after["billing"]["last_position"] == head and after["billing"]["lag"] == 0
    doctor = json.loads(ok("doctor", "-o", "json"))
    assert doctor["ok"] and doctor["pooler"] == "detected", doctor
    ok("snapshots", "rebuild", "--all")
    snapshots = {s["stream_id"] for s in json.loads(ok("snapshots", "list", "-o", "json"))}
    assert "Order-1001" in snapshots
    assert json.loads(ok("snapshots", "show", "Order-1001", "-o", "json"))["version"] >= 3
    ok("metrics")
    # Nothing esctl did stayed behind on a pooled server session: no session advisory lock,
    # and no statement_timeout leaked onto the server connections PgBouncer hands out.
    with psycopg.connect(pooled.url, autocommit=True, prepare_threshold=None) as conn:
        for _ in range(25):  # each autocommit statement may land on any pooled server session
            timeout = conn.execute("SHOW statement_timeout").fetchone()
            assert timeout is not None and timeout[0] == "0"
        locks = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").fetchone()
        assert locks is not None and locks[0] == 0


def test_tail_loses_nothing_through_pgbouncer(
    pooled: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = use_profile(
        tmp_path, monkeypatch, store=pooled.url, schema=pooled.schema, pooler="pgbouncer"
    )
    env = {"ESCTL_CONFIG": str(config), "ESCTL_PROFILE": "pooled"}
    assert run_process("init", env=env).returncode == 0
    # Ended by --idle-timeout, so it polls (and saves, and renews its lease) many times while the
    # writers' transactions take the few server sessions: a prepared statement or a session
    # setting would be lost between two of its transactions.
    tail = TailProcess(env, "--all", "--checkpoint", "pooled", "--idle-timeout", "3")
    # The lease is a row, not a session lock: a second consumer is refused through the pooler too.
    second = run_process("tail", "--all", "--checkpoint", "pooled", "--max", "1", env=env)
    assert second.returncode == 3, second.stderr
    # The writers go through the pooler too (their own prepared statements off, as they must be).
    written = run_writers(
        pooled, threads=8, transactions=30, per_transaction=2, tag="b", prepare_threshold=None
    )
    code, err = tail.finish()
    assert code == 0, err
    assert "pooler: pgbouncer" in err and "polled" in err
    lost = set(written) - set(tail.ids)
    duplicated = len(tail.ids) - len(set(tail.ids))
    record(
        "tail --checkpoint through PgBouncer (transaction pooling) [postgresql]",
        writers=8,
        events=len(written),
        delivered=len(tail.ids),
        lost=len(lost),
        duplicated=duplicated,
    )
    assert (len(lost), duplicated) == (0, 0), (len(lost), duplicated)
    listed = json.loads(run_process("checkpoints", "list", "-o", "json", env=env).stdout)
    assert [(c["subscription_id"], c["lag"]) for c in listed] == [("pooled", 0)]
