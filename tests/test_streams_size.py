"""Where the bytes are: `streams list --sort` and `stats --by-size`, on both backends, with
events of known data and metadata sizes (a 10 kB event in one stream, non-ASCII text counted in
bytes), and the sampled path of a large PostgreSQL store (the threshold injected, not millions
of rows written)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from esctl.read import stats as stats_module
from esctl.read.sizes import store_sizes
from esctl.read.streams import list_streams, listing_sample
from esctl.store.base import Store
from tests.support.processes import run_cli
from tests.support.stores import Target

BIG_ID = str(uuid.uuid4())
T0 = datetime(2026, 1, 1, tzinfo=UTC)
# (stream, type, data, metadata, minutes after T0)
EVENTS: list[tuple[str, str, dict[str, Any], dict[str, Any], int]] = [
    ("Order-1", "OrderPlaced", {"n": 100001}, {}, 0),
    ("Big-1", "Upload", {"blob": "x" * 10_000}, {"who": "é"}, 1),
    ("Order-1", "OrderPaid", {"n": 100002}, {}, 2),
    ("Order-1", "OrderPaid", {"n": 100003}, {}, 3),
    ("Customer-1", "Registered", {"name": "Zoë"}, {"by": "admin"}, 4),
    ("Order-2", "OrderPlaced", {"note": "ü" * 50}, {}, 5),
]


def stored_bytes(store: Store, value: dict[str, Any]) -> int:
    """The UTF-8 bytes of the JSON text each engine keeps: SQLite the compact text esctl binds,
    PostgreSQL jsonb's own rendering (`{"k": "v"}`); one key per object, so no key order."""
    separators = (",", ":") if store.backend == "sqlite" else (", ", ": ")
    return len(json.dumps(value, ensure_ascii=False, separators=separators).encode("utf-8"))


def event_bytes(store: Store, event: tuple[str, str, dict[str, Any], dict[str, Any], int]) -> int:
    return stored_bytes(store, event[2]) + (stored_bytes(store, event[3]) if event[3] else 2)


def seed(store: Store) -> None:
    from esctl.values import category_of

    with store.writing() as session:
        for stream_id, event_type, data, metadata, minutes in EVENTS:
            version = session.fetchval(
                "SELECT coalesce(max(version), 0) + 1 FROM {events} WHERE stream_id = %s",
                [stream_id],
            )
            session.execute(
                "INSERT INTO {events} (id, stream_id, stream_type, event_type, event_data, "
                "metadata, version, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    BIG_ID if stream_id == "Big-1" else str(uuid.uuid4()),
                    stream_id,
                    category_of(stream_id),
                    event_type,
                    session.json_param(data),
                    session.json_param(metadata),
                    version,
                    session.time_param(T0 + timedelta(minutes=minutes)),
                ],
            )


@pytest.fixture
def seeded(store: Store) -> Store:
    seed(store)
    return store


def ids(rows: Any) -> list[str]:
    return [r["stream_id"] for r in rows]


def test_streams_sort_by_size_events_last_and_stream(seeded: Store) -> None:
    by_size = list(list_streams(seeded, sort="size"))
    assert ids(by_size) == ["Big-1", "Order-2", "Order-1", "Customer-1"]
    big = by_size[0]
    big_event = EVENTS[1]
    assert big["data_bytes"] == stored_bytes(seeded, big_event[2]) >= 10_000
    assert big["metadata_bytes"] == stored_bytes(seeded, big_event[3])
    assert big["bytes"] == big["data_bytes"] + big["metadata_bytes"]
    order_2 = by_size[1]
    assert order_2["data_bytes"] == stored_bytes(seeded, EVENTS[5][2])  # bytes, not characters
    assert order_2["data_bytes"] > 100
    order_1 = next(r for r in by_size if r["stream_id"] == "Order-1")
    assert order_1["bytes"] == sum(event_bytes(seeded, e) for e in EVENTS if e[0] == "Order-1")
    assert ids(list_streams(seeded, sort="size", reverse=True)) == ids(by_size)[::-1]
    # One stream of three events, then the single-event streams in id order.
    assert ids(list_streams(seeded, sort="events")) == ["Order-1", "Big-1", "Customer-1", "Order-2"]
    assert ids(list_streams(seeded, sort="last")) == ["Order-2", "Customer-1", "Order-1", "Big-1"]
    assert ids(list_streams(seeded, sort="stream")) == ["Big-1", "Customer-1", "Order-1", "Order-2"]
    assert ids(list_streams(seeded, sort="stream", reverse=True)) == [
        "Order-2",
        "Order-1",
        "Customer-1",
        "Big-1",
    ]
    assert ids(list_streams(seeded, sort="size", limit=2)) == ["Big-1", "Order-2"]
    assert ids(list_streams(seeded, sort="size", category="Order")) == ["Order-2", "Order-1"]
    # The id order still pages, and carries the byte columns too.
    page = list(list_streams(seeded, after="Customer-1", limit=1))
    assert ids(page) == ["Order-1"] and page[0]["bytes"] == order_1["bytes"]
    assert listing_sample(seeded, sort="size") is None  # small store / SQLite: exact


