"""read, events show: the library on both backends, and the command line."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from esctl.errors import NotFound, UsageError
from esctl.read.events import (
    EventFilter,
    get_event,
    read_all,
    read_all_json,
    read_stream,
)
from esctl.store.base import Store
from esctl.timeparse import parse_duration, parse_time_arg
from tests.support.data import seed_events
from tests.support.processes import run_cli
from tests.support.stores import Target

EVENTS = [
    ("Order-1", "OrderPlaced", {"total": 10}),
    ("Order-2", "OrderPlaced", {"total": 20}),
    ("Order-1", "OrderPaid", {"amount": 10}),
    ("Customer-7", "CustomerRegistered", {"name": 'Zoë "q" \\ \n'}),
    ("Order-1", "OrderShipped", {}),
    ("Orderly-3", "OrderPlaced", {"total": 1.5, "nested": {"a": [1, None, True]}}),
    ("Order", "OrderPlaced", {"bare": 1}),
]


@pytest.fixture
def seeded(store: Store) -> Store:
    seed_events(store, EVENTS)
    return store


def test_read_stream_in_version_order_and_backwards(seeded: Store) -> None:
    events = list(read_stream(seeded, "Order-1"))
    assert [(e.version, e.event_type) for e in events] == [
        (1, "OrderPlaced"),
        (2, "OrderPaid"),
        (3, "OrderShipped"),
    ]
    back = list(read_stream(seeded, "Order-1", backwards=True, limit=2))
    assert [e.version for e in back] == [3, 2]
    assert [e.version for e in read_stream(seeded, "Order-1", from_version=2)] == [2, 3]
    assert [e.version for e in read_stream(seeded, "Order-1", from_version=2, backwards=True)] == [
        2,
        1,
    ]


def test_read_stream_of_a_missing_stream_is_not_found(seeded: Store) -> None:
    with pytest.raises(NotFound, match="stream 'Order-9' not found"):
        list(read_stream(seeded, "Order-9"))


def test_read_all_filters(seeded: Store) -> None:
    everything = list(read_all(seeded))
    positions = [e.global_position for e in everything]
    assert positions == sorted(positions) and len(positions) == len(EVENTS)
    orders = list(read_all(seeded, EventFilter(category="Order")))
    # `Orderly-3` is another category; the bare stream `Order` is in it.
    assert {e.stream_id for e in orders} == {"Order-1", "Order-2", "Order"}
    placed = list(read_all(seeded, EventFilter(types=("OrderPlaced", "OrderPaid"))))
    assert [e.event_type for e in placed].count("OrderPaid") == 1
    assert len(placed) == 5
    third = positions[2]
    assert [e.global_position for e in read_all(seeded, from_position=third, limit=2)] == [
        third,
        positions[3],
    ]
    future = datetime.now(UTC) + timedelta(hours=1)
    assert list(read_all(seeded, EventFilter(since=future))) == []
    assert len(list(read_all(seeded, EventFilter(until=future)))) == len(EVENTS)


def test_category_filter_treats_wildcards_as_data(store: Store) -> None:
    seed_events(store, [("a_c-1", "X", {}), ("abc-1", "X", {}), ("A%C-1", "X", {})])
    assert [e.stream_id for e in read_all(store, EventFilter(category="a_c"))] == ["a_c-1"]
    assert list(read_all(store, EventFilter(category="a%c"))) == []


def test_json_fast_path_matches_the_event_format(seeded: Store) -> None:
    with seeded.writing() as session:  # a whole-second time, a stream id that needs escaping
        session.execute(
            "INSERT INTO {events} (id, stream_id, stream_type, event_type, event_data, metadata, "
            "version, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [
                "5f1c0a7e-1b2c-4d3e-8f90-123456789abc",
                'Odd-"é\\x',
                "Odd",
                "T\t",
                session.json_param({"k": "\u0001 ✓"}),
                session.json_param({"c": 1}),
                1,
                session.time_param(datetime(2026, 1, 1, tzinfo=UTC)),
            ],
        )
    slow = [e.to_dict() for e in read_all(seeded)]
    chunks = list(read_all_json(seeded))
    assert all(chunk.endswith(b"\n") for chunk in chunks)
    fast = [json.loads(line) for line in b"".join(chunks).splitlines()]
    assert fast == slow


def test_get_event(seeded: Store) -> None:
    first = next(read_all(seeded))
    assert get_event(seeded, first.event_id) == first
    with pytest.raises(NotFound):
        get_event(seeded, "00000000-0000-0000-0000-000000000000")
    with pytest.raises(NotFound):
        get_event(seeded, "not-a-uuid")


def test_parse_time_arg() -> None:
    now = datetime(2026, 5, 1, 12, tzinfo=UTC)
    assert parse_time_arg("2h", "--since", now=now) == datetime(2026, 5, 1, 10, tzinfo=UTC)
    assert parse_time_arg("2026-05-01T10:00:00Z", "--since") == datetime(2026, 5, 1, 10, tzinfo=UTC)
    assert parse_time_arg("2026-05-01", "--since") == datetime(2026, 5, 1, tzinfo=UTC)
    with pytest.raises(UsageError, match="--since: 'yesterday' is not a time"):
        parse_time_arg("yesterday", "--since")
    assert parse_time_arg("90s", "--to-time", now=now) == datetime(
        2026, 5, 1, 11, 58, 30, tzinfo=UTC
    )
    with pytest.raises(UsageError):
        parse_time_arg("90", "--since")  # a bare number is neither a time nor a duration ago


def test_one_duration_syntax_everywhere() -> None:
    assert parse_duration("500ms", "--x") == 0.5
    assert parse_duration("10m", "--x") == parse_duration("10min", "--x") == 600
    assert parse_duration("90", "--stale-after") == 90
    with pytest.raises(UsageError):
        parse_duration("90", "--x", bare_unit=None)


# --- command line ------------------------------------------------------------------------------


@pytest.fixture
def cli_store(initialised: Target) -> Target:
    with initialised.open() as store:
        seed_events(store, EVENTS)
    return initialised


def test_cli_read_stream_formats(cli_store: Target) -> None:
    table = run_cli("read", "Order-1")
    assert table.exit_code == 0, table.stderr
    assert "OrderSh" in table.stdout and "Order-2" not in table.stdout
    lines = run_cli("read", "Order-1", "-o", "jsonl").stdout.splitlines()
    assert [json.loads(line)["version"] for line in lines] == [1, 2, 3]
    array = json.loads(run_cli("read", "--all", "-o", "json", "--type", "OrderPaid").stdout)
    assert [e["event_type"] for e in array] == ["OrderPaid"]
    csv_out = run_cli("read", "--all", "-o", "csv", "--category", "Customer").stdout.splitlines()
    assert csv_out[0] == "global_position,stream_id,version,event_type,created_at,data"
    assert len(csv_out) >= 2 and "Customer-7" in csv_out[1]


def test_cli_read_limit_cuts_with_a_note(cli_store: Target) -> None:
    result = run_cli("read", "--all", "--limit", "2", "-o", "jsonl")
    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == 2
    assert "Showing the first 2 rows" in result.stderr
    array = run_cli("read", "--all", "--limit", "3", "-o", "json")
    assert [e["global_position"] for e in json.loads(array.stdout)] == [
        json.loads(line)["global_position"]
        for line in run_cli("read", "--all", "-o", "jsonl").stdout.splitlines()[:3]
    ]
    whole = run_cli("read", "--all", "--limit", "50", "-o", "jsonl")
    assert len(whole.stdout.splitlines()) == len(EVENTS)
    assert "Showing" not in whole.stderr


def test_cli_read_output_round_trips_as_event_input(cli_store: Target) -> None:
    for line in run_cli("read", "--all", "-o", "jsonl").stdout.splitlines():
        event = json.loads(line)
        assert {"stream_id", "event_type", "data", "metadata", "event_id"} <= set(event)
        assert isinstance(event["data"], dict)
        assert event["created_at"].endswith("Z")


def test_cli_read_errors(cli_store: Target) -> None:
    missing = run_cli("read", "Nope-1")
    assert missing.exit_code == 4
    assert missing.stderr.splitlines()[0] == "Error: stream 'Nope-1' not found"
    both = run_cli("read", "Order-1", "--all")
    assert both.exit_code == 2
    assert both.stderr.splitlines()[0] == "Error: give a STREAM or --all (not both)"
    misplaced = run_cli("read", "Order-1", "--category", "Order")
    assert misplaced.exit_code == 2
    assert misplaced.stderr.splitlines()[0] == "Error: --category works only with --all"
    bad_time = run_cli("read", "--all", "--since", "soon")
    assert bad_time.exit_code == 2
    assert bad_time.stderr.splitlines()[0] == "Error: --since: 'soon' is not a time"


def test_cli_events_show(cli_store: Target) -> None:
    first = json.loads(run_cli("read", "--all", "-o", "jsonl", "--limit", "1").stdout)
    shown = run_cli("events", "show", first["event_id"], "-o", "json")
    assert shown.exit_code == 0
    assert json.loads(shown.stdout) == first
    absent = run_cli("events", "show", "00000000-0000-0000-0000-000000000000")
    assert absent.exit_code == 4
    assert absent.stderr.splitlines()[0] == (
        "Error: event '00000000-0000-0000-0000-000000000000' not found"
    )


@pytest.mark.postgres
def test_read_runs_in_a_read_only_transaction_with_the_statement_timeout(
    pg_target: Target,
) -> None:
    from esctl.admin.init import init_store

    with pg_target.open() as store:
        init_store(store)
        seed_events(store, EVENTS)
    with pg_target.open(write=False, statement_timeout_ms=1234) as store, store.reading() as s:
        assert s.fetchval("SELECT current_setting('transaction_read_only')") == "on"
        assert s.fetchval("SELECT current_setting('statement_timeout')") == "1234ms"
    with pg_target.open(write=False) as store:
        assert len(list(read_all(store))) == len(EVENTS)
