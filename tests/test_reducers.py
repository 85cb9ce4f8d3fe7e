"""Reducers: the built-in `merge` and loading user reducers by module or file."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from esctl.errors import UsageError
from esctl.reducers import ReducerChoice, load_reducer, merge
from esctl.types import RecordedEvent


def event(data: Any, version: int = 1, event_type: str = "Changed") -> RecordedEvent:
    return RecordedEvent(
        global_position=version,
        stream_id="Order-1",
        stream_type="Order",
        version=version,
        event_type=event_type,
        event_id="00000000-0000-0000-0000-000000000001",
        data=data,
        metadata={},
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def fold(*datas: dict[str, Any]) -> dict[str, Any] | None:
    state = None
    for version, data in enumerate(datas, start=1):
        state = merge(state, event(data, version))
    return state


def test_merge_starts_from_an_empty_state() -> None:
    assert merge(None, event({"status": "new", "total": 10})) == {"status": "new", "total": 10}


def test_merge_merges_objects_at_any_depth_and_keeps_unmentioned_keys() -> None:
    state = fold(
        {
            "status": "new",
            "customer": {"name": "Ada", "address": {"city": "Paris", "zip": "75001"}},
        },
        {"customer": {"address": {"city": "Lyon"}}, "total": 5},
    )
    assert state == {
        "status": "new",
        "total": 5,
        "customer": {"name": "Ada", "address": {"city": "Lyon", "zip": "75001"}},
    }


def test_merge_replaces_lists_and_scalars_whole() -> None:
    state = fold({"items": [1, 2, 3], "total": 1, "tags": ["a"]}, {"items": [4], "total": "x"})
    assert state == {"items": [4], "total": "x", "tags": ["a"]}


def test_merge_null_deletes_a_key_at_any_depth_and_a_missing_key_is_no_error() -> None:
    state = fold(
        {"note": "hi", "customer": {"name": "Ada", "phone": "1"}},
        {"note": None, "customer": {"phone": None}, "never_there": None},
    )
    assert state == {"customer": {"name": "Ada"}}


def test_merge_object_replacing_a_scalar_or_list_drops_its_nulls() -> None:
    state = fold({"a": 1, "b": [1]}, {"a": {"x": 1, "y": None}, "b": {"z": None}})
    assert state == {"a": {"x": 1}, "b": {}}


def test_merge_changes_neither_state_nor_event() -> None:
    before = {"customer": {"name": "Ada"}, "items": [1]}
    data = {"customer": {"city": "Paris"}, "items": [2]}
    saved_state, saved_data = copy.deepcopy(before), copy.deepcopy(data)
    after = merge(before, event(data))
    assert before == saved_state and data == saved_data
    assert after == {"customer": {"name": "Ada", "city": "Paris"}, "items": [2]}


def test_merge_refuses_data_that_is_not_an_object() -> None:
    with pytest.raises(TypeError, match="JSON object"):
        merge({}, event([1, 2]))


def test_builtin_reducer_by_name() -> None:
    assert load_reducer("merge") is merge


def test_reducer_from_a_file_relative_to_base_dir(tmp_path: Path) -> None:
    (tmp_path / "reducers.py").write_text(
        "def count(state, event):\n"
        "    state = dict(state or {})\n"
        "    state['n'] = state.get('n', 0) + 1\n"
        "    state['last'] = event.event_type\n"
        "    return state\n"
    )
    reducer = load_reducer("reducers.py:count", base_dir=tmp_path)
    assert reducer(reducer(None, event({}, 1)), event({}, 2, "Shipped")) == {
        "n": 2,
        "last": "Shipped",
    }


def test_reducer_from_a_module_in_the_current_directory(isolated_environment: Path) -> None:
    (isolated_environment / "esctl_test_reducers_mod.py").write_text(
        "def total(state, event):\n    return {'total': (state or {}).get('total', 0) + event.data['n']}\n"
    )
    reducer = load_reducer("esctl_test_reducers_mod:total")
    assert reducer({"total": 2}, event({"n": 3})) == {"total": 5}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nonsense", "reducer 'nonsense' (from --reducer) is not a built-in reducer"),
        ("missing.py:f", "file "),
        ("esctl_no_such_module_xyz:f", "module 'esctl_no_such_module_xyz' not found"),
        ("esctl.reducers:no_such_function", "esctl.reducers has no attribute 'no_such_function'"),
        ("esctl.reducers:DEFAULT_REDUCER", "esctl.reducers.DEFAULT_REDUCER is not callable"),
    ],
)
def test_a_reducer_that_cannot_be_found_is_a_usage_error(spec: str, message: str) -> None:
    with pytest.raises(UsageError) as raised:
        load_reducer(spec)
    assert message in raised.value.message
    assert raised.value.exit_code == 2


def test_a_reducer_file_that_fails_to_import_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("raise RuntimeError('bad import')\n")
    with pytest.raises(UsageError, match=r"loading .*broken.py failed: RuntimeError: bad import"):
        load_reducer(str(tmp_path / "broken.py") + ":f")


def test_choice_prefers_the_flag_then_the_profile_then_merge(tmp_path: Path) -> None:
    (tmp_path / "order.py").write_text("def order(state, event):\n    return {'order': True}\n")
    configured = {"Order": "./order.py:order"}
    choice = ReducerChoice(None, configured, tmp_path, "prod")
    assert choice.for_stream_type("Order").name == "./order.py:order"
    assert choice.for_stream_type("Order").function(None, event({})) == {"order": True}
    assert choice.for_stream_type("Customer").function is merge
    flagged = ReducerChoice("merge", configured, tmp_path, "prod")
    assert flagged.for_stream_type("Order").function is merge


def test_a_broken_profile_reducer_names_profile_and_stream_type(tmp_path: Path) -> None:
    choice = ReducerChoice(None, {"Order": "./gone.py:order"}, tmp_path, "prod")
    with pytest.raises(UsageError, match=r"from profile 'prod', reducers.Order\): file .*gone.py"):
        choice.for_stream_type("Order")
