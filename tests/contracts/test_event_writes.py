"""The EventWrites port (`tx.log`'s write verbs, esctl.ports.EventWrites): one contract, run on
every engine (real SQLite files and the real PostgreSQL of the test session), never a mock.

Each verb is checked for what the append pipeline relies on: versions and positions as stored,
lookups in chunks larger than one statement takes, rows streamed from a generator, created_at
kept or set to now, a unique violation (also a concurrent writer's) raised as Conflict, and rows
another program wrote (odd values, NULs where the engine can hold them) read without failing."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from esctl.append.sources import open_sources
from esctl.append.writing import append_events
from esctl.errors import ConcurrencyError, Conflict
from esctl.ports import EventWrites
from esctl.store.base import Session, Store
from esctl.types import NewEventRow, RecordedEvent
from tests.conftest import Target


def _log(tx: Session) -> EventWrites:
    log: EventWrites = tx.log  # type: ignore[attr-defined]
    return log


def _row(stream_id: str, version: int, **fields: Any) -> NewEventRow:
    values: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "stream_id": stream_id,
        "stream_type": stream_id.split("-")[0],
        "event_type": "Placed",
        "data": {"n": version},
        "metadata": {},
        "version": version,
        "created_at": None,
        **fields,
    }
    return NewEventRow(**values)


def _append(store: Store, rows: Iterable[NewEventRow]) -> None:
    with store.writing() as tx:
        _log(tx).append(rows)


def _foreign_insert(target: Target, rows: list[dict[str, Any]]) -> None:
    """Rows written by another program, with the engine's own driver (not esctl)."""
    columns = "id, stream_id, stream_type, event_type, event_data, metadata, version"
    values = [
        (r["id"], r["stream_id"], r["stream_type"], r["event_type"], r["data"], r["metadata"], 1)
        for r in rows
    ]
    if target.backend == "sqlite":
        path = target.url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as conn:
            conn.executemany(f"INSERT INTO events ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?)", values)
        conn.close()
        return
    import psycopg

    with psycopg.connect(target.url) as conn:
        conn.execute(f'SET search_path TO "{target.schema}"')
        with conn.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO events ({columns}) VALUES (%s, %s, %s, %s, %s::jsonb, %s::jsonb, %s)",
                values,
            )


# --- head, stream_versions --------------------------------------------------------------------


def test_head_is_zero_on_an_empty_store_and_sees_this_transactions_rows(store: Store) -> None:
    with store.writing() as tx:
        log = _log(tx)
        assert log.head() == 0
        log.append([_row("Order-1", 1), _row("Order-1", 2), _row("Order-2", 1)])
        inside = log.head()
    assert inside >= 3
    with store.reading() as tx:
        assert _log(tx).head() == inside


def test_stream_versions_are_the_highest_stored_and_absent_streams_are_left_out(
    store: Store,
) -> None:
    _append(store, [_row("Order-1", v) for v in (1, 2, 3)] + [_row("Invoice-9", 1)])
    with store.reading() as tx:
        versions = _log(tx).stream_versions(["Order-1", "Invoice-9", "Order-404"])
        assert _log(tx).stream_versions([]) == {}
    assert versions == {"Order-1": 3, "Invoice-9": 1}


def test_stream_versions_of_more_streams_than_one_lookup_statement_takes(store: Store) -> None:
    streams = [f"Cart-{n}" for n in range(1_203)]  # three chunks of the adapter's lookups
    _append(store, [_row(s, v) for n, s in enumerate(streams) for v in range(1, n % 3 + 2)])
    with store.reading() as tx:
        versions = _log(tx).stream_versions([*streams, "Cart-missing"])
    assert versions == {s: n % 3 + 1 for n, s in enumerate(streams)}


# --- stored_by_id ---------------------------------------------------------------------------


def test_stored_by_id_gives_the_stored_events_and_leaves_unknown_ids_out(store: Store) -> None:
    at = datetime(2025, 3, 1, 12, 30, tzinfo=UTC)
    first = _row("Order-7", 1, data={"total": 12.5, "items": [1, 2]}, metadata={"by": "me"})
    second = _row("Order-7", 2, data='{"text":"é"}', metadata="{}", created_at=at)
    _append(store, [first, second])
    unknown = str(uuid.uuid4())
    with store.reading() as tx:
        found = _log(tx).stored_by_id([first.event_id, second.event_id, unknown])
    assert set(found) == {first.event_id, second.event_id}
    one, two = found[first.event_id], found[second.event_id]
    assert isinstance(one, RecordedEvent)
    assert (one.stream_id, one.stream_type, one.event_type, one.version) == (
        "Order-7",
        "Order",
        "Placed",
        1,
    )
    assert one.data == {"total": 12.5, "items": [1, 2]} and one.metadata == {"by": "me"}
    assert two.data == {"text": "é"} and two.version == 2
    assert two.global_position > one.global_position
    assert two.to_dict()["created_at"].startswith("2025-03-01T12:30:00")


