"""The delivery fault matrix: `tail --checkpoint` under each fault, on SQLite and PostgreSQL.

Each cell drives real `esctl tail` processes (a concurrent writer where it makes sense), then a
final `tail --checkpoint … --idle-timeout` drains what is left; over every run's whole output:
lost = 0, and duplicates at most the documented at-least-once window (the events written since
the last save: at most `SAVE_EVERY`, one batch at the head) where a crash allows any, else 0.
The figures are printed under "reliability figures" as `delivery matrix: FAULT [BACKEND]`."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from esctl.admin.init import init_store
from esctl.checkpoints import load_stored
from esctl.read.follow import SAVE_EVERY
from tests.support.figures import record
from tests.support.processes import esctl_command, profile_env, run_esctl
from tests.support.stores import Target, terminate_backends, unique_app_name
from tests.test_tail_postgres import TailProcess

pytestmark = pytest.mark.reliability

WINDOW = SAVE_EVERY  # what a crash may re-deliver (documented in `tail --help`)


# --- helpers -----------------------------------------------------------------------------------


def insert(target: Target, count: int, tag: str, *, pause: float = 0.0, size: int = 0) -> list[str]:
    """`count` events by plain SQL (the seed's way), one transaction each; their ids."""
    ids: list[str] = []
    with target.open() as store:
        for n in range(count):
            event_id = str(uuid.uuid4())
            with store.writing() as session:
                session.execute(
                    "INSERT INTO {events} (id, stream_id, stream_type, event_type, event_data, "
                    "metadata, version) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    [
                        event_id,
                        f"M{tag}-1",
                        f"M{tag}",
                        "Happened",
                        session.json_param({"n": n, "pad": "x" * size}),
                        session.json_param({}),
                        n + 1,
                    ],
                )
            ids.append(event_id)
            if pause:
                time.sleep(pause)
    return ids


class Writer:
    """`insert` in a thread, so events arrive while a tail runs and the fault happens."""

    def __init__(self, target: Target, count: int, tag: str, pause: float = 0.01) -> None:
        self.ids: list[str] = []
        self.errors: list[BaseException] = []

        def run() -> None:
            try:
                self.ids = insert(target, count, tag, pause=pause)
            except BaseException as exc:  # surfaced by join()
                self.errors.append(exc)

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def join(self) -> list[str]:
        self.thread.join(timeout=120)
        assert not self.errors, self.errors
        return self.ids


def drain(env: dict[str, str], name: str) -> list[str]:
    """The final run: drains what is there, ends by --idle-timeout; every event it printed."""
    result = run_esctl(
        "tail", "--all", "--checkpoint", name, "--idle-timeout", "0.2", "-o", "jsonl", env=env
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line)["event_id"] for line in result.stdout.splitlines()]


def saved_position(target: Target, name: str) -> int | None:
    with target.open() as store:
        loaded = load_stored(store, name)
    return None if loaded is None else loaded[1].global_position


def position_of(target: Target, event_id: str) -> int:
    with target.open() as store, store.reading() as session:
        return int(
            session.fetchval("SELECT global_position FROM {events} WHERE id = %s", [event_id])
        )


def wait_saved(target: Target, name: str, position: int, timeout: float = 30) -> None:
    """Until the checkpoint is at `position` (the tail saved its batch and now waits)."""
    deadline = time.monotonic() + timeout
    while saved_position(target, name) != position:
        assert time.monotonic() < deadline, f"checkpoint {name} never reached {position}"
        time.sleep(0.05)


def verdict(
    fault: str,
    target: Target,
    written: list[str],
    delivered: list[str],
    *,
    allowed_duplicates: int = 0,
    **figures: Any,
) -> None:
    lost = set(written) - set(delivered)
    duplicated = len(delivered) - len(set(delivered))
    stray = set(delivered) - set(written)
    record(
        f"delivery matrix: {fault} [{target.backend}]",
        written=len(written),
        delivered=len(delivered),
        lost=len(lost),
        duplicated=duplicated,
        allowed=allowed_duplicates,
        **figures,
    )
    assert not stray, f"delivered events that were not written in this cell: {len(stray)}"
    assert not lost, f"lost {len(lost)} of {len(written)}"
    assert duplicated <= allowed_duplicates, (duplicated, allowed_duplicates)


