"""esctl.read.trace (library; the `esctl trace` command is not wired yet): a causation tree of
3 levels across 3 streams plus an orphan and a cycle, on both engines."""

from __future__ import annotations

import json
import uuid

import pytest

from esctl.errors import NotFound
from esctl.read.trace import trace
from esctl.store.base import Store


def _write(store: Store, rows: list[tuple[str, str, str, dict[str, str]]]) -> None:
    cast = "CAST(%s AS jsonb)" if store.backend == "postgresql" else "%s"
    with store.writing() as session:
        for event_id, stream, event_type, metadata in rows:
            version = session.fetchval(
                "SELECT coalesce(max(version), 0) + 1 FROM {events} WHERE stream_id = %s", [stream]
            )
            session.execute(
                "INSERT INTO {events} (id, stream_id, stream_type, event_type, event_data, "
                f"metadata, version) VALUES (%s, %s, %s, %s, {cast}, {cast}, %s)",
                [
                    event_id,
                    stream,
                    stream.split("-")[0],
                    event_type,
                    "{}",
                    json.dumps(metadata),
                    version,
                ],
            )


def test_trace_tree_across_streams_with_an_orphan_and_a_cycle(store: Store) -> None:
    ids = [str(uuid.uuid4()) for _ in range(8)]
    root, child_a, child_b, grandchild, orphan, other, cyc1, cyc2 = ids
    missing = str(uuid.uuid4())
    corr = "req-1"
    _write(
        store,
        [
            (root, "Order-1", "OrderPlaced", {"correlation_id": corr}),
            (other, "Order-9", "Unrelated", {"correlation_id": "req-2"}),
            (child_a, "Payment-1", "PaymentTaken", {"correlation_id": corr, "causation_id": root}),
            (child_b, "Stock-1", "StockReserved", {"correlation_id": corr, "causation_id": root}),
            (
                grandchild,
                "Payment-1",
                "ReceiptSent",
                {"correlation_id": corr, "causation_id": child_a},
            ),
            (orphan, "Stock-1", "StockLow", {"correlation_id": corr, "causation_id": missing}),
            (cyc1, "Order-1", "Loop", {"correlation_id": corr, "causation_id": cyc2}),
            (cyc2, "Order-1", "Loop", {"correlation_id": corr, "causation_id": cyc1}),
        ],
    )
    for identifier in (root, corr, grandchild):
        result = trace(store, identifier)
        shape = [(t.event.event_id, t.parent_event_id, t.depth, t.note) for t in result.events]
        assert shape == [
            (root, None, 0, None),
            (child_a, root, 1, None),
            (grandchild, child_a, 2, None),
            (child_b, root, 1, None),
            (orphan, None, 0, f"parent {missing} not found"),
            (cyc1, None, 0, "in a causation cycle"),
            (cyc2, cyc1, 1, None),
        ], identifier
        assert {t.event.stream_id for t in result.events} == {"Order-1", "Payment-1", "Stock-1"}
        assert result.events[1].to_dict()["parent_event_id"] == root
    cut = trace(store, corr, limit=2)
    assert cut.cut and len(cut.events) == 2
    with pytest.raises(NotFound):
        trace(store, "req-none")
    with pytest.raises(NotFound):
        trace(store, str(uuid.uuid4()))
