"""The renderer: every format, and CSV values scripts can parse."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

from esctl.render import Column, Renderer

ROWS = [
    {
        "name": "a",
        "age_seconds": 3725.125,
        "ok": True,
        "data": {"k": [1, 2]},
        "at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    },
    {"name": "b", "age_seconds": None, "ok": False, "data": {}, "at": None},
]
COLUMNS = [Column("name"), Column("age_seconds"), Column("ok"), Column("data"), Column("at")]


def render(fmt: str, **kwargs: object) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    Renderer(fmt, stdout=out, stderr=err, color=False).rows(ROWS, COLUMNS, **kwargs)  # type: ignore[arg-type]
    return out.getvalue(), err.getvalue()


def test_csv_values_are_for_scripts() -> None:
    text, _ = render("csv")
    lines = text.splitlines()
    assert lines[0] == "name,age_seconds,ok,data,at"
    assert lines[1] == 'a,3725.125,true,"{""k"":[1,2]}",2026-01-02T03:04:05Z'
    assert lines[2] == "b,,false,{},"


def test_json_and_jsonl_hold_the_same_objects() -> None:
    array = json.loads(render("json")[0])
    lines = [json.loads(line) for line in render("jsonl")[0].splitlines()]
    assert array == lines
    assert array[0]["at"] == "2026-01-02T03:04:05Z" and array[0]["ok"] is True


def test_a_cut_table_says_how_to_see_more() -> None:
    text, note = render("table", limit=1)
    assert "a" in text and "│ b" not in text
    assert "Showing the first 1 row;" in note


def test_an_empty_json_listing_is_an_empty_array() -> None:
    out = io.StringIO()
    Renderer("json", stdout=out, stderr=io.StringIO()).rows([], COLUMNS)
    assert json.loads(out.getvalue()) == []
