"""Races: many `esctl append` processes on one stream with --expected-version (one winner a round,
versions gapless), and esctl appends mixed with the seed's plain INSERTs while two checkpointed
`tail` consumers run (each consumer's output is exactly the written set: lost = 0, duplicated = 0)."""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.data import all_events, write_jsonl
from tests.support.figures import record
from tests.support.processes import profile_env, run_esctl
from tests.support.stores import Target
from tests.test_tail_postgres import TailProcess

pytestmark = pytest.mark.reliability

ROUNDS = 3
RACERS = 16


@pytest.mark.slow
def test_sixteen_processes_on_one_expected_version_one_winner_a_round(
    initialised_target: Target, tmp_path: Path
) -> None:
    env = profile_env(initialised_target, tmp_path)
    winners_per_round = []
    for round_ in range(ROUNDS):
        expected = "no-stream" if round_ == 0 else str(2 * round_)
        files = [
            write_jsonl(
                tmp_path / f"r{round_}-{i}.jsonl",
                [
                    {"stream_id": "Order-race", "event_type": f"Racer{i}", "data": {"n": n}}
                    for n in range(2)
                ],
            )
            for i in range(RACERS)
        ]
        results: list[subprocess.CompletedProcess[str]] = [None] * RACERS  # type: ignore[list-item]

        def racer(
            index: int,
            files: list[Path] = files,
            expected: str = expected,
            results: list[subprocess.CompletedProcess[str]] = results,
        ) -> None:
            results[index] = run_esctl(
                "append", str(files[index]), "--expected-version", expected, env=env
            )

        threads = [threading.Thread(target=racer, args=(i,)) for i in range(RACERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        codes = Counter(r.returncode for r in results)
        assert codes == {0: 1, 3: RACERS - 1}, [r.stderr for r in results if r.returncode != 3]
        for loser in (r for r in results if r.returncode == 3):
            assert loser.stderr.startswith(
                f"Error: stream 'Order-race': expected version {expected}, "
                f"actual version {2 * round_ + 2}\n"
            ), loser.stderr
        winners_per_round.append(codes[0])
    events = all_events(initialised_target)
    assert [e["version"] for e in events] == list(range(1, 2 * ROUNDS + 1)), "a gap or a repeat"
    # Each round's two events come from one winner, never interleaved with a loser's.
    types = [e["event_type"] for e in events]
    assert all(types[2 * r] == types[2 * r + 1] for r in range(ROUNDS)), types
    assert winners_per_round == [1] * ROUNDS
    record(
        f"{RACERS} appenders on one expected version [{initialised_target.backend}]",
        rounds=ROUNDS,
        winners_per_round=1,
        losers_exit_3=(RACERS - 1) * ROUNDS,
        versions=f"1..{2 * ROUNDS} gapless",
    )


# --- esctl appends + plain INSERTs vs two checkpointed consumers -------------------------------

APPENDERS = 8
APPEND_RUNS = 2  # per appender process
APPEND_BATCH = 15
INSERTERS = 8
INSERT_TRANSACTIONS = 10
INSERT_PER_TRANSACTION = 3


def _plain_inserter(target: Target, index: int, written: list[str], lock: threading.Lock) -> None:
    """The seed template's plain INSERT (no esctl), one stream, small random pauses in-transaction."""
    rng = random.Random(index)
    stream = f"Plain-{index}"
    version = 0
    if target.backend == "postgresql":
        import psycopg
        from psycopg import sql

        insert = sql.SQL(
            "INSERT INTO {}.events (id, stream_id, stream_type, event_type, event_data, metadata, "
            "version, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
        ).format(sql.Identifier(target.schema))
        conn: Any = psycopg.connect(target.url)
    else:
        insert = (  # type: ignore[assignment]
            "INSERT INTO events (id, stream_id, stream_type, event_type, event_data, metadata, "
            "version, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        )
        conn = sqlite3.connect(target.url.removeprefix("sqlite:///"), timeout=60)
    try:
        for _ in range(INSERT_TRANSACTIONS):
            ids = []
            if target.backend == "sqlite":
                conn.execute("BEGIN IMMEDIATE")
            for _ in range(INSERT_PER_TRANSACTION):
                version += 1
                event_id = str(uuid.uuid4())
                now: Any = datetime.now(UTC)
                if target.backend == "sqlite":
                    now = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                conn.execute(
                    insert,
                    [
                        event_id,
                        stream,
                        "Plain",
                        "Inserted",
                        json.dumps({"v": version}),
                        "{}",
                        version,
                        now,
                    ],
                )
                ids.append(event_id)
                time.sleep(rng.uniform(0, 0.004))
            conn.commit()
            with lock:
                written.extend(ids)
    finally:
        conn.close()


def _appender(
    env: dict[str, str], tmp_path: Path, index: int, written: list[str], lock: threading.Lock
) -> None:
    for run in range(APPEND_RUNS):
        events = [
            {
                "stream_id": f"Esctl-{index}",
                "event_type": "Appended",
                "event_id": str(uuid.uuid4()),
                "data": {"run": run, "n": n},
            }
            for n in range(APPEND_BATCH)
        ]
        path = write_jsonl(tmp_path / f"a{index}-{run}.jsonl", events)
        result = run_esctl("append", str(path), env=env)
        assert result.returncode == 0, result.stderr
        with lock:
            written.extend(e["event_id"] for e in events)


@pytest.mark.slow
def test_appenders_and_plain_inserts_vs_two_checkpointed_consumers(
    initialised_target: Target, tmp_path: Path
) -> None:
    env = profile_env(initialised_target, tmp_path)
    expected = (
        APPENDERS * APPEND_RUNS * APPEND_BATCH
        + INSERTERS * INSERT_TRANSACTIONS * INSERT_PER_TRANSACTION
    )
    # Each consumer ends by itself after `expected` events (no sleep bounds the check): a
    # duplicate would push a written event out of its output, which is compared whole.
    consumers = [
        TailProcess(env, "--all", "--from-start", "--checkpoint", name, "--max", str(expected))
        for name in ("consumer-a", "consumer-b")
    ]
    written: list[str] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def guarded(function: Any, *args: Any) -> None:
        try:
            function(*args)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    workers = [
        threading.Thread(target=guarded, args=(_appender, env, tmp_path, i, written, lock))
        for i in range(APPENDERS)
    ] + [
        threading.Thread(
            target=guarded, args=(_plain_inserter, initialised_target, i, written, lock)
        )
        for i in range(INSERTERS)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not errors, errors
    assert len(written) == len(set(written)) == expected
    for name, consumer in zip(("consumer-a", "consumer-b"), consumers, strict=True):
        code, err = consumer.finish()
        assert code == 0, err
        got = consumer.ids
        lost = set(written) - set(got)
        duplicated = len(got) - len(set(got))
        record(
            f"appenders + plain INSERTs vs tail {name} [{initialised_target.backend}]",
            esctl_appenders=APPENDERS,
            plain_insert_writers=INSERTERS,
            events_written=len(written),
            events_delivered=len(got),
            lost=len(lost),
            duplicated=duplicated,
        )
        assert not lost and duplicated == 0 and set(got) == set(written), (len(lost), duplicated)
    # Both consumers saved their place at the head: a restart delivers nothing again.
    listed = run_esctl("checkpoints", "list", "-o", "json", env=env)
    states = {c["subscription_id"]: c for c in json.loads(listed.stdout)}
    assert {states[n]["lag"] for n in ("consumer-a", "consumer-b")} == {0}, states
    # And a resume, ended by --idle-timeout, prints nothing at all (no straggler, no repeat).
    for name in ("consumer-a", "consumer-b"):
        again = run_esctl(
            "tail", "--checkpoint", name, "--idle-timeout", "0.5", "-o", "jsonl", env=env
        )
        assert again.returncode == 0, again.stderr
        assert again.stdout == ""
        assert again.stderr.rstrip().endswith("0 events.")
