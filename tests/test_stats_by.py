"""`stats --by` on esctl's own layout, on both backends: every grouping counts the same events,
sorted by its dimensions; a table by stream on a store large enough to estimate needs --exact."""

from __future__ import annotations

import json
from typing import Any

import pytest

from esctl.errors import UsageError
from esctl.read.stats import store_stats
from tests.support.data import seed_events
from tests.support.processes import run_cli
from tests.support.stores import Target

EVENTS: list[tuple[str, str, dict[str, Any]]] = [
    ("Order-1", "Placed", {}),
    ("Order-1", "Paid", {}),
    ("Order-2", "Placed", {}),
    ("Customer-1", "Registered", {}),
    ("Order-1", "Shipped", {}),
    ("Order-2", "Placed", {}),
]


def test_every_grouping_counts_the_same_events(initialised: Target) -> None:
    with initialised.open() as store:
        seed_events(store, EVENTS)

    def counts(by: str) -> list[tuple[object, ...]]:
        result = run_cli("stats", "--by", by, "-o", "json")
        assert result.exit_code == 0, result.stderr
        stats = json.loads(result.stdout)
        assert stats["by"] == by and stats["events"] == 6
        return [tuple(c.values()) for c in stats["counts"]]

    assert counts("type-stream") == [
        ("Paid", "Order-1", 1, 16.67),
        ("Placed", "Order-1", 1, 16.67),
        ("Placed", "Order-2", 2, 33.33),
        ("Registered", "Customer-1", 1, 16.67),
        ("Shipped", "Order-1", 1, 16.67),
    ]
    assert counts("stream-type")[0] == ("Customer-1", "Registered", 1, 16.67)
    assert counts("stream") == [
        ("Customer-1", 1, 16.67),
        ("Order-1", 3, 50.0),
        ("Order-2", 2, 33.33),
    ]
    assert counts("type-category") == [
        ("Paid", "Order", 1, 16.67),
        ("Placed", "Order", 3, 50.0),
        ("Registered", "Customer", 1, 16.67),
        ("Shipped", "Order", 1, 16.67),
    ]
    assert counts("category") == [("Customer", 1, 16.67), ("Order", 5, 83.33)]
    default = json.loads(run_cli("stats", "-o", "json").stdout)
    assert default["by"] == "category-type"
    first = default["counts"][0]
    assert (first["category"], first["event_type"]) == ("Customer", "Registered")
    table = run_cli("stats", "--by", "type-stream")
    assert "Events by type x stream" in table.stdout and "Order-2" in table.stdout
    csv = run_cli("stats", "--by", "stream", "-o", "csv")
    assert csv.stdout.splitlines() == [
        "stream_id,events,percent",
        "Customer-1,1,16.67",
        "Order-1,3,50.0",
        "Order-2,2,33.33",
    ]
    bad = run_cli("stats", "--by", "stream-category")
    assert bad.exit_code == 2
    watched = run_cli("stats", "--by", "type", "--watch", "--max-frames", "1")
    assert watched.exit_code == 2 and "--by does not go with --watch" in watched.stderr


@pytest.mark.postgres
def test_by_stream_on_a_store_that_estimates_needs_exact(pg_target: Target) -> None:
    """The catalog's estimate past the limit (0 here) is what makes `stats` estimate."""
    from esctl.admin.init import init_store

    with pg_target.open() as store:
        init_store(store)
        seed_events(store, EVENTS)
        with store.writing() as tx:
            tx.execute("ANALYZE {events}")
        with pytest.raises(UsageError, match=r"counts every event by stream .*add --exact"):
            store_stats(store, exact_limit=0, by="type-stream")
        sampled = store_stats(store, exact_limit=0, by="type")
        assert "counts" in sampled.estimated
        exact = store_stats(store, exact=True, exact_limit=0, by="type-stream")
        assert sum(c.events for c in exact.grouped or []) == 6 and not exact.estimated


def test_a_layout_without_grouped_counts_regroups_and_refuses_by_stream(store: Any) -> None:
    """A layout whose log has no `counts_grouped` (an adapter written before it): its counts by
    category and type are regrouped; by stream is refused with exit 2. The log here is the real
    one of the store, with only that method out of reach."""
    from types import SimpleNamespace

    from esctl.read.stats import _grouped

    seed_events(store, EVENTS)
    with store.reading() as tx:
        log = SimpleNamespace(counts_by_type=tx.log.counts_by_type)
        older = SimpleNamespace(log=log, layout=SimpleNamespace(name="older"))
        assert _grouped(older, "type", ("event_type",), None) == [  # type: ignore[arg-type]
            {"event_type": "Paid", "n": 1},
            {"event_type": "Placed", "n": 3},
            {"event_type": "Registered", "n": 1},
            {"event_type": "Shipped", "n": 1},
        ]
        with pytest.raises(UsageError, match="the older layout cannot count by stream"):
            _grouped(older, "stream", ("stream_id",), None)  # type: ignore[arg-type]
