"""`esctl horizon`: a real open transaction on another connection (an uncommitted insert: an
in-flight hole, and the session named) and a rolled-back insert (a rolled-back hole); SQLite says
it has no horizon."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from esctl.admin.init import init_store
from tests.support.data import write_config
from tests.support.processes import run_cli
from tests.support.stores import Target, sqlite_target

INSERT = (
    'INSERT INTO "{schema}".events (id, stream_id, stream_type, event_type, event_data, '
    "metadata, version) VALUES (gen_random_uuid(), %s, 'Order', 'Placed', '{{}}', '{{}}', 1)"
)


@pytest.mark.postgres
def test_horizon_names_the_open_transaction_and_classes_the_holes(
    pg_target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    config = write_config(
        tmp_path / "h.yaml", {"h": {"store": pg_target.url, "schema": pg_target.schema}}
    )
    monkeypatch.setenv("ESCTL_CONFIG", str(config))
    monkeypatch.setenv("ESCTL_PROFILE", "h")
    insert = INSERT.format(schema=pg_target.schema)
    with pg_target.open() as store:
        init_store(store)
    with psycopg.connect(pg_target.url, autocommit=True) as writer:
        writer.execute(insert, ["Order-1"])  # 1
        with pytest.raises(RuntimeError), writer.transaction():  # 2: rolled back
            writer.execute(insert, ["Order-2"])
            raise RuntimeError("roll back")
        writer.execute(insert, ["Order-3"])  # 3
        time.sleep(0.05)  # the holder begins after event 3 was stamped
        holder = psycopg.connect(pg_target.url, application_name="held-open")
        try:
            holder.execute(insert, ["Held-4"])  # 4: in flight, uncommitted
            pid = holder.info.backend_pid
            time.sleep(0.05)
            writer.execute(insert, ["Order-5"])  # 5, begun and committed after the holder began
            result = run_cli("-o", "json", "horizon", "--last", "10")
            table = run_cli("horizon", "--last", "10")
        finally:
            holder.rollback()
            holder.close()
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["head_position"] == 5
    holes = [(h["first"], h["last"], h["status"]) for h in report["holes"]]
    assert holes == [(2, 2, "rolled-back"), (4, 4, "in-flight")]
    assert report["in_flight_positions"] == 1
    held = [s for s in report["sessions"] if s["pid"] == pid]
    assert len(held) == 1, report["sessions"]
    assert held[0]["application"] == "held-open"
    assert held[0]["holds_back"] == "live readers"
    assert held[0]["writes_events"] is True
    assert held[0]["state"] == "idle in transaction"
    assert "INSERT INTO" in held[0]["query"]
    assert report["horizon_age_seconds"] >= held[0]["transaction_age_seconds"] > 0
    assert table.exit_code == 0 and "rolled-back" in table.stdout and "held-open" in table.stdout
    # Once the holder has rolled back, its hole is rolled back too (and above the head: none).
    after = json.loads(run_cli("-o", "json", "horizon", "--last", "10").stdout)
    assert [h["status"] for h in after["holes"]] == ["rolled-back", "rolled-back"]
    assert after["horizon_age_seconds"] == 0 or all(s["pid"] != pid for s in after["sessions"])


def test_horizon_on_sqlite_says_there_is_none(tmp_path: Path, monkeypatch) -> None:
    target = sqlite_target(tmp_path)
    with target.open() as store:
        init_store(store)
    monkeypatch.setenv("ESCTL_STORE", target.url)
    result = run_cli("horizon")
    assert result.exit_code == 0
    assert "SQLite has no visibility horizon: writers are serialised" in result.stderr
    assert json.loads(run_cli("-o", "json", "horizon").stdout)["supported"] is False


def test_horizon_refuses_a_bad_last() -> None:
    result = run_cli("horizon", "--last", "0")
    assert result.exit_code == 2


@pytest.mark.postgres
def test_tail_names_the_transaction_it_waits_behind_once(pg_target: Target) -> None:
    import psycopg

    from esctl.ports import EventFilter
    from esctl.read.follow import Follower
    from esctl.types import START

    insert = INSERT.format(schema=pg_target.schema)
    with pg_target.open() as store:
        init_store(store)
    with psycopg.connect(pg_target.url, autocommit=True) as writer:
        writer.execute(insert, ["Order-1"])
        holder = psycopg.connect(pg_target.url, application_name="slow-writer")
        try:
            holder.execute(insert, ["Held-2"])
            writer.execute(insert, ["Order-3"])  # committed, but behind the holder's horizon
            warnings: list[str] = []
            delivered: list[str] = []
            with pg_target.open() as store:
                follower = Follower(store, EventFilter(), START, warn=warnings.append)
                follower.held_back_after = 0.2
                follower.run(lambda e: delivered.append(e.stream_id), idle_timeout=1.5)
            pid = holder.info.backend_pid
        finally:
            holder.rollback()
            holder.close()
    assert delivered == ["Order-1"]
    assert len(warnings) == 1, warnings
    assert f"behind an open transaction: pid {pid} (slow-writer" in warnings[0]
