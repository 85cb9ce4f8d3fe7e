"""`esctl streams state`, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from esctl.reducers import ReducerChoice
from esctl.snapshots.reducers import deep_merge
from tests.support.data import seed_events
from tests.support.processes import run_cli
from tests.support.stores import Target

EVENTS = [
    ("Order-1", "Placed", {"status": "placed", "total": 10}),
    ("Order-1", "Noted", {"note": "gift"}),
    ("Order-1", "Paid", {"status": "paid", "note": None}),
    ("Order-1", "Shipped", {"status": "shipped", "address": {"city": "Oslo"}}),
]


def fold(n: int) -> dict:
    state: dict = {}
    for _, _, data in EVENTS[:n]:
        state = deep_merge(state, data)
    return state


@pytest.fixture
def orders(initialised: Target) -> Target:
    with initialised.open() as store:
        seed_events(store, EVENTS)
    return initialised


def state_json(*args: str) -> dict:
    result = run_cli("streams", "state", "Order-1", "-o", "json", *args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_state_at_each_version_is_the_fold(orders: Target) -> None:
    assert state_json() == fold(4)
    for n in range(5):
        assert state_json("--at-version", str(n)) == fold(n)


def test_a_snapshot_below_the_target_is_the_start_and_one_above_is_not(orders: Target) -> None:
    assert run_cli("snapshots", "rebuild", "Order-1").exit_code == 0
    rebuilt = json.loads(run_cli("snapshots", "show", "Order-1", "-o", "json").stdout)
    result = run_cli("streams", "state", "Order-1", "-o", "json")
    assert json.loads(result.stdout) == rebuilt["snapshot_data"] == fold(4)
    assert "Started from the snapshot at version 4." in result.stderr
    below = run_cli("streams", "state", "Order-1", "--at-version", "2", "-o", "json")
    assert json.loads(below.stdout) == fold(2)
    assert "snapshot" not in below.stderr


def test_a_tampered_snapshot_shows_it_is_used_and_no_snapshot_ignores_it(orders: Target) -> None:
    with orders.open() as store, store.writing() as session:
        session.execute(
            "INSERT INTO {snapshots} (stream_id, stream_type, snapshot_data, version, created_at) "
            "VALUES (%s, %s, %s, %s, %s)",
            [
                "Order-1",
                "Order",
                session.json_param({"from": "snapshot"}),
                2,
                session.time_param(__import__("datetime").datetime.now(__import__("datetime").UTC)),
            ],
        )
    used = state_json("--at-version", "3")
    assert used == deep_merge({"from": "snapshot"}, EVENTS[2][2])
    assert state_json("--at-version", "3", "--no-snapshot") == fold(3)
    assert state_json("--at-version", "1") == fold(1)


def test_state_at_a_time(orders: Target) -> None:
    events = json.loads(run_cli("read", "Order-1", "-o", "json").stdout)
    third = events[2]["created_at"]
    assert state_json("--at", third) == state_json(
        "--at-version", str(max(e["version"] for e in events if e["created_at"] <= third))
    )
    assert state_json("--at", "1970-01-01T00:00:00Z") == {}


def test_changes_lists_added_changed_removed(orders: Target) -> None:
    result = run_cli("streams", "state", "Order-1", "--changes", "-o", "json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["version"] for r in rows] == [1, 2, 3, 4]
    assert rows[0]["added"] == ["status", "total"]
    assert rows[2]["changed"] == ["status"] and rows[2]["removed"] == ["note"]
    assert rows[3]["added"] == ["address"]
    assert '~ status: "placed" → "paid"' in rows[2]["diff"]
    jsonl = run_cli("streams", "state", "Order-1", "--changes", "-o", "jsonl")
    assert len(jsonl.stdout.splitlines()) == 4
    table = run_cli("streams", "state", "Order-1", "--changes")
    assert table.exit_code == 0 and "Shipped" in table.stdout


def test_errors(orders: Target) -> None:
    missing = run_cli("streams", "state", "Order-9")
    assert missing.exit_code == 4 and "Error: stream 'Order-9' not found" in missing.stderr
    beyond = run_cli("streams", "state", "Order-1", "--at-version", "9")
    assert beyond.exit_code == 4 and "has no version 9 (its last is 4)" in beyond.stderr
    both = run_cli("streams", "state", "Order-1", "--at-version", "1", "--at", "1h")
    assert both.exit_code == 2 and "not both" in both.stderr
    assert run_cli("streams", "state", "Order-1", "--at-version", "-1").exit_code == 2
    assert run_cli("streams", "state", "Order-1", "--at", "yesterday").exit_code == 2
    assert run_cli("streams", "state", "Order-1", "--reducer", "nope").exit_code == 2


def test_library_unused_import_guard() -> None:
    assert ReducerChoice().for_stream_type("X").name == "merge"


def test_a_snapshot_is_not_used_with_another_reducer(orders: Target, tmp_path) -> None:
    assert run_cli("snapshots", "rebuild", "Order-1").exit_code == 0
    (tmp_path / "count.py").write_text(
        "def count(state, event):\n    return {'n': (state or {}).get('n', 0) + 1}\n"
    )
    result = run_cli(
        "streams", "state", "Order-1", "-o", "json", "-r", str(tmp_path / "count.py") + ":count"
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"n": 4}
    assert "was not used: --reducer" in result.stderr
    same = run_cli("streams", "state", "Order-1", "-r", "merge")
    assert "Started from the snapshot at version 4." in same.stderr
