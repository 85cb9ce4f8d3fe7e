"""Regression tests for the delivery defects of issue 13 (and the tail items of issue 14) that the
fault matrix (test_delivery_matrix.py) does not already drive: a closed stdout, `--idle-timeout 0`
past one batch, exact plan counts past the `list` cap, `--since`, Ctrl-C's summary line, the lease
holder in `checkpoints list/show`, and `doctor` expecting the lease table. Both backends."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import socket
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from esctl.checkpoints import LAG_COUNT_CAP, load_stored
from esctl.read.follow import BATCH_SIZE
from tests.reliability.test_delivery_matrix import insert
from tests.support.processes import esctl_command, profile_env, run_esctl
from tests.support.stores import Target
from tests.test_tail_postgres import TailProcess

pytestmark = pytest.mark.reliability


def bulk_insert(target: Target, count: int) -> None:
    """`count` events in one statement (plain SQL), quickly, for counts past the caps."""
    with target.open() as store, store.writing() as session:
        if target.backend == "postgresql":
            session.execute(
                "INSERT INTO {events} (id, stream_id, stream_type, event_type, event_data, "
                "metadata, version) SELECT gen_random_uuid(), 'Bulk-1', 'Bulk', 'Happened', "
                "'{{}}'::jsonb, '{{}}'::jsonb, n FROM generate_series(1, %s) AS n",
                [count],
            )
        else:
            session.execute(
                "WITH RECURSIVE n(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM n WHERE v < %s) "
                "INSERT INTO {events} (id, stream_id, stream_type, event_type, event_data, "
                "metadata, version) SELECT lower(hex(randomblob(16))), 'Bulk-1', 'Bulk', "
                "'Happened', '{{}}', '{{}}', v FROM n",
                [count],
            )


def test_closed_stdout_is_an_error_and_moves_nothing(
    initialised_target: Target, tmp_path: Path
) -> None:
    env = profile_env(initialised_target, tmp_path)
    created = run_esctl("tail", "--checkpoint", "c", "--idle-timeout", "0", env=env)
    assert created.returncode == 0, created.stderr
    insert(initialised_target, 3, "x")
    closed = subprocess.run(
        esctl_command("tail", "--checkpoint", "c", "--idle-timeout", "0.3", "-o", "jsonl"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
        preexec_fn=lambda: os.close(1),  # `>&-`
        timeout=60,
    )
    assert closed.returncode == 1
    assert closed.stderr == "Error: cannot write output: standard output is closed\n"
    with initialised_target.open() as store:
        loaded = load_stored(store, "c")
    assert loaded is not None and loaded[1].global_position == 0
    resumed = run_esctl(
        "tail", "--checkpoint", "c", "--idle-timeout", "0.3", "-o", "jsonl", env=env
    )
    assert resumed.returncode == 0, resumed.stderr
    assert len(resumed.stdout.splitlines()) == 3


def test_idle_timeout_zero_drains_more_than_one_batch(
    initialised_target: Target, tmp_path: Path
) -> None:
    env = profile_env(initialised_target, tmp_path)
    total = BATCH_SIZE * 2 + 200
    bulk_insert(initialised_target, total)
    result = run_esctl(
        "tail", "--all", "--from-start", "--idle-timeout", "0", "-o", "jsonl", env=env
    )
    assert result.returncode == 0, result.stderr
    versions = [json.loads(line)["version"] for line in result.stdout.splitlines()]
    assert versions == list(range(1, total + 1))
    assert result.stderr.rstrip().endswith(f"{total:,} events.")


@pytest.mark.slow
def test_a_plan_counts_exactly_past_the_list_cap(
    initialised_target: Target, tmp_path: Path
) -> None:
    env = profile_env(initialised_target, tmp_path)
    total = LAG_COUNT_CAP + 50
    bulk_insert(initialised_target, total)
    made = run_esctl("checkpoints", "set", "big", "--to-end", "--execute", env=env)
    assert made.returncode == 0, made.stderr
    plan = run_esctl("checkpoints", "set", "big", "--to-start", "-o", "json", env=env)
    assert plan.returncode == 0, plan.stderr
    planned = json.loads(plan.stdout)
    assert (planned["events_redelivered"], planned["estimated"]) == (total, False)
    text = run_esctl("checkpoints", "set", "big", "--to-start", env=env)
    assert f"; {total:,} events will be re-delivered." in text.stdout
    assert "about" not in text.stdout


def test_since_starts_at_the_first_event_at_or_after_the_time(
    initialised_target: Target, tmp_path: Path
) -> None:
    env = profile_env(initialised_target, tmp_path)
    base = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    with initialised_target.open() as store, store.writing() as session:
        for n in range(6):
            session.execute(
                "INSERT INTO {events} (id, stream_id, stream_type, event_type, event_data, "
                "metadata, version, created_at) VALUES (%s, 'T-1', 'T', 'Happened', %s, %s, %s, %s)",
                [
                    f"00000000-0000-0000-0000-00000000000{n}",
                    session.json_param({"n": n}),
                    session.json_param({}),
                    n + 1,
                    session.time_param(base + timedelta(minutes=n)),
                ],
            )
    since = run_esctl(
        "tail", "--since", "2026-03-01T12:03:00Z", "--idle-timeout", "0", "-o", "jsonl", env=env
    )
    assert since.returncode == 0, since.stderr
    assert [json.loads(x)["data"]["n"] for x in since.stdout.splitlines()] == [3, 4, 5]
    # With a checkpoint, --since places a new one; the run after resumes and adds nothing.
    first = run_esctl(
        "tail", "--since", "2026-03-01T12:04:30Z", "--checkpoint", "s", "--idle-timeout", "0",
        "-o", "jsonl", env=env,
    )  # fmt: skip
    assert [json.loads(x)["data"]["n"] for x in first.stdout.splitlines()] == [5]
    late = run_esctl("tail", "--since", "2h", "--idle-timeout", "0", "-o", "jsonl", env=env)
    assert late.returncode == 0 and late.stdout == ""  # nothing that recent: from the end
    both = run_esctl("tail", "--since", "1h", "--from-start", "--max", "1", env=env)
    assert both.returncode == 2
    assert "give at most one of --from-start, --from-position and --since" in both.stderr
    bad = run_esctl("tail", "--since", "yesterday-ish", "--max", "1", env=env)
    assert bad.returncode == 2
    assert bad.stderr.startswith("Error: --since: 'yesterday-ish' is not a time")


def test_ctrl_c_summary_starts_on_a_new_line_on_a_terminal(
    initialised_target: Target, tmp_path: Path
) -> None:
    env = profile_env(initialised_target, tmp_path)
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        esctl_command("tail", "--all", "-o", "jsonl"),
        stdout=subprocess.DEVNULL,
        stderr=follower,
        env={**os.environ, **env, "NO_COLOR": "1"},
    )
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + 60
    while b"Ctrl-C to stop" not in seen:
        assert time.monotonic() < deadline, seen
        if select.select([leader], [], [], 0.5)[0]:
            seen += os.read(leader, 4096)
    process.send_signal(signal.SIGINT)  # a terminal would have echoed `^C` here
    assert process.wait(timeout=30) == 0
    while select.select([leader], [], [], 0.5)[0]:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    text = re.sub(r"\x1b\[[0-9;]*m", "", seen.decode().replace("\r\n", "\n"))  # dim style
    assert text.endswith("(Ctrl-C to stop).\n\n0 events.\n"), text


def test_list_and_show_name_the_lease_holder(initialised_target: Target, tmp_path: Path) -> None:
    env = profile_env(initialised_target, tmp_path)
    tail = TailProcess(env, "--all", "--checkpoint", "held")
    holder = f"{socket.gethostname()}:{tail.process.pid}"
    listed = run_esctl("checkpoints", "list", "-o", "json", env=env)
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert row["lease_holder"] == holder and row["lease_since"].endswith("Z")
    shown = run_esctl("checkpoints", "show", "held", "-o", "json", env=env)
    assert json.loads(shown.stdout)["lease_holder"] == holder
    table = run_esctl("checkpoints", "list", env=env)
    assert "leased by" in table.stdout and holder in table.stdout
    dry = run_esctl("checkpoints", "set", "held", "--to-start", env=env)
    assert dry.returncode == 0
    assert f"Note: a running consumer holds it (pid {tail.process.pid} on" in dry.stderr
    code, err = tail.stop()
    assert code == 0, err
    after = json.loads(run_esctl("checkpoints", "list", "-o", "json", env=env).stdout)
    assert [(r["subscription_id"], r["lease_holder"]) for r in after] == [("held", None)]


def test_doctor_expects_the_lease_table(initialised_target: Target, tmp_path: Path) -> None:
    env = profile_env(initialised_target, tmp_path)
    healthy = run_esctl("doctor", "-o", "json", env=env)
    assert healthy.returncode == 0, healthy.stderr
    from esctl.types import SCHEMA_VERSION

    assert json.loads(healthy.stdout)["schema_version"] == SCHEMA_VERSION
    with initialised_target.open() as store, store.writing() as session:
        session.execute("DROP TABLE {leases}")
    broken = run_esctl("doctor", "-o", "json", env=env)
    report: dict[str, Any] = json.loads(broken.stdout)
    assert broken.returncode != 0
    assert any("esctl_leases" in m for m in report["missing"]), report


def test_simultaneous_consumers_get_exactly_one_lease(initialised_target: Target) -> None:
    import threading

    from esctl.checkpoints import leases
    from esctl.errors import ConcurrencyError

    contenders = 8
    barrier = threading.Barrier(contenders)
    won: list[leases.Lease] = []
    refused: list[str] = []
    errors: list[BaseException] = []

    def contend() -> None:
        try:
            with initialised_target.open() as store:
                barrier.wait(timeout=30)
                try:
                    won.append(leases.acquire(store, "race"))
                except ConcurrencyError as error:
                    refused.append(error.message)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=contend) for _ in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert (len(won), len(refused)) == (1, contenders - 1)
    assert all("is being consumed by pid" in message for message in refused)


def test_checkpoint_deleted_under_a_consumer_stops_it(
    initialised_target: Target, tmp_path: Path
) -> None:
    env = profile_env(initialised_target, tmp_path)
    tail = TailProcess(env, "--all", "--checkpoint", "gone")
    deleted = run_esctl("checkpoints", "delete", "gone", "--execute", "--force", env=env)
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout.startswith("Deleted checkpoint gone")
    insert(initialised_target, 1, "next")  # delivered, then its save finds the row gone
    code, err = tail.finish(timeout=60)
    assert code == 3, err
    assert "checkpoint 'gone' was moved while this consumer ran" in err
    assert "it was deleted" in err
    with initialised_target.open() as store:
        assert load_stored(store, "gone") is None  # not recreated behind the operator's back


def test_hostile_lease_holder_is_shown_literally(
    initialised_target: Target, tmp_path: Path
) -> None:
    env = profile_env(initialised_target, tmp_path)
    now = datetime.now(UTC)
    with initialised_target.open() as store, store.writing() as session:
        session.execute(
            "INSERT INTO {leases} (subscription_id, holder_host, holder_pid, token, since, "
            "expires_at) VALUES (%s, %s, %s, %s, %s, %s)",
            [
                "h",
                "evil\x1b[2J\x07host",
                0,
                "t",
                session.time_param(now),
                session.time_param(now + timedelta(minutes=5)),
            ],
        )
    held = run_esctl("tail", "--checkpoint", "h", "--idle-timeout", "0", env=env)
    assert held.returncode == 3
    assert "by pid 0 on evil\\x1b[2J\\x07host" in held.stderr, held.stderr
    assert "\x1b" not in held.stderr and "\x07" not in held.stderr
