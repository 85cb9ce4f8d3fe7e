"""Hostile input: names with quotes, semicolons, `$$`, backslashes, Unicode and 10 KB are stored
verbatim or refused with exit 6, never executed; malformed or oversized JSON files are refused with
exit 6 in bounded memory and write nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.data import all_events, write_config, write_jsonl
from tests.support.figures import record
from tests.support.processes import profile_env, run_cli, run_measured
from tests.support.stores import Target

pytestmark = pytest.mark.reliability

HOSTILE = [
    "it's",
    'say "hi"',
    "x'); DROP TABLE events; --",
    "semi;colon; DELETE FROM subscription_checkpoints",
    "$$ SELECT pg_sleep(10) $$",
    "$tag$ body $tag$",
    "back\\slash\\n\\\\",
    "%s %(name)s {events} {}",
    "Ünïcødé-заказ-注文-🎉",
    "tab\tnew\nline",
    " leading and trailing ",
]
TEN_KB = "k" * 10_240
PEAK_RSS_BOUND = 500 << 20  # generous: the point is "bounded", not "small"


@pytest.fixture
def cli_target(
    initialised_target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Target:
    for name, value in profile_env(initialised_target, tmp_path).items():
        monkeypatch.setenv(name, value)
    return initialised_target


def test_hostile_stream_ids_and_event_types_are_stored_verbatim(
    cli_target: Target, tmp_path: Path
) -> None:
    events = [
        {
            "stream_id": f"{name}-{i}",
            "event_type": name,
            "data": {"name": name},
            "metadata": {name: name},
        }
        for i, name in enumerate(HOSTILE)
    ]
    result = run_cli("append", str(write_jsonl(tmp_path / "hostile.jsonl", events)))
    assert result.exit_code == 0, result.stderr
    for event in events:
        read = run_cli("read", event["stream_id"], "-o", "jsonl")
        assert read.exit_code == 0, read.stderr
        (stored,) = [json.loads(line) for line in read.stdout.splitlines()]
        assert stored["stream_id"] == event["stream_id"]
        assert stored["event_type"] == event["event_type"]
        assert stored["stream_type"] == event["stream_id"].split("-")[0]
        assert stored["data"] == event["data"] and stored["metadata"] == event["metadata"]
        shown = run_cli("streams", "show", event["stream_id"], "-o", "json")
        assert shown.exit_code == 0, shown.stderr
    by_type = run_cli("read", "--all", "--type", "x'); DROP TABLE events; --", "-o", "jsonl")
    assert by_type.exit_code == 0 and len(by_type.stdout.splitlines()) == 1
    assert len(all_events(cli_target)) == len(HOSTILE)  # the table is still there, nothing extra


@pytest.mark.parametrize("field", ["stream_id", "event_type", "stream_type"])
def test_ten_kb_names_are_refused_before_writing(
    cli_target: Target, tmp_path: Path, field: str
) -> None:
    event: dict[str, Any] = {"stream_id": "Order-1", "event_type": "Placed", "data": {}}
    event[field] = TEN_KB
    good = {"stream_id": "Order-2", "event_type": "Placed", "data": {}}
    path = write_jsonl(tmp_path / "long.jsonl", [good, event])
    result = run_cli("append", str(path))
    assert result.exit_code == 6, result.stderr
    assert f"{path}:2: field '{field}': longer than 255 characters" in result.stderr
    assert all_events(cli_target) == []


def test_ten_kb_data_values_are_stored_verbatim(cli_target: Target, tmp_path: Path) -> None:
    event = {"stream_id": "Order-1", "event_type": "Placed", "data": {TEN_KB: TEN_KB + "'$$;\\"}}
    assert run_cli("append", str(write_jsonl(tmp_path / "big.jsonl", [event]))).exit_code == 0
    read = run_cli("read", "Order-1", "-o", "jsonl")
    assert json.loads(read.stdout)["data"] == event["data"]


@pytest.mark.parametrize("name", [*HOSTILE, TEN_KB[:255]])
def test_hostile_subscription_names_are_data(cli_target: Target, name: str) -> None:
    run_cli("append", "-", input='{"stream_id": "Order-1", "event_type": "Placed", "data": {}}\n')
    moved = run_cli("checkpoints", "set", name, "--position", "1", "--execute")
    assert moved.exit_code == 0, moved.stderr
    listed = run_cli("checkpoints", "list", "-o", "json")
    assert [c["subscription_id"] for c in json.loads(listed.stdout)] == [name]
    shown = run_cli("checkpoints", "show", name, "-o", "json")
    assert shown.exit_code == 0, shown.stderr
    tailed = run_cli("tail", "--all", "--checkpoint", name, "--idle-timeout", "0.2", "-o", "jsonl")
    assert tailed.exit_code == 0, tailed.stderr
    deleted = run_cli("checkpoints", "delete", name, "--execute")
    assert deleted.exit_code == 0, deleted.stderr
    assert json.loads(run_cli("checkpoints", "list", "-o", "json").stdout) == []


@pytest.mark.parametrize(
    "args",
    [
        ["checkpoints", "set", TEN_KB, "--to-start", "--execute"],
        ["checkpoints", "show", TEN_KB],
        ["checkpoints", "delete", TEN_KB, "--execute"],
        ["tail", "--all", "--checkpoint", TEN_KB, "--idle-timeout", "0.1"],
    ],
)
def test_a_ten_kb_subscription_name_is_invalid_input_on_both_backends(
    cli_target: Target, args: list[str]
) -> None:
    # The seed's subscription_id is VARCHAR(255): SQLite gets the same rule, so a name that
    # works on one backend works on the other (this was a raw "PostgreSQL error", exit 1).
    result = run_cli(*args)
    assert result.exit_code == 6, result.stderr
    assert result.stderr == (
        f"Error: subscription name {'k' * 40!r}… (10240 characters) is longer than 255 characters\n"
    )
    assert json.loads(run_cli("checkpoints", "list", "-o", "json").stdout) == []


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("statement_timeout", "5s; DROP TABLE events", "statement_timeout"),
        ("connect_timeout", "1 host=evil", "connect_timeout"),
        ("read_only", "yes'; --", "read_only"),
        ("password_env", "X; rm -rf /", None),
    ],
)
def test_hostile_profile_values_are_refused_or_inert(
    initialised_target: Target, tmp_path: Path, key: str, value: str, message: str | None
) -> None:
    config = write_config(
        tmp_path / "hostile.yaml",
        {"h": {"store": initialised_target.url, "schema": initialised_target.schema, key: value}},
    )
    result = run_cli("-c", str(config), "-p", "h", "stats")
    if message is None and initialised_target.backend == "sqlite":
        assert result.exit_code == 0, result.stderr  # SQLite needs no password: never read
    elif message is None:  # an unset variable: refused as configuration, never run
        assert result.exit_code == 2, result.stderr
        assert result.stderr.startswith("Error: password_env names $X; rm -rf /, which is not set")
    else:
        assert result.exit_code == 2, result.stderr
        assert result.stderr.startswith("Error: ") and message in result.stderr.splitlines()[0]
    assert all_events(initialised_target) == []


@pytest.mark.postgres
def test_hostile_schema_from_a_profile_is_an_identifier(pg_target: Target, tmp_path: Path) -> None:
    import psycopg
    from psycopg import sql

    schema = "s'; DROP SCHEMA public CASCADE; --$$\\"
    env = profile_env(Target("postgresql", pg_target.url, schema), tmp_path)
    try:
        config, profile = env["ESCTL_CONFIG"], env["ESCTL_PROFILE"]
        assert run_cli("-c", config, "-p", profile, "init").exit_code == 0
        appended = run_cli(
            "-c",
            config,
            "-p",
            profile,
            "append",
            "-",
            input='{"stream_id": "A-1", "event_type": "T", "data": {}}\n',
        )
        assert appended.exit_code == 0, appended.stderr
        assert run_cli("-c", config, "-p", profile, "read", "A-1", "-o", "jsonl").exit_code == 0
        with psycopg.connect(pg_target.url, autocommit=True) as conn:
            assert conn.execute(
                sql.SQL("SELECT count(*) FROM {}.events").format(sql.Identifier(schema))
            ).fetchone() == (1,)
            assert conn.execute(
                "SELECT count(*) FROM pg_namespace WHERE nspname = 'public'"
            ).fetchone() == (1,)
    finally:
        with psycopg.connect(pg_target.url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


# --- malformed and oversized files ------------------------------------------------------------


def _event_line(data: str) -> str:
    return '{"stream_id": "Order-1", "event_type": "Placed", "data": ' + data + "}\n"


def _deep(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


BAD_FILES = {
    "fifty_mb_unterminated_string": (
        '{"stream_id": "Order-1", "event_type": "P", "data": {"s": "' + "x" * (50 << 20) + "\n"
    ),
    "fifty_mb_valid_line_then_a_broken_one": (
        _event_line('{"s": "' + "x" * (50 << 20) + '"}') + '{"stream_id": "Order-1",\n'
    ),
    "ten_thousand_deep_data": _event_line(_deep(10_000)),
    "ten_thousand_deep_array": "[" * 10_000 + "]" * 10_000 + "\n",
    "duplicate_keys": _event_line('{"k": 1, "k": 2}'),
    "duplicate_top_level_keys": '{"stream_id": "A-1", "stream_id": "B-1", "event_type": "T", "data": {}}\n',
    "nan": _event_line('{"x": NaN}'),
    "infinity": _event_line('{"x": -Infinity}'),
    "float_out_of_range": _event_line('{"x": 1e400}'),
    "five_thousand_digit_integer": _event_line('{"x": ' + "9" * 5000 + "}"),
    "nul_character": _event_line('{"x": "a\\u0000b"}'),
    "unpaired_surrogate": _event_line('{"x": "\\ud800"}'),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_json_files_exit_6_in_bounded_memory_writing_nothing(
    initialised_target: Target, tmp_path: Path, case: str
) -> None:
    good = _event_line('{"ok": true}')
    path = tmp_path / f"{case}.jsonl"
    path.write_text(good + BAD_FILES[case], encoding="utf-8")
    code, _, stderr, peak = run_measured(
        ["append", str(path)], profile_env(initialised_target, tmp_path), tmp_path
    )
    size_mb = round(path.stat().st_size / (1 << 20), 1)
    record(
        f"bad JSON {case} [{initialised_target.backend}]",
        file_mb=size_mb,
        exit=code,
        peak_rss_mb=peak >> 20,
        written=len(all_events(initialised_target)),
    )
    assert code == 6, stderr[-2000:]
    first = stderr.splitlines()[0]
    assert first.startswith("Error: ") and len(first) < 300, first
    assert f"{path}:" in stderr[:2000], stderr[:2000]
    assert peak < PEAK_RSS_BOUND, f"peak RSS {peak >> 20} MB"
    assert all_events(initialised_target) == []


def test_a_huge_integer_that_fits_is_kept_exactly(cli_target: Target, tmp_path: Path) -> None:
    number = 10**30 + 7
    path = tmp_path / "big-int.jsonl"
    path.write_text(_event_line('{"n": ' + str(number) + "}"))
    result = run_cli("append", str(path))
    if result.exit_code == 6:  # refusing is allowed; silently rounding is not
        assert all_events(cli_target) == []
        return
    assert result.exit_code == 0, result.stderr
    assert json.loads(run_cli("read", "Order-1", "-o", "jsonl").stdout)["data"] == {"n": number}
