"""The renderer: every format, and CSV values scripts can parse."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

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


def test_messages_to_a_pipe_are_what_rich_writes_without_rich() -> None:
    """Plain stderr (no colour, or not a terminal) skips rich: the same bytes, escapes included."""
    said = ["Wrote\t2 events", "to Order-\x1b[31m1"]

    def messages(renderer: Renderer) -> None:
        renderer.message(said[0])
        renderer.warning(said[1])
        renderer.error("bad", problems=["  line 2: x"], hint="try --help")

    plain = io.StringIO()
    messages(Renderer("json", stdout=io.StringIO(), stderr=plain, color=False))
    through_rich = io.StringIO()
    renderer = Renderer("json", stdout=io.StringIO(), stderr=through_rich, color=False)
    renderer.err_console  # noqa: B018 - a console in use: messages go through rich
    messages(renderer)
    assert plain.getvalue() == through_rich.getvalue()
    assert plain.getvalue() == (
        "Wrote\\x092 events\nWarning: to Order-\\x1b[31m1\nError: bad\n    line 2: x\n"
        "Hint: try --help\n"
    )
    coloured = io.StringIO()
    Renderer("json", stdout=io.StringIO(), stderr=coloured, terminal=True).warning("w")
    assert "\x1b[" in coloured.getvalue()  # a terminal still gets rich's styles


def test_a_json_read_with_a_note_does_not_import_rich(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'e.db'}"
    events = tmp_path / "e.jsonl"
    events.write_text('{"stream_id": "Order-1", "event_type": "A", "data": {}}\n' * 3)
    env = {**os.environ, "ESCTL_STORE": store, "NO_COLOR": ""}
    env.pop("FORCE_COLOR", None)
    for args in (["init"], ["append", str(events)]):
        subprocess.run([sys.executable, "-m", "esctl", *args], env=env, check=True)
    done = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "esctl",
            "read",
            "Order-1",
            "--limit",
            "1",
            "-o",
            "jsonl",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert len(done.stdout.splitlines()) == 1
    assert "Showing the first 1 row" in done.stderr  # the note was written…
    assert " rich" not in done.stderr  # …and rich never imported
