"""Contract of the Snapshots port (`tx.snapshots`) on both engines: listing, getting, stream
existence and counts for each kind of selection, the replay pass, snapshots whose stream has no
events, upsert-if-newer, and rows another program wrote (odd times, text that is not JSON)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from esctl.store.base import Store
from esctl.types import StreamSelection
from tests.conftest import seed_events
from tests.contracts.helpers import snapshots

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def orders(store: Store) -> Store:
    seed_events(
        store,
        [
            ("Order-1", "Placed", {"n": 1}),
            ("Order-2", "Placed", {"n": 1}),
            ("Order-1", "Paid", {"n": 2}),
            ("Customer-1", "Registered", {"name": "Ada"}),
            ("Order-1", "Shipped", {"n": 3}),
        ],
    )
    return store


def test_upsert_if_newer_writes_keeps_newer_and_replaces_impossible(orders: Store) -> None:
    with orders.writing() as tx:
        port = snapshots(tx)
        assert port.upsert_if_newer("Order-1", "Order", 2, {"n": 2, "é": "ü"}, NOW) is True
        assert port.upsert_if_newer("Order-1", "Order", 1, {"n": 1}, NOW) is False  # older
        assert port.upsert_if_newer("Order-1", "Order", 3, {"n": 3}, NOW) is True
        assert port.upsert_if_newer("Order-2", "Order", 9, {"n": 9}, NOW) is True
        # Version 9 is above Order-2's last event (1): no correct writer made it, so it goes.
        assert port.upsert_if_newer("Order-2", "Order", 1, {"n": 1}, NOW) is True
    with orders.reading() as tx:
        one, two = snapshots(tx).get("Order-1"), snapshots(tx).get("Order-2")
    assert one is not None and (one.version, one.snapshot_data) == (3, {"n": 3})
    assert one.stream_version == 3 and one.events_behind == 0
    assert one.created_at == NOW
    assert two is not None and (two.version, two.snapshot_data) == (1, {"n": 1})


def test_all_by_stream_id_filtered_and_limited(orders: Store) -> None:
    with orders.writing() as tx:
        for stream_id, stream_type in (("Order-2", "Order"), ("Customer-1", "Customer")):
            snapshots(tx).upsert_if_newer(stream_id, stream_type, 1, {"x": 1}, NOW)
        snapshots(tx).upsert_if_newer("Order-1", "Order", 1, {"x": 1}, NOW)
    with orders.reading() as tx:
        port = snapshots(tx)
        assert [s.stream_id for s in port.all()] == ["Customer-1", "Order-1", "Order-2"]
        assert [s.stream_id for s in port.all(stream_type="Order")] == ["Order-1", "Order-2"]
        assert [s.stream_id for s in port.all(limit=1)] == ["Customer-1"]
        behind = {s.stream_id: s.events_behind for s in port.all()}
    assert behind == {"Customer-1": 0, "Order-1": 2, "Order-2": 0}


def test_get_and_stream_existence(orders: Store) -> None:
    with orders.reading() as tx:
        port = snapshots(tx)
        assert port.get("Order-1") is None
        assert port.stream_exists("Order-1") is True
        assert port.stream_exists("Order-404") is False


@pytest.mark.parametrize(
    ("selection", "found", "count"),
    [
        (StreamSelection(stream_ids=("Order-1", "Order-404")), {"Order-1"}, 1),
        (StreamSelection(stream_type="Order"), {"Order-1", "Order-2"}, 2),
        (StreamSelection(all_streams=True), {"Order-1", "Order-2", "Customer-1"}, 3),
    ],
)
def test_streams_and_counts_of_each_kind_of_selection(
    orders: Store, selection: StreamSelection, found: set[str], count: int
) -> None:
    with orders.reading() as tx:
        assert snapshots(tx).streams_with_events(selection) == found
        assert snapshots(tx).count_streams(selection) == count


def test_replay_rows_in_stream_and_version_order_with_the_stored_snapshot(orders: Store) -> None:
    with orders.writing() as tx:
        snapshots(tx).upsert_if_newer("Order-1", "Order", 2, {"stored": True}, NOW)
    with orders.reading() as tx:
        rows = list(snapshots(tx).replay_rows(StreamSelection(all_streams=True)))
    assert [(r.event.stream_id, r.event.version) for r in rows] == [
        ("Customer-1", 1),
        ("Order-1", 1),
        ("Order-1", 2),
        ("Order-1", 3),
        ("Order-2", 1),
    ]
    order_1 = [r for r in rows if r.event.stream_id == "Order-1"]
    assert [r.stored_version for r in order_1] == [2, 2, 2]  # on every row of the stream
    assert [r.stored_state for r in order_1] == [None, {"stored": True}, None]  # at its version
    assert rows[0].stored_version is None and rows[0].event.data == {"name": "Ada"}


def test_a_stream_type_selection_replays_whole_streams(orders: Store) -> None:
    with orders.writing() as tx:  # the seed's schema lets one stream hold two stream types
        tx.execute("UPDATE {events} SET stream_type = 'Legacy' WHERE version = 2")
    with orders.reading() as tx:
        rows = list(snapshots(tx).replay_rows(StreamSelection(stream_type="Order")))
    assert [(r.event.stream_id, r.event.version) for r in rows] == [
        ("Order-1", 1),
        ("Order-1", 2),
        ("Order-1", 3),
        ("Order-2", 1),
    ]


def test_snapshots_whose_stream_has_no_events(orders: Store) -> None:
    with orders.writing() as tx:
        port = snapshots(tx)
        port.upsert_if_newer("Ghost-1", "Ghost", 4, {"boo": 1}, NOW)
        port.upsert_if_newer("Order-1", "Order", 1, {}, NOW)
    with orders.reading() as tx:
        everywhere = list(snapshots(tx).without_events())
        of_orders = list(snapshots(tx).without_events("Order"))
    assert [(s.stream_id, s.stream_type, s.version) for s in everywhere] == [
        ("Ghost-1", "Ghost", 4)
    ]
    assert everywhere[0].stream_version is None and everywhere[0].events_behind is None
    assert of_orders == []


def test_rows_another_program_wrote_read_without_failing(orders: Store) -> None:
    odd_time = "infinity" if orders.backend == "postgresql" else "sometime"
    data = '"just text"' if orders.backend == "postgresql" else "not json"
    with orders.writing() as tx:
        tx.execute(
            "INSERT INTO {snapshots} (stream_id, stream_type, snapshot_data, version, created_at) "
            "VALUES (%s, %s, %s, %s, %s), (%s, %s, %s, %s, NULL)",
            ["Order-1", "Order", data, 1, odd_time, "Order-2", "Order", "{}", 1],
        )
    with orders.reading() as tx:
        odd, plain = snapshots(tx).get("Order-1"), snapshots(tx).get("Order-2")
        listed = [s.stream_id for s in snapshots(tx).all()]
    assert odd is not None and odd.snapshot_data in ("just text", "not json")
    assert not isinstance(odd.created_at, datetime) and odd.created_at is not None
    assert odd.to_dict(NOW)["age_seconds"] is None
    assert plain is not None and plain.created_at is None
    assert listed == ["Order-1", "Order-2"]
