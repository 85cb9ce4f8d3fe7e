"""The event log's read side and the live port, one suite run over every engine (the `store`
fixture: SQLite and PostgreSQL). A new layout or engine is one more fixture parameter."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from esctl.ports import EventFilter
from esctl.read.events import event_json_line
from esctl.store.base import Store
from esctl.types import START, Cursor
from tests.conftest import seed_events

EVENTS = [
    ("Order-1", "OrderPlaced", {"n": 1}),
    ("Order-1", "OrderPaid", {"n": 2}),
    ("Customer-7", "Registered", {"n": 3}),
    ("Order-2", "OrderPlaced", {"n": 4}),
    ("Order-1", "OrderShipped", {"n": 5}),
]


@pytest.fixture
def seeded(store: Store) -> Store:
    seed_events(store, EVENTS)
    return store


def test_stream_exists_and_read_stream_in_version_order(seeded: Store) -> None:
    with seeded.reading() as tx:
        assert tx.log.stream_exists("Order-1") and not tx.log.stream_exists("Order-9")
        events = list(tx.log.read_stream("Order-1"))
        assert [e.version for e in events] == [1, 2, 3]
        assert [e.data["n"] for e in events] == [1, 2, 5]
        assert [e.version for e in tx.log.read_stream("Order-1", from_version=2)] == [2, 3]
        backwards = tx.log.read_stream("Order-1", from_version=2, backwards=True)
        assert [e.version for e in backwards] == [2, 1]
        assert [e.version for e in tx.log.read_stream("Order-1", limit=1)] == [1]
        assert list(tx.log.read_stream("Order-9")) == []


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (EventFilter(), [1, 2, 3, 4, 5]),
        (EventFilter(stream_id="Order-1"), [1, 2, 5]),
        (EventFilter(category="Order"), [1, 2, 4, 5]),
        (EventFilter(types=("OrderPlaced", "Registered")), [1, 3, 4]),
        (EventFilter(from_position=4), [4, 5]),
        (EventFilter(category="Order", types=("OrderPlaced",)), [1, 4]),
    ],
)
def test_read_all_filters(seeded: Store, where: EventFilter, expected: list[int]) -> None:
    with seeded.reading() as tx:
        assert [e.data["n"] for e in tx.log.read_all(where)] == expected
        assert [e.data["n"] for e in tx.log.read_all(where, limit=2)] == expected[:2]
        assert [e.data["n"] for e in tx.log.read_all(where) if where.matches(e)] == expected


def test_read_all_time_range(seeded: Store) -> None:
    future = datetime.now(UTC) + timedelta(days=1)
    past = datetime.now(UTC) - timedelta(days=1)
    with seeded.reading() as tx:
        assert list(tx.log.read_all(EventFilter(since=future))) == []
        assert len(list(tx.log.read_all(EventFilter(since=past, until=future)))) == len(EVENTS)
        assert list(tx.log.read_all(EventFilter(until=past))) == []


def test_a_category_is_data_not_a_pattern(store: Store) -> None:
    seed_events(store, [("a_c-1", "X", {}), ("abc-1", "X", {}), ("A%C-1", "X", {})])
    with store.reading() as tx:
        assert [e.stream_id for e in tx.log.read_all(EventFilter(category="a_c"))] == ["a_c-1"]
        assert list(tx.log.read_all(EventFilter(category="a%c"))) == []


def test_export_json_lines_is_byte_for_byte_what_esctl_renders(seeded: Store) -> None:
    with seeded.reading() as tx:
        expected = "".join(event_json_line(e) + "\n" for e in tx.log.read_all(EventFilter()))
        lines = tx.log.export_json_lines(EventFilter(category="Order"), limit=3)
        exported = None if lines is None else b"".join(lines).decode()
    if seeded.capabilities.has_copy:
        assert exported is not None
        orders = [line for line in expected.splitlines() if '"stream_id": "Order-' in line]
        assert exported == "".join(line + "\n" for line in orders[:3])
        assert [json.loads(line)["data"]["n"] for line in exported.splitlines()] == [1, 2, 4]
    else:
        assert exported is None  # the caller renders: no server-side fast path


def test_get_event_head_and_stream_versions(seeded: Store) -> None:
    with seeded.reading() as tx:
        first = next(tx.log.read_all(EventFilter()))
        found = tx.log.get_event(first.event_id)
        assert found is not None and found.to_dict() == first.to_dict()
        assert tx.log.get_event("00000000-0000-0000-0000-000000000000") is None
        assert tx.log.head() == max(e.global_position for e in tx.log.read_all(EventFilter()))
        versions = tx.log.stream_versions(["Order-1", "Order-2", "Nope-1"])
        assert versions == {"Order-1": 3, "Order-2": 1}
        many = [f"S-{i}" for i in range(1200)] + ["Customer-7"]  # more than one lookup chunk
        assert tx.log.stream_versions(many) == {"Customer-7": 1}


def test_an_empty_log(store: Store) -> None:
    with store.reading() as tx:
        assert tx.log.head() == 0
        assert tx.log.count() == 0 and tx.log.count_streams() == 0
        assert tx.log.bounds()["head"] is None
        assert tx.log.stream_summary("Order-1") is None
        assert list(tx.log.list_streams()) == []


def test_streams_listing_pages_and_summary(seeded: Store) -> None:
    with seeded.reading() as tx:
        assert [r["stream_id"] for r in tx.log.list_streams()] == [
            "Customer-7",
            "Order-1",
            "Order-2",
        ]
        page = list(tx.log.list_streams(after="Customer-7", limit=1))
        assert [(r["stream_id"], r["version"], r["events"]) for r in page] == [("Order-1", 3, 3)]
        assert [r["stream_id"] for r in tx.log.list_streams(category="Order")] == [
            "Order-1",
            "Order-2",
        ]
        assert tx.log.stream_ids("Order", 1) == ["Order-1"]
        summary = tx.log.stream_summary("Order-1")
    assert summary is not None
    assert (summary["stream_type"], summary["version"], summary["events"]) == ("Order", 3, 3)
    assert summary["counts_by_type"] == {"OrderPaid": 1, "OrderPlaced": 1, "OrderShipped": 1}
    assert summary["snapshot_version"] is None


def test_statistics(seeded: Store) -> None:
    with seeded.reading() as tx:
        bounds = tx.log.bounds()
        assert bounds["head"] == tx.log.head() and bounds["oldest"] is not None
        assert tx.log.count() == 5 and tx.log.count_streams() == 3
        counts = [(r["category"], r["event_type"], r["n"]) for r in tx.log.counts_by_type()]
        assert counts == [
            ("Customer", "Registered", 1),
            ("Order", "OrderPaid", 1),
            ("Order", "OrderPlaced", 2),
            ("Order", "OrderShipped", 1),
        ]
        # A 100 % sample reads every page: the same counts where the engine samples.
        sampled = tx.log.counts_by_type(sample_percent=100.0)
        assert [(r["category"], r["event_type"], r["n"]) for r in sampled] == counts
        estimates = tx.log.estimated_counts()
    if seeded.backend == "sqlite":
        assert estimates is None
    else:  # a table never analysed has no estimate; an analysed one has both figures
        assert estimates is None or set(estimates) == {"events", "streams"}


def test_ranked_listing_and_sizes_by_type(seeded: Store) -> None:
    """Bytes are the UTF-8 bytes of the JSON text: every seeded `{"n": k}` is the same length on
    one engine, so a stream's bytes are its events times that length, metadata `{}` 2 each."""
    with seeded.reading() as tx:
        ranked = list(tx.log.list_streams(sort="events"))
        assert [r["stream_id"] for r in ranked] == ["Order-1", "Customer-7", "Order-2"]
        one = next(r for r in ranked if r["stream_id"] == "Order-2")
        assert one["metadata_bytes"] == 2 and one["data_bytes"] == len(
            '{"n":4}' if seeded.backend == "sqlite" else '{"n": 4}'
        )
        assert ranked[0]["bytes"] == 3 * one["bytes"]
        smallest = list(tx.log.list_streams(sort="size", reverse=True, limit=2))
        assert [r["stream_id"] for r in smallest] == ["Customer-7", "Order-2"]
        assert [r["stream_id"] for r in tx.log.list_streams(sort="stream", reverse=True)] == [
            "Order-2",
            "Order-1",
            "Customer-7",
        ]
        with pytest.raises(ValueError):
            list(tx.log.list_streams(sort="bytes"))
        sizes = tx.log.sizes_by_type()
        assert [(r["category"], r["event_type"], r["events"]) for r in sizes] == [
            ("Customer", "Registered", 1),
            ("Order", "OrderPaid", 1),
            ("Order", "OrderPlaced", 2),
            ("Order", "OrderShipped", 1),
        ]
        placed = sizes[2]
        assert placed["data_bytes"] + placed["metadata_bytes"] == 2 * one["bytes"]
        assert placed["largest_bytes"] == one["bytes"]
        first = next(tx.log.read_all(EventFilter(types=("OrderPlaced",))))
        assert placed["largest_id"] == first.event_id  # equal sizes: the first by position
        assert tx.log.sizes_by_type(sample_percent=100.0) == sizes
        tables = tx.log.relation_sizes()
    assert (tables == []) == (seeded.backend == "sqlite")


