"""SIGKILL during `streams archive --delete --execute` (issue 19), on both backends, on a
protected store, a few rounds at points that move (while the archive is written, while its
events are deleted): a re-run of the same command finishes it, and afterwards the events in the
store plus those in the archive are the original ones, none lost, none in both, none twice."""

from __future__ import annotations

import gzip
import json
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
from tests.support.processes import esctl_command, profile_env, run_esctl
from tests.support.stores import Target

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

EVENTS = 2_000
STREAMS = 6
ROUNDS = 10  # SIGKILL at random points, as the issue asks


def _insert(target: Target, category: str) -> set[str]:
    ids = set()
    with target.open() as store, store.writing() as tx:
        rows = []
        for n in range(EVENTS):
            event_id = str(uuid.uuid4())
            ids.add(event_id)
            stream = f"{category}-{n % STREAMS}"
            data = tx.json_param({"n": n, "pad": "x" * 200})
            rows.append([event_id, stream, category, "Added", data, n // STREAMS + 1])
        tx.executemany(
            "INSERT INTO {events} (id, stream_id, stream_type, event_type, event_data, version) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            rows,
        )
    return ids


def _stored(target: Target, category: str) -> list[str]:
    with target.open() as store, store.reading() as tx:
        rows = tx.fetchall(
            "SELECT id FROM {events} WHERE stream_type = %s ORDER BY global_position", [category]
        )
    return [str(r["id"]) for r in rows]


def test_a_killed_archive_delete_is_finished_by_a_rerun(target: Target, tmp_path: Path) -> None:
    with target.open() as store:
        init_store(store)
        set_protection(store, True)
    keep = _insert(target, "Keep")
    env = profile_env(target, tmp_path)
    work = tmp_path / "archives"
    work.mkdir()
    chooser = random.Random(19)
    killed = {"writing": 0, "deleting": 0}
    for round_ in range(ROUNDS):
        category = f"Big{round_}"
        original = _insert(target, category)
        archive = work / f"{category}.jsonl.gz"
        args = ("streams", "archive", "--category", category, "--to", str(archive))
        args += ("--delete", "--execute", "--batch-size", "100")
        process = subprocess.Popen(
            esctl_command(*args),
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=work,
        )
        # Even rounds: kill while the archive is written; odd: after some batches were deleted.
        writing = round_ % 2 == 0
        wanted = EVENTS - 100 * chooser.randint(1, 15)
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            if writing and (archive.with_name(archive.name + ".partial").exists()):
                time.sleep(chooser.uniform(0, 0.05))
                break
            if not writing and len(_stored(target, category)) <= wanted:
                break
            time.sleep(0.003)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            killed["writing" if not archive.exists() else "deleting"] += 1
        process.wait(timeout=30)
        if not archive.exists():  # killed before the archive was published: nothing deleted
            assert len(_stored(target, category)) == EVENTS
        rerun = run_esctl(*args, env=env)
        assert rerun.returncode == 0, rerun.stderr
        stored = _stored(target, category)
        with gzip.open(archive, "rt") as lines:
            archived = [json.loads(line)["event_id"] for line in lines]
        assert len(archived) == len(set(archived))  # none twice in the archive
        assert not set(stored) & set(archived)  # none in both
        assert set(stored) | set(archived) == original  # none lost
        assert stored == []  # the archive took the whole category
        assert not list(work.glob("*.partial"))
        assert set(_stored(target, "Keep")) == keep
    assert sum(killed.values()) >= 2, killed
    record("archive --delete: SIGKILL rounds finished by a re-run", rounds=ROUNDS, **killed, lost=0)
