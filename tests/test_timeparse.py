"""Durations as people type them, one parser for every option and the config file."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from esctl.errors import UsageError
from esctl.timeparse import parse_duration, parse_time_arg
from tests.support.processes import run_cli
from tests.support.stores import Target


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("500ms", 0.5),
        ("10min", 600),
        ("1h30m", 5400),
        ("2d12h", 216000),
        ("1m30s", 90),
        ("1h 30m", 5400),
        ("1w2d", 777600),
        ("1m500ms", 60.5),
        ("2H", 7200),
        ("12", 12),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text, "--x") == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("1m1h", "give its units from the largest down, each once"),
        ("1h1h", "give its units from the largest down, each once"),
        ("1m1min", "give its units from the largest down, each once"),
        ("30s5", "is not a duration"),
        ("h", "is not a duration"),
        ("1x", "is not a duration"),
        ("-5m", "is not a duration"),
        ("", "is not a duration"),
        ("9" * 400 + "h", "too long a duration"),
    ],
)
def test_bad_durations_say_why(text: str, why: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_duration(text, "--stale-after")
    assert caught.value.message.startswith(f"--stale-after: {text!r} ")
    assert why in caught.value.message
    assert caught.value.hint == "use e.g. 500ms, 30s, 10m, 2h, 7d, 1h30m"


def test_a_compound_duration_ago() -> None:
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    assert parse_time_arg("1h30m", "--since", now=now) == datetime(2026, 5, 1, 10, 30, tzinfo=UTC)


def test_a_duration_ago_before_year_one_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="before the year 1"):
        parse_time_arg("999999999w", "--since")


def test_read_since_takes_a_compound_duration(initialised: Target) -> None:
    result = run_cli("read", "--all", "--since", "1h30m", "-o", "jsonl")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    bad = run_cli("read", "--all", "--since", "1m1h")
    assert bad.exit_code == 2
    assert bad.stderr.startswith(
        "Error: --since: '1m1h' is not a duration: give its units from the largest down"
    )


def test_bench_duration_takes_a_compound_duration_and_refuses_a_bad_one() -> None:
    bad = run_cli("bench", "append", "--duration", "soon")
    assert bad.exit_code == 2
    assert bad.stderr.startswith("Error: --duration: 'soon' is not a duration\n")


def test_tail_idle_timeout_takes_seconds_or_a_duration(initialised: Target) -> None:
    for value in ("0.2", "200ms", "0m0.3s"):
        result = run_cli("tail", "--all", "--idle-timeout", value, "-o", "jsonl")
        assert result.exit_code == 0, (value, result.stderr)
        assert result.stdout == "" and result.stderr.endswith("0 events.\n"), value
    for bad in ("-1", "soon"):
        refused = run_cli("tail", "--all", "--idle-timeout", bad)
        assert refused.exit_code == 2, bad
        assert refused.stderr.startswith(f"Error: --idle-timeout: '{bad}' is not a duration"), bad
