"""SIGKILL during `streams delete --hard --execute` (issue 19), on both backends, ten rounds at
random points on one store: each round kills the command once a random number of its events is
gone (from "at once", before it wrote anything, to "after the last batch", during the final
clean-up), and each kill leaves the stream tombstoned with whole batches deleted, or not touched;
a re-run of the same command finishes it; nothing of any other stream is lost. Small streams keep
the rounds quick; the seed is in the failure message to replay a round."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from esctl.admin.init import init_store
from esctl.lifecycle.protection import set_protection
from tests.support.figures import record
from tests.support.processes import esctl_command, profile_env, run_cli
from tests.support.stores import Target

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

EVENTS = 400
BATCH = 20
ROUNDS = 10


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
        tx.execute(
            "INSERT INTO {snapshots} (stream_id, stream_type, snapshot_data, version) "
            "VALUES (%s, %s, %s, %s)",
            [stream_id, "Big", tx.json_param({"n": count}), count],
        )


def _count(target: Target, table: str = "events", stream_id: str | None = None) -> int:
    with target.open() as store, store.reading() as tx:
        if stream_id is None:
            return int(tx.fetchval(f"SELECT count(*) FROM {{{table}}}"))
        return int(
            tx.fetchval(f"SELECT count(*) FROM {{{table}}} WHERE stream_id = %s", [stream_id])
        )


def test_a_killed_hard_delete_is_finished_by_a_rerun(
    target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    with target.open() as store:
        init_store(store)
        set_protection(store, True)
    _insert(target, "Keep-1", 300)
    env = profile_env(target, tmp_path)
    for name, value in env.items():  # the re-runs run in this process (no start-up cost)
        monkeypatch.setenv(name, value)
    killed_midway = 0
    for round_ in range(ROUNDS):
        stream = f"Big-{round_}"
        _insert(target, stream, EVENTS)
        where = f"seed {seed}, round {round_}"
        # Kill once at most `wanted` events are left: EVENTS kills at once, 0 after the last batch.
        wanted = rng.choice([EVENTS, 0, rng.randrange(0, EVENTS, BATCH)])
        command = esctl_command(
            "streams", "delete", stream, "--hard", "--execute", "--batch-size", str(BATCH)
        )
        process = subprocess.Popen(
            command, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            if _count(target, "events", stream) <= wanted:
                break
            time.sleep(0.002)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            killed_midway += 1
        process.wait(timeout=30)
        left = _count(target, "events", stream)
        assert left % BATCH == 0, where  # whole batches or none: each batch is one transaction
        finished = left == 0 and _count(target, "tombstones", stream) == 0
        rerun = run_cli("streams", "delete", stream, "--hard", "--execute")
        if finished:
            assert rerun.exit_code == 4, (where, rerun.stderr)  # it had finished: nothing left
        else:
            assert rerun.exit_code == 0, (where, rerun.stderr)
        assert _count(target, "events", stream) == 0, where
        assert _count(target, "snapshots", stream) == 0, where
        assert _count(target, "tombstones", stream) == 0, where
        assert _count(target, "events", "Keep-1") == 300, where
    assert _count(target) == 300
    assert _count(target, "snapshots") == 1  # Keep-1's
    assert killed_midway >= 1, f"no round was killed before it finished (seed {seed})"
    record(
        "hard delete: SIGKILL rounds at random points finished by a re-run",
        rounds=ROUNDS,
        killed=killed_midway,
        lost=0,
    )