@pytest.fixture
def cell(initialised_target: Target, tmp_path: Path) -> tuple[Target, dict[str, str], str]:
    """A store with 3 old events (a tail from the end must not deliver them), a profile, a name."""
    insert(initialised_target, 3, "old")
    return initialised_target, profile_env(initialised_target, tmp_path), "matrix"


# --- the cells ---------------------------------------------------------------------------------


def test_first_run_with_no_events_creates_the_checkpoint(cell: Any) -> None:
    target, env, name = cell
    first = run_esctl(
        "tail", "--all", "--checkpoint", name, "--idle-timeout", "0.3", "-o", "jsonl", env=env
    )
    assert first.returncode == 0, first.stderr
    assert first.stdout == ""
    assert first.stderr.rstrip().endswith("0 events.")
    head = position_of(target, insert_last_old(target))
    assert saved_position(target, name) == head  # created at the starting position (the end)
    written = insert(target, 5, "new")
    verdict("first run, no events", target, written, drain(env, name))


def insert_last_old(target: Target) -> str:
    with target.open() as store, store.reading() as session:
        return str(
            session.fetchval("SELECT id FROM {events} ORDER BY global_position DESC LIMIT 1")
        )


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_before_the_first_event_and_mid_stream(cell: Any, sig: int) -> None:
    target, env, name = cell
    before = TailProcess(env, "--all", "--checkpoint", name)  # stopped before any event
    code, err = before.stop(sig)
    assert code == 0, err
    assert before.ids == []
    written = insert(target, 5, "gap")  # appended between the runs: must not be skipped
    mid = TailProcess(env, "--all", "--checkpoint", name)
    writer = Writer(target, 40, "live")
    mid.wait_for(lambda got: len(got) >= 15)
    code, err = mid.stop(sig)
    assert code == 0, err
    written += writer.join()
    delivered = before.ids + mid.ids + drain(env, name)
    verdict(signal.Signals(sig).name, target, written, delivered, stopped_after=len(mid.ids))


def test_sigkill_redelivers_at_most_the_window(cell: Any) -> None:
    target, env, name = cell
    first = TailProcess(env, "--all", "--checkpoint", name)
    first.process.kill()  # before any event: the checkpoint already exists
    first.finish()
    written = insert(target, 5, "gap")
    second = TailProcess(env, "--all", "--checkpoint", name)  # the dead holder's lease is free
    writer = Writer(target, 40, "live")
    second.wait_for(lambda got: len(got) >= 15)
    second.process.kill()
    second.finish()
    written += writer.join()
    delivered = first.ids + second.ids + drain(env, name)
    verdict("SIGKILL", target, written, delivered, allowed_duplicates=WINDOW)