# --- live ---------------------------------------------------------------------------------


def test_live_head_and_batches_in_commit_order(seeded: Store) -> None:
    head = seeded.live.head()
    with seeded.reading() as tx:
        assert head.global_position == tx.log.head()
    batch = seeded.live.batch(START, EventFilter(), 2)
    assert [r["global_position"] for r in batch.rows] == [1, 2]
    last = batch.rows[-1]
    cursor = Cursor(int(last["transaction_id"] or 0), int(last["global_position"]))
    rest = seeded.live.batch(cursor, EventFilter(), 100)
    assert [r["global_position"] for r in rest.rows] == [3, 4, 5] and not rest.pending
    orders = seeded.live.batch(START, EventFilter(category="Order"), 100)
    assert [json.loads(r["event_data"])["n"] for r in orders.rows] == [1, 2, 4, 5]
    # Nothing matched after the last order, but everything was scanned up to the head.
    nothing = seeded.live.batch(START, EventFilter(types=("Nope",)), 100)
    assert nothing.rows == [] and nothing.scanned_to == head


def test_live_wait_returns_within_its_timeout_and_stop_is_idempotent(seeded: Store) -> None:
    started = time.monotonic()
    seeded.live.wait_for_change(0.2)
    assert time.monotonic() - started < 5
    seeded.live.stop()
    seeded.live.stop()
    seed_events(seeded, [("Order-3", "OrderPlaced", {"n": 6})])
    after = seeded.live.batch(seeded.live.head(), EventFilter(), 10)
    assert after.rows == []  # head is past the newest event
