"""Snapshots through the library, on SQLite and PostgreSQL: rebuild, verify, list and show."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from esctl.errors import NotFound, ReadOnlyRefused, UsageError
from esctl.reducers import ReducerChoice
from esctl.snapshots import (
    Replay,
    Selection,
    diff_states,
    list_snapshots,
    rebuild_snapshots,
    show_snapshot,
    verify_snapshots,
)
from esctl.snapshots.rebuild import _write_batch
from esctl.store.base import Store
from tests.support.data import seed_events
from tests.support.stores import Target

MERGE = ReducerChoice("merge")


def seed_orders(store: Store) -> None:
    seed_events(
        store,
        [
            ("Order-1", "Placed", {"status": "placed", "items": [1, 2]}),
            ("Order-1", "Paid", {"status": "paid", "paid": {"amount": 10}}),
            ("Order-2", "Placed", {"status": "placed"}),
            ("Customer-1", "Registered", {"name": "Ada", "phone": "1"}),
            ("Order-1", "Shipped", {"status": "shipped", "items": [3]}),
            ("Customer-1", "PhoneRemoved", {"phone": None}),
        ],
    )


def stored(store: Store) -> dict[str, tuple[int, Any]]:
    with store.reading() as session:
        return {s.stream_id: (s.version, s.snapshot_data) for s in list_snapshots(session)}


def put_snapshot(store: Store, stream_id: str, version: int, data: Any) -> None:
    with store.writing() as session:
        session.execute("DELETE FROM {snapshots} WHERE stream_id = %s", [stream_id])
        session.execute(
            "INSERT INTO {snapshots} (stream_id, stream_type, snapshot_data, version) "
            "VALUES (%s, %s, %s, %s)",
            [stream_id, stream_id.split("-")[0], session.json_param(data), version],
        )


def statuses(outcomes: Any) -> dict[str, str]:
    return {o.stream_id: o.status for o in outcomes}


def test_rebuild_one_stream_replays_it_with_merge_and_leaves_the_others(store: Store) -> None:
    seed_orders(store)
    result = statuses(rebuild_snapshots(store, Selection(("Order-1",)), MERGE))
    assert result == {"Order-1": "rebuilt"}
    assert stored(store) == {
        "Order-1": (3, {"status": "shipped", "items": [3], "paid": {"amount": 10}})
    }


def test_rebuild_a_stream_type_then_all(store: Store) -> None:
    seed_orders(store)
    assert statuses(rebuild_snapshots(store, Selection(stream_type="Order"), MERGE)) == {
        "Order-1": "rebuilt",
        "Order-2": "rebuilt",
    }
    assert set(stored(store)) == {"Order-1", "Order-2"}
    result = statuses(rebuild_snapshots(store, Selection(all_streams=True), MERGE))
    assert result == {"Order-1": "unchanged", "Order-2": "unchanged", "Customer-1": "rebuilt"}
    assert stored(store)["Customer-1"] == (2, {"name": "Ada"})


def test_a_second_rebuild_reports_every_stream_unchanged(store: Store) -> None:
    seed_orders(store)
    first = list(rebuild_snapshots(store, Selection(all_streams=True), MERGE, batch_size=2))
    assert {o.status for o in first} == {"rebuilt"} and len(first) == 3
    snapshots_before = stored(store)
    second = list(rebuild_snapshots(store, Selection(all_streams=True), MERGE))
    assert {o.status for o in second} == {"unchanged"} and len(second) == 3
    assert stored(store) == snapshots_before


def test_new_events_make_the_next_rebuild_advance_the_snapshot(store: Store) -> None:
    seed_orders(store)
    list(rebuild_snapshots(store, Selection(("Order-2",)), MERGE))
    seed_events(store, [("Order-2", "Cancelled", {"status": "cancelled"})])
    [outcome] = rebuild_snapshots(store, Selection(("Order-2",)), MERGE)
    assert (outcome.status, outcome.drift, outcome.previous_version) == ("rebuilt", "stale", 1)
    assert stored(store)["Order-2"] == (2, {"status": "cancelled"})


def write_failing_reducer(directory: Path) -> str:
    (directory / "failing.py").write_text(
        "from esctl.reducers import merge\n"
        "def reduce(state, event):\n"
        "    if event.event_type == 'Paid':\n"
        "        raise ValueError('cannot pay ' + event.stream_id)\n"
        "    return merge(state, event)\n"
    )
    return str(directory / "failing.py") + ":reduce"


def test_a_failing_reducer_fails_its_stream_and_the_others_are_rebuilt(
    store: Store, tmp_path: Path
) -> None:
    seed_orders(store)
    reducers = ReducerChoice(write_failing_reducer(tmp_path))
    outcomes = {
        o.stream_id: o for o in rebuild_snapshots(store, Selection(all_streams=True), reducers)
    }
    failed = outcomes["Order-1"]
    assert failed.status == "failed"
    assert (failed.version, failed.event_type) == (2, "Paid")
    assert failed.error is not None and "ValueError: cannot pay Order-1" in failed.error
    assert outcomes["Order-2"].status == outcomes["Customer-1"].status == "rebuilt"
    assert set(stored(store)) == {"Order-2", "Customer-1"}


def test_a_state_that_is_not_json_fails_only_its_stream(store: Store, tmp_path: Path) -> None:
    seed_orders(store)
    (tmp_path / "sets.py").write_text(
        "def reduce(state, event):\n"
        "    return {'bad': {1, 2}} if event.stream_id == 'Order-2' else {'ok': event.version}\n"
    )
    reducers = ReducerChoice(str(tmp_path / "sets.py") + ":reduce")
    outcomes = statuses(rebuild_snapshots(store, Selection(all_streams=True), reducers))
    assert outcomes == {"Order-1": "rebuilt", "Order-2": "failed", "Customer-1": "rebuilt"}


def test_dry_run_reports_changes_and_writes_nothing(store: Store) -> None:
    seed_orders(store)
    put_snapshot(store, "Order-2", 1, {"status": "placed"})
    result = statuses(rebuild_snapshots(store, Selection(all_streams=True), MERGE, dry_run=True))
    assert result == {
        "Order-1": "would-rebuild",
        "Order-2": "unchanged",
        "Customer-1": "would-rebuild",
    }
    assert set(stored(store)) == {"Order-2"}


def test_rebuild_never_overwrites_a_newer_snapshot_but_repairs_one_above_its_events(
    store: Store,
) -> None:
    seed_orders(store)
    # What a replay to version 2 would write, racing an application that meanwhile stored a
    # snapshot at version 3 (its events exist), and a corrupt snapshot above the last event.
    put_snapshot(store, "Order-1", 3, {"from": "application"})
    put_snapshot(store, "Order-2", 9, {"corrupt": True})
    late = Replay("Order-1", "Order", "merge", version=2, events=2, state={"from": "rebuild"})
    repair = Replay("Order-2", "Order", "merge", version=1, events=1, state={"status": "placed"})
    result = {o.stream_id: o.status for o in _write_batch(store, [late, repair])}
    assert result == {"Order-1": "kept-newer", "Order-2": "rebuilt"}
    assert stored(store) == {
        "Order-1": (3, {"from": "application"}),
        "Order-2": (1, {"status": "placed"}),
    }


def test_verify_reports_each_kind_of_drift(store: Store) -> None:
    seed_orders(store)
    seed_events(store, [("Order-3", "Placed", {"status": "placed"})])
    seed_events(store, [("Order-4", "Placed", {"status": "placed"})])
    list(rebuild_snapshots(store, Selection(all_streams=True), MERGE))
    put_snapshot(store, "Order-1", 3, {"status": "lost", "items": [3], "paid": {"amount": 10}})
    put_snapshot(store, "Order-2", 0, {})  # stale: the stream is at version 1
    put_snapshot(store, "Order-4", 5, {"status": "placed"})  # ahead of its only event
    put_snapshot(store, "Order-9", 1, {})  # no events at all
    with store.writing() as session:
        session.execute("DELETE FROM {snapshots} WHERE stream_id = %s", ["Order-3"])
    with store.reading() as session:
        checks = {
            c.stream_id: c for c in verify_snapshots(session, Selection(all_streams=True), MERGE)
        }
    assert {k: c.drift for k, c in checks.items()} == {
        "Customer-1": "ok",
        "Order-1": "different",
        "Order-2": "stale",
        "Order-3": "missing",
        "Order-4": "ahead",
        "Order-9": "ahead",
    }
    assert checks["Order-1"].diff == ('~ status: "lost" → "shipped"',)
    assert checks["Order-2"].detail.startswith("1 event behind")
    assert checks["Order-9"].detail == "the stream has no events"


def test_verify_of_a_stale_snapshot_also_compares_its_state_at_its_version(store: Store) -> None:
    seed_orders(store)
    put_snapshot(store, "Order-1", 2, {"status": "paid", "items": [1, 2], "paid": {"amount": 10}})
    with store.reading() as session:
        [good] = verify_snapshots(session, Selection(("Order-1",)), MERGE)
    assert (good.drift, good.diff) == ("stale", ())
    put_snapshot(store, "Order-1", 2, {"status": "paid", "items": [1, 2]})
    with store.reading() as session:
        [bad] = verify_snapshots(session, Selection(("Order-1",)), MERGE)
    assert bad.drift == "stale"
    assert "state differs from a replay to version 2" in bad.detail
    assert bad.diff == ('+ paid: {"amount": 10} (not in the snapshot)',)


def test_verify_reports_a_failing_reducer_as_drift(store: Store, tmp_path: Path) -> None:
    seed_orders(store)
    reducers = ReducerChoice(write_failing_reducer(tmp_path))
    with store.reading() as session:
        [check] = verify_snapshots(session, Selection(("Order-1",)), reducers)
    assert check.drift == "failed"
    assert "failed at version 2 (Paid): ValueError" in check.detail


def test_json_true_is_not_the_number_one(store: Store) -> None:
    seed_events(store, [("Flag-1", "Set", {"on": True})])
    put_snapshot(store, "Flag-1", 1, {"on": 1})
    with store.reading() as session:
        [check] = verify_snapshots(session, Selection(("Flag-1",)), MERGE)
    assert check.drift == "different"


def test_unknown_streams_are_not_found(store: Store) -> None:
    seed_orders(store)
    with pytest.raises(NotFound, match="no events in stream Order-404"):
        list(rebuild_snapshots(store, Selection(("Order-1", "Order-404")), MERGE))
    assert stored(store) == {}


def test_a_selection_must_name_the_streams() -> None:
    with pytest.raises(UsageError, match="choose the streams"):
        Selection()
    with pytest.raises(UsageError, match="choose the streams"):
        Selection(("Order-1",), all_streams=True)


def test_rebuild_refuses_a_read_only_profile_before_reading(target: Target, store: Store) -> None:
    seed_orders(store)
    with target.open(read_only=True, profile="ro") as read_only:
        with pytest.raises(ReadOnlyRefused):
            list(rebuild_snapshots(read_only, Selection(all_streams=True), MERGE))
        dry = statuses(
            rebuild_snapshots(read_only, Selection(all_streams=True), MERGE, dry_run=True)
        )
    assert set(dry.values()) == {"would-rebuild"}
    assert stored(store) == {}


def test_list_and_show(store: Store) -> None:
    seed_orders(store)
    list(rebuild_snapshots(store, Selection(all_streams=True), MERGE))
    seed_events(store, [("Order-2", "Cancelled", {"status": "cancelled"})])
    with store.reading() as session:
        orders = [s.stream_id for s in list_snapshots(session, stream_type="Order")]
        limited = [s.stream_id for s in list_snapshots(session, limit=1)]
        snapshot = show_snapshot(session, "Order-2")
        with pytest.raises(NotFound, match="stream Order-404"):
            show_snapshot(session, "Order-404")
    assert orders == ["Order-1", "Order-2"]
    assert limited == ["Customer-1"]
    shown = snapshot.to_dict(datetime.now(UTC))
    assert {k: shown[k] for k in ("version", "stream_version", "events_behind")} == {
        "version": 1,
        "stream_version": 2,
        "events_behind": 1,
    }
    assert shown["snapshot_data"] == {"status": "placed"}
    assert shown["age_seconds"] is not None and shown["age_seconds"] >= 0


def test_diff_is_short() -> None:
    lines = diff_states({f"k{i}": i for i in range(10)}, {f"k{i}": -i for i in range(10)})
    assert len(lines) == 6 and lines[-1] == "… and 4 more differences"


@pytest.mark.postgres
def test_a_batch_that_postgresql_refuses_fails_only_the_bad_stream(
    pg_target: Target, tmp_path: Path
) -> None:
    from esctl.admin.init import init_store

    (tmp_path / "nul.py").write_text(
        "def reduce(state, event):\n"
        "    return {'text': 'a\\u0000b' if event.stream_id == 'Order-2' else 'ok'}\n"
    )
    with pg_target.open() as store:
        init_store(store)
        seed_orders(store)
        reducers = ReducerChoice(str(tmp_path / "nul.py") + ":reduce")
        outcomes = {
            o.stream_id: o for o in rebuild_snapshots(store, Selection(all_streams=True), reducers)
        }
        assert outcomes["Order-2"].status == "failed"
        assert outcomes["Order-2"].error is not None
        assert outcomes["Order-2"].error.startswith("writing the snapshot failed")
        assert outcomes["Order-1"].status == outcomes["Customer-1"].status == "rebuilt"
        assert set(stored(store)) == {"Order-1", "Customer-1"}


def test_a_stream_type_selection_replays_whole_streams(store: Store) -> None:
    seed_orders(store)
    with store.writing() as session:  # the seed's schema lets one stream hold two stream types
        session.execute(
            "UPDATE {events} SET stream_type = 'Legacy' WHERE stream_id = %s AND version = 1",
            ["Order-1"],
        )
    list(rebuild_snapshots(store, Selection(stream_type="Order"), MERGE))
    assert stored(store)["Order-1"] == (
        3,
        {"status": "shipped", "items": [3], "paid": {"amount": 10}},
    )


def test_rebuilds_racing_appends_never_store_a_snapshot_beyond_its_events(store: Store) -> None:
    import threading

    seed_orders(store)
    streams = [f"Race-{i}" for i in range(5)]
    seed_events(store, [(s, "Started", {"n": 0}) for s in streams])
    done = threading.Event()
    errors: list[BaseException] = []

    def append() -> None:
        try:
            with store.__class__(store.location, store.settings, write=True) as writer:
                for n in range(1, 40):
                    seed_events(writer, [(s, "Counted", {"n": n, f"k{n}": n}) for s in streams])
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=append)
    thread.start()
    rebuilds = 0
    while not done.is_set() or rebuilds < 2:
        outcomes = list(rebuild_snapshots(store, Selection(stream_type="Race"), MERGE))
        assert {o.status for o in outcomes} <= {"rebuilt", "unchanged", "kept-newer"}
        rebuilds += 1
    thread.join()
    assert not errors
    with store.reading() as session:
        checks = list(verify_snapshots(session, Selection(stream_type="Race"), MERGE))
    # Every snapshot is at or behind its stream, and equals a replay up to its own version.
    assert len(checks) == 5
    assert all(c.drift in ("ok", "stale") and c.diff == () for c in checks), checks
    assert all("state differs" not in c.detail for c in checks)
