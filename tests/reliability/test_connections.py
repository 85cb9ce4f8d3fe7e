"""Lost connections: backends terminated during append, read and tail (exit 5 and nothing written
for one-shot commands, a reconnect for tail), an unreachable host (exit 5 within the connect
timeout), a statement_timeout hit by a real command, and a SQLite store locked by another writer.

The dev server is shared, so only backends this test opened are terminated: each child esctl gets
a unique `application_name` in its store URL. No server restart here: that would disturb others."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from esctl.admin.init import init_store
from tests.support.data import all_events, write_jsonl
from tests.support.figures import record
from tests.support.processes import esctl_command, profile_env, run_cli, run_esctl
from tests.support.stores import Target, terminate_backends, unique_app_name
from tests.test_tail_postgres import TailProcess, run_writers

pytestmark = [pytest.mark.reliability]


@pytest.fixture
def pg_initialised(pg_target: Target) -> Target:
    with pg_target.open() as store:
        init_store(store)
    return pg_target


@contextmanager
def events_table_locked(target: Target) -> Iterator[None]:
    """An ACCESS EXCLUSIVE lock on this test's `events`, so a command blocks at a known point."""
    import psycopg
    from psycopg import sql

    conn = psycopg.connect(target.url)
    try:
        conn.execute(
            sql.SQL("LOCK TABLE {}.events IN ACCESS EXCLUSIVE MODE").format(
                sql.Identifier(target.schema)
            )
        )
        yield
    finally:
        conn.close()  # releases the lock (the server may have been restarted meanwhile)


def wait_until_blocked(target: Target, app_name: str, process: subprocess.Popen[str]) -> None:
    import psycopg

    deadline = time.monotonic() + 60
    with psycopg.connect(target.url, autocommit=True) as admin:
        while admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
            "AND wait_event_type = 'Lock'",
            [app_name],
        ).fetchone() == (0,):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the command never waited on the lock"
            time.sleep(0.05)


def _assert_clean_exit_5(code: int, stderr: str) -> None:
    assert code == 5, stderr
    first = stderr.splitlines()[0]
    assert first.startswith("Error: store postgresql://") and " unavailable: " in first, first
    assert "Traceback" not in stderr


@pytest.mark.postgres
@pytest.mark.parametrize("command", ["append", "read --all", "read", "stats", "streams list"])
def test_backend_terminated_mid_command_exits_5_writing_nothing(
    pg_initialised: Target, tmp_path: Path, command: str
) -> None:
    seed = write_jsonl(
        tmp_path / "seed.jsonl",
        [{"stream_id": "Order-1", "event_type": "Placed", "data": {"n": n}} for n in range(5)],
    )
    assert run_esctl("append", str(seed), env=profile_env(pg_initialised, tmp_path)).returncode == 0
    app_name = unique_app_name()
    env = profile_env(pg_initialised, tmp_path, app_name=app_name)
    args = command.split()
    if command == "append":
        events = [{"stream_id": "Order-2", "event_type": "Placed", "data": {}}] * 100
        args.append(str(write_jsonl(tmp_path / "more.jsonl", events)))
    elif command == "read":
        args.append("Order-1")
    with events_table_locked(pg_initialised):
        process = subprocess.Popen(
            esctl_command(*args, "-o", "json"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **env},
        )
        wait_until_blocked(pg_initialised, app_name, process)
        assert terminate_backends(pg_initialised, app_name) >= 1
        stdout, stderr = process.communicate(timeout=60)
    _assert_clean_exit_5(process.returncode, stderr)
    assert len(all_events(pg_initialised)) == 5, "a partial write"
    if stdout:  # a streamed array cut short must not pass for a complete (empty) document
        with pytest.raises(json.JSONDecodeError):
            json.loads(stdout)