def test_sort_of_an_empty_store(store: Store) -> None:
    assert list(list_streams(store, sort="size")) == []
    sizes = store_sizes(store)
    assert sizes.by_type == [] and sizes.largest is None
    assert sizes.to_dict()["largest_event"] is None


def test_by_size_totals_equal_what_was_written_and_find_the_largest(seeded: Store) -> None:
    sizes = store_sizes(seeded)
    assert sizes.estimated is False and sizes.sample_percent is None
    by_type = {(g.category, g.event_type): g for g in sizes.by_type}
    assert set(by_type) == {
        ("Big", "Upload"),
        ("Customer", "Registered"),
        ("Order", "OrderPaid"),
        ("Order", "OrderPlaced"),
    }
    for (category, event_type), group in by_type.items():
        written = [e for e in EVENTS if e[1] == event_type and e[0].startswith(category)]
        assert group.events == len(written)
        assert group.data_bytes == sum(stored_bytes(seeded, e[2]) for e in written)
        assert group.bytes == sum(event_bytes(seeded, e) for e in written)
        assert group.largest_bytes == max(event_bytes(seeded, e) for e in written)
    big = by_type[("Big", "Upload")]
    assert (big.largest_id, big.largest_stream_id) == (BIG_ID, "Big-1")
    placed = by_type[("Order", "OrderPlaced")]
    assert placed.largest_stream_id == "Order-2"  # the 50 ü outweigh Order-1's number
    assert placed.avg_bytes == round(placed.bytes / 2)
    record = sizes.to_dict()
    assert record["largest_event"] == {
        "id": BIG_ID,
        "stream_id": "Big-1",
        "event_type": "Upload",
        "bytes": event_bytes(seeded, EVENTS[1]),
    }
    order = next(c for c in record["by_category"] if c["category"] == "Order")
    assert order["events"] == 4
    assert order["bytes"] == sum(event_bytes(seeded, e) for e in EVENTS if e[0].startswith("Order"))
    if seeded.backend == "postgresql":
        tables = {t["table"]: t for t in record["tables"]}
        assert set(tables) == {"events", "snapshots", "subscription_checkpoints"}
        events = tables["events"]
        assert events["total_bytes"] == (
            events["table_bytes"] + events["toast_bytes"] + events["index_bytes"]
        )
        assert events["table_bytes"] > 0 and events["index_bytes"] > 0
    else:
        assert record["tables"] == []


