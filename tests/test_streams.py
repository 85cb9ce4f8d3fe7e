"""streams list|show and stats, on both backends."""

from __future__ import annotations

import json

import pytest

from esctl.errors import NotFound
from esctl.read import stats as stats_module
from esctl.read.stats import store_stats
from esctl.read.streams import list_streams, show_stream
from esctl.store.base import Store
from tests.support.data import seed_events
from tests.support.processes import run_cli
from tests.support.stores import Target

EVENTS = [
    ("Order-1", "OrderPlaced", {}),
    ("Order-1", "OrderPaid", {}),
    ("Order-2", "OrderPlaced", {}),
    ("Customer-1", "CustomerRegistered", {}),
    ("Order-3", "OrderPlaced", {}),
    ("Order-1", "OrderPaid", {}),
]


@pytest.fixture
def seeded(store: Store) -> Store:
    seed_events(store, EVENTS)
    return store


def test_streams_list_pages_with_after(seeded: Store) -> None:
    page1 = list(list_streams(seeded, limit=2))
    assert [r["stream_id"] for r in page1] == ["Customer-1", "Order-1"]
    assert page1[1]["version"] == 3 and page1[1]["events"] == 3
    assert page1[1]["stream_type"] == "Order"
    page2 = list(list_streams(seeded, after=page1[-1]["stream_id"], limit=2))
    assert [r["stream_id"] for r in page2] == ["Order-2", "Order-3"]
    orders = list(list_streams(seeded, category="Order"))
    assert [r["stream_id"] for r in orders] == ["Order-1", "Order-2", "Order-3"]


def test_streams_show(seeded: Store) -> None:
    info = show_stream(seeded, "Order-1")
    assert (info.version, info.events) == (3, 3)
    assert info.counts_by_type == {"OrderPaid": 2, "OrderPlaced": 1}
    assert info.snapshot_version is None
    assert info.first_event_at <= info.last_event_at
    with pytest.raises(NotFound):
        show_stream(seeded, "Order-9")


def test_stats_exact(seeded: Store) -> None:
    result = store_stats(seeded)
    assert result.estimated == []
    assert (result.events, result.streams) == (6, 4)
    assert result.head_position >= 6
    counts = {(c.category, c.event_type): c.events for c in result.counts}
    assert counts == {
        ("Customer", "CustomerRegistered"): 1,
        ("Order", "OrderPaid"): 2,
        ("Order", "OrderPlaced"): 3,
    }
    assert sum(c.percent for c in result.counts) == pytest.approx(100.0)


@pytest.mark.postgres
def test_stats_estimates_on_a_large_postgresql_store_and_says_so(
    pg_target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    from esctl.admin.init import init_store

    with pg_target.open() as store:
        init_store(store)
        seed_events(store, EVENTS * 50)
        with store.writing() as session:
            session.execute("ANALYZE {events}")
        monkeypatch.setattr(stats_module, "EXACT_LIMIT", 100)
        result = store_stats(store)
        assert result.estimated == ["events", "streams", "counts"]
        assert result.to_dict()["estimated"] is True
        assert 200 <= result.events <= 400  # the catalog's estimate of 300 rows
        assert result.streams is not None and 1 <= result.streams <= 10
        assert {c.event_type for c in result.counts} <= {
            "OrderPlaced",
            "OrderPaid",
            "CustomerRegistered",
        }
        exact = store_stats(store, exact=True)
        assert exact.estimated == [] and exact.events == 300


def test_cli_streams_and_stats(initialised: Target) -> None:
    with initialised.open() as store:
        seed_events(store, EVENTS)
    listed = run_cli("streams", "list", "--limit", "2")
    assert listed.exit_code == 0
    assert "Order-1" in listed.stdout and "Order-2" not in listed.stdout
    assert "next page: --after Order-1" in listed.stderr
    as_json = json.loads(run_cli("streams", "list", "-o", "json").stdout)
    assert [s["stream_id"] for s in as_json] == ["Customer-1", "Order-1", "Order-2", "Order-3"]
    assert set(as_json[0]) == {
        "stream_id",
        "stream_type",
        "version",
        "events",
        "last_event_at",
        "data_bytes",
        "metadata_bytes",
        "bytes",
    }
    shown = json.loads(run_cli("streams", "show", "Order-1", "-o", "json").stdout)
    assert shown["counts_by_type"] == {"OrderPaid": 2, "OrderPlaced": 1}
    absent = run_cli("streams", "show", "Order-9")
    assert absent.exit_code == 4
    assert absent.stderr.splitlines()[0] == "Error: stream 'Order-9' not found"
    stats = json.loads(run_cli("stats", "-o", "json").stdout)
    assert stats["events"] == 6 and stats["estimated"] is False
    table = run_cli("stats")
    assert table.exit_code == 0 and "category x type" in table.stdout
    assert "50.0%" in table.stdout  # OrderPlaced: 3 of 6
