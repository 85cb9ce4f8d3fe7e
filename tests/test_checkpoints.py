"""Checkpoints, library level, on both backends: lag, statuses, every move target, dry runs and the
compare-and-set race."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from esctl.checkpoints import (
    MovePlan,
    MoveTarget,
    Thresholds,
    execute,
    list_checkpoints,
    plan_delete,
    plan_move,
    show_checkpoint,
)
from esctl.errors import ConcurrencyError, NotFound, UsageError
from esctl.store.base import Store
from tests.support.data import seed_events
from tests.support.stores import Target

T0 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)


def seed(store: Store, count: int, *, transactions: bool = True) -> None:
    """`count` events; each in its own transaction unless `transactions` is False."""
    events = [(f"Order-{i % 3}", "Placed", {"n": i}) for i in range(count)]
    if transactions:
        for event in events:
            seed_events(store, [event])
    else:
        seed_events(store, events)


def subscriber_saves(store: Store, name: str, position: int) -> None:
    """The seed's subscriber: INSERT … ON CONFLICT with last_position only (SQLite has no NOW())."""
    now = "NOW()" if store.backend == "postgresql" else "CURRENT_TIMESTAMP"
    with store.writing() as session:
        session.execute(
            "INSERT INTO {checkpoints} (subscription_id, last_position) VALUES (%s, %s) "
            "ON CONFLICT (subscription_id) "
            f"DO UPDATE SET last_position = %s, updated_at = {now}",
            [name, position, position],
        )


def set_updated_at(store: Store, name: str, when: datetime) -> None:
    with store.writing() as session:
        session.execute(
            "UPDATE {checkpoints} SET updated_at = %s WHERE subscription_id = %s",
            [session.time_param(when), name],
        )


def row(store: Store, name: str) -> dict[str, Any] | None:
    with store.reading() as session:
        found = session.fetchone(
            "SELECT subscription_id, last_position, last_transaction_id, updated_at "
            "FROM {checkpoints} WHERE subscription_id = %s",
            [name],
        )
    if found is not None and found["last_transaction_id"] is not None:
        found["last_transaction_id"] = int(found["last_transaction_id"])
    return found


def transaction_of(store: Store, position: int) -> int | None:
    with store.reading() as session:
        value = session.fetchval(
            "SELECT transaction_id FROM {events} WHERE global_position = %s", [position]
        )
    return None if value is None else int(value)


def positions_after_checkpoint(store: Store, name: str) -> list[int]:
    """The events after a stored checkpoint in commit order, queried independently of esctl's
    slices: `(coalesce(transaction_id, 0), global_position) > (last_transaction_id, position)`."""
    current = row(store, name)
    assert current is not None
    tx = current["last_transaction_id"] or 0
    with store.reading() as session:
        if store.backend == "postgresql":
            rows = session.fetchall(
                "SELECT global_position FROM {events} WHERE "
                "(coalesce(transaction_id, '0'::xid8), global_position) > (CAST(%s AS xid8), %s) "
                "ORDER BY coalesce(transaction_id, '0'::xid8), global_position",
                [str(tx), current["last_position"]],
            )
        else:
            rows = session.fetchall(
                "SELECT global_position FROM {events} WHERE "
                "(coalesce(transaction_id, 0), global_position) > (%s, %s) "
                "ORDER BY coalesce(transaction_id, 0), global_position",
                [tx, current["last_position"]],
            )
    return [int(r["global_position"]) for r in rows]


def by_name(store: Store, thresholds: Thresholds | None = None) -> dict[str, Any]:
    return {s.subscription_id: s for s in list_checkpoints(store, thresholds)}


# --- lag and status --------------------------------------------------------------------------


def test_lag_is_counted_not_head_minus_position(store: Store) -> None:
    seed(store, 10)
    with store.writing() as session:  # gaps, as rolled-back transactions leave them
        session.execute("DELETE FROM {events} WHERE global_position IN (4, 5, 6)")
    subscriber_saves(store, "projection", 2)
    state = by_name(store)["projection"]
    assert (state.head_position, state.lag, state.lag_estimated) == (10, 5, False)
    assert state.status == "ok"


