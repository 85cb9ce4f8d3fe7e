"""Crashes: `esctl append` killed with SIGKILL at random points leaves the whole batch or none of it,
and re-running the same file completes it exactly once; a checkpointed `tail` killed with SIGKILL
resumes without loss, repeating only the events after its last saved checkpoint (at-least-once)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from esctl.read.follow import SAVE_EVERY
from tests.support.data import all_events, write_jsonl
from tests.support.figures import record
from tests.support.processes import esctl_command, profile_env, run_cli
from tests.support.stores import Target, unique_app_name
from tests.test_tail_postgres import TailProcess

pytestmark = pytest.mark.reliability

KILL_ROUNDS = 20
BATCH = 2000


def _wait_for_backends_gone(target: Target, app_name: str, timeout: float = 30) -> None:
    """After a client is killed, its server backend rolls back and exits; wait for that."""
    if target.backend != "postgresql":
        return
    import psycopg

    deadline = time.monotonic() + timeout
    with psycopg.connect(target.url, autocommit=True) as admin:
        while admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [app_name]
        ).fetchone() != (0,):
            assert time.monotonic() < deadline, "the killed append's backend is still there"
            time.sleep(0.05)


@pytest.mark.slow
def test_sigkill_at_random_points_then_rerun_appends_exactly_once(
    initialised_target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(20261127)
    outcomes = {"none": 0, "whole": 0, "finished": 0}
    for round_ in range(KILL_ROUNDS):
        stream = f"Crash-{round_}"
        events = [
            {
                "stream_id": stream,
                "event_type": "Imported",
                "event_id": str(uuid.uuid4()),
                "data": {"n": n},
                "metadata": {"pad": "p" * 100},
            }
            for n in range(BATCH)
        ]
        path = write_jsonl(tmp_path / f"crash-{round_}.jsonl", events)
        app_name = unique_app_name("esctl-rel-kill")
        env = profile_env(initialised_target, tmp_path, app_name=app_name)
        process = subprocess.Popen(
            esctl_command("append", str(path)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, **env},
        )
        time.sleep(rng.uniform(0.0, 1.5))  # anywhere: startup, validation, the write, the commit
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        if process.returncode == 0:
            outcomes["finished"] += 1
        _wait_for_backends_gone(initialised_target, app_name)
        stored = [e for e in all_events(initialised_target) if e["stream_id"] == stream]
        assert len(stored) in (0, BATCH), (
            f"round {round_}: {len(stored)} of {BATCH}: a partial batch"
        )
        outcomes["whole" if stored else "none"] += 1
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        rerun = run_cli("append", str(path))
        assert rerun.exit_code == 0, rerun.stderr
        stored = [e for e in all_events(initialised_target) if e["stream_id"] == stream]
        ids = [str(e["id"]) for e in stored]
        assert sorted(ids) == sorted(e["event_id"] for e in events), f"round {round_}"
        assert [e["version"] for e in stored] == list(range(1, BATCH + 1))
    record(
        f"append SIGKILL at random points [{initialised_target.backend}]",
        rounds=KILL_ROUNDS,
        events_per_batch=BATCH,
        killed_before_commit=outcomes["none"],
        killed_after_commit=outcomes["whole"],
        partial_batches=0,
        rerun_lost=0,
        rerun_duplicated=0,
    )
    assert outcomes["none"] + outcomes["whole"] == KILL_ROUNDS
    # Over 20 random points some kills must land before the commit, or the test proves nothing.
    assert outcomes["none"] > 0, outcomes


TAIL_EVENTS = 20_000


@pytest.mark.slow
def test_sigkill_of_a_checkpointed_tail_resumes_at_least_once(
    initialised_target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = profile_env(initialised_target, tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    events = [
        {
            "stream_id": f"Tail-{n % 50}",
            "event_type": "T",
            "event_id": str(uuid.uuid4()),
            "data": {},
        }
        for n in range(TAIL_EVENTS)
    ]
    assert run_cli("append", str(write_jsonl(tmp_path / "t.jsonl", events))).exit_code == 0
    written = [e["event_id"] for e in events]

    # Killed after its first save while catching up (every SAVE_EVERY events), mid-batch: the
    # reader stops there, so the tail is blocked on a full pipe when the signal comes.
    first = TailProcess(
        env, "--all", "--from-start", "--checkpoint", "crashy", hold_after=SAVE_EVERY + 1500
    )
    first.wait_for(lambda got: len(got) >= SAVE_EVERY + 1500)
    first.stop(signal.SIGKILL)
    assert len(first.ids) < TAIL_EVENTS, "the tail finished before it could be killed"
    shown = run_cli("checkpoints", "show", "crashy", "-o", "json")
    assert shown.exit_code == 0, shown.stderr
    saved = json.loads(shown.stdout)
    saved = saved.get("checkpoint", saved)
    saved_position = int(saved["last_position"])
    positions = [e["global_position"] for e in first.lines]
    assert saved_position in positions, "the checkpoint is not at an event the tail printed"
    after_checkpoint = first.ids[positions.index(saved_position) + 1 :]

    second = TailProcess(env, "--all", "--checkpoint", "crashy")
    second.wait_for(lambda got: set(first.ids) | set(got) >= set(written))
    time.sleep(0.3)
    code, err = second.stop()
    assert code == 0, err
    lost = set(written) - set(first.ids) - set(second.ids)
    duplicated = [i for i in second.ids if i in set(first.ids)]
    record(
        f"tail --checkpoint SIGKILL + restart [{initialised_target.backend}]",
        events=TAIL_EVENTS,
        printed_before_kill=len(first.ids),
        printed_after_last_checkpoint=len(after_checkpoint),
        lost=len(lost),
        duplicated=len(duplicated),
    )
    assert not lost
    assert len(set(second.ids)) == len(second.ids)
    # At-least-once: exactly the events printed after the last saved checkpoint come again, first.
    assert duplicated == after_checkpoint
    assert second.ids[: len(after_checkpoint)] == after_checkpoint
