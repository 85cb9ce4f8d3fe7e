"""Round trips an operator relies on: re-running an append (numbers as jsonb spells them), moving
streams with odd ids through `read -o jsonl | append -`, and one JSON encoder (the same bytes for
an event from `read STREAM`, `read --all` — PostgreSQL's COPY fast path included — and `tail`)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.support.processes import run_cli
from tests.support.stores import Target

pytestmark = pytest.mark.reliability

NUMBERS = [
    "1.5e300",
    "1.0",
    "1e2",
    "-0",
    "12345678901234567890",
    "0.1000000000000000000001",
    "1E-7",
    "-2.50",
    '[1.0, 2e0, {"deep": 3.000}]',
]


NUMBER_LINE = (
    '{"stream_id": "Num-1", "event_type": "Measured", "event_id": "ID", '
    '"data": {"value": VALUE, "flag": true}, "metadata": {"m": VALUE}}'
)
SAME_LINE = (
    '{"stream_id": "SID", "event_type": "T", "data": {"z": VALUE, "a": "é\\u0001✓", '
    '"n": [1.0, 2e2]}, "metadata": {"b": 1,   "a": {"x": null}}}'
)


def _events_file(path: Path, body: str) -> Path:
    path.write_text(body)
    return path


def _numbers_file(path: Path, ids: list[str], *, last: str | None = None) -> Path:
    lines = []
    for index, (number, event_id) in enumerate(zip(NUMBERS, ids, strict=True)):
        value = last if last is not None and index == len(NUMBERS) - 1 else number
        lines.append(NUMBER_LINE.replace("ID", event_id).replace("VALUE", value))
    return _events_file(path, "\n".join(lines) + "\n")


def test_rerunning_an_append_of_numbers_is_a_no_op(initialised: Target, tmp_path: Path) -> None:
    ids = [str(uuid.uuid4()) for _ in NUMBERS]
    source = _numbers_file(tmp_path / "numbers.jsonl", ids)
    first = run_cli("append", str(source))
    assert first.exit_code == 0, first.stderr
    for _ in range(2):
        again = run_cli("append", str(source))
        assert again.exit_code == 0, again.stderr
        assert f"{len(NUMBERS)} were already stored" in again.stderr + again.stdout
    # The stored events are still those of the first run, once each.
    stored = run_cli("read", "Num-1", "-o", "jsonl")
    assert [json.loads(line)["event_id"] for line in stored.stdout.splitlines()] == ids


@pytest.mark.parametrize(
    ("changed", "why"),
    [('[1.0, 2e0, {"deep": 3.001}]', "a different number"), ("true", "true is not 1")],
)
def test_an_event_id_with_other_numbers_is_still_a_conflict(
    initialised: Target, tmp_path: Path, changed: str, why: str
) -> None:
    ids = [str(uuid.uuid4()) for _ in NUMBERS]
    assert run_cli("append", str(_numbers_file(tmp_path / "a.jsonl", ids))).exit_code == 0
    if changed == "true":
        ids = [str(uuid.uuid4()) for _ in NUMBERS]
        one = '{"stream_id": "Bool-1", "event_type": "E", "event_id": "%s", "data": {"v": %s}}\n'
        assert run_cli("append", str(_events_file(tmp_path / "b.jsonl", one % (ids[0], "1"))))
        result = run_cli("append", str(_events_file(tmp_path / "c.jsonl", one % (ids[0], "true"))))
    else:
        result = run_cli("append", str(_numbers_file(tmp_path / "b.jsonl", ids, last=changed)))
    assert result.exit_code == 3, (why, result.stderr)
    assert "with a different data, metadata" in result.stderr or "different data" in result.stderr


ODD_IDS = ["-x", "-", "x-", "a--b-c", "--", "-lead-1", "---"]


def test_streams_with_odd_ids_move_between_stores(initialised: Target, tmp_path: Path) -> None:
    lines = [
        json.dumps(
            {"stream_id": sid, "event_type": "E", "event_id": str(uuid.uuid4()), "data": {"i": i}}
        )
        for i, sid in enumerate(ODD_IDS * 2)
    ]
    assert (
        run_cli("append", str(_events_file(tmp_path / "in.jsonl", "\n".join(lines)))).exit_code == 0
    )
    exported = run_cli("read", "--all", "-o", "jsonl")
    assert exported.exit_code == 0, exported.stderr
    types = {
        json.loads(line)["stream_id"]: json.loads(line)["stream_type"]
        for line in exported.stdout.splitlines()
    }
    assert types == {
        "-x": "-x",
        "-": "-",
        "x-": "x",
        "a--b-c": "a",
        "--": "-",
        "-lead-1": "-lead",
        "---": "-",
    }
    assert "Warning" not in exported.stderr
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert run_cli("-s", fresh, "init").exit_code == 0
    restored = run_cli("-s", fresh, "append", "-", input=exported.stdout)
    assert restored.exit_code == 0, restored.stderr
    again = run_cli("-s", fresh, "read", "--all", "-o", "jsonl")

    def shape(line: str) -> dict[str, object]:
        event = json.loads(line)
        event["created_at"] = event["created_at"][:23]  # SQLite keeps milliseconds
        return event

    # Positions, ids, versions, types, data and times kept.
    assert [shape(x) for x in again.stdout.splitlines()] == [
        shape(x) for x in exported.stdout.splitlines()
    ]


def test_a_stored_empty_stream_type_goes_back_in(initialised: Target, tmp_path: Path) -> None:
    """Older esctl stored `""` as the type of a stream id starting with `-`; such an export
    must be accepted as it is (validation before anything is written refused it)."""
    line = json.dumps(
        {
            "stream_id": "-old",
            "stream_type": "",
            "event_type": "E",
            "event_id": str(uuid.uuid4()),
            "data": {},
            "version": 1,
            "created_at": "2026-01-01T00:00:00Z",
        }
    )
    result = run_cli("append", "-", input=line + "\n")
    assert result.exit_code == 0, result.stderr
    shown = run_cli("-o", "jsonl", "read", "--", "-old")
    assert json.loads(shown.stdout)["stream_type"] == ""
    assert run_cli("append", "-", input=line + "\n").exit_code == 0  # and re-runs


def test_every_reader_prints_the_same_bytes_for_an_event(
    initialised: Target, tmp_path: Path
) -> None:
    body = "\n".join(
        SAME_LINE.replace("SID", sid).replace("VALUE", n)
        for sid, n in [("Same-1", "1.5e300"), ("Same-1", "0.1"), ("Same-2", "12345678901234567890")]
    )
    assert run_cli("append", str(_events_file(tmp_path / "same.jsonl", body))).exit_code == 0
    everything = run_cli("read", "--all", "-o", "jsonl")  # COPY on PostgreSQL
    assert everything.exit_code == 0, everything.stderr
    lines = everything.stdout.splitlines()
    assert len(lines) == 3
    streams = (
        run_cli("read", "Same-1", "-o", "jsonl").stdout
        + run_cli("read", "Same-2", "-o", "jsonl").stdout
    )
    assert streams.splitlines() == lines
    tail = run_cli("tail", "--all", "--from-start", "--idle-timeout", "1", "-o", "jsonl")
    assert tail.exit_code == 0, tail.stderr
    assert tail.stdout.splitlines() == lines
    array = run_cli("read", "--all", "-o", "json")
    assert [json.dumps(e) for e in json.loads(array.stdout)] == [
        json.dumps(json.loads(x)) for x in lines
    ]
    for line in lines:
        event = json.loads(line)
        shown = run_cli("events", "show", event["event_id"], "-o", "jsonl")
        assert shown.stdout.splitlines() == [line]
    filtered = run_cli("read", "--all", "--category", "Same", "-o", "jsonl")
    assert filtered.stdout.splitlines() == lines
