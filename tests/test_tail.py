"""tail: filters, ends for scripts, checkpoints, signals, on both backends."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from esctl.checkpoints import load_cursor as load_checkpoint
from esctl.checkpoints.consumer import CheckpointOwner
from esctl.ports import EventFilter
from esctl.read.follow import Follower, StartAt, start_cursor
from esctl.store.base import Store
from esctl.types import Cursor
from tests.support.data import seed_events, write_config
from tests.support.processes import run_cli
from tests.support.stores import Target

EVENTS = [
    ("Order-1", "OrderPlaced", {"n": 1}),
    ("Customer-1", "CustomerRegistered", {"n": 2}),
    ("Order-2", "OrderPlaced", {"n": 3}),
    ("Order-1", "OrderPaid", {"n": 4}),
]


def ids(stdout: str) -> list[str]:
    return [json.loads(line)["event_id"] for line in stdout.splitlines()]


def written_ids(store: Store) -> list[str]:
    with store.reading() as session:
        rows = session.fetchall("SELECT id FROM {events} ORDER BY global_position")
    return [str(r["id"]) for r in rows]


def test_follower_delivers_in_order_with_filters(store: Store) -> None:
    seed_events(store, EVENTS)
    got: list[str] = []
    follower = Follower(store, EventFilter(category="Order"), start_cursor(store, StartAt(True)))
    assert follower.run(lambda e: got.append(e.event_type), idle_timeout=0.3) == 3
    assert got == ["OrderPlaced", "OrderPlaced", "OrderPaid"]
    # Filtered-out events still move the cursor, so a quiet filter does not rescan the log.
    only_paid = Follower(store, EventFilter(types=("Nothing",)), start_cursor(store, StartAt(True)))
    only_paid.run(lambda e: None, idle_timeout=0.2)
    assert only_paid.cursor.global_position == written_positions(store)[-1]


def written_positions(store: Store) -> list[int]:
    with store.reading() as session:
        rows = session.fetchall("SELECT global_position FROM {events} ORDER BY global_position")
    return [int(r["global_position"]) for r in rows]


def test_start_at_the_end_or_at_a_position(store: Store) -> None:
    seed_events(store, EVENTS)
    positions = written_positions(store)
    end = start_cursor(store, StartAt())
    # On a shared PostgreSQL server another session's open transaction may hold the horizon back:
    # the end is then earlier (those events are delivered, not lost), never later.
    assert end.global_position == positions[-1] or (
        store.backend == "postgresql" and end.global_position < positions[-1]
    )
    at = start_cursor(store, StartAt(from_position=positions[2]))
    assert at.global_position == positions[2] - 1


def test_checkpoint_saved_after_output_and_resumed(store: Store) -> None:
    seed_events(store, EVENTS)
    seen: list[tuple[int, Cursor | None]] = []

    def emit(event: object) -> None:
        # While an event is being written out, the checkpoint is still before it.
        seen.append((len(seen), load_checkpoint(store, "sub")))

    owner, cursor, resumed = CheckpointOwner.claim(store, "sub", lambda: Cursor())
    assert (cursor, resumed) == (Cursor(), False)
    # Created at the start before anything was delivered.
    assert load_checkpoint(store, "sub") == Cursor()
    follower = Follower(store, EventFilter(), cursor, owner=owner)
    follower.run(emit, max_events=2)
    owner.close()
    assert [c for _, c in seen] == [Cursor(), Cursor()]
    saved = load_checkpoint(store, "sub")
    assert saved is not None and saved.global_position == written_positions(store)[1]
    rest: list[int] = []
    owner, cursor, resumed = CheckpointOwner.claim(store, "sub", lambda: Cursor())
    assert (cursor, resumed) == (saved, True)
    Follower(store, EventFilter(), cursor, owner=owner).run(
        lambda e: rest.append(e.global_position), idle_timeout=0.3
    )
    owner.close()
    assert rest == written_positions(store)[2:]


def test_checkpoint_written_by_the_seed_subscriber_resumes_after_its_position(
    store: Store,
) -> None:
    seed_events(store, EVENTS)
    positions = written_positions(store)
    with store.writing() as session:  # the seed's subscriber stores a position only
        session.execute(
            "INSERT INTO {checkpoints} (subscription_id, last_position) VALUES (%s, %s)",
            ["legacy", positions[1]],
        )
    cursor = load_checkpoint(store, "legacy")
    assert cursor is not None
    got: list[int] = []
    Follower(store, EventFilter(), cursor).run(
        lambda e: got.append(e.global_position), max_events=9, idle_timeout=0.3
    )
    assert got == positions[2:]
    with store.writing() as session:  # the seed's subscriber moves it: position only
        session.execute(
            "UPDATE {checkpoints} SET last_position = %s WHERE subscription_id = %s",
            [positions[3], "legacy"],
        )
    saved = load_checkpoint(store, "legacy")
    assert saved is not None and saved.global_position == positions[3]
    # The event's own transaction id is used (PostgreSQL); SQLite has none.
    assert (saved.transaction_id > 0) == (store.backend == "postgresql")


def test_cli_tail_for_scripts(initialised: Target) -> None:
    with initialised.open() as store:
        seed_events(store, EVENTS)
    result = run_cli("tail", "--all", "--from-start", "--max", "3", "-o", "jsonl")
    assert result.exit_code == 0, result.stderr
    assert [json.loads(x)["data"]["n"] for x in result.stdout.splitlines()] == [1, 2, 3]
    typed = run_cli(
        "tail", "--type", "OrderPaid", "--from-start", "--idle-timeout", "0.3", "-o", "jsonl"
    )
    assert [json.loads(x)["event_type"] for x in typed.stdout.splitlines()] == ["OrderPaid"]
    stream = run_cli("tail", "Order-1", "--from-start", "--idle-timeout", "0.3")
    assert stream.exit_code == 0
    assert stream.stdout.count("Order-1@") == 2 and "Order-2" not in stream.stdout
    quiet = run_cli("tail", "--idle-timeout", "0.2", "-o", "jsonl")  # from the end: nothing new
    assert quiet.exit_code == 0 and quiet.stdout == ""
    both = run_cli("tail", "Order-1", "--all")
    assert both.exit_code == 2
    assert both.stderr.splitlines()[0] == "Error: give at most one of STREAM, --category and --all"


def test_cli_tail_checkpoint_resumes(initialised: Target) -> None:
    with initialised.open() as store:
        seed_events(store, EVENTS)
    first = run_cli("tail", "--checkpoint", "c", "--from-start", "--max", "2", "-o", "jsonl")
    second = run_cli("tail", "--checkpoint", "c", "--idle-timeout", "0.3", "-o", "jsonl")
    assert first.exit_code == second.exit_code == 0
    with initialised.open() as store:
        assert ids(first.stdout) + ids(second.stdout) == written_ids(store)


def test_read_only_profile_refuses_a_checkpoint(target: Target, tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "ro.yaml",
        {"ro": {"store": target.url, "schema": target.schema, "read_only": True}},
    )
    result = run_cli("-c", str(config), "-p", "ro", "tail", "--checkpoint", "x", "--max", "1")
    assert result.exit_code == 8
    assert result.stderr.startswith("Error: profile 'ro' is read-only")


def tail_process(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    import os

    return subprocess.Popen(
        [sys.executable, "-m", "esctl", "tail", "-o", "jsonl", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def wait_until_following(process: subprocess.Popen[str]) -> None:
    assert process.stderr is not None
    line = process.stderr.readline()
    assert line.startswith("Following"), line


def test_sigterm_ends_tail_cleanly_with_a_consistent_checkpoint(initialised: Target) -> None:
    with initialised.open() as store:
        seed_events(store, EVENTS)
        expected = written_ids(store)
    process = tail_process("--checkpoint", "term", "--from-start")
    wait_until_following(process)
    assert process.stdout is not None
    printed = [process.stdout.readline() for _ in EVENTS]
    # Not a sleep: wait until the batch is saved, i.e. the tail is waiting for more.
    deadline = time.monotonic() + 20
    last = json.loads(printed[-1])["global_position"]
    with initialised.open() as store:
        while (saved := load_checkpoint(store, "term")) is None or saved.global_position != last:
            assert time.monotonic() < deadline, "the checkpoint was never saved"
            time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    # The whole output, after the process ended: each event exactly once, nothing after SIGTERM.
    assert ids("".join(printed) + out) == expected
    assert err.rstrip().endswith("4 events.")
    with initialised.open() as store:
        saved = load_checkpoint(store, "term")
        assert saved is not None
        assert saved.global_position == last
    # A resume delivers nothing more: ended by --idle-timeout, its whole output checked.
    again = subprocess.run(
        [
            sys.executable,
            "-m",
            "esctl",
            "tail",
            "-o",
            "jsonl",
            "--checkpoint",
            "term",
            "--idle-timeout",
            "0.5",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout == ""
    assert again.stderr.rstrip().endswith("0 events.")