def test_cli_sort_and_by_size(initialised: Target) -> None:
    with initialised.open() as store:
        seed(store)
        big_bytes = event_bytes(store, EVENTS[1])
    listed = run_cli("streams", "list", "--sort", "size", "-o", "json")
    assert listed.exit_code == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert ids(rows) == ["Big-1", "Order-2", "Order-1", "Customer-1"]
    assert rows[0]["bytes"] == big_bytes and "estimated" not in rows[0]
    csv = run_cli("streams", "list", "--sort", "events", "-o", "csv").stdout.splitlines()
    assert csv[0] == (
        "stream_id,stream_type,version,events,bytes,data_bytes,metadata_bytes,last_event_at"
    )
    assert csv[1].startswith("Order-1,Order,3,3,")
    table = run_cli("streams", "list", "--sort", "size", "--limit", "1")
    assert table.exit_code == 0 and "Big-1" in table.stdout and "10.0 kB" in table.stdout
    assert "Order-2" not in table.stdout and "--after" not in table.stderr
    stats = json.loads(run_cli("stats", "--by-size", "-o", "json").stdout)
    assert stats["sizes"]["largest_event"]["id"] == BIG_ID
    assert stats["sizes"]["largest_event"]["bytes"] == big_bytes
    assert stats["sizes"]["estimated"] is False and stats["estimated"] is False
    shown = run_cli("stats", "--by-size")
    assert shown.exit_code == 0 and "Bytes by category x type" in shown.stdout
    assert BIG_ID in shown.stdout
    csv = run_cli("stats", "--by-size", "-o", "csv").stdout.splitlines()
    assert csv[0].startswith("category,event_type,events,bytes,")
    assert any(line.startswith("Big,Upload,1,") and BIG_ID in line for line in csv)
    plain = json.loads(run_cli("stats", "-o", "json").stdout)
    assert "sizes" not in plain  # --by-size only when asked: it reads every event
    assert stats["counts"] == plain["counts"]  # the counts by type from the sizes' own scan
    assert stats["events"] == plain["events"] == len(EVENTS)


def test_cli_refuses_a_bad_sort_and_after_with_a_ranking(initialised: Target) -> None:
    bad = run_cli("streams", "list", "--sort", "bytes")
    assert bad.exit_code == 2 and "'bytes' is not one of" in bad.stderr
    after = run_cli("streams", "list", "--sort", "size", "--after", "Order-1")
    assert after.exit_code == 2
    assert after.stderr.splitlines()[0] == "Error: --after pages the id order only, not --sort size"


@pytest.mark.postgres
def test_a_large_postgresql_store_is_sampled_and_says_so(
    pg_target: Target, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from esctl.admin.init import init_store

    with pg_target.open() as store:
        init_store(store)
        seed(store)
        with store.writing() as session:
            session.execute("ANALYZE {events}")
        # The threshold injected: 6 rows in the catalog count as "large" above 1.
        sizes = store_sizes(store, exact_limit=1)
        assert sizes.estimated and sizes.sample_percent == 100.0  # a 100 % sample of 6 rows
        record = sizes.to_dict()
        assert record["estimated"] is True and record["sample_percent"] == 100.0
        assert {c["category"] for c in record["by_category"]} == {"Big", "Customer", "Order"}
        assert store_sizes(store, exact=True, exact_limit=1).estimated is False
        percent = listing_sample(store, sort="size", exact_limit=1)
        assert percent == 100.0
        assert listing_sample(store, sort="stream", exact_limit=1) is None
        assert listing_sample(store, sort="size", exact=True, exact_limit=1) is None
        rows = list(list_streams(store, sort="size", sample_percent=percent))
        assert ids(rows)[0] == "Big-1"
        assert all(r["estimated"] is True and r["sample_percent"] == 100.0 for r in rows)
    from tests.support.data import write_config

    config = write_config(
        tmp_path / "pg.yaml", {"pg": {"store": pg_target.url, "schema": pg_target.schema}}
    )
    monkeypatch.setenv("ESCTL_CONFIG", str(config))
    monkeypatch.setenv("ESCTL_PROFILE", "pg")
    monkeypatch.setattr(stats_module, "EXACT_LIMIT", 1)
    listed = run_cli("streams", "list", "--sort", "size")
    assert listed.exit_code == 0, listed.stderr
    assert "Estimated from a 100% sample; --exact for a full scan." in listed.stderr
    assert "~" in listed.stdout
    exact = run_cli("streams", "list", "--sort", "size", "--exact", "-o", "json")
    assert "Estimated" not in exact.stderr and "estimated" not in json.loads(exact.stdout)[0]
    shown = run_cli("stats", "--by-size")
    assert "estimated from a 100% sample; --exact for a full scan" in shown.stdout
    assert "Big" in shown.stdout and "Customer" in shown.stdout
    as_json = json.loads(run_cli("stats", "--by-size", "-o", "json").stdout)
    assert as_json["estimated"] is True and as_json["sizes"]["estimated"] is True
    assert as_json["sizes"]["sample_percent"] == 100.0
    assert "sizes" in as_json["estimated_figures"]
    exact_stats = json.loads(run_cli("stats", "--by-size", "--exact", "-o", "json").stdout)
    assert exact_stats["sizes"]["estimated"] is False and exact_stats["estimated"] is False
