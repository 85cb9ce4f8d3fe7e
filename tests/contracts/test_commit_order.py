"""Contract of the commit-ordered log (esctl.ports.CommitOrder, `tx.log`) on both engines:
counting with and without a cap, stepping forwards and backwards, reading after a cursor, the
cursor before a position, and the cursor a stored checkpoint stands for, including rows another
program wrote (NULL transaction ids) and commits whose positions are out of commit order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from esctl.store.base import Store
from esctl.types import START, Cursor, StoredCheckpoint
from tests.conftest import Target
from tests.contracts.helpers import checkpoints, cursors, insert_event, log, seed


def test_head_of_an_empty_log_is_zero_then_the_highest_position(store: Store) -> None:
    with store.reading() as tx:
        assert log(tx).head() == 0
    positions = seed(store, 3)
    with store.reading() as tx:
        assert log(tx).head() == positions[-1]


def test_count_after_bounds_and_cap(store: Store) -> None:
    seed(store, 6)
    every = cursors(store)
    with store.reading() as tx:
        order = log(tx)
        assert order.count_after() == (6, False)
        assert order.count_after(every[1]) == (4, False)
        assert order.count_after(every[1], every[3]) == (2, False)
        assert order.count_after(every[5]) == (0, False)
        assert order.count_after(cap=4) == (4, True)
        assert order.count_after(cap=6) == (6, False)


def test_nth_after_steps_forwards_and_backwards(store: Store) -> None:
    seed(store, 5)
    every = cursors(store)
    with store.reading() as tx:
        order = log(tx)
        assert order.nth_after(0) == every[0]
        assert order.nth_after(2, after=every[0]) == every[3]
        assert order.nth_after(0, descending=True) == every[-1]
        assert order.nth_after(1, upto=every[3], descending=True) == every[2]
        assert order.nth_after(5) is None
        assert order.nth_after(9, descending=True) is None


def test_nth_after_created_from_a_time(store: Store) -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    with store.writing() as tx:
        for hour in range(4):
            insert_event(tx, "Clock-1", {"h": hour}, created_at=base + timedelta(hours=hour))
    every = cursors(store)
    with store.reading() as tx:
        order = log(tx)
        assert order.nth_after(0, created_from=base + timedelta(hours=2)) == every[2]
        assert order.nth_after(1, created_from=base + timedelta(hours=2)) == every[3]
        assert order.nth_after(0, created_from=base + timedelta(hours=9)) is None


def test_events_after_a_cursor_in_commit_order(store: Store, target: Target) -> None:
    positions = seed(store, 4)
    with store.reading() as tx:
        events = log(tx).events_after(START, 3)
        rest = log(tx).events_after(Cursor.after(events[-1]), 10)
    assert [e.global_position for e in events + rest] == positions
    assert [e.data for e in events] == [{"n": 0}, {"n": 1}, {"n": 2}]
    if target.backend == "postgresql":  # each event carries its writing transaction's id
        assert all(e.transaction_id for e in events)
        assert len({e.transaction_id for e in events}) == 3
    else:  # writers are serialised: position order is commit order
        assert all(e.transaction_id is None for e in events)


def test_cursor_before_a_position_without_reordering(store: Store, target: Target) -> None:
    positions = seed(store, 3)
    with store.reading() as tx:
        cursor = log(tx).cursor_before(positions[1])
        assert log(tx).count_after(cursor) == (1, False)
        if target.backend == "sqlite":
            assert cursor == Cursor(0, positions[1])


@pytest.mark.postgres
def test_positions_out_of_commit_order_are_delivered_again_never_skipped(pg_target: Target) -> None:
    """A takes its transaction id first, B inserts (lower position) and commits, then A inserts
    (higher position, lower transaction id) and commits: "after B's position" must still
    deliver A's event."""
    from esctl.admin.init import init_store

    with pg_target.open() as first, pg_target.open() as second:
        init_store(first)
        with first.writing() as a:
            checkpoints(a).save("takes-a-transaction-id", START)
            with second.writing() as b:
                b_position = insert_event(b, "Order-B", {"by": "b"})
            a_position = insert_event(a, "Order-A", {"by": "a"})
        assert a_position > b_position
        with first.reading() as tx:
            order = log(tx)
            commit_order = [e.stream_id for e in order.events_after(START, 10)]
            assert commit_order == ["Order-A", "Order-B"]  # A's transaction id is lower
            before = order.cursor_before(b_position)
            assert order.count_after(before) == (2, False)  # both: at least once, none skipped
            live = order.cursor_before(b_position, live=True)
            assert live <= before


@pytest.mark.postgres
def test_rows_written_before_the_transaction_id_column_sort_first(pg_target: Target) -> None:
    from esctl.admin.init import init_store

    with pg_target.open() as store:
        init_store(store)
        positions = seed(store, 4)
        with store.writing() as tx:  # as a store upgraded by `esctl init` holds them
            tx.execute(
                "UPDATE {events} SET transaction_id = NULL WHERE global_position <= %s",
                [positions[1]],
            )
        with store.reading() as tx:
            order = log(tx)
            assert order.cursor_before(positions[0]) == Cursor(0, positions[0])
            assert order.count_after(Cursor(0, positions[1])) == (2, False)
            first_new = order.nth_after(0, after=Cursor(0, positions[1]))
            assert first_new is not None and first_new.transaction_id > 0
            assert first_new.global_position == positions[2]


def test_checkpoint_cursor_of_exact_position_only_and_stale_rows(store: Store) -> None:
    seed(store, 3)
    every = cursors(store)
    third = every[2]
    with store.reading() as tx:
        order = log(tx)
        exact = StoredCheckpoint("c", third.global_position, third.transaction_id or None, None)
        assert order.checkpoint_cursor(exact) == third
        position_only = StoredCheckpoint("c", every[1].global_position, None, None)
        assert order.count_after(order.checkpoint_cursor(position_only)) == (1, False)
        stale = StoredCheckpoint("c", every[1].global_position, 999_999_999, None)
        assert order.checkpoint_cursor(stale) == order.cursor_before(every[1].global_position)
        assert order.checkpoint_cursor(StoredCheckpoint("c", 0, None, None)) == START
        gone = StoredCheckpoint("c", 10_000, 7, None)  # no event there: taken as stored
        assert order.checkpoint_cursor(gone) == Cursor(7, 10_000)
