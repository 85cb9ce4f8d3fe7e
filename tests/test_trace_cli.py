"""`esctl trace ID` from the command line, on both engines: the tree of 3 levels across 3 streams
with an orphan, the flat JSON with parents and depths, the time between parent and child,
the profile's `trace_keys:`, --limit, and the errors."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.support.data import write_config, write_jsonl
from tests.support.processes import run_cli
from tests.support.stores import Target

pytestmark = pytest.mark.usefixtures("initialised")

IDS = {
    name: str(uuid.UUID(int=index + 1, version=4))
    for index, name in enumerate(["placed", "paid", "receipt", "reserved", "low", "other"])
}
MISSING = str(uuid.UUID(int=99, version=4))


def _event(
    name: str, stream: str, event_type: str, second: int, metadata: dict[str, Any]
) -> dict[str, Any]:
    return {
        "event_id": IDS[name],
        "stream_id": stream,
        "event_type": event_type,
        "data": {"n": name},
        "metadata": metadata,
        "created_at": f"2026-05-01T10:00:{second:02d}Z",
    }


def _request(corr: str = "correlation_id", cause: str = "causation_id") -> list[dict[str, Any]]:
    def meta(parent: str | None) -> dict[str, Any]:
        return {corr: "req-1", **({cause: parent} if parent else {})}

    return [
        _event("placed", "Order-1", "OrderPlaced", 0, meta(None)),
        _event("other", "Order-2", "OrderPlaced", 1, {corr: "req-2"}),
        _event("paid", "Payment-1", "PaymentTaken", 2, meta(IDS["placed"])),
        _event("reserved", "Stock-1", "StockReserved", 3, meta(IDS["placed"])),
        _event("receipt", "Payment-1", "ReceiptSent", 7, meta(IDS["paid"])),
        _event("low", "Stock-1", "StockLow", 9, meta(MISSING)),
    ]


def _append(tmp_path: Path, events: list[dict[str, Any]]) -> None:
    result = run_cli("append", str(write_jsonl(tmp_path / "trace.jsonl", events)))
    assert result.exit_code == 0, result.stderr


def _flat(*args: str) -> list[dict[str, Any]]:
    result = run_cli("trace", *args, "-o", "json")
    assert result.exit_code == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def test_json_is_the_tree_in_order_with_parents_depths_and_times(tmp_path: Path) -> None:
    _append(tmp_path, _request())
    rows = _flat("req-1")
    got = [(r["event_id"], r["parent_event_id"], r["depth"]) for r in rows]
    assert got == [
        (IDS["placed"], None, 0),
        (IDS["paid"], IDS["placed"], 1),
        (IDS["receipt"], IDS["paid"], 2),
        (IDS["reserved"], IDS["placed"], 1),
        (IDS["low"], None, 0),
    ]
    assert {r["stream_id"] for r in rows} == {"Order-1", "Payment-1", "Stock-1"}
    by_id = {r["event_id"]: r for r in rows}
    assert by_id[IDS["receipt"]]["since_parent_seconds"] == pytest.approx(5.0)
    assert by_id[IDS["reserved"]]["since_parent_seconds"] == pytest.approx(3.0)
    assert by_id[IDS["placed"]]["note"] is None
    assert MISSING in by_id[IDS["low"]]["note"]
    assert IDS["other"] not in by_id  # another request's event


def test_an_event_id_finds_its_whole_request(tmp_path: Path) -> None:
    _append(tmp_path, _request())
    assert _flat(IDS["receipt"]) == _flat("req-1")
    lines = run_cli("trace", IDS["receipt"], "-o", "jsonl")
    assert lines.exit_code == 0, lines.stderr
    assert [json.loads(line)["depth"] for line in lines.stdout.splitlines()] == [0, 1, 2, 1, 0]


def test_the_tree_a_person_sees(tmp_path: Path) -> None:
    _append(tmp_path, _request())
    result = run_cli("trace", "req-1")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "correlation_id req-1"
    body = [line for line in lines[1:] if line.strip()]
    order = ["OrderPlaced", "PaymentTaken", "ReceiptSent", "StockReserved", "StockLow"]
    assert [next(t for t in order if t in line) for line in body] == order
    # Depth shows as indentation: the grandchild sits deeper than its parent, its parent
    # deeper than the root; the orphan is a root again, with its note.
    indent = [len(line) - len(line.lstrip("│├└─ ")) for line in body]
    assert indent[0] < indent[1] < indent[2] and indent[3] == indent[1] and indent[4] == indent[0]
    assert "Payment-1@2" in body[2] and "+5.00s" in body[2]
    assert f"parent {MISSING} not found" in body[4]


def test_trace_keys_from_the_profile(
    tmp_path: Path, use_target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    _append(tmp_path, _request("corr", "cause"))
    # Under the default keys the request is not found, and an event is a trace of its own.
    assert run_cli("trace", "req-1").exit_code == 4
    assert [row["event_id"] for row in _flat(IDS["placed"])] == [IDS["placed"]]
    profile = {"store": use_target.url, "schema": use_target.schema}
    config = write_config(
        tmp_path / "keys.yaml",
        {"test": {**profile, "trace_keys": {"correlation": "corr", "causation": "cause"}}},
    )
    monkeypatch.setenv("ESCTL_CONFIG", str(config))
    assert [row["depth"] for row in _flat("req-1")] == [0, 1, 2, 1, 0]


@pytest.mark.parametrize(
    "keys", [{"correlation": "a..b"}, {"parent": "x"}, "correlation_id", {"causation": 7}]
)
def test_bad_trace_keys_are_a_config_error(
    tmp_path: Path, use_target: Target, monkeypatch: pytest.MonkeyPatch, keys: Any
) -> None:
    config = write_config(
        tmp_path / "bad.yaml", {"test": {"store": use_target.url, "trace_keys": keys}}
    )
    monkeypatch.setenv("ESCTL_CONFIG", str(config))
    result = run_cli("trace", "req-1")
    assert result.exit_code == 2, result.stdout
    assert "trace_keys" in result.stderr


def test_limit_cuts_and_says_so(tmp_path: Path) -> None:
    _append(tmp_path, _request())
    result = run_cli("trace", "req-1", "--limit", "2", "-o", "jsonl")
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2
    assert "--limit" in result.stderr


def test_nothing_found_is_exit_4(tmp_path: Path) -> None:
    _append(tmp_path, _request())
    for identifier in ("req-404", MISSING, "x'; DROP TABLE events; --"):
        result = run_cli("trace", identifier)
        assert result.exit_code == 4, (identifier, result.stdout)
        assert result.stdout == ""
        assert "no event has" in result.stderr
    assert len(_flat("req-1")) == 5  # the hostile id changed nothing


def test_hostile_values_are_text_in_the_tree(tmp_path: Path) -> None:
    events = _request()
    events[0] = {**events[0], "stream_id": "Order-[bold]x[/bold]\x1b[31m"}
    _append(tmp_path, events)
    result = run_cli("trace", "req-1")
    assert result.exit_code == 0, result.stderr
    assert "Order-[bold]x[/bold]" in result.stdout
    assert "\x1b" not in result.stdout
