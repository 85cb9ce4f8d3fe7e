"""SIGKILL during `streams delete --hard --execute` (issue 19), on both backends, a few rounds:
each kill leaves the stream tombstoned with some of its events deleted in whole batches; a
re-run of the same command finishes it; nothing of any other stream is lost."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from esctl.admin.init import init_store
from esctl.lifecycle.protection import set_protection
from tests.support.figures import record
from tests.support.processes import esctl_command, profile_env, run_esctl
from tests.support.stores import Target

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

EVENTS = 2_000
ROUNDS = 3


def _insert(target: Target, stream_id: str, count: int) -> None:
    with target.open() as store, store.writing() as tx:
        tx.executemany(
            "INSERT INTO {events} (id, stream_id, stream_type, event_type, event_data, version) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            [
                [str(uuid.uuid4()), stream_id, "Big", "Added", tx.json_param({"n": v}), v]
                for v in range(1, count + 1)
            ],
        )


def _count(target: Target, stream_id: str | None = None) -> int:
    with target.open() as store, store.reading() as tx:
        if stream_id is None:
            return int(tx.fetchval("SELECT count(*) FROM {events}"))
        return int(tx.fetchval("SELECT count(*) FROM {events} WHERE stream_id = %s", [stream_id]))


def test_a_killed_hard_delete_is_finished_by_a_rerun(target: Target, tmp_path: Path) -> None:
    with target.open() as store:
        init_store(store)
        set_protection(store, True)
    _insert(target, "Keep-1", 300)
    env = profile_env(target, tmp_path)
    killed_midway = 0
    for round_ in range(ROUNDS):
        stream = f"Big-{round_}"
        _insert(target, stream, EVENTS)
        command = esctl_command(
            "streams", "delete", stream, "--hard", "--execute", "--batch-size", "50"
        )
        process = subprocess.Popen(
            command, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 60
        # Kill once a few batches are gone, at a point that moves from round to round.
        wanted = EVENTS - 50 * (2 + 7 * round_)
        while process.poll() is None and time.monotonic() < deadline:
            if _count(target, stream) <= wanted:
                break
            time.sleep(0.005)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            killed_midway += 1
        process.wait(timeout=30)
        left = _count(target, stream)
        assert left % 50 == 0  # whole batches or none: each batch is one transaction
        rerun = run_esctl("streams", "delete", stream, "--hard", "--execute", env=env)
        assert rerun.returncode == 0, rerun.stderr
        assert _count(target, stream) == 0
        assert _count(target, "Keep-1") == 300
        listed = run_esctl("streams", "list", "--include-deleted", "-o", "json", env=env)
        assert stream not in listed.stdout
    assert _count(target) == 300
    assert killed_midway >= 1, "no round was killed before it finished"
    record(
        "hard delete: SIGKILL rounds finished by a re-run",
        rounds=ROUNDS,
        killed=killed_midway,
        lost=0,
    )
