"""The append fast path of issue 22 on both backends: on PostgreSQL a transaction's BEGIN travels
with its first statement, versions and tombstones are asked in one statement, rows are found by
transaction id (no head() query) and `created_at` is COPY's `now`, in blocks of 64 rows; on SQLite
a larger page cache. Each must keep what the slow path promised: exactly once by event id on a
re-run, exit 3 on a wrong expected version or a deleted stream, nothing half-written on SIGKILL."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from esctl.append.sources import open_sources
from esctl.append.writing import ExpectedVersion, append_events
from esctl.errors import ConcurrencyError
from esctl.store.base import Store
from tests.support.data import all_events, write_jsonl
from tests.support.processes import esctl_command, profile_env, run_esctl
from tests.support.stores import Target, unique_app_name

STREAMS = 7
EVENTS = 7 * 40  # several COPY blocks of 64 rows, streams interleaved


def _events(count: int = EVENTS, streams: int = STREAMS, prefix: str = "Fast") -> list[Any]:
    return [
        {
            "stream_id": f"{prefix}-{n % streams}",
            "event_type": "Happened",
            "event_id": str(uuid.uuid4()),
            "data": {"n": n, "text": "tab\t \\ é"},
            "metadata": {"correlation_id": f"c-{n}"},
        }
        for n in range(count)
    ]


def _append(store: Store, path: Path, **options: Any) -> Any:
    with open_sources([str(path)]) as sources:
        return append_events(store, sources, **options)


def _rows(store: Store) -> list[dict[str, Any]]:
    with store.reading() as tx:
        return tx.fetchall(
            "SELECT id, stream_id, version, global_position, created_at FROM {events} "
            "ORDER BY global_position"
        )


def test_a_rerun_appends_nothing_and_positions_are_the_stored_ones(
    store: Store, tmp_path: Path
) -> None:
    events = _events()
    path = write_jsonl(tmp_path / "fast.jsonl", events)
    first = _append(store, path)
    assert (first.appended, first.duplicates) == (EVENTS, 0)
    rows = _rows(store)
    assert [str(r["id"]) for r in rows] == [e["event_id"] for e in events]  # input order
    for result in first.streams:
        mine = [r for r in rows if r["stream_id"] == result.stream_id]
        assert [r["version"] for r in mine] == list(range(1, len(mine) + 1))
        assert (result.first_version, result.last_version) == (1, len(mine))
        assert result.first_position == mine[0]["global_position"]
        assert result.last_position == mine[-1]["global_position"]
    # one transaction, one time: COPY's `now` is the transaction's start, for every row
    assert len({str(r["created_at"]) for r in rows}) == 1
    again = _append(store, path)
    assert (again.appended, again.duplicates) == (0, EVENTS)
    assert _rows(store) == rows
    # a third file: stored events leading, new ones after them, each stream continued
    more = _events(count=STREAMS * 2)
    mixed = write_jsonl(tmp_path / "mixed.jsonl", events[-STREAMS:] + more)
    result = _append(store, mixed)
    assert (result.appended, result.duplicates) == (STREAMS * 2, STREAMS)
    after = _rows(store)
    assert len(after) == EVENTS + STREAMS * 2
    assert {r["version"] for r in after[EVENTS:]} == {41, 42}


def test_positions_are_looked_up_by_version_across_units_and_lookup_chunks(
    store: Store, tmp_path: Path
) -> None:
    # 700 streams (three SQLite lookups of 300), half of them with stored events before, written
    # in --commit-every units that split streams: each stream's first and last position must be
    # those of its first and last event of this append, not of an earlier one or an earlier unit.
    before = _events(count=350, streams=350, prefix="Chunk")
    _append(store, write_jsonl(tmp_path / "before.jsonl", before))
    stored = {str(r["id"]) for r in _rows(store)}
    events = _events(count=700 * 3, streams=700, prefix="Chunk")
    for commit_every in (None, 1000):
        path = write_jsonl(tmp_path / f"more-{commit_every}.jsonl", events)
        result = _append(store, path, commit_every=commit_every)
        assert result.appended == len(events)
        rows = [r for r in _rows(store) if str(r["id"]) not in stored]
        stored.update(str(r["id"]) for r in rows)
        assert len(result.streams) == 700
        for stream in result.streams:
            mine = [r for r in rows if r["stream_id"] == stream.stream_id]
            assert len(mine) == 3
            assert (stream.first_position, stream.last_position) == (
                mine[0]["global_position"],
                mine[-1]["global_position"],
            ), stream.stream_id
        events = _events(count=700 * 3, streams=700, prefix="Chunk")


def test_a_wrong_expected_version_or_a_deleted_stream_is_exit_3_and_writes_nothing(
    target: Target, store: Store, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "fast.jsonl", _events())
    _append(store, path)
    before = _rows(store)
    again = write_jsonl(tmp_path / "again.jsonl", _events())  # new ids, the same streams
    with pytest.raises(ConcurrencyError) as refused:
        _append(store, again, expected=ExpectedVersion.parse("no-stream"))
    assert refused.value.exit_code == 3
    assert "expected version no-stream, actual version 40" in refused.value.message
    assert _rows(store) == before
    with store.writing() as tx:  # what `streams delete` leaves: a tombstone
        tx.execute(
            "INSERT INTO {tombstones} (stream_id, deleted_at, version, audit_id) "
            "VALUES (%s, %s, %s, %s)",
            ["Fast-3", tx.time_param(_now()), 40, 1],
        )
    env = profile_env(target, tmp_path)
    child = run_esctl("append", str(again), env=env)
    assert child.returncode == 3, child.stderr
    assert "Error: stream 'Fast-3' is deleted" in child.stderr
    assert _rows(store) == before


def _now() -> datetime:
    return datetime.now(UTC)


def _writing(target: Target, app_name: str) -> bool:
    """Whether the append holds its write transaction open, past its first write."""
    if target.backend == "postgresql":
        import psycopg

        with psycopg.connect(target.url, autocommit=True) as admin:
            row = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
                "AND state = 'active' AND query LIKE 'COPY%%'",
                [app_name],
            ).fetchone()
        return bool(row and row[0])
    path = target.url.removeprefix("sqlite:///")
    probe = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:  # locked: the append's BEGIN IMMEDIATE holds it
        return True
    finally:
        probe.close()


@pytest.mark.slow
def test_sigkill_mid_append_leaves_nothing_and_a_rerun_appends_exactly_once(
    target: Target, store: Store, tmp_path: Path
) -> None:
    events = _events(count=60_000, streams=50, prefix="Kill")
    path = write_jsonl(tmp_path / "kill.jsonl", events)
    app_name = unique_app_name("esctl-fast-kill")
    env = profile_env(target, tmp_path, app_name=app_name)
    process = subprocess.Popen(
        esctl_command("append", str(path)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **env},
    )
    deadline = time.monotonic() + 120
    while not _writing(target, app_name):
        assert process.poll() is None, "the append ended before it was seen writing"
        assert time.monotonic() < deadline, "the append was never seen writing"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL
    deadline = time.monotonic() + 30
    while _writing(target, app_name):  # the server rolls the killed client's transaction back
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert all_events(target) == []
    rerun = run_esctl("-o", "json", "append", str(path), env=env, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    stored = all_events(target)
    assert [str(e["id"]) for e in stored] == [e["event_id"] for e in events]
    third = run_esctl("append", str(path), env=env, timeout=300)
    assert third.returncode == 0, third.stderr
    assert "Appended 0 events" in third.stderr and "already stored" in third.stderr
    assert len(all_events(target)) == len(events)


@pytest.mark.postgres
@pytest.mark.parametrize("identity", ["BIGSERIAL", "BIGINT GENERATED ALWAYS AS IDENTITY"])
def test_a_small_unit_reports_the_positions_it_was_given_and_a_foreign_column_takes_defaults(
    pg_target: Target, tmp_path: Path, identity: str
) -> None:
    # A unit of up to SMALL_UNIT (1000) rows takes its positions from the column's sequence
    # before the COPY, so no lookup follows it; 1001 rows are looked up after it. Positions other
    # writers took in between must not shift what is reported, and a column that refuses chosen
    # values (GENERATED ALWAYS) keeps its defaults.
    import psycopg

    seed = (Path(__file__).parent / "seed_schema.sql").read_text()
    seed = seed.replace("global_position BIGSERIAL", f"global_position {identity}")
    with psycopg.connect(pg_target.url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{pg_target.schema}"')
        conn.execute(f'SET search_path TO "{pg_target.schema}"')
        conn.execute(seed)  # type: ignore[call-overload]
    from esctl.admin.init import init_store

    with pg_target.open() as store:
        init_store(store)
    other = psycopg.connect(pg_target.url, autocommit=True)
    other.execute(f'SET search_path TO "{pg_target.schema}"')

    def foreign_row(n: int) -> None:
        other.execute(
            "INSERT INTO events (stream_id, stream_type, event_type, event_data, version) "
            "VALUES (%s, 'Other', 'Noted', '{}', 1)",
            [f"Other-{n}-{uuid.uuid4().hex[:6]}"],
        )

    results = []
    with pg_target.open() as store:
        for n, count in enumerate((1, 200, 1000, 1001)):
            foreign_row(n)
            events = _events(count=count, streams=STREAMS, prefix=f"Small{n}")
            results.append(_append(store, write_jsonl(tmp_path / f"s{n}.jsonl", events)))
            foreign_row(n + 100)
        rows = _rows(store)
    other.close()
    for result in results:
        for stream in result.streams:
            mine = [r for r in rows if r["stream_id"] == stream.stream_id]
            assert [r["version"] for r in mine] == list(range(1, len(mine) + 1))
            assert (stream.first_position, stream.last_position) == (
                mine[0]["global_position"],
                mine[-1]["global_position"],
            ), stream.stream_id
    positions = [r["global_position"] for r in rows]
    assert len(set(positions)) == len(positions) == 1 + 200 + 1000 + 1001 + 8
