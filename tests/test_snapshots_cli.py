"""`esctl snapshots …` on the command line, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support.data import seed_events, write_config
from tests.support.processes import run_cli, run_process
from tests.support.stores import Target
from tests.test_snapshots import seed_orders, write_failing_reducer


@pytest.fixture
def orders(initialised: Target) -> Target:
    with initialised.open() as store:
        seed_orders(store)
    return initialised


def test_rebuild_all_prints_a_summary_then_a_second_run_is_all_unchanged(orders: Target) -> None:
    first = run_cli("snapshots", "rebuild", "--all")
    assert first.exit_code == 0, first.stderr
    assert "rebuilt   │       3" in first.stdout
    assert "Replayed 6 events of 3 streams" in first.stderr
    second = run_cli("snapshots", "rebuild", "--all", "-o", "json")
    assert second.exit_code == 0
    rows = json.loads(second.stdout)
    assert {r["status"] for r in rows} == {"unchanged"} and len(rows) == 3


def test_rebuild_one_stream_and_a_type_as_json(orders: Target) -> None:
    one = run_cli("snapshots", "rebuild", "Order-2", "-o", "jsonl")
    assert one.exit_code == 0
    assert [json.loads(line)["stream_id"] for line in one.stdout.splitlines()] == ["Order-2"]
    typed = run_cli("snapshots", "rebuild", "--stream-type", "Order", "-o", "json")
    statuses = {r["stream_id"]: r["status"] for r in json.loads(typed.stdout)}
    assert statuses == {"Order-1": "rebuilt", "Order-2": "unchanged"}


def test_a_failing_reducer_is_printed_the_run_goes_on_and_exits_1(
    orders: Target, tmp_path: Path
) -> None:
    result = run_cli("snapshots", "rebuild", "--all", "--reducer", write_failing_reducer(tmp_path))
    assert result.exit_code == 1
    assert (
        "Failed: Order-1: reducer " in result.stderr
        and "failed at version 2 (Paid): ValueError: cannot pay Order-1" in result.stderr
    )
    assert "Error: 1 of 3 streams failed to rebuild" in result.stderr
    assert "rebuilt   │       2" in result.stdout and "failed    │       1" in result.stdout
    listed = json.loads(run_cli("snapshots", "list", "-o", "json").stdout)
    assert [s["stream_id"] for s in listed] == ["Customer-1", "Order-2"]


def test_dry_run_lists_what_would_change(orders: Target) -> None:
    result = run_cli("snapshots", "rebuild", "--stream-type", "Order", "--dry-run")
    assert result.exit_code == 0
    assert "Would rebuild" in result.stdout and "Order-1" in result.stdout
    assert "Dry run: nothing was written." in result.stderr
    assert json.loads(run_cli("snapshots", "list", "-o", "json").stdout) == []


def test_profile_reducers_apply_per_stream_type(
    orders: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "count.py").write_text(
        "def count(state, event):\n    return {'events': (state or {}).get('events', 0) + 1}\n"
    )
    config = write_config(
        tmp_path / "reducers.yaml",
        {
            "r": {
                "store": orders.url,
                "schema": orders.schema,
                "reducers": {"Order": "./count.py:count"},
            }
        },
    )
    result = run_cli("-c", str(config), "-p", "r", "snapshots", "rebuild", "--all")
    assert result.exit_code == 0, result.stderr
    shown = json.loads(run_cli("snapshots", "show", "Order-1", "-o", "json").stdout)
    assert (shown["snapshot_data"], shown["version"]) == ({"events": 3}, 3)
    customer = json.loads(run_cli("snapshots", "show", "Customer-1", "-o", "json").stdout)
    assert customer["snapshot_data"] == {"name": "Ada"}


def test_verify_exits_1_on_drift_and_0_once_rebuilt(orders: Target) -> None:
    drift = run_cli("snapshots", "verify", "--all", "-o", "json")
    assert drift.exit_code == 1
    assert {r["drift"] for r in json.loads(drift.stdout)} == {"missing"}
    assert "Error: 3 of 3 snapshots drift from their events" in drift.stderr
    assert run_cli("snapshots", "rebuild", "--all").exit_code == 0
    clean = run_cli("snapshots", "verify", "--all")
    assert clean.exit_code == 0, clean.stderr
    assert "Verified 3 streams: 0 drifted." in clean.stderr


def test_read_only_profile_refuses_rebuild_with_exit_8_but_verifies(
    orders: Target, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path / "ro.yaml",
        {"ro": {"store": orders.url, "schema": orders.schema, "read_only": True}},
    )
    refused = run_cli("-c", str(config), "-p", "ro", "snapshots", "rebuild", "--all")
    assert refused.exit_code == 8
    assert refused.stderr.startswith("Error: profile 'ro' is read-only")
    verified = run_cli("-c", str(config), "-p", "ro", "snapshots", "verify", "--all")
    assert verified.exit_code == 1 and "missing 3" in verified.stderr
    dry = run_cli("-c", str(config), "-p", "ro", "snapshots", "rebuild", "--all", "--dry-run")
    assert dry.exit_code == 0


def test_errors_have_their_exit_codes(orders: Target) -> None:
    unknown = run_cli("snapshots", "rebuild", "Order-404")
    assert (unknown.exit_code, unknown.stderr.splitlines()[0]) == (
        4,
        "Error: no events in stream Order-404",
    )
    none = run_cli("snapshots", "show", "Order-1")
    assert (none.exit_code, none.stderr.splitlines()[0]) == (
        4,
        "Error: stream Order-1 has no snapshot",
    )
    unselected = run_cli("snapshots", "verify")
    assert unselected.exit_code == 2
    assert unselected.stderr.startswith("Error: choose the streams")
    bad = run_cli("snapshots", "rebuild", "--all", "--reducer", "nope:nothing")
    assert bad.exit_code == 2
    assert bad.stderr.startswith("Error: reducer 'nope:nothing' (from --reducer): module 'nope'")


def test_list_cuts_the_table_at_the_limit(orders: Target) -> None:
    assert run_cli("snapshots", "rebuild", "--all").exit_code == 0
    result = run_cli("snapshots", "list", "--limit", "2", "-o", "csv")
    assert result.exit_code == 0
    streams = [line.split(",")[0] for line in result.stdout.splitlines()[1:]]
    assert streams == ["Customer-1", "Order-1"]
    assert "Showing the first 2 rows" in result.stderr


def test_show_as_a_table(orders: Target) -> None:
    assert run_cli("snapshots", "rebuild", "Order-1").exit_code == 0
    with orders.open() as store:
        seed_events(store, [("Order-1", "Delivered", {"status": "delivered"})])
    result = run_cli("snapshots", "show", "Order-1")
    assert result.exit_code == 0
    assert re.search(r"^events behind +1 *$", result.stdout, re.MULTILINE)
    assert '"status": "shipped"' in result.stdout


def test_rebuild_in_a_separate_process_exits_1_without_a_traceback(
    orders: Target, tmp_path: Path
) -> None:
    result = run_process(
        "snapshots", "rebuild", "--all", "--reducer", write_failing_reducer(tmp_path)
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "Failed: Order-1:" in result.stderr


def test_verify_limit_cuts_the_listing_but_not_the_verdict(orders: Target) -> None:
    result = run_cli("snapshots", "verify", "--all", "--limit", "1", "-o", "jsonl")
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) == 1
    assert "Verified 3 streams: 3 drifted (missing 3)." in result.stderr


def test_a_profile_reducer_that_cannot_be_loaded_names_the_stream(
    orders: Target, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path / "broken.yaml",
        {
            "b": {
                "store": orders.url,
                "schema": orders.schema,
                "reducers": {"Order": "./gone.py:order"},
            }
        },
    )
    result = run_cli("-c", str(config), "-p", "b", "snapshots", "rebuild", "--all")
    assert result.exit_code == 2
    first = result.stderr.splitlines()[0]
    assert first.startswith("Error: reducer './gone.py:order' (from profile 'b', reducers.Order)")
    assert first.endswith("(needed for stream Order-1, version 1, event type Placed)")
