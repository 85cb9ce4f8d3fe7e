"""`esctl append` on both backends: round trips, versions, expected version, idempotency."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from esctl.admin.init import init_store
from esctl.append.sources import open_sources
from esctl.append.writing import ExpectedVersion, append_events
from esctl.errors import ConcurrencyError, InvalidInput
from esctl.store.base import EVENT_COLUMNS, Store
from esctl.types import RecordedEvent
from tests.support.data import seed_events
from tests.support.processes import run_cli
from tests.support.stores import Target, pg_schema


def write_jsonl(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def append(store: Store, *paths: Path, **options: Any) -> Any:
    with open_sources([str(p) for p in paths]) as sources:
        return append_events(store, sources, **options)


def stored(store: Store, stream_id: str | None = None) -> list[RecordedEvent]:
    where = "WHERE stream_id = %s " if stream_id else ""
    with store.reading() as session:
        rows = session.fetchall(
            f"SELECT {EVENT_COLUMNS} FROM {{events}} {where}ORDER BY global_position",
            [stream_id] if stream_id else [],
        )
    return [RecordedEvent.from_row(r) for r in rows]


def ev(stream_id: str, event_type: str = "Happened", n: int = 0, **extra: Any) -> dict[str, Any]:
    return {"stream_id": stream_id, "event_type": event_type, "data": {"n": n}, **extra}


EVENT_ID = "5f1c0d2e-3a4b-4c5d-8e6f-0000000000{:02d}"


def test_round_trip_of_every_field(store: Store, tmp_path: Path) -> None:
    event = {
        "stream_id": "Order-ü 1\t\\x",
        "stream_type": "Purchase",
        "type": "OrderPlaced",
        "event_data": {
            "items": [{"sku": "A", "qty": 2}],
            "total": 18.5,
            "note": 'tab\t"q" \\ é 😀',
        },
        "metadata": {"correlation_id": "c-1", "nested": {"a": None}},
        "id": "5F1C0D2E-3A4B-4C5D-8E6F-000000000001",
        "created_at": "2024-02-29T12:34:56.789Z",
    }
    result = append(store, write_jsonl(tmp_path / "in.jsonl", [event, ev("Order-2")]))
    assert result.appended == 2
    first, second = stored(store)
    assert first.stream_id == "Order-ü 1\t\\x" and first.stream_type == "Purchase"
    assert first.event_type == "OrderPlaced" and first.version == 1
    assert first.event_id == "5f1c0d2e-3a4b-4c5d-8e6f-000000000001"
    assert first.data == event["event_data"] and first.metadata == event["metadata"]
    assert first.to_dict()["created_at"] == "2024-02-29T12:34:56.789000Z"
    assert second.stream_type == "Order" and second.metadata == {}
    assert [s.to_dict()["first_position"] for s in result.streams] == [
        first.global_position,
        second.global_position,
    ]


def test_versions_continue_each_stream(store: Store, tmp_path: Path) -> None:
    seed_events(store, [("Order-1", "Seeded", {}), ("Order-1", "Seeded", {})])
    result = append(
        store, write_jsonl(tmp_path / "a.jsonl", [ev("Order-1"), ev("Order-2"), ev("Order-1")])
    )
    by_stream = {s.stream_id: s for s in result.streams}
    assert (by_stream["Order-1"].first_version, by_stream["Order-1"].last_version) == (3, 4)
    assert (by_stream["Order-2"].first_version, by_stream["Order-2"].last_version) == (1, 1)
    assert [e.version for e in stored(store, "Order-1")] == [1, 2, 3, 4]


def test_re_append_adds_nothing_and_reports_stored_positions(store: Store, tmp_path: Path) -> None:
    events = [ev("Order-1", n=i, event_id=EVENT_ID.format(i)) for i in range(5)]
    path = write_jsonl(tmp_path / "a.jsonl", events)
    first = append(store, path)
    again = append(store, path, expected=ExpectedVersion.parse("no-stream"))
    assert again.appended == 0 and again.duplicates == 5
    assert again.streams[0].to_dict() == {
        **first.streams[0].to_dict(),
        "appended": 0,
        "duplicates": 5,
    }
    assert len(stored(store)) == 5


def test_interrupted_import_resumes_after_the_stored_part(store: Store, tmp_path: Path) -> None:
    events = [ev("Order-1", n=i, event_id=EVENT_ID.format(i)) for i in range(6)]
    append(store, write_jsonl(tmp_path / "head.jsonl", events[:4]))
    result = append(
        store, write_jsonl(tmp_path / "all.jsonl", events), expected=ExpectedVersion.parse("0")
    )
    assert (result.appended, result.duplicates) == (2, 4)
    assert [e.data["n"] for e in stored(store)] == list(range(6))


def test_stored_event_after_a_new_one_is_a_conflict(store: Store, tmp_path: Path) -> None:
    append(store, write_jsonl(tmp_path / "a.jsonl", [ev("Order-1", event_id=EVENT_ID.format(1))]))
    mixed = [ev("Order-1", event_id=EVENT_ID.format(2)), ev("Order-1", event_id=EVENT_ID.format(1))]
    with pytest.raises(ConcurrencyError, match="out of place"):
        append(store, write_jsonl(tmp_path / "b.jsonl", mixed))
    assert len(stored(store)) == 1


def test_same_id_with_other_content_is_a_conflict(store: Store, tmp_path: Path) -> None:
    append(
        store, write_jsonl(tmp_path / "a.jsonl", [ev("Order-1", n=1, event_id=EVENT_ID.format(1))])
    )
    with pytest.raises(ConcurrencyError, match="with a different data"):
        append(
            store,
            write_jsonl(tmp_path / "b.jsonl", [ev("Order-1", n=2, event_id=EVENT_ID.format(1))]),
        )


@pytest.mark.parametrize(
    ("expected", "ok"),
    [
        ("any", True),
        ("exists", True),
        ("2", True),
        ("no-stream", False),
        ("1", False),
        ("3", False),
    ],
)
def test_expected_version(store: Store, tmp_path: Path, expected: str, ok: bool) -> None:
    seed_events(store, [("Order-1", "Seeded", {}), ("Order-1", "Seeded", {})])
    path = write_jsonl(tmp_path / "a.jsonl", [ev("Order-1")])
    if ok:
        assert append(store, path, expected=ExpectedVersion.parse(expected)).appended == 1
        return
    with pytest.raises(ConcurrencyError) as caught:
        append(store, path, expected=ExpectedVersion.parse(expected))
    assert (
        caught.value.message == f"stream 'Order-1': expected version {expected}, actual version 2"
    )
    assert caught.value.exit_code == 3
    assert len(stored(store)) == 2


def test_no_stream_and_exists_on_a_new_stream(store: Store, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [ev("Order-9")])
    with pytest.raises(ConcurrencyError, match="expected version exists, actual version 0"):
        append(store, path, expected=ExpectedVersion.parse("exists"))
    assert append(store, path, expected=ExpectedVersion.parse("no-stream")).appended == 1


def test_input_version_is_where_the_event_must_land(store: Store, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [ev("Order-1", version=3), ev("Order-1", version=4)])
    with pytest.raises(ConcurrencyError, match="expected version 2, actual version 0"):
        append(store, path)
    assert stored(store) == []


def test_stream_option_puts_everything_in_one_stream(store: Store, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [{"event_type": "A", "data": {}}, ev("Other-1")])
    result = append(store, path, stream="Cart-7")
    assert [(s.stream_id, s.stream_type, s.appended) for s in result.streams] == [
        ("Cart-7", "Cart", 2)
    ]


def test_json_array_object_and_alias_inputs(store: Store, tmp_path: Path) -> None:
    array = tmp_path / "a.json"
    array.write_text(
        json.dumps(
            [ev("Order-1"), {"stream_id": "Order-1", "type": "T", "event_data": {}}], indent=2
        )
    )
    single = tmp_path / "b.json"
    single.write_text(json.dumps(ev("Order-2")))
    result = append(store, array, single)
    assert result.appended == 3
    assert [e.event_type for e in stored(store)] == ["Happened", "T", "Happened"]


def test_dry_run_writes_nothing(store: Store, tmp_path: Path) -> None:
    seed_events(store, [("Order-1", "Seeded", {})])
    result = append(
        store, write_jsonl(tmp_path / "a.jsonl", [ev("Order-1"), ev("Order-1")]), dry_run=True
    )
    assert result.dry_run and result.appended == 2
    assert (result.streams[0].first_version, result.streams[0].last_version) == (2, 3)
    assert len(stored(store)) == 1


def test_commit_every_commits_chunks_and_says_so_on_failure(store: Store, tmp_path: Path) -> None:
    seed_events(store, [("Order-2", "Seeded", {})])
    events = [ev("Order-1", n=i, event_id=EVENT_ID.format(i)) for i in range(4)]
    events.append(ev("Order-2", version=1, event_id=EVENT_ID.format(9)))  # already taken: conflict
    with pytest.raises(ConcurrencyError) as caught:
        append(store, write_jsonl(tmp_path / "a.jsonl", events), commit_every=2)
    assert "(4 of 5 events were committed before this failure)" in caught.value.message
    assert caught.value.hint is not None and caught.value.hint.startswith(
        "re-running the same command is safe"
    )
    assert len(stored(store, "Order-1")) == 4


def test_invalid_input_writes_nothing(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps(ev("Order-1")) + "\n" + '{"stream_id": "Order-1"}\n')
    with pytest.raises(InvalidInput) as caught:
        append(store, path)
    assert caught.value.problems == [
        f"{path}:2: field 'event_type': missing",
        f"{path}:2: field 'data': missing",
    ]
    assert stored(store) == []


@pytest.fixture
def second_store(target: Target, tmp_path: Path) -> Iterator[Store]:
    """Another empty store on the same backend."""
    if target.backend == "sqlite":
        other = Target("sqlite", f"sqlite:///{tmp_path / 'other.db'}")
        with other.open() as opened:
            init_store(opened)
            yield opened
        return
    for schema in pg_schema(target.url):
        with Target("postgresql", target.url, schema).open() as opened:
            init_store(opened)
            yield opened


def test_export_appended_into_a_second_store_reproduces_streams(
    store: Store, second_store: Store, tmp_path: Path
) -> None:
    events = [ev(f"Order-{i % 3}", n=i, metadata={"i": i}) for i in range(12)]
    append(store, write_jsonl(tmp_path / "a.jsonl", events))
    export = tmp_path / "export.jsonl"
    export.write_text("".join(json.dumps(e.to_dict()) + "\n" for e in stored(store)))
    result = append(second_store, export)
    assert result.appended == 12

    def shape(e: RecordedEvent) -> dict[str, Any]:
        return {k: v for k, v in e.to_dict().items() if k != "global_position"}

    assert [shape(e) for e in stored(second_store)] == [shape(e) for e in stored(store)]
    assert append(second_store, export).duplicates == 12


# --- CLI -----------------------------------------------------------------------------------------

BAD_INPUTS = Path(__file__).parent / "data" / "bad_inputs"
BAD_CASES = {
    "not_json.jsonl": ":2: not valid JSON: unexpected end of line",
    "not_an_object.jsonl": ":2: not a JSON object (got list)",
    "missing_stream_id.jsonl": ":2: field 'stream_id': missing",
    "missing_event_type.jsonl": ":2: field 'event_type': missing",
    "empty_event_type.jsonl": ":2: field 'event_type': must be a non-empty string",
    "missing_data.jsonl": ":2: field 'data': missing",
    "data_not_object.jsonl": ":2: field 'data': must be a JSON object",
    "metadata_not_object.jsonl": ":2: field 'metadata': must be a JSON object",
    "bad_uuid.jsonl": ":2: field 'event_id': 'not-a-uuid' is not a UUID",
    "stream_id_too_long.jsonl": ":2: field 'stream_id': longer than 255 characters",
    "stream_type_too_long.jsonl": ":2: field 'stream_type': longer than 255 characters",
    "nul_in_data.jsonl": ":2: field 'data.note': contains a NUL character",
    "unpaired_surrogate.jsonl": ":2: field 'data.note': contains an unpaired surrogate",
    "nan.jsonl": ":2: NaN is not valid JSON here",
    "infinite_number.jsonl": ":2: 1e400 is not valid JSON here",
    "duplicate_key.jsonl": ":2: duplicate key 'total' in one object",
    "unknown_field.jsonl": ":2: field 'payload': unknown field",
    "alias_and_field.jsonl": ":2: field 'type': given twice",
    "bad_created_at.jsonl": ":2: field 'created_at': not an ISO 8601 time",
    "bad_version.jsonl": ":2: field 'version': must be a positive integer",
    "version_gap.jsonl": ":3: field 'version': 3 does not follow 1",
    "duplicate_event_id.jsonl": ":3: field 'event_id': 5f1c0d2e-3a4b-4c5d-8e6f-000000000001 appears more than once",
    "deep_nesting.jsonl": ":2: not valid JSON: nested too deeply",
    "invalid_utf8.jsonl": ":2: not valid UTF-8",
    "array_element_not_object.json": ": item 1 (line 3): not a JSON object (got int)",
    "array_trailing_garbage.json": ": line 3: not valid JSON: extra data after the array",
    "array_unterminated.json": ": line 4: not valid JSON",
}


def test_corpus_covers_every_file() -> None:
    assert {p.name for p in BAD_INPUTS.iterdir()} == {*BAD_CASES, "empty.jsonl"}
    assert len(BAD_CASES) >= 15


@pytest.mark.parametrize("name", sorted(BAD_CASES))
def test_bad_input_exits_6_and_writes_nothing(initialised: Target, name: str) -> None:
    path = BAD_INPUTS / name
    result = run_cli("append", str(path))
    assert result.exit_code == 6, result.stderr
    assert result.stderr.startswith("Error: the input has 1 problem; nothing was written\n")
    assert f"  {path}{BAD_CASES[name]}" in result.stderr
    count = run_cli(
        "append", str(BAD_INPUTS.parent.parent / "data" / "bad_inputs" / name), "--dry-run"
    )
    assert count.exit_code == 6
    with initialised.open() as store:
        assert stored(store) == []


def test_empty_input_is_refused(initialised: Target) -> None:
    result = run_cli("append", str(BAD_INPUTS / "empty.jsonl"))
    assert result.exit_code == 6
    assert result.stderr == (
        "Error: the input holds no events; nothing was written\n"
        "Hint: pass --allow-empty to accept an empty input (exit 0)\n"
    )


def test_cli_append_then_re_append(initialised: Target, tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "a.jsonl", [ev("Order-1", event_id=EVENT_ID.format(1)), ev("Order-2")]
    )
    first = run_cli("append", str(path), "-o", "json")
    assert first.exit_code == 0, first.stderr
    rows = json.loads(first.stdout)
    assert [(r["stream_id"], r["appended"], r["first_version"]) for r in rows] == [
        ("Order-1", 1, 1),
        ("Order-2", 1, 1),
    ]
    assert "Appended 2 events to 2 streams." in first.stderr
    again = run_cli(
        "append", str(tmp_path / "a.jsonl"), "--stream", "Order-1", "-e", "1", "-o", "jsonl"
    )
    assert again.exit_code == 3
    assert again.stderr.startswith("Error: stream 'Order-1': expected version 1, actual version")


def test_cli_stdin_and_expected_version_conflict(initialised: Target) -> None:
    lines = json.dumps(ev("Order-1")) + "\n"
    assert run_cli("append", "-", input=lines).exit_code == 0
    conflict = run_cli(
        "append",
        "-",
        "--expected-version",
        "no-stream",
        input="[" + json.dumps(ev("Order-1")) + "]",
    )
    assert conflict.exit_code == 3
    assert conflict.stderr.startswith(
        "Error: stream 'Order-1': expected version no-stream, actual version 1\n"
    )


def test_cli_usage_errors(initialised: Target, tmp_path: Path) -> None:
    bad = run_cli("append", "-", "--expected-version", "latest", input="")
    assert bad.exit_code == 2
    assert (
        "Error: --expected-version 'latest': use any, no-stream, exists or a version number"
        in bad.stderr
    )
    missing = run_cli("append", str(tmp_path / "nope.jsonl"))
    assert missing.exit_code == 6
    assert missing.stderr.startswith(f"Error: cannot read {tmp_path / 'nope.jsonl'}: no such file")


def test_read_only_profile_refuses_append(
    target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.data import write_config

    config = write_config(
        tmp_path / "ro.yaml",
        {"ro": {"store": target.url, "schema": target.schema, "read_only": True}},
    )
    path = write_jsonl(tmp_path / "a.jsonl", [ev("Order-1")])
    result = run_cli("-c", str(config), "-p", "ro", "append", str(path))
    assert result.exit_code == 8
    assert result.stderr.startswith("Error: profile 'ro' is read-only")


def test_cli_table_is_cut_at_limit_with_a_note(initialised: Target, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [ev(f"Order-{i}") for i in range(3)])
    result = run_cli("append", str(path), "--limit", "2")
    assert result.exit_code == 0, result.stderr
    assert "Order-0" in result.stdout and "Order-2" not in result.stdout
    assert "Showing the first 2 rows; use --limit N to see more streams" in result.stderr
    assert "Appended 3 events to 3 streams." in result.stderr


@pytest.mark.parametrize(
    ("fmt", "stdout"), [("table", ""), ("json", "[]\n"), ("jsonl", ""), ("csv", None)]
)
def test_allow_empty_appends_nothing_and_exits_0(
    initialised: Target, fmt: str, stdout: str | None
) -> None:
    result = run_cli("append", str(BAD_INPUTS / "empty.jsonl"), "--allow-empty", "-o", fmt)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == "The input holds no events: nothing was appended (--allow-empty).\n"
    if stdout is not None:
        assert result.stdout == stdout
    else:
        assert result.stdout.startswith("stream_id,stream_type,appended,")
    with initialised.open() as store:
        assert stored(store) == []


def test_allow_empty_from_stdin(initialised: Target) -> None:
    result = run_cli("append", "-", "--allow-empty", input="\n\n")
    assert result.exit_code == 0, result.stderr
    assert "nothing was appended" in result.stderr


def test_allow_empty_still_refuses_bad_input(initialised: Target, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    result = run_cli("append", str(bad), "--allow-empty")
    assert result.exit_code == 6
    assert result.stderr.startswith("Error: the input has 1 problem; nothing was written\n")


def _one_event(tmp_path: Path, name: str = "one.jsonl") -> Path:
    path = tmp_path / name
    path.write_text('{"stream_id": "Order-7", "event_type": "Placed", "data": {}}\n')
    return path


def test_no_stream_on_an_existing_stream_names_its_version(
    initialised: Target, tmp_path: Path
) -> None:
    source = _one_event(tmp_path)
    assert run_cli("append", str(source)).exit_code == 0
    assert run_cli("append", str(source)).exit_code == 0
    result = run_cli("append", str(source), "--expected-version", "no-stream")
    assert result.exit_code == 3
    assert result.stderr == (
        "Error: stream 'Order-7': expected version no-stream, actual version 2\n"
        "Hint: the stream already exists (version 2): use --expected-version 2 to append after "
        "it, or any\n"
    )
    exists = run_cli("append", str(source), "--stream", "Fresh-1", "--expected-version", "exists")
    assert exists.exit_code == 3
    assert exists.stderr.endswith(
        "Hint: the stream has no events yet: use --expected-version no-stream, or any\n"
    )
    exact = run_cli("append", str(source), "--expected-version", "5")
    assert exact.exit_code == 3
    assert "Hint: the stream is at version 2: read it (esctl read Order-7) and retry with " in (
        exact.stderr
    )


def test_dry_run_of_a_growing_stream_shows_no_stale_last_position(
    initialised: Target, tmp_path: Path
) -> None:
    first = tmp_path / "first.jsonl"
    first.write_text(
        '{"stream_id": "Order-8", "event_type": "Placed", "data": {}, '
        '"event_id": "00000000-0000-4000-8000-000000000001"}\n'
    )
    assert run_cli("append", str(first)).exit_code == 0
    grown = tmp_path / "grown.jsonl"
    grown.write_text(
        first.read_text() + '{"stream_id": "Order-8", "event_type": "Shipped", "data": {}}\n'
    )
    result = run_cli("append", str(grown), "--dry-run", "-o", "json")
    assert result.exit_code == 0, result.stderr
    [row] = json.loads(result.stdout)
    assert row["appended"] == 1 and row["duplicates"] == 1
    assert row["last_version"] == 2  # the version the stream would reach
    assert row["last_position"] is None  # unknown until written, not the duplicate's position


def test_quiet_append_prints_no_table(initialised: Target, tmp_path: Path) -> None:
    result = run_cli("-q", "append", str(_one_event(tmp_path)))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr == ""
    data = run_cli("-q", "append", str(_one_event(tmp_path, "two.jsonl")), "-o", "jsonl")
    assert data.exit_code == 0
    assert json.loads(data.stdout)["duplicates"] == 0  # -q keeps data formats


def test_events_show_of_a_non_uuid_is_a_usage_error(initialised: Target) -> None:
    result = run_cli("events", "show", "not-a-uuid")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: 'not-a-uuid' is not an event id (a UUID)\n"
        "Hint: event ids look like 5f1c0a7e-1b2c-4d3e-8f90-123456789abc\n"
    )
