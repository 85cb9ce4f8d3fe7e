"""tail on PostgreSQL under real concurrency: the seed's plain INSERTs from many threads, the
position/commit-order inversion, a killed tail resumed from its checkpoint, and a terminated
connection. Nothing may be lost or delivered twice."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from esctl.admin.init import init_store
from esctl.store.base import Store
from esctl.types import START, Cursor
from tests.support.data import write_config
from tests.support.stores import Target

pytestmark = pytest.mark.postgres

SEED_INSERT = (
    "INSERT INTO {schema}.events (id, stream_id, stream_type, event_type, event_data, metadata, "
    "version, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING global_position"
)


@pytest.fixture
def pg_store(pg_target: Target) -> Store:
    store = pg_target.open()
    init_store(store)
    return store


def seed_insert(conn: psycopg.Connection[Any], schema: str, stream: str, version: int) -> str:
    """The seed template's plain INSERT (not esctl); the new event's id."""
    event_id = str(uuid.uuid4())
    conn.execute(
        SEED_INSERT.format(schema=f'"{schema}"'),  # type: ignore[arg-type]
        [
            event_id,
            stream,
            stream.split("-")[0],
            "Happened",
            json.dumps({"v": version}),
            json.dumps({}),
            version,
            datetime.now(UTC),
        ],
    )
    return event_id


def run_writers(
    target: Target,
    threads: int,
    transactions: int,
    per_transaction: int,
    tag: str,
    **connect: Any,
) -> list[str]:
    """`threads` writers, each its own stream, sleeping at random inside each transaction
    (`connect`: psycopg.connect's options, e.g. prepare_threshold=None behind a pooler)."""
    written: list[str] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def writer(index: int) -> None:
        rng = random.Random(index)
        stream = f"W{tag}-{index}"
        version = 0
        try:
            with psycopg.connect(target.url, **connect) as conn:
                for _ in range(transactions):
                    ids = []
                    with conn.transaction():
                        time.sleep(rng.uniform(0, 0.01))
                        for _ in range(per_transaction):
                            version += 1
                            ids.append(seed_insert(conn, target.schema, stream, version))
                            time.sleep(rng.uniform(0, 0.005))
                    with lock:
                        written.extend(ids)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    workers = [threading.Thread(target=writer, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not errors, errors
    return written


def tail_config(target: Target, tmp_path: Path, app_name: str | None = None) -> dict[str, str]:
    url = target.url
    if app_name:
        url += ("&" if "?" in url else "?") + f"application_name={app_name}"
    config = write_config(
        tmp_path / f"tail-{uuid.uuid4().hex[:6]}.yaml",
        {"t": {"store": url, "schema": target.schema}},
    )
    return {"ESCTL_CONFIG": str(config), "ESCTL_PROFILE": "t"}


class TailProcess:
    """`esctl tail … -o jsonl` in a subprocess, its lines collected by a thread. With
    `hold_after`, the thread stops reading after that many lines until `stop`: the pipe fills and
    the tail blocks on its next write, so a signal finds it mid-stream however fast it runs."""

    def __init__(self, env: dict[str, str], *args: str, hold_after: int | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "esctl", "tail", "-o", "jsonl", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **env},
        )
        assert self.process.stderr is not None and self.process.stdout is not None
        first = self.process.stderr.readline()
        assert first.startswith("Following"), first
        self.lines: list[dict[str, Any]] = []
        self._hold_after = hold_after
        self._released = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.endswith("\n"):
                self.lines.append(json.loads(line))
            if self._hold_after is not None and len(self.lines) >= self._hold_after:
                self._released.wait()

    @property
    def ids(self) -> list[str]:
        return [e["event_id"] for e in self.lines]

    def wait_for(self, condition: Callable[[list[str]], bool], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not condition(self.ids):
            assert self.process.poll() is None, self.process.stderr.read()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, f"tail printed {len(self.ids)} events"
            time.sleep(0.05)

    def finish(self, timeout: float = 120) -> tuple[int, str]:
        """Wait for the tail to end by itself (--max/--idle-timeout): its whole output is in."""
        self.process.wait(timeout=timeout)
        self._reader.join(timeout=10)
        assert self.process.stderr is not None
        return self.process.returncode, self.process.stderr.read()

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str]:
        self.process.send_signal(sig)
        self.process.wait(timeout=30)
        self._released.set()  # what the tail wrote before the signal is still in the pipe
        self._reader.join(timeout=10)
        assert self.process.stderr is not None
        return self.process.returncode, self.process.stderr.read()


def commit_order(store: Store) -> list[str]:
    with store.reading() as session:
        rows = session.fetchall(
            "SELECT id FROM {events} ORDER BY coalesce(transaction_id, '0'), global_position"
        )
    return [str(r["id"]) for r in rows]


def test_16_plain_insert_writers_lose_nothing(
    pg_store: Store, pg_target: Target, tmp_path: Path
) -> None:
    expected = 16 * 12 * 2
    tail = TailProcess(tail_config(pg_target, tmp_path), "--all", "--max", str(expected))
    written = run_writers(pg_target, threads=16, transactions=12, per_transaction=2, tag="a")
    assert len(written) == expected
    # The tail ends by itself after `expected` events: its whole output is checked, so a
    # duplicate (which would push a written event out of those `expected`) cannot hide.
    code, err = tail.finish()
    assert code == 0, err
    assert err.rstrip().endswith(f"{expected:,} events.")
    assert sorted(tail.ids) == sorted(written), "missing or repeated events"
    assert tail.ids == commit_order(pg_store), "not in commit order"


def test_lower_transaction_id_with_higher_position_committing_first(pg_store: Store) -> None:
    url, schema = pg_store.location.target, pg_store.settings.schema
    with psycopg.connect(url) as a, psycopg.connect(url) as b, psycopg.connect(url) as c:
        xa = int(a.execute("SELECT pg_current_xact_id()::text").fetchone()[0])  # type: ignore[index]
        xb = int(b.execute("SELECT pg_current_xact_id()::text").fetchone()[0])  # type: ignore[index]
        assert xa < xb
        event_b = seed_insert(b, schema, "Inv-b", 1)  # the lower position
        event_a = seed_insert(a, schema, "Inv-a", 1)  # the higher position, lower xid
        a.commit()  # a naive `global_position > last` poller now reads a's event and skips b's
        delivered, cursor = poll_until(pg_store, START, lambda got: event_a in got)
        assert delivered == [event_a]
        event_c = seed_insert(c, schema, "Inv-c", 1)
        c.commit()  # committed, but b (older) is still open: the horizon holds it back
        batch = pg_store.live_batch(cursor, "1 = 1", [], 100)
        assert batch.rows == [] and batch.pending
        b.commit()
        delivered, _ = poll_until(pg_store, cursor, lambda got: len(got) >= 2)
        assert delivered == [event_b, event_c]


def poll_until(
    store: Store, cursor: Cursor, done: Callable[[list[str]], bool], timeout: float = 30
) -> tuple[list[str], Cursor]:
    """Live batches until `done` (another session on the shared server may hold the horizon)."""
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while not done(got):
        assert time.monotonic() < deadline, got
        batch = store.live_batch(cursor, "1 = 1", [], 100)
        for row in batch.rows:
            got.append(str(row["id"]))
            cursor = Cursor(int(row["transaction_id"] or 0), int(row["global_position"]))
        time.sleep(0.02)
    return got, cursor


def test_rows_from_before_init_come_first_in_position_order(pg_store: Store) -> None:
    url, schema = pg_store.location.target, pg_store.settings.schema
    with psycopg.connect(url, autocommit=True) as conn:
        newer = seed_insert(conn, schema, "New-1", 1)
        conn.execute(f'ALTER TABLE "{schema}".events ALTER COLUMN transaction_id DROP DEFAULT')
        older = [seed_insert(conn, schema, "Old-1", v) for v in (1, 2)]  # NULL transaction_id
        conn.execute(
            f'ALTER TABLE "{schema}".events ALTER COLUMN transaction_id '
            "SET DEFAULT pg_current_xact_id()"
        )
    delivered, _ = poll_until(pg_store, START, lambda got: len(got) >= 3)
    assert delivered == [*older, newer]


def test_killed_tail_resumes_from_its_checkpoint(
    pg_store: Store, pg_target: Target, tmp_path: Path
) -> None:
    env = tail_config(pg_target, tmp_path)
    first = TailProcess(env, "--all", "--from-start", "--checkpoint", "killed")
    writers = threading.Thread(
        target=lambda: written.extend(
            run_writers(pg_target, threads=8, transactions=15, per_transaction=2, tag="k")
        )
    )
    written: list[str] = []
    writers.start()
    first.wait_for(lambda got: len(got) >= 60)
    first.stop(signal.SIGKILL)
    writers.join()
    assert len(first.ids) < len(written)
    # Everything is written now: the resume drains it and ends by --idle-timeout, so its whole
    # output is checked (no sleep bounds it).
    second = TailProcess(env, "--all", "--checkpoint", "killed", "--idle-timeout", "1")
    code, err = second.finish()
    assert code == 0, err
    union = first.ids + second.ids
    assert set(union) == set(written)
    assert len(set(first.ids)) == len(first.ids) and len(set(second.ids)) == len(second.ids)


def test_tail_reconnects_after_its_connection_is_terminated(
    pg_store: Store, pg_target: Target, tmp_path: Path
) -> None:
    app_name = f"esctl-test-{uuid.uuid4().hex[:12]}"
    total = 2 * 4 * 10 * 2  # the two run_writers below; the tail ends by itself after them
    tail = TailProcess(tail_config(pg_target, tmp_path, app_name), "--all", "--max", str(total))
    before = run_writers(pg_target, threads=4, transactions=10, per_transaction=2, tag="t1")
    tail.wait_for(lambda got: len(got) >= len(before))
    with psycopg.connect(pg_target.url, autocommit=True) as admin:
        killed = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            [app_name],
        ).fetchall()
    assert killed, "tail's connections were not found"
    after = run_writers(pg_target, threads=4, transactions=10, per_transaction=2, tag="t2")
    code, err = tail.finish()
    assert code == 0, err
    assert "reconnecting" in err
    assert sorted(tail.ids) == sorted(before + after)
