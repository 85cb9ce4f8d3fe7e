"""`read … --format TEMPLATE` and `tail --format` (kcat -f style lines), on both engines, and the
template parser's refusals."""

from __future__ import annotations

import pytest

from esctl.errors import UsageError
from esctl.render.template import parse_template
from tests.support.data import write_jsonl
from tests.support.processes import run_cli

FIELDS = ("global_position", "stream_id", "event_type", "data", "metadata", "version")

EVENTS = [
    {
        "stream_id": "Order-1",
        "event_type": "OrderPlaced",
        "data": {"amount": 12.5, "customer": {"id": "C-42"}, "lines": [{"sku": "A"}]},
        "metadata": {"user": "alice"},
    },
    {
        "stream_id": "Order-1",
        "event_type": "OrderNoted",
        "data": {"amount": 3, "note": "two\nlines\x1b[31m", "flag": True, "nil": None},
    },
    {"stream_id": "Pay-1", "event_type": "PaymentTaken", "data": {"amount": "7"}},
]


@pytest.fixture
def events(initialised: object, tmp_path: object) -> None:
    from pathlib import Path

    path = write_jsonl(Path(str(tmp_path)) / "format.jsonl", EVENTS)
    result = run_cli("append", str(path))
    assert result.exit_code == 0, result.stderr


@pytest.mark.usefixtures("events")
def test_read_all_lines_from_a_template() -> None:
    result = run_cli(
        "read", "--all", "--format", "{global_position} {stream_id} {event_type} {data.amount}"
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "1 Order-1 OrderPlaced 12.5",
        "2 Order-1 OrderNoted 3",
        "3 Pay-1 PaymentTaken 7",
    ]


@pytest.mark.usefixtures("events")
def test_paths_missing_values_json_values_and_escapes() -> None:
    result = run_cli(
        "read",
        "Order-1",
        "-f",
        "{version}|{data.customer.id}|{data.lines.0.sku}|{data.flag}|{data.nil}|{data.none.x}"
        "|{metadata}|{{lit}}|{data.note}\\t.",
    )
    assert result.exit_code == 0, result.stderr
    first, second = result.stdout.split("\n")[:2]
    assert first == '1|C-42|A||||{"user": "alice"}|{lit}|\t.'
    # A value with a newline and an escape sequence stays on its line, made visible.
    assert second == "2|||true|||{}|{lit}|two\\x0alines\\x1b[31m\t."
    assert "\x1b" not in result.stdout
    assert len(result.stdout.splitlines()) == 2


@pytest.mark.usefixtures("events")
def test_a_template_that_ends_with_a_newline_gets_no_second_one() -> None:
    result = run_cli("read", "--all", "-f", "{event_type}\\n")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "OrderPlaced\nOrderNoted\nPaymentTaken\n"
    joined = run_cli("read", "--all", "-f", "{global_position},")
    assert joined.stdout == "1,\n2,\n3,\n"


@pytest.mark.usefixtures("events")
def test_tail_writes_template_lines() -> None:
    result = run_cli("tail", "--from-start", "--max", "3", "-f", "{stream_id}@{version}")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == ["Order-1@1", "Order-1@2", "Pay-1@1"]


@pytest.mark.usefixtures("events")
@pytest.mark.parametrize(
    ("template", "why"),
    [
        ("{nope}", "no field 'nope'"),
        ("{stream_id.x}", "no field 'stream_id.x'"),
        ("{data", "not closed"),
        ("x}", "closes nothing"),
        ("{}", "is not a field"),
        ("{data..a}", "is not a field"),
    ],
)
def test_bad_templates_are_usage_errors(template: str, why: str) -> None:
    result = run_cli("read", "--all", "-f", template)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert why in result.stderr


def test_the_parser() -> None:
    template = parse_template("{data.b} x", FIELDS)
    assert template.line({"data": {"b": [1, "two"]}}) == '[1, "two"] x\n'
    assert template.line({"data": "not an object"}) == " x\n"
    assert parse_template("", FIELDS).line({}) == "\n"
    assert parse_template("\\\\n", FIELDS).line({}) == "\\n\n"
    with pytest.raises(UsageError):
        parse_template("{ver sion}", FIELDS)