def test_every_status(store: Store) -> None:
    seed(store, 20, transactions=False)
    subscriber_saves(store, "caught-up", 20)
    subscriber_saves(store, "behind", 5)
    subscriber_saves(store, "stuck", 18)
    subscriber_saves(store, "idle-caught-up", 20)
    subscriber_saves(store, "restored", 25)
    set_updated_at(store, "stuck", datetime.now(UTC) - timedelta(hours=1))
    set_updated_at(store, "idle-caught-up", datetime.now(UTC) - timedelta(hours=1))
    states = list_checkpoints(store, Thresholds(lag=10, stale_after=600))
    assert [(s.subscription_id, s.lag, s.status) for s in states] == [
        ("behind", 15, "lagging"),
        ("stuck", 2, "stalled"),
        ("caught-up", 0, "ok"),
        ("idle-caught-up", 0, "ok"),  # no update for an hour, but nothing to do: not stalled
        ("restored", -5, "ahead-of-head"),  # shown, never clamped to zero
    ]
    assert states[1].age_seconds is not None and states[1].age_seconds > 3000


def test_the_store_clock_is_not_behind_an_event_it_just_stamped(store: Store) -> None:
    """Lag time is the store's clock minus the oldest pending event's stamp: a clock with whole
    seconds (SQLite's CURRENT_TIMESTAMP) would put an event written this second in the future and
    call its wait 0 (a flaky metrics test showed it)."""
    from esctl.checkpoints import transaction
    from esctl.types import START, utc_time

    seed(store, 3, transactions=False)
    subscriber_saves(store, "projection", 0)
    with store.reading() as tx:
        now = transaction.checkpoints(tx).now()
        stamps = [e.created_at for e in transaction.log(tx).events_after(START, 3)]
    assert all(utc_time(stamp) <= now for stamp in stamps), (now, stamps)
    assert by_name(store)["projection"].lag_seconds > 0


def test_a_stalled_checkpoint_over_the_threshold_matches_both(store: Store) -> None:
    from esctl.checkpoints import matching

    seed(store, 30, transactions=False)
    subscriber_saves(store, "projection", 1)
    set_updated_at(store, "projection", datetime.now(UTC) - timedelta(days=2))
    states = list_checkpoints(store, Thresholds(lag=10))
    assert states[0].status == "stalled"
    assert matching(states, {"lagging"}) == states
    assert matching(states, {"ahead-of-head"}) == []


def test_lag_past_the_cap_is_an_estimate(store: Store) -> None:
    seed(store, 40, transactions=False)
    subscriber_saves(store, "projection", 5)
    capped = by_name(store, Thresholds(count_cap=10))["projection"]
    assert (capped.lag, capped.lag_estimated) == (35, True)
    exact = by_name(store, Thresholds(count_cap=None))["projection"]
    assert (exact.lag, exact.lag_estimated) == (35, False)
    assert exact.to_dict()["lag_estimated"] is False


def test_show_lists_the_next_pending_events(store: Store) -> None:
    seed(store, 8)
    subscriber_saves(store, "projection", 3)
    state, events = show_checkpoint(store, "projection", pending=2)
    assert state.lag == 5
    assert [e.global_position for e in events] == [4, 5]
    assert events[0].to_dict()["data"] == {"n": 3}
    with pytest.raises(NotFound, match="no checkpoint for subscription 'nope'"):
        show_checkpoint(store, "nope")


def test_an_empty_store_and_a_checkpoint_at_zero(store: Store) -> None:
    subscriber_saves(store, "new", 0)
    state = by_name(store)["new"]
    assert (state.head_position, state.lag, state.status) == (0, 0, "ok")


# --- moves -----------------------------------------------------------------------------------


def move(store: Store, name: str, target: MoveTarget) -> MovePlan:
    plan = plan_move(store, name, target)
    return execute(store, plan)