@pytest.mark.postgres
@pytest.mark.slow
def test_checkpointed_tail_survives_repeated_termination(
    pg_initialised: Target, tmp_path: Path
) -> None:
    app_name = unique_app_name()
    env = profile_env(pg_initialised, tmp_path, app_name=app_name)
    total = 4 * 4 * 5 * 2  # four waves of run_writers; the tail ends by itself after them
    tail = TailProcess(
        env, "--all", "--from-start", "--checkpoint", "survivor", "--max", str(total)
    )
    written: list[str] = []
    terminations = 0
    for wave in range(3):
        written += run_writers(
            pg_initialised, threads=4, transactions=5, per_transaction=2, tag=f"x{wave}"
        )
        expected = len(written)
        tail.wait_for(lambda got, n=expected: len(got) >= n)
        terminations += terminate_backends(pg_initialised, app_name)
    written += run_writers(pg_initialised, threads=4, transactions=5, per_transaction=2, tag="end")
    assert len(written) == total
    code, err = tail.finish()
    assert code == 0, err
    assert err.count("reconnecting") >= 3, err
    lost = set(written) - set(tail.ids)
    duplicated = len(tail.ids) - len(set(tail.ids))
    record(
        "tail --checkpoint with its backends terminated [postgresql]",
        waves=3,
        backends_terminated=terminations,
        events=len(written),
        lost=len(lost),
        duplicated=duplicated,
    )
    assert not lost and duplicated == 0
    listed = json.loads(run_esctl("checkpoints", "list", "-o", "json", env=env).stdout)
    assert [c["lag"] for c in listed] == [0]


@pytest.mark.parametrize("why", ["connection refused", "server never answers"])
def test_unreachable_host_exits_5_within_the_connect_timeout(tmp_path: Path, why: str) -> None:
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    port = silent.getsockname()[1]
    if why == "server never answers":
        silent.listen(16)  # the kernel completes the handshake; nobody ever accepts or replies
    else:
        silent.close()
    target = Target("postgresql", f"postgresql://app@127.0.0.1:{port}/db")
    env = profile_env(target, tmp_path, connect_timeout=2)
    for args in (["doctor"], ["read", "--all"], ["append", "-"], ["tail", "--all"]):
        started = time.monotonic()
        result = subprocess.run(
            esctl_command(*args),
            capture_output=True,
            text=True,
            input="",
            timeout=60,  # a hang guard, not a speed assertion
            env={**os.environ, **env},
        )
        elapsed = time.monotonic() - started
        assert result.returncode == 5 if args != ["doctor"] else result.returncode in (5, 7), (
            args,
            result.stderr,
        )
        assert result.stderr.startswith("Error: ") or "unavailable" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
        if why == "server never answers":
            assert "timeout" in result.stderr, result.stderr
        record(
            f"unreachable host ({why}): esctl {' '.join(args)}",
            connect_timeout_s=2,
            exit=result.returncode,
            seconds=round(elapsed, 2),
        )
    silent.close()


@pytest.mark.postgres
def test_statement_timeout_hit_by_a_real_read(pg_initialised: Target, tmp_path: Path) -> None:
    env = profile_env(pg_initialised, tmp_path)
    events = [
        {"stream_id": f"S-{n % 100}", "event_type": "T", "data": {"n": n}} for n in range(20_000)
    ]
    assert (
        run_esctl("append", str(write_jsonl(tmp_path / "many.jsonl", events)), env=env).returncode
        == 0
    )
    timed = profile_env(pg_initialised, tmp_path, statement_timeout="1ms")
    result = run_esctl("stats", "-o", "json", env=timed)  # counts every event by category x type
    assert result.returncode == 5, result.stderr
    assert result.stderr.startswith(
        "Error: the statement was cancelled (statement_timeout 1 ms): "
        "canceling statement due to statement timeout\n"
    ), result.stderr
    assert "Hint: narrow the query" in result.stderr


def test_sqlite_store_locked_by_another_writer_exits_5(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = Target("sqlite", f"sqlite:///{tmp_path / 'locked.db'}")
    with target.open() as store:
        init_store(store)
    for name, value in profile_env(target, tmp_path, connect_timeout=1).items():
        monkeypatch.setenv(name, value)
    holder = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        result = run_cli(
            "append", "-", input='{"stream_id": "A-1", "event_type": "T", "data": {}}\n'
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exit_code == 5, result.stderr
    assert result.stderr.startswith(
        f"Error: store sqlite:///{tmp_path / 'locked.db'} stayed locked by another writer for 1s\n"
    ), result.stderr
    assert all_events(target) == []
