"""SIGINT during `append --commit-every`: the batches committed stay, and the message says how
many events (and up to which input line) were committed, and that a re-run appends the rest."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.support.data import all_events, write_jsonl
from tests.support.figures import record
from tests.support.processes import esctl_command, profile_env
from tests.support.stores import Target

pytestmark = pytest.mark.reliability

EVENTS = 30_000
BATCH = 500


def _count(target: Target) -> int:
    with target.open(write=False, create=False) as store, store.reading() as session:
        return int(session.fetchval("SELECT count(*) FROM {events}"))


def test_sigint_during_commit_every_says_what_was_committed(
    initialised_target: Target, tmp_path: Path
) -> None:
    source = write_jsonl(
        tmp_path / "many.jsonl",
        [
            {
                "stream_id": f"Order-{i % 97}",
                "event_type": "Placed",
                "event_id": str(uuid.UUID(int=i + 1)),
                "data": {"i": i},
            }
            for i in range(EVENTS)
        ],
    )
    env = {**os.environ, **profile_env(initialised_target, tmp_path)}
    args = ["append", str(source), "--commit-every", str(BATCH)]
    process = subprocess.Popen(
        esctl_command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    deadline = time.monotonic() + 60
    while _count(initialised_target) < 3 * BATCH:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    stored = _count(initialised_target)
    assert 0 < stored < EVENTS, "the interrupt came too late to test anything"
    batches = stored // BATCH
    assert stored == batches * BATCH  # only whole batches were committed
    match = re.fullmatch(
        rf"Interrupted: {stored} of {EVENTS} events committed in {batches} batch(?:es)? "
        rf"\(the last committed event: {re.escape(str(source))}:{stored}\); re-run the same "
        r"command to append the rest: stored events are skipped by event_id\n",
        stderr,
    )
    assert match, stderr
    assert stdout == ""

    again = subprocess.run(
        esctl_command(*args), capture_output=True, text=True, env=env, timeout=120
    )
    assert again.returncode == 0, again.stderr
    events = all_events(initialised_target)
    assert len(events) == EVENTS
    assert len({e["id"] for e in events}) == EVENTS


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_at_any_point_reports_exactly_the_committed_count(
    initialised_target: Target, tmp_path: Path, signum: signal.Signals
) -> None:
    """Small batches commit often, so some signals land during a COMMIT: the count printed must
    still be the count stored (the signal waits until the commit is counted), every time."""
    events, batch, rounds = 6_000, 50, 8
    source = write_jsonl(
        tmp_path / "many.jsonl",
        [
            {
                "stream_id": f"Order-{i % 31}",
                "event_type": "Placed",
                "event_id": str(uuid.UUID(int=i + 1)),
                "data": {"i": i},
            }
            for i in range(events)
        ],
    )
    env = {**os.environ, **profile_env(initialised_target, tmp_path)}
    args = ["append", str(source), "--commit-every", str(batch)]
    pattern = re.compile(r"Interrupted: (\d+) of \d+ events committed in (\d+) batch")
    exit_code = 128 + int(signum)
    interrupted = 0
    rng = random.Random(int(signum))
    for _ in range(rounds):
        before = _count(initialised_target)
        process = subprocess.Popen(
            esctl_command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        deadline = time.monotonic() + 60
        while _count(initialised_target) == before and process.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.05))
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=60)
        stored = _count(initialised_target)
        if stored == events:  # it finished first (the signal came after the last commit, or never)
            # After its work, the process may also end by the signal itself (-signum: the shell
            # sees the same 128 + signum); nothing is left to count then.
            assert process.returncode in (0, exit_code, -int(signum)), stderr
            break
        assert process.returncode == exit_code, stderr
        found = pattern.search(stderr)
        if stored == before:  # the signal came before this run's first commit
            assert found is None, stderr
            continue
        assert found, stderr
        interrupted += 1
        # The count covers the input's leading events, the earlier runs' ones (skipped by id) too.
        assert int(found.group(1)) == stored, stderr
        assert stored % batch == 0
    final = subprocess.run(
        esctl_command(*args), capture_output=True, text=True, env=env, timeout=120
    )
    assert final.returncode == 0, final.stderr
    stored_events = all_events(initialised_target)
    assert len(stored_events) == events
    assert len({e["id"] for e in stored_events}) == events
    record(
        f"append {signum.name} at random points [{initialised_target.backend}]",
        rounds=rounds,
        interrupted_after_commits=interrupted,
        count_mismatches=0,
        lost=0,
        duplicated=0,
    )
