"""The single pass of `esctl append` (validate while writing, roll back on a problem), the fast
decoder's checks, standard input without spooling first, and progress counts."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from esctl.append.sources import open_sources
from esctl.append.validation import validate_inputs
from esctl.append.writing import ExpectedVersion, append_events
from esctl.errors import InvalidInput
from esctl.store.base import Store
from tests.support.processes import run_cli
from tests.support.stores import Target
from tests.test_append import append, ev, stored, write_jsonl


def many(count: int, streams: int = 7, **extra: Any) -> list[dict[str, Any]]:
    return [
        ev(f"Order-{i % streams}", n=i, event_id=f"5f1c0d2e-3a4b-4c5d-8e6f-{i:012d}", **extra)
        for i in range(count)
    ]


def test_invalid_event_after_10000_valid_ones_writes_nothing(store: Store, tmp_path: Path) -> None:
    events: list[Any] = many(10_000)
    events += [{"stream_id": "Order-1", "data": {}}, *many(5, streams=2), "not an object"]
    path = write_jsonl(tmp_path / "a.jsonl", events)
    with pytest.raises(InvalidInput) as caught:
        append(store, path)
    # Every problem, also those after the first one (the rest of the input is still validated).
    assert caught.value.problems == [
        f"{path}:10001: field 'event_type': missing",
        f"{path}:10007: not a JSON object (got str); each event must be an object",
    ]
    assert caught.value.message == "the input has 2 problems; nothing was written"
    assert stored(store) == []


def test_a_problem_in_a_later_file_rolls_back_the_earlier_files(
    store: Store, tmp_path: Path
) -> None:
    good = write_jsonl(tmp_path / "good.jsonl", many(3000))
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(ev("Order-9")) + "\n{not json\n")
    with pytest.raises(InvalidInput, match="1 problem"):
        append(store, good, bad)
    assert stored(store) == []
    assert append(store, good).appended == 3000


def test_cut_in_stream_id_lookups_keeps_input_order_and_versions(
    store: Store, tmp_path: Path
) -> None:
    # New streams keep appearing (more than one look-ahead of them), with stored ones among them.
    append(store, write_jsonl(tmp_path / "seed.jsonl", [ev("S-5"), ev("S-5")]))
    events = [ev(f"S-{i // 3}", n=i) for i in range(9000)]
    result = append(store, write_jsonl(tmp_path / "a.jsonl", events))
    assert result.appended == 9000
    rows = stored(store)[2:]
    assert [e.data["n"] for e in rows] == list(range(9000))
    assert [e.version for e in rows if e.stream_id == "S-5"] == [3, 4, 5]
    assert [e.version for e in rows if e.stream_id == "S-2999"] == [1, 2, 3]
    by_stream = {s.stream_id: s for s in result.streams}
    assert (by_stream["S-5"].first_version, by_stream["S-5"].last_version) == (3, 5)
    assert [s.stream_id for s in result.streams][:3] == ["S-0", "S-1", "S-2"]


@pytest.mark.postgres
def test_rejected_input_on_postgresql_leaves_no_visible_rows_and_a_harmless_gap(
    pg_target: Target, tmp_path: Path
) -> None:
    from esctl.admin.init import init_store

    with pg_target.open() as store:
        init_store(store)
        events: list[Any] = many(2000)
        events.insert(1500, {"stream_id": "Order-1", "event_type": "T", "data": []})
        with pytest.raises(InvalidInput):
            append(store, write_jsonl(tmp_path / "bad.jsonl", events))
        with store.reading() as session:
            assert session.fetchval("SELECT count(*) FROM {events}") == 0
        result = append(store, write_jsonl(tmp_path / "good.jsonl", many(10)))
        rows = stored(store)
    assert [e.version for e in rows if e.stream_id == "Order-0"] == [1, 2]
    # The rolled-back COPY used up positions: the next events start after the gap.
    assert rows[0].global_position > 1000
    assert result.streams[0].first_position == rows[0].global_position


def test_stdin_is_appended_in_one_pass_and_read_again_for_duplicates(
    initialised: Target,
) -> None:
    lines = "".join(json.dumps(e) + "\n" for e in many(1200))
    first = run_cli("append", "-", "-o", "json", input=lines)
    assert first.exit_code == 0, first.stderr
    assert sum(r["appended"] for r in json.loads(first.stdout)) == 1200
    # The careful path (stored events) reads standard input again, from the spool.
    again = run_cli("append", "-", "-o", "json", input=lines)
    assert again.exit_code == 0, again.stderr
    rows = json.loads(again.stdout)
    assert sum(r["duplicates"] for r in rows) == 1200 and sum(r["appended"] for r in rows) == 0
    assert "1,200 were already stored" in again.stderr
    bad = run_cli("append", "-", input=lines + '{"stream_id": "Order-1", "data": {}}\n')
    assert bad.exit_code == 6
    assert "  <stdin>:1201: field 'event_type': missing" in bad.stderr


def test_stdin_json_array_with_leading_blank_lines(store: Store) -> None:
    stdin = io.BytesIO(b"\n\n  " + json.dumps([ev("Order-1"), ev("Order-1")]).encode())
    with open_sources(["-"], stdin=stdin) as sources:
        result = append_events(store, sources)
    assert result.appended == 2
    stdin = io.BytesIO(b"\n\n" + json.dumps([ev("Order-1"), 3]).encode())
    with open_sources(["-"], stdin=stdin) as sources, pytest.raises(InvalidInput) as caught:
        append_events(store, sources)
    assert caught.value.problems == [
        "<stdin>: item 1 (line 3): not a JSON object (got int); each event must be an object"
    ]


def test_progress_is_not_counted_twice_when_the_careful_path_reads_again(
    store: Store, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", many(2500))
    append(store, write_jsonl(tmp_path / "head.jsonl", many(2500)[:1000]))
    seen: dict[str, int] = {}
    totals: list[int | None] = []

    def progress(phase: str, count: int, total: int | None) -> None:
        seen[phase] = seen.get(phase, 0) + count
        totals.append(total)

    with open_sources([str(path)]) as sources:
        result = append_events(store, sources, progress=progress)
    assert (result.appended, result.duplicates) == (1500, 1000)
    assert seen == {"appending": 2500}
    # The single pass reports no total (an estimate moved as it read): the CLI's bar shows the
    # bytes read of the file's size instead, a total that never moves.
    assert totals and all(t is None for t in totals)
    seen.clear()
    with open_sources([str(path)]) as sources:
        append_events(store, sources, progress=progress, commit_every=1000)
    assert seen == {"validating": 2500, "appending": 2500}


def test_expected_version_conflict_in_the_single_pass(store: Store, tmp_path: Path) -> None:
    append(store, write_jsonl(tmp_path / "a.jsonl", many(3000)))
    path = write_jsonl(
        tmp_path / "b.jsonl", [ev("Order-3", event_id="6f1c0d2e-3a4b-4c5d-8e6f-000000000077")]
    )
    with pytest.raises(Exception, match="expected version 0, actual version 429"):
        append(store, path, expected=ExpectedVersion.parse("0"))
    assert len(stored(store)) == 3000


# --- the fast decoder's checks ---------------------------------------------------------------------

TRICKY = {
    "spaced duplicate": '{"stream_id": "A-1", "event_type": "T", "data": {"x": 1, "x" : 2}}',
    "tab duplicate": '{"stream_id": "A-1", "event_type": "T", "data": {"x": 1, "x"\t: 2}}',
    "nested duplicate": '{"stream_id": "A-1", "event_type": "T", "data": {"o": {"k": 1, "k": 2}}}',
    "metadata duplicate": '{"stream_id": "A-1", "event_type": "T", "data": {}, '
    '"metadata": {"m": 1, "m": 2}}',
    "top duplicate": '{"stream_id": "A-1", "event_type": "T", "event_type": "U", "data": {}}',
    "duplicate hidden by a colon in a string": '{"stream_id": "A-1", "event_type": "T", '
    '"data": {"a" :1, "a": 2, "b": "\\":"}}',
    "duplicate in a list": '{"stream_id": "A-1", "event_type": "T", "data": {"l": [{"k": 1, "k": 2}]}}',
}


@pytest.mark.parametrize("name", sorted(TRICKY))
def test_duplicate_keys_are_found_whatever_the_spacing(name: str, tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(TRICKY[name] + "\n")
    with open_sources([str(path)]) as sources, pytest.raises(InvalidInput) as caught:
        validate_inputs(sources)
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(f"{path}:1: duplicate key ")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"stream_id": "A-1", "event_type": "T", "data": {"x": [1, -1e400]}}', "-1e400"),
        ('{"stream_id": "A-1", "event_type": "T", "data": {}, "metadata": {"x": 1E999}}', "1E999"),
        ('{"stream_id": "A-1", "event_type": "T", "data": {}, "version": 1e400}', "1e400"),
    ],
)
def test_numbers_out_of_range_are_refused(line: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(line + "\n")
    with open_sources([str(path)]) as sources, pytest.raises(InvalidInput) as caught:
        validate_inputs(sources)
    assert caught.value.problems == [
        f"{path}:1: {message} is not valid JSON here (numbers must be finite)"
    ]


def test_plain_lines_with_escapes_and_spacing_are_accepted(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(
        '{"stream_id":"A-1","event_type":"T","data":{"q":"say \\" hi","p":"a\\\\b"}}\n'
        '  {"stream_id": "A-1", "event_type": "T", "data": {"x": {"y": 1}}}  \r\n'
        '{"stream_id": "A-1", "event_type": "T", "data": {"s": "{\\":"}, "metadata": {}}\n'
    )
    assert append(store, path).appended == 3
    assert [e.data for e in stored(store)] == [
        {"q": 'say " hi', "p": "a\\b"},
        {"x": {"y": 1}},
        {"s": '{":'},
    ]


def test_each_stream_is_planned_in_the_unit_of_its_first_event(tmp_path: Path) -> None:
    # `--commit-every` reads a stream's version in the unit where it first appears: the inlined
    # common case and the full check (an alias here) must agree on that unit.
    lines = [ev("A-1", n=i) for i in range(4)]
    lines += [{"stream_id": "B-1", "type": "T", "data": {}}] + [ev("A-1", n=i) for i in range(2)]
    lines += [ev("C-1", n=1), ev("B-1", n=2), ev("C-1", n=3)]
    path = write_jsonl(tmp_path / "a.jsonl", lines)
    with open_sources([str(path)]) as sources:
        summary = validate_inputs(sources, unit_size=3)
    assert {s: p.first_unit for s, p in summary.streams.items()} == {"A-1": 0, "B-1": 1, "C-1": 2}
    assert {s: p.count for s, p in summary.streams.items()} == {"A-1": 6, "B-1": 2, "C-1": 2}


def test_values_the_fast_decoder_would_change_or_cannot_encode_are_stored_exactly(
    store: Store, tmp_path: Path
) -> None:
    # orjson (the fast decoder) makes floats of integers past 64 bits, and its encoder stops at
    # 254 levels of nesting: such lines must still be stored exactly, through the strict path.
    deep: dict[str, Any] = {"leaf": 1}
    for _ in range(300):
        deep = {"a": deep}
    deep_list: list[Any] = [1]
    for _ in range(300):
        deep_list = [deep_list]
    datas = [
        {"big": 123456789012345678901234567890, "low": -9300000000000000001},
        {"u64": 18446744073709551615, "i64": -9223372036854775808, "n": 1234567890123456789},
        {"f": [0.1, 1e-07, 5e-324, 123.456, -0.0, 1e16, 2.5]},  # as jsonb keeps them too
        {"digits": "1234567890123456789012345", "x": 1},
        deep,
        {"l": deep_list},
    ]
    path = tmp_path / "a.jsonl"
    path.write_text(
        "".join(
            json.dumps({"stream_id": "A-1", "event_type": "T", "data": d}) + "\n" for d in datas
        )
    )
    assert append(store, path).appended == len(datas)
    back = [e.data for e in stored(store)]
    assert back == datas
    assert [type(v) for v in back[0].values()] == [int, int]
    assert [type(v) for v in back[1].values()] == [int, int, int]


def test_exported_lines_keep_versions_and_times_and_gaps_are_found(
    store: Store, tmp_path: Path
) -> None:
    events = [
        ev("Order-1", n=i, version=i + 1, created_at="2024-02-29T12:34:56.789Z", global_position=i)
        for i in range(1, 3000)
    ]
    events[0]["global_position"] = 7
    path = write_jsonl(
        tmp_path / "export.jsonl", [{**e, "version": i + 1} for i, e in enumerate(events)]
    )
    gap = write_jsonl(tmp_path / "gap.jsonl", [ev("Order-1", version=3001)])
    with pytest.raises(InvalidInput) as caught:
        append(store, path, gap)
    assert caught.value.problems == [
        f"{gap}:1: field 'version': 3001 does not follow 2999 in stream 'Order-1'"
    ]
    assert append(store, path).appended == 2999
    rows = stored(store)
    assert [e.version for e in rows] == list(range(1, 3000))
    assert {e.to_dict()["created_at"] for e in rows} == {"2024-02-29T12:34:56.789000Z"}