def test_dry_run_changes_nothing(store: Store) -> None:
    seed(store, 10)
    subscriber_saves(store, "projection", 7)
    before = row(store, "projection")
    for target in (
        MoveTarget("start"),
        MoveTarget("end"),
        MoveTarget("position", position=2),
        MoveTarget("shift", shift=-3),
        MoveTarget("time", time=T0),
    ):
        plan = plan_move(store, "projection", target)
        assert not plan.executed
        assert row(store, "projection") == before
    plan_delete(store, "projection")
    assert row(store, "projection") == before
    plan_move(store, "brand-new", MoveTarget("end"))
    assert row(store, "brand-new") is None


def test_to_start_and_to_end(store: Store) -> None:
    seed(store, 10)
    subscriber_saves(store, "projection", 4)
    plan = move(store, "projection", MoveTarget("start"))
    assert (plan.old_position, plan.new_position, plan.redelivered) == (4, 0, 4)
    assert row(store, "projection")["last_position"] == 0  # type: ignore[index]
    assert row(store, "projection")["last_transaction_id"] is None  # type: ignore[index]
    assert positions_after_checkpoint(store, "projection") == list(range(1, 11))
    plan = move(store, "projection", MoveTarget("end"))
    assert (plan.new_position, plan.skipped) == (10, 10)
    saved = row(store, "projection")
    assert saved is not None
    assert saved["last_transaction_id"] == transaction_of(store, 10)
    assert positions_after_checkpoint(store, "projection") == []
    assert by_name(store)["projection"].lag == 0


def test_to_position_takes_the_transaction_of_that_event(store: Store) -> None:
    seed(store, 10)
    subscriber_saves(store, "projection", 9)
    plan = move(store, "projection", MoveTarget("position", position=6))
    assert (plan.new_position, plan.redelivered, plan.skipped) == (6, 3, 0)
    saved = row(store, "projection")
    assert saved is not None
    assert (saved["last_position"], saved["last_transaction_id"]) == (6, transaction_of(store, 6))
    assert positions_after_checkpoint(store, "projection") == [7, 8, 9, 10]


def test_to_position_in_a_gap_keeps_the_position_and_skips_nothing(store: Store) -> None:
    seed(store, 10)
    with store.writing() as session:
        session.execute("DELETE FROM {events} WHERE global_position = 5")
    subscriber_saves(store, "projection", 9)
    plan = plan_move(store, "projection", MoveTarget("position", position=5))
    assert plan.new_position == 5
    assert plan.redelivered == 4  # positions 6 to 9
    execute(store, plan)
    assert positions_after_checkpoint(store, "projection") == [6, 7, 8, 9, 10]


def test_to_position_past_the_head_is_refused(store: Store) -> None:
    seed(store, 3)
    subscriber_saves(store, "projection", 1)
    with pytest.raises(UsageError, match=r"position 9 is past the head of the log \(3\)"):
        plan_move(store, "projection", MoveTarget("position", position=9))


def test_shift_by_moves_events_not_positions_and_clamps(store: Store) -> None:
    seed(store, 12)
    with store.writing() as session:
        session.execute("DELETE FROM {events} WHERE global_position IN (7, 8)")
    subscriber_saves(store, "projection", 6)
    plan = move(store, "projection", MoveTarget("shift", shift=2))
    assert (plan.new_position, plan.skipped) == (10, 2)  # 9 and 10: the gap does not count
    plan = move(store, "projection", MoveTarget("shift", shift=-3))
    assert (plan.new_position, plan.redelivered) == (5, 3)  # 10, 9 and 6 re-delivered
    plan = move(store, "projection", MoveTarget("shift", shift=-100))
    assert plan.new_position == 0 and "clamped to the start" in " ".join(plan.notes)
    plan = move(store, "projection", MoveTarget("shift", shift=100))
    assert plan.new_position == 12 and "clamped to the end" in " ".join(plan.notes)
    assert row(store, "projection")["last_transaction_id"] == transaction_of(store, 12)  # type: ignore[index]


def test_shift_by_needs_an_existing_checkpoint(store: Store) -> None:
    seed(store, 3)
    with pytest.raises(NotFound, match="subscription 'ghost' has no checkpoint to shift"):
        plan_move(store, "ghost", MoveTarget("shift", shift=1))