@contextmanager
def tiny_filesystem(tmp_path: Path) -> Iterator[Path | None]:
    """A 64 KiB tmpfs (needs root); None where it cannot be mounted."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True
    )
    try:
        yield mount if done.returncode == 0 else None
    finally:
        if done.returncode == 0:
            subprocess.run(["umount", str(mount)], check=True)


def test_short_write_on_a_full_disk_does_not_move_the_checkpoint(cell: Any, tmp_path: Path) -> None:
    target, env, name = cell
    run_esctl("tail", "--all", "--checkpoint", name, "--idle-timeout", "0", env=env)
    start = saved_position(target, name)
    written = insert(target, 5, "full")
    with open("/dev/full", "w") as full:
        failed = subprocess.run(
            esctl_command("tail", "--checkpoint", name, "--idle-timeout", "0.3", "-o", "jsonl"),
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **env},
            timeout=60,
        )
    assert failed.returncode == 1
    assert failed.stderr.splitlines()[-1].startswith(
        "Error: cannot write output: No space left on device; "
        f"checkpoint {name!r} stays at position {start}"
    ), failed.stderr
    assert saved_position(target, name) == start
    delivered: list[str] = []
    figures: dict[str, Any] = {"dev_full_exit": failed.returncode}
    with tiny_filesystem(tmp_path) as tiny:
        if tiny is not None:  # a real full filesystem: a truncated last line
            written += insert(target, 120, "big", size=900)
            out = tiny / "out.jsonl"
            with out.open("w") as sink:
                short = subprocess.run(
                    esctl_command(
                        "tail", "--checkpoint", name, "--idle-timeout", "0.3", "-o", "jsonl"
                    ),
                    stdout=sink,
                    stderr=subprocess.PIPE,
                    text=True,
                    env={**os.environ, **env},
                    timeout=60,
                )
            assert short.returncode == 1, short.stderr
            assert "No space left on device" in short.stderr
            text = out.read_text()
            whole = [
                json.loads(line) for line in text.splitlines(keepends=True) if line.endswith("\n")
            ]
            assert whole and len(whole) < 125
            # The checkpoint is at the last line written whole, never past it.
            assert saved_position(target, name) == whole[-1]["global_position"]
            delivered += [e["event_id"] for e in whole]
            figures.update(tmpfs_exit=short.returncode, whole_lines=len(whole))
            figures["truncated_tail_bytes"] = len(text) - sum(
                len(line) for line in text.splitlines(keepends=True) if line.endswith("\n")
            )
        else:
            figures["tmpfs"] = "not mountable here"
    delivered += drain(env, name)
    verdict("short write / ENOSPC", target, written, delivered, **figures)


def test_closed_pipe_does_not_count_as_delivered(cell: Any) -> None:
    target, env, name = cell
    run_esctl("tail", "--all", "--checkpoint", name, "--idle-timeout", "0", env=env)
    written = insert(target, 5, "pipe")
    process = subprocess.Popen(
        esctl_command("tail", "--checkpoint", name, "-o", "jsonl"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )
    assert process.stdout is not None and process.stderr is not None
    read = [json.loads(process.stdout.readline())["event_id"] for _ in range(5)]
    wait_saved(target, name, position_of(target, read[-1]))
    process.stdout.close()  # the reader goes away; what it read was delivered
    written += insert(target, 3, "after")
    code = process.wait(timeout=60)
    err = process.stderr.read()
    assert code == 1, err  # SPEC: a closed pipe is a failure for a consumer, not a delivery
    assert "Error: cannot write output: the reader closed the pipe; checkpoint" in err, err
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert saved_position(target, name) == position_of(target, read[-1])
    verdict("EPIPE", target, written, read + drain(env, name), exit=code)


def test_lost_connection(cell: Any, tmp_path: Path) -> None:
    target, _, name = cell
    app_name = unique_app_name()
    env = profile_env(target, tmp_path, app_name=app_name)
    tail = TailProcess(env, "--all", "--checkpoint", name)
    writer = Writer(target, 60, "live")
    tail.wait_for(lambda got: len(got) >= 15)
    if target.backend == "postgresql":
        fault = "lost connection (pg_terminate_backend)"
        assert terminate_backends(target, app_name) >= 1
    else:  # no connection to lose: the file stays locked by another writer for a while
        fault = "store locked (BEGIN EXCLUSIVE 1s)"
        path = target.url.removeprefix("sqlite:///")
        locker = sqlite3.connect(path, timeout=30, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        time.sleep(1.0)
        locker.execute("COMMIT")
        locker.close()
    written = writer.join()
    tail.wait_for(lambda got: len(set(got)) >= len(written), timeout=120)
    code, err = tail.stop()
    assert code == 0, err
    if target.backend == "postgresql":
        assert "reconnecting" in err
    verdict(fault, target, written, tail.ids + drain(env, name))


def test_second_consumer_is_refused(cell: Any) -> None:
    target, env, name = cell
    first = TailProcess(env, "--all", "--checkpoint", name)
    second = run_esctl("tail", "--all", "--checkpoint", name, "--max", "1", env=env)
    assert second.returncode == 3
    assert second.stderr.startswith(
        f"Error: subscription {name!r} is being consumed by pid {first.process.pid} on "
        f"{socket.gethostname()}"
    ), second.stderr
    written = insert(target, 10, "live")
    first.wait_for(lambda got: len(got) >= 10)
    code, err = first.stop()
    assert code == 0, err
    verdict("second consumer", target, written, first.ids + drain(env, name), second_exit=3)


def test_checkpoint_moved_under_a_running_consumer(cell: Any) -> None:
    target, env, name = cell
    tail = TailProcess(env, "--all", "--checkpoint", name)
    written = insert(target, 20, "live")
    tail.wait_for(lambda got: len(got) >= 20)
    wait_saved(target, name, position_of(target, written[-1]))
    refused = run_esctl("checkpoints", "set", name, "--shift-by", "-5", "--execute", env=env)
    assert refused.returncode == 3
    assert f"held by a running consumer (pid {tail.process.pid} on" in refused.stderr
    deleted = run_esctl("checkpoints", "delete", name, "--execute", env=env)
    assert deleted.returncode == 3, deleted.stderr
    forced = run_esctl(
        "checkpoints", "set", name, "--shift-by", "-5", "--execute", "--force", env=env
    )
    assert forced.returncode == 0, forced.stderr
    moved_to = saved_position(target, name)
    assert moved_to == position_of(target, written[-6])
    written += insert(target, 1, "next")  # its save is where the consumer notices
    code, err = tail.finish(timeout=60)
    assert code == 3, err
    assert f"checkpoint {name!r} was moved while this consumer ran" in err
    assert saved_position(target, name) == moved_to  # the move was not overwritten
    delivered = tail.ids + drain(env, name)
    # The 5 events the operator asked for again, plus what the consumer wrote since its last save.
    assert len(delivered) - len(set(delivered)) >= 5
    verdict("moved under it (--force)", target, written, delivered, allowed_duplicates=5 + WINDOW)


@pytest.fixture
def restartable(tmp_path: Path) -> Iterator[tuple[Target, Any]]:
    """A throwaway server of this test's own (the shared one is never restarted)."""
    from tests.reliability.test_server_restart import throwaway_server

    with throwaway_server() as server:
        target = Target("postgresql", server.get_uri(), "public")
        with target.open() as store:
            init_store(store)
        yield target, server