def test_stored_by_id_looks_up_more_ids_than_one_statement_takes(store: Store) -> None:
    rows = [_row(f"Order-{n % 40}", n // 40 + 1) for n in range(1_100)]
    _append(store, rows)
    wanted = [r.event_id for r in rows[::2]] + [str(uuid.uuid4()) for _ in range(30)]
    with store.reading() as tx:
        found = _log(tx).stored_by_id(wanted)
    assert len(found) == 550
    assert {found[r.event_id].version for r in rows[::2]} == {r.version for r in rows[::2]}


# --- append, appended_positions -------------------------------------------------------------


def test_append_streams_rows_from_a_generator_and_sets_created_at(store: Store) -> None:
    given = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    produced: list[int] = []

    def rows() -> Iterator[NewEventRow]:
        for version in range(1, 2_501):
            produced.append(version)
            yield _row("Stream-1", version, created_at=given if version == 1 else None)

    before = datetime.now(UTC) - timedelta(minutes=5)
    _append(store, rows())
    assert len(produced) == 2_500
    with store.reading() as tx:
        assert _log(tx).stream_versions(["Stream-1"]) == {"Stream-1": 2_500}
        assert _log(tx).stored_by_id([]) == {}
        rows_back = tx.fetchall("SELECT id FROM {events} ORDER BY global_position LIMIT 2")
        found = _log(tx).stored_by_id([str(r["id"]) for r in rows_back])
    first, second = sorted(found.values(), key=lambda e: e.version)
    assert first.to_dict()["created_at"].startswith("2024-01-02T03:04:05")
    stamped = datetime.fromisoformat(second.to_dict()["created_at"].replace("Z", "+00:00"))
    assert stamped > before


def test_appended_positions_cover_only_this_transactions_rows(store: Store) -> None:
    _append(store, [_row("Order-1", 1), _row("Order-2", 1)])
    with store.writing() as tx:
        log = _log(tx)
        since = log.head()
        log.append([_row("Order-1", 2), _row("Order-3", 1), _row("Order-1", 3)])
        positions = log.appended_positions(since)
        assert log.appended_positions(log.head()) == {}
        first, last = positions["Order-1"]
        middle = positions["Order-3"][0]
        # `since` between a stream's rows: only the rows after it count.
        assert log.appended_positions(first) == {"Order-1": (last, last), "Order-3": (middle,) * 2}
    assert set(positions) == {"Order-1", "Order-3"}
    assert since < first < last
    assert positions["Order-3"][0] == positions["Order-3"][1]
    assert first < positions["Order-3"][0] < last  # input order is position order


@pytest.mark.parametrize("clash", ["stream and version", "event id"])
def test_a_unique_violation_is_a_conflict_and_writes_nothing(store: Store, clash: str) -> None:
    stored = _row("Order-1", 1)
    _append(store, [stored])
    again = (
        _row("Order-1", 1)
        if clash == "stream and version"
        else _row("Order-2", 1, event_id=stored.event_id)
    )
    with pytest.raises(Conflict) as raised:
        _append(store, [_row("Order-5", 1), again])
    assert raised.value.exit_code == 3
    with store.reading() as tx:
        assert _log(tx).stream_versions(["Order-1", "Order-2", "Order-5"]) == {"Order-1": 1}


def test_a_concurrent_writers_unique_violation_is_a_conflict(store: Store, target: Target) -> None:
    """Two transactions append version 1 of one stream: the second waits on the first (a row
    lock on PostgreSQL, the write lock on SQLite) and, once it commits, loses with Conflict."""
    outcome: list[BaseException | None] = []
    started = threading.Event()

    def other_writer() -> None:
        with target.open() as other:
            started.set()
            try:
                _append(other, [_row("Order-1", 1, data={"by": "other"})])
            except BaseException as error:
                outcome.append(error)
            else:
                outcome.append(None)

    with store.writing() as tx:
        _log(tx).append([_row("Order-1", 1, data={"by": "first"})])
        thread = threading.Thread(target=other_writer)
        thread.start()
        assert started.wait(30)
        time.sleep(0.5)  # the other writer is now waiting on this transaction
        assert outcome == []  # it cannot finish while this one holds the stream's version 1
    thread.join(60)
    assert len(outcome) == 1 and isinstance(outcome[0], Conflict), outcome
    with store.reading() as tx:
        assert _log(tx).stream_versions(["Order-1"]) == {"Order-1": 1}
        stored = tx.fetchall("SELECT CAST(event_data AS TEXT) AS d FROM {events}")
    assert len(stored) == 1 and "first" in stored[0]["d"]


# --- rows written by another program ------------------------------------------------------------


def _odd_rows(backend: str) -> list[dict[str, Any]]:
    rows = [
        {"stream_id": "ArrayData-1", "data": "[1, 2]", "metadata": "{}"},
        {"stream_id": "NullMeta-1", "data": '{"n": 1}', "metadata": None},
        {"stream_id": "BlankType-1", "data": '{"n": 1}', "metadata": "{}", "stream_type": ""},
    ]
    if backend == "sqlite":  # PostgreSQL text cannot hold a NUL
        rows += [
            {"stream_id": "Nul\x00-1", "data": '{"n": 1}', "metadata": "{}"},
            {"stream_id": "NotJson-1", "data": "not json", "metadata": "{}"},
        ]
    for row in rows:
        row.setdefault("stream_type", row["stream_id"].split("-")[0])
        row.update(id=str(uuid.uuid4()), event_type="Odd")
    return rows


def test_odd_rows_another_program_wrote_are_found_and_counted(store: Store, target: Target) -> None:
    odd = _odd_rows(target.backend)
    _foreign_insert(target, odd)
    with store.reading() as tx:
        log = _log(tx)
        found = log.stored_by_id([r["id"] for r in odd])
        versions = log.stream_versions([r["stream_id"] for r in odd])
    assert set(found) == {r["id"] for r in odd}
    assert versions == {r["stream_id"]: 1 for r in odd}
    by_stream = {e.stream_id: e for e in found.values()}
    assert by_stream["ArrayData-1"].data == [1, 2] and by_stream["ArrayData-1"].problems
    assert by_stream["NullMeta-1"].metadata == {} and not by_stream["NullMeta-1"].problems
    assert by_stream["BlankType-1"].stream_type == ""
    if target.backend == "sqlite":
        assert "Nul\x00-1" in by_stream and by_stream["Nul\x00-1"].problems
        assert by_stream["NotJson-1"].problems


def test_appending_over_odd_rows_continues_versions_and_judges_stored_ids(
    store: Store, target: Target, tmp_path: Path
) -> None:
    """The append pipeline over rows another program wrote: the same id with the same content is
    a duplicate (NULL metadata is `{}`), with other content a conflict (exit 3), and a new event
    continues the stream's stored version."""
    odd = _odd_rows(target.backend)
    _foreign_insert(target, odd)
    null_meta = next(r for r in odd if r["stream_id"] == "NullMeta-1")
    source = tmp_path / "in.jsonl"
    source.write_text(
        f'{{"stream_id": "NullMeta-1", "event_type": "Odd", "event_id": "{null_meta["id"]}", '
        '"data": {"n": 1}}\n'
        '{"stream_id": "NullMeta-1", "event_type": "Next", "data": {"n": 2}}\n'
    )
    with open_sources([str(source)]) as sources:
        result = append_events(store, sources)
    assert (result.appended, result.duplicates) == (1, 1)
    (stream,) = result.streams
    assert (stream.first_version, stream.last_version) == (1, 2)

    array_data = next(r for r in odd if r["stream_id"] == "ArrayData-1")
    clash = tmp_path / "clash.jsonl"
    clash.write_text(
        f'{{"stream_id": "ArrayData-1", "event_type": "Odd", "event_id": "{array_data["id"]}", '
        '"data": {"n": 1}}\n'
    )
    with open_sources([str(clash)]) as sources, pytest.raises(ConcurrencyError) as raised:
        append_events(store, sources)
    assert raised.value.exit_code == 3
    assert "already stored in stream 'ArrayData-1' at version 1 with a different data" in str(
        raised.value.message
    )
    with store.reading() as tx:
        assert _log(tx).stream_versions(["NullMeta-1", "ArrayData-1"]) == {
            "NullMeta-1": 2,
            "ArrayData-1": 1,
        }


def test_versions_after_appends_through_the_pipeline(store: Store, tmp_path: Path) -> None:
    source = tmp_path / "orders.jsonl"
    lines = [
        f'{{"stream_id": "Order-{n % 3}", "event_type": "Placed", "data": {{"n": {n}}}}}'
        for n in range(10)
    ]
    source.write_text("\n".join(lines) + "\n")
    for _ in range(2):  # no event ids: the second append adds every event again
        with open_sources([str(source)]) as sources:
            append_events(store, sources)
    with store.reading() as tx:
        assert _log(tx).stream_versions(["Order-0", "Order-1", "Order-2"]) == {
            "Order-0": 8,
            "Order-1": 6,
            "Order-2": 6,
        }
