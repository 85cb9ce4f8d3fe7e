"""`esctl top` on both backends: the snapshot's data (rates from explicit samples, lag and
status), `--once` without a terminal, the refusal, and `q` in a pty (exit 0, terminal restored)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from esctl.checkpoints import Thresholds
from esctl.operate.top import TopCollector
from esctl.store.base import Store
from tests.support.processes import profile_env, run_cli
from tests.support.stores import Target
from tests.test_checkpoints import seed, subscriber_saves
from tests.test_replication import replicated  # noqa: F401 - the fixture
from tests.test_watch import _read_until


def test_rates_over_one_and_five_minutes_from_the_ring_buffer(store: Store) -> None:
    collector = TopCollector(store)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    collector.add(start, {"Order": 0})
    collector.add(start + timedelta(seconds=240), {"Order": 2400})
    collector.add(start + timedelta(seconds=300), {"Order": 3000})
    assert collector.rates("Order", 60) == 10.0  # (3000-2400)/60
    assert collector.rates("Order", 300) == 10.0  # 3000/300
    assert collector.history("Order") == [10.0, 10.0]


def test_a_snapshot_holds_lag_and_status(store: Store) -> None:
    seed(store, 10, transactions=False)
    subscriber_saves(store, "behind", 2)
    subscriber_saves(store, "done", 10)
    snapshot = TopCollector(store, Thresholds(lag=5)).snapshot()
    assert snapshot.head_position == 10
    assert [(c.category, c.events) for c in snapshot.categories] == [("Order", 10)]
    assert [(s.subscription_id, s.lag, s.status) for s in snapshot.checkpoints] == [
        ("behind", 8, "lagging"),
        ("done", 0, "ok"),
    ]
    if store.backend == "postgresql":
        assert snapshot.horizon_age is not None and snapshot.horizon_age >= 0
    else:
        assert snapshot.horizon_age is None


def test_top_once_prints_the_checkpoints_with_their_status(initialised: Target) -> None:
    with initialised.open() as store:
        seed(store, 4, transactions=False)
        subscriber_saves(store, "reader", 1)
    result = run_cli("top", "--once")
    assert result.exit_code == 0, result.stderr
    assert "reader" in result.stdout and "ok" in result.stdout
    assert "Appended by category" in result.stdout and "Order" in result.stdout


def test_top_without_a_terminal_is_refused(initialised: Target) -> None:
    result = run_cli("top")
    assert result.exit_code == 2
    assert "Error: top needs a terminal; use checkpoints list --watch or esctl metrics" in (
        result.stderr
    )


def test_q_ends_top_in_a_terminal_with_exit_0(initialised: Target, tmp_path: Path) -> None:
    import termios

    with initialised.open() as store:
        subscriber_saves(store, "reader", 0)
    env = {**os.environ, **profile_env(initialised, tmp_path), "COLUMNS": "80", "LINES": "24"}
    leader, follower = pty.openpty()
    before = termios.tcgetattr(follower)
    process = subprocess.Popen(
        [sys.executable, "-m", "esctl", "top", "--interval", "0.2"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        close_fds=True,
    )
    try:
        seen = _read_until(leader, b"reader")
        os.write(leader, b"q")
        assert process.wait(timeout=60) == 0
        assert termios.tcgetattr(follower) == before  # cbreak undone
    finally:
        if process.poll() is None:
            process.kill()
        os.close(follower)
        os.close(leader)
    assert b"Checkpoints" in seen


@pytest.mark.postgres
@pytest.mark.replication
@pytest.mark.usefixtures("replicated")
def test_top_shows_the_replica_lag_when_a_read_store_is_set() -> None:
    result = run_cli("-p", "ha", "top", "--once")
    assert result.exit_code == 0, result.stderr
    assert "replica lag" in result.stdout
    assert "horizon age" in result.stdout
