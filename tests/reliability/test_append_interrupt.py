"""SIGINT during `append --commit-every`: the batches committed stay, and the message says how
many events (and up to which input line) were committed, and that a re-run appends the rest."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import Target
from tests.reliability.conftest import all_events, esctl_command, profile_env, write_jsonl

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
