"""Races and crashes: concurrent appends on one stream, and a writer killed mid-append."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from esctl.append.sources import open_sources
from esctl.append.writing import ExpectedVersion, append_events
from esctl.errors import EsctlError
from tests.support.data import seed_events, write_config
from tests.support.processes import run_process
from tests.support.stores import Target

pytestmark = pytest.mark.reliability


def write_events(path: Path, stream_id: str, count: int, **extra: Any) -> Path:
    with path.open("w") as f:
        for n in range(count):
            event = {"stream_id": stream_id, "event_type": "Raced", "data": {"n": n}, **extra}
            f.write(json.dumps(event) + "\n")
    return path


def count_events(target: Target) -> int:
    with target.open(write=False, create=False) as store, store.reading() as session:
        return int(session.fetchval("SELECT count(*) FROM {events}"))


def race(target: Target, path: Path, expected: str, writers: int = 16) -> list[Any]:
    """`writers` threads, each with its own connection, append `path` at the same moment."""
    barrier = threading.Barrier(writers)
    outcomes: list[Any] = [None] * writers

    def writer(index: int) -> None:
        with target.open() as store, open_sources([str(path)]) as sources:
            barrier.wait()
            try:
                outcomes[index] = append_events(
                    store, sources, expected=ExpectedVersion.parse(expected)
                )
            except EsctlError as error:
                outcomes[index] = error

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_racing_the_same_expected_version_exactly_one_wins(target: Target, tmp_path: Path) -> None:
    with target.open() as store:
        from esctl.admin.init import init_store

        init_store(store)
        seed_events(store, [("Order-1", "Seeded", {}), ("Order-1", "Seeded", {})])
    outcomes = race(target, write_events(tmp_path / "a.jsonl", "Order-1", 3), "2")
    winners = [o for o in outcomes if not isinstance(o, EsctlError)]
    losers = [o for o in outcomes if isinstance(o, EsctlError)]
    assert len(winners) == 1 and winners[0].appended == 3
    assert len(losers) == 15
    assert {(e.exit_code, e.message) for e in losers} == {
        (3, "stream 'Order-1': expected version 2, actual version 5")
    }
    assert count_events(target) == 5


def test_racing_with_expected_any_retries_and_loses_nothing(target: Target, tmp_path: Path) -> None:
    with target.open() as store:
        from esctl.admin.init import init_store

        init_store(store)
    outcomes = race(target, write_events(tmp_path / "a.jsonl", "Order-1", 5), "any", writers=8)
    assert [o for o in outcomes if isinstance(o, EsctlError)] == []
    with target.open() as store, store.reading() as session:
        versions = [
            r["version"] for r in session.fetchall("SELECT version FROM {events} ORDER BY version")
        ]
    assert versions == list(range(1, 41))


@pytest.mark.postgres
@pytest.mark.slow
def test_processes_racing_exit_3_with_the_versions(initialised_pg: Target, tmp_path: Path) -> None:
    path = write_events(tmp_path / "a.jsonl", "Order-7", 2)
    results: list[subprocess.CompletedProcess[str]] = []
    lock = threading.Lock()

    def run() -> None:
        done = run_process("append", str(path), "--expected-version", "no-stream")
        with lock:
            results.append(done)

    threads = [threading.Thread(target=run) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    codes = sorted(r.returncode for r in results)
    assert codes == [0] + [3] * 15, [r.stderr for r in results if r.returncode not in (0, 3)]
    for loser in (r for r in results if r.returncode == 3):
        assert loser.stderr.startswith(
            "Error: stream 'Order-7': expected version no-stream, actual version 2\n"
        )


@pytest.fixture
def initialised_pg(pg_target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Target:
    config = write_config(
        tmp_path / "pg.yaml", {"pg": {"store": pg_target.url, "schema": pg_target.schema}}
    )
    monkeypatch.setenv("ESCTL_CONFIG", str(config))
    monkeypatch.setenv("ESCTL_PROFILE", "pg")
    assert run_process("init").returncode == 0
    return pg_target


# --- SIGKILL mid-append ------------------------------------------------------------------------


def _with_application_name(url: str, name: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}application_name={name}"


def _writer_in_transaction(target: Target, app_name: str) -> bool:
    """True once the append process holds its write transaction."""
    if target.backend == "sqlite":
        path = target.url.removeprefix("sqlite:///")
        conn = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(target.url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT 1 FROM pg_stat_activity WHERE application_name = %s AND query ILIKE 'COPY%%' "
            "AND state = 'active'",
            [app_name],
        ).fetchone()
    return row is not None


def _terminate(target: Target, app_name: str) -> None:
    if target.backend != "postgresql":
        return
    import psycopg

    with psycopg.connect(target.url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            [app_name],
        )


@pytest.mark.slow
@pytest.mark.parametrize("commit_every", [None, 5000])
def test_sigkill_mid_append_leaves_no_partial_batch(
    target: Target, tmp_path: Path, commit_every: int | None
) -> None:
    from esctl.admin.init import init_store

    with target.open() as store:
        init_store(store)
    app_name = f"esctl_kill_{uuid.uuid4().hex[:8]}"
    url = (
        _with_application_name(target.url, app_name)
        if target.backend == "postgresql"
        else target.url
    )
    config = write_config(tmp_path / "k.yaml", {"k": {"store": url, "schema": target.schema}})
    path = write_events(tmp_path / "big.jsonl", "Order-1", 60_000, metadata={"pad": "x" * 200})
    args = [sys.executable, "-m", "esctl", "-c", str(config), "-p", "k", "append", str(path)]
    if commit_every:
        args += ["--commit-every", str(commit_every)]
    process = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=os.environ.copy()
    )
    try:
        deadline = time.monotonic() + 60
        while not _writer_in_transaction(target, app_name):
            assert process.poll() is None, "the append finished before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        if commit_every:
            time.sleep(0.3)  # let some chunks commit
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        _terminate(target, app_name)
    assert process.returncode == -signal.SIGKILL
    stored = count_events(target)
    assert stored < 60_000
    assert stored % (commit_every or 60_000) == 0, f"{stored} events: a partial batch"