def test_to_time_selects_exactly_the_events_created_at_or_after_it(store: Store) -> None:
    seed(store, 9)
    with store.writing() as session:  # three hours of history, one event exactly at T
        for position in range(1, 10):
            when = T0 + timedelta(minutes=20 * position)
            session.execute(
                "UPDATE {events} SET created_at = %s WHERE global_position = %s",
                [session.time_param(when), position],
            )
    subscriber_saves(store, "projection", 9)
    at = T0 + timedelta(minutes=100)  # the creation time of event 5
    plan = move(store, "projection", MoveTarget("time", time=at))
    assert (plan.new_position, plan.redelivered) == (4, 5)
    with store.reading() as session:
        expected = [
            int(r["global_position"])
            for r in session.fetchall(
                "SELECT global_position FROM {events} WHERE created_at >= %s "
                "ORDER BY global_position",
                [session.time_param(at)],
            )
        ]
    assert expected == [5, 6, 7, 8, 9]
    assert positions_after_checkpoint(store, "projection") == expected
    assert row(store, "projection")["last_transaction_id"] == transaction_of(store, 4)  # type: ignore[index]


def test_to_time_before_everything_and_after_everything(store: Store) -> None:
    seed(store, 4)
    subscriber_saves(store, "projection", 2)
    early = plan_move(store, "projection", MoveTarget("time", time=T0 - timedelta(days=3650)))
    assert (early.new_position, early.redelivered) == (0, 2)
    late = plan_move(
        store, "projection", MoveTarget("time", time=datetime.now(UTC) + timedelta(days=1))
    )
    assert late.new_position == 4 and "moving to the end" in " ".join(late.notes)


def test_set_creates_a_missing_subscription_and_delete_removes_it(store: Store) -> None:
    seed(store, 5)
    plan = plan_move(store, "new-projection", MoveTarget("position", position=3))
    assert (plan.action, plan.old_position, plan.skipped) == ("create", None, 3)
    execute(store, plan)
    assert row(store, "new-projection")["last_position"] == 3  # type: ignore[index]
    assert by_name(store)["new-projection"].lag == 2
    execute(store, plan_delete(store, "new-projection"))
    assert row(store, "new-projection") is None
    with pytest.raises(NotFound):
        plan_delete(store, "new-projection")


def test_a_checkpoint_the_seed_subscriber_wrote_can_be_moved_and_it_keeps_working(
    store: Store,
) -> None:
    seed(store, 6)
    subscriber_saves(store, "projection", 5)
    assert row(store, "projection")["last_transaction_id"] is None  # type: ignore[index]
    assert by_name(store)["projection"].lag == 1
    execute(store, plan_move(store, "projection", MoveTarget("shift", shift=-2)))
    saved = row(store, "projection")
    assert saved is not None
    assert (saved["last_position"], saved["last_transaction_id"]) == (3, transaction_of(store, 3))
    # The seed's subscriber keeps saving positions only: the pair must not go stale.
    subscriber_saves(store, "projection", 6)
    assert by_name(store)["projection"].lag == 0
    assert [e.global_position for e in show_checkpoint(store, "projection")[1]] == []


def test_a_concurrent_move_loses_the_compare_and_set(store: Store) -> None:
    seed(store, 10)
    subscriber_saves(store, "projection", 5)
    first = plan_move(store, "projection", MoveTarget("end"))
    second = plan_move(store, "projection", MoveTarget("start"))
    execute(store, first)
    with pytest.raises(
        ConcurrencyError,
        match="checkpoint 'projection' changed concurrently: expected position 5, "
        "it is now at position 10; nothing was written",
    ):
        execute(store, second)
    assert row(store, "projection")["last_position"] == 10  # type: ignore[index]