@pytest.mark.postgres
@pytest.mark.slow
def test_server_restart(restartable: tuple[Target, Any], tmp_path: Path) -> None:
    from tests.reliability.test_server_restart import restart

    target, server = restartable
    env = profile_env(target, tmp_path)
    tail = TailProcess(env, "--all", "--checkpoint", "matrix")
    written = insert(target, 10, "before")
    tail.wait_for(lambda got: len(got) >= 10)
    restart(server)
    written += insert(target, 10, "after")
    tail.wait_for(lambda got: len(set(got)) >= len(written), timeout=120)
    code, err = tail.stop()
    assert code == 0, err
    assert "reconnecting" in err
    verdict("server restart", target, written, tail.ids + drain(env, "matrix"))


def test_server_restart_has_no_sqlite_counterpart() -> None:
    """SQLite has no server: the matrix says so rather than leaving the cell blank."""
    record("delivery matrix: server restart [sqlite]", result="n/a (embedded, no server)")
    assert Target("sqlite", "sqlite:///x").backend == "sqlite"


def test_expired_lease_of_another_host_is_taken_over(cell: Any) -> None:
    target, env, name = cell
    now = datetime.now(UTC)
    with target.open() as store, store.writing() as session:
        session.execute(
            "INSERT INTO {leases} (subscription_id, holder_host, holder_pid, token, since, "
            "expires_at) VALUES (%s, %s, %s, %s, %s, %s)",
            [
                name,
                "elsewhere.example",
                1,
                "t",
                session.time_param(now - timedelta(minutes=5)),
                session.time_param(now + timedelta(minutes=5)),
            ],
        )
    held = run_esctl("tail", "--all", "--checkpoint", name, "--idle-timeout", "0", env=env)
    assert held.returncode == 3
    assert "being consumed by pid 1 on elsewhere.example" in held.stderr, held.stderr
    listed = json.loads(run_esctl("checkpoints", "list", "-o", "json", env=env).stdout)
    assert listed == []  # a lease alone is no checkpoint
    with target.open() as store, store.writing() as session:  # the holder stopped renewing
        session.execute(
            "UPDATE {leases} SET expires_at = %s",
            [session.time_param(now - timedelta(seconds=1))],
        )
    taken = run_esctl("tail", "--all", "--checkpoint", name, "--idle-timeout", "0", env=env)
    assert taken.returncode == 0, taken.stderr
    assert taken.stderr.rstrip().endswith("0 events.")
