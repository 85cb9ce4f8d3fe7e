"""The format modules behind the renderer, one section each, and the registry `-o` reads.

Commands never look at the format: these tests drive each format through the renderer's
semantic methods (`table`, `result`, `stream`, `summary`, `live`, `ready_line`) the way the
commands do, and check what lands on stdout and stderr."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest

from esctl.display import Zone
from esctl.render import Column, Detail, Lines, Listing, Renderer, Said
from esctl.render.formats import REGISTRY, format_names, register
from esctl.render.formats.base import Format, LineOf
from esctl.render.views import View
from tests.conftest import run_cli

ROWS = [
    {"stream_id": "Order-1", "version": 3, "note": "x" * 120},
    {"stream_id": "Order-2", "version": 12, "note": "short"},
]
COLUMNS = [Column("stream_id", "stream"), Column("version"), Column("note", shrink=True)]
RECORD = {"stream_id": "Order-1", "version": 3, "counts": {"Placed": 2}}


def renderer(fmt: str, *, quiet: bool = False) -> tuple[Renderer, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return Renderer(fmt, stdout=out, stderr=err, color=False, quiet=quiet, width=60), out, err


def line_of(row: Mapping[str, Any], zone: Zone) -> str:
    return f"{row['stream_id']}@{row['version']} ({zone.label})"


def live_output(fmt: str) -> tuple[str, str]:
    """What `live` wrote once created (before any row), and after two rows."""
    out, stdout, _ = renderer(fmt)
    write = out.live(COLUMNS, line_of)
    before = stdout.getvalue()
    for row in ROWS:
        write(row)
    return before, stdout.getvalue()


# --- table ------------------------------------------------------------------------------------


def test_table_cuts_a_shrink_column_to_the_terminal_and_notes_empty_listings() -> None:
    out, stdout, err = renderer("table")
    assert out.table(ROWS, COLUMNS) == 2
    assert "Order-1" in stdout.getvalue() and "…" in stdout.getvalue()
    assert max(len(line) for line in stdout.getvalue().splitlines()) <= 60
    out.table([], COLUMNS, empty="No streams.", legend="Versions count from 1.")
    assert err.getvalue().splitlines() == ["No streams.", "Versions count from 1."]


def test_table_shows_a_results_view_instead_of_the_object() -> None:
    out, stdout, err = renderer("table")
    out.result(RECORD, view=Lines("SELECT 1;\n", note="Dry run."))
    out.result(RECORD, view=Said(["Applied migration 2."]))
    assert stdout.getvalue() == "SELECT 1;\n"
    assert err.getvalue().splitlines() == ["Dry run.", "Applied migration 2."]
    out.result(
        RECORD, view=Detail({"stream": "Order-1"}, title="Stream", parts=[Listing(ROWS, COLUMNS)])
    )
    shown = stdout.getvalue()
    assert "Stream" in shown and "Order-2" in shown and "counts" not in shown


def test_table_hides_a_report_table_under_quiet_and_summaries_show() -> None:
    out, stdout, _ = renderer("table", quiet=True)
    assert out.table(ROWS, COLUMNS, as_message=True) == 0
    assert stdout.getvalue() == ""
    kept = out.stream(iter(ROWS), COLUMNS, limit=1, keep=True)
    assert stdout.getvalue() == "" and len(kept) == 2  # limit + 1: the cut is known later
    assert out.summary(kept, COLUMNS, limit=1) == 1
    assert "Order-1" in stdout.getvalue() and "Order-2" not in stdout.getvalue()


def test_table_writes_live_rows_as_lines_in_its_zone() -> None:
    before, after = live_output("table")
    assert before == ""
    assert after == "Order-1@3 (UTC)\nOrder-2@12 (UTC)\n"


def test_table_ready_line_is_the_text_and_default_limit_is_100() -> None:
    out, stdout, _ = renderer("table")
    out.ready_line({"url": "x"}, "sqlite:///x.db\n")
    assert stdout.getvalue() == "sqlite:///x.db\n"
    assert out.default_limit(None) == 100 and out.default_limit(5) == 5


# --- wide -------------------------------------------------------------------------------------


def test_wide_folds_what_table_cuts() -> None:
    out, stdout, _ = renderer("wide")
    out.table(ROWS, COLUMNS)
    assert "…" not in stdout.getvalue()
    assert stdout.getvalue().count("x") == 120  # every character, folded over lines
    assert out.format == "wide" and out.default_limit(None) == 100
    assert Renderer("table", wide=True).format == "wide"  # the older spelling


# --- json -------------------------------------------------------------------------------------


def test_json_listing_is_one_array_and_a_result_one_indented_object() -> None:
    out, stdout, err = renderer("json")
    out.table(ROWS, COLUMNS, empty="never for data", legend="nor this")
    assert json.loads(stdout.getvalue()) == ROWS and err.getvalue() == ""
    stdout.seek(0)
    stdout.truncate()
    out.result(RECORD, view=Lines("not for json\n"), csv=Listing(ROWS, COLUMNS))
    assert stdout.getvalue() == json.dumps(RECORD, indent=2) + "\n"
    assert out.default_limit(None) is None


def test_json_writes_encoded_json_lines_as_an_array_cut_at_the_limit() -> None:
    out, stdout, err = renderer("json")
    chunks = [b'{"n":1}\n{"n":2}\n', b'{"n":3}\n']
    written = out.table([], COLUMNS, limit=2, json_lines=lambda: iter(chunks))
    assert written == 2
    assert stdout.getvalue() == '[\n  {"n":1},\n  {"n":2}\n]\n'
    assert err.getvalue() == "Showing the first 2 rows; use --limit N to see more.\n"


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv", "table"])
def test_a_cut_listing_advises_jsonl_only_where_the_output_is_not_data(fmt: str) -> None:
    out, _, err = renderer(fmt)
    out.table([{"n": 1}, {"n": 2}, {"n": 3}], COLUMNS, limit=2)
    advice = (
        "use --limit N to see more, or -o jsonl for everything"
        if fmt == "table"
        else ("use --limit N to see more")
    )
    assert err.getvalue() == f"Showing the first 2 rows; {advice}.\n"


def test_json_live_rows_and_ready_line_are_compact_json_lines() -> None:
    before, after = live_output("json")
    assert before == ""
    assert [json.loads(line) for line in after.splitlines()] == ROWS
    out, stdout, _ = renderer("json")
    out.ready_line({"url": "x", "pid": 1}, "ignored\n")
    assert stdout.getvalue() == '{"url": "x", "pid": 1}\n'


# --- jsonl ------------------------------------------------------------------------------------


def test_jsonl_listing_and_result_are_one_object_per_line() -> None:
    out, stdout, _ = renderer("jsonl")
    out.table(ROWS, COLUMNS, limit=1)
    assert stdout.getvalue() == json.dumps(ROWS[0]) + "\n"
    stdout.seek(0)
    stdout.truncate()
    out.result(RECORD, title="ignored")
    assert stdout.getvalue() == json.dumps(RECORD) + "\n"


def test_jsonl_passes_encoded_lines_through_untouched() -> None:
    out, stdout, _ = renderer("jsonl")
    out.table([], COLUMNS, json_lines=lambda: iter([b'{"a": 1}\n', b'{"b": 2}\n']))
    assert stdout.getvalue() == '{"a": 1}\n{"b": 2}\n'


def test_jsonl_streams_rows_while_work_goes_on() -> None:
    out, stdout, _ = renderer("jsonl")
    seen: list[int] = []

    def rows() -> Iterator[dict[str, Any]]:
        for n in range(5):
            seen.append(n)
            yield {"n": n}

    assert out.stream(rows(), [Column("n")], limit=2, keep=True) == []
    assert stdout.getvalue() == '{"n": 0}\n{"n": 1}\n'
    assert seen == [0, 1, 2, 3, 4]  # past the limit, every row is still consumed
    assert out.summary([{"n": 9}], [Column("n")]) == 0 and "9" not in stdout.getvalue()


# --- csv --------------------------------------------------------------------------------------


def test_csv_listing_has_a_header_and_raw_values() -> None:
    out, stdout, _ = renderer("csv")
    out.table([{"n": 1234, "ok": True}], [Column("n"), Column("ok")])
    assert stdout.getvalue() == "n,ok\n1234,true\n"


def test_csv_result_is_its_own_row_or_the_rows_it_names() -> None:
    out, stdout, _ = renderer("csv")
    out.result({"a": 1, "b": None})
    assert stdout.getvalue() == "a,b\n1,\n"
    stdout.seek(0)
    stdout.truncate()
    out.result(RECORD, csv=Listing(ROWS, COLUMNS[:2]))
    assert stdout.getvalue() == "stream_id,version\nOrder-1,3\nOrder-2,12\n"


def test_csv_live_writes_its_header_before_the_first_row() -> None:
    before, after = live_output("csv")
    assert before == "stream_id,version,note\n"
    assert after.splitlines()[1:] == [f"Order-1,3,{'x' * 120}", "Order-2,12,short"]


# --- the registry -----------------------------------------------------------------------------


class TsvFormat(Format):
    """A format a test adds: tab-separated values."""

    name = "tsv"

    def listing(
        self, rows: Iterator[Mapping[str, Any]], columns: Sequence[Column], title: str | None
    ) -> int:
        lines = ["\t".join(c.key for c in columns)]
        lines += ["\t".join(str(row.get(c.key)) for c in columns) for row in rows]
        self.out.stdout.write("\n".join(lines) + "\n")
        return len(lines) - 1

    def result(
        self,
        record: Mapping[str, Any],
        *,
        title: str | None,
        view: View | None,
        csv: Listing | None,
    ) -> None:
        self.listing(iter([record]), [Column(key) for key in record], title)

    def live(self, columns: Sequence[Column], line: LineOf) -> Any:
        raise NotImplementedError


@pytest.fixture
def tsv() -> Iterator[None]:
    register(TsvFormat)
    try:
        yield
    finally:
        del REGISTRY["tsv"]


def test_the_builtin_formats_are_registered_in_the_order_o_lists_them() -> None:
    assert format_names() == ("table", "json", "jsonl", "csv", "wide")
    with pytest.raises(ValueError, match="already registered"):
        register(REGISTRY["json"])


def test_a_registered_format_is_an_o_choice_and_renders_a_command(tsv: None) -> None:
    from esctl.cli.introspect import command_tree

    output = next(o for o in command_tree().options if "--output" in o.names)
    assert output.choices == ("table", "json", "jsonl", "csv", "wide", "tsv")  # help, completion
    result = run_cli("config", "path", "-o", "tsv")
    assert result.exit_code == 0, result.stderr
    header, values = result.stdout.splitlines()
    assert header == "config_file\tsearched"
    assert values.split("\t")[1].startswith("[")
    refused = run_cli("config", "path", "-o", "parquet")
    assert refused.exit_code == 2 and "'tsv'" in refused.stderr


def test_a_cell_qualified_by_another_field_is_marked_in_tables_only() -> None:
    rows = [{"lag": 1234, "lag_estimated": True}]
    lag = Column("lag", cell_of=lambda row: f"~{row['lag']:,}" if row["lag_estimated"] else "")
    table, table_out, _ = renderer("table")
    table.table(rows, [lag])
    assert "~1,234" in table_out.getvalue()
    csv, csv_out, _ = renderer("csv")
    csv.table(rows, [lag])
    assert csv_out.getvalue() == "lag\n1234\n"


def test_progress_off_a_terminal_draws_nothing_but_prints_failure_lines() -> None:
    out, stdout, err = renderer("table")
    with out.progress("streams") as bars:
        assert not bars.shown
        bars.update("rebuilding", count=5, total=10)
        bars.advance("rebuilding")
        bars.print("Failed: Order-\x1b[31m1: boom")
    assert stdout.getvalue() == ""
    assert err.getvalue() == "Failed: Order-\\x1b[31m1: boom\n"