def test_two_racing_executes_one_wins(target: Target, store: Store) -> None:
    seed(store, 10)
    subscriber_saves(store, "projection", 5)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def run(move_to: MoveTarget) -> None:
        with target.open() as own:
            plan = plan_move(own, "projection", move_to)
            barrier.wait()
            try:
                execute(own, plan)
                outcomes.append("won")
            except ConcurrencyError:
                outcomes.append("conflict")

    threads = [
        threading.Thread(target=run, args=(t,)) for t in (MoveTarget("start"), MoveTarget("end"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "won"]
    assert row(store, "projection")["last_position"] in (0, 10)  # type: ignore[index]


def test_a_concurrent_create_loses_too(store: Store) -> None:
    seed(store, 3)
    first = plan_move(store, "fresh", MoveTarget("end"))
    second = plan_move(store, "fresh", MoveTarget("start"))
    execute(store, first)
    with pytest.raises(ConcurrencyError, match="expected no checkpoint, it is now at position 3"):
        execute(store, second)


def test_a_delete_after_a_move_conflicts(store: Store) -> None:
    seed(store, 3)
    subscriber_saves(store, "projection", 1)
    deletion = plan_delete(store, "projection")
    subscriber_saves(store, "projection", 2)
    with pytest.raises(ConcurrencyError):
        execute(store, deletion)
    assert row(store, "projection") is not None


def test_read_only_profile_refuses_to_execute(target: Target, store: Store) -> None:
    from esctl.errors import ReadOnlyRefused

    seed(store, 3)
    subscriber_saves(store, "projection", 1)
    with target.open(read_only=True, write=False) as read_only:
        plan = plan_move(read_only, "projection", MoveTarget("end"))
        assert plan.new_position == 3
        with pytest.raises(ReadOnlyRefused):
            execute(read_only, plan)
    assert row(store, "projection")["last_position"] == 1  # type: ignore[index]


# --- PostgreSQL: commit order is not position order -------------------------------------------


@pytest.mark.postgres
def test_lag_follows_commit_order_not_positions(pg_target: Target) -> None:
    """A transaction that took its id first but inserted last: its event has the higher position
    and the lower transaction id. A position-only checkpoint there has not handled the other."""
    import psycopg

    from esctl.admin.init import init_store

    with pg_target.open() as store:
        init_store(store)
    table = f'"{pg_target.schema}".events'
    insert = (
        f"INSERT INTO {table} (stream_id, stream_type, event_type, event_data, version) "
        "VALUES (%s, 'Order', 'Placed', '{}', 1) RETURNING global_position, transaction_id"
    )
    with psycopg.connect(pg_target.url) as early, psycopg.connect(pg_target.url) as late:
        early.execute("SELECT pg_current_xact_id()")  # takes its transaction id now
        late_row = late.execute(insert, ["Order-late"]).fetchone()
        late.commit()
        early_row = early.execute(insert, ["Order-early"]).fetchone()
        early.commit()
    assert late_row and early_row
    assert early_row[0] > late_row[0] and int(early_row[1]) < int(late_row[1])
    with pg_target.open() as store:
        subscriber_saves(store, "projection", early_row[0])
        state = by_name(store)["projection"]
        assert state.lag == 1  # the event at the lower position is after it in commit order
        _, pending = show_checkpoint(store, "projection")
        assert [e.global_position for e in pending] == [late_row[0]]
        plan = plan_move(store, "projection", MoveTarget("end"))
        assert (plan.new_position, plan.new_transaction_id) == (late_row[0], int(late_row[1]))


@pytest.mark.postgres
def test_rows_from_before_init_come_first_in_commit_order(pg_target: Target) -> None:
    from esctl.admin.init import init_store

    with pg_target.open() as store:
        init_store(store)
        seed(store, 6)
        with store.writing() as session:  # as if written before `esctl init` added the column
            session.execute("UPDATE {events} SET transaction_id = NULL WHERE global_position <= 3")
        subscriber_saves(store, "projection", 2)
        assert by_name(store)["projection"].lag == 4
        plan = move(store, "projection", MoveTarget("shift", shift=2))
        assert (plan.new_position, plan.skipped) == (4, 2)
        assert positions_after_checkpoint(store, "projection") == [5, 6]
        plan = move(store, "projection", MoveTarget("shift", shift=-2))
        assert (plan.new_position, plan.new_transaction_id, plan.redelivered) == (2, None, 2)
        assert positions_after_checkpoint(store, "projection") == [3, 4, 5, 6]
