"""The command line as a whole: global options, help, exit codes and error lines."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from esctl import __version__
from esctl.cli.app import app
from esctl.cli.globals import hoist_global_options
from tests.support.data import write_config
from tests.support.processes import run_cli, run_process
from tests.support.stores import Target


def test_version() -> None:
    result = run_cli("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"esctl {__version__}"


def test_help_lists_command_groups_by_task() -> None:
    result = run_cli("--help")
    assert result.exit_code == 0
    for panel in ("Set up", "init", "doctor", "config"):
        assert panel in result.stdout


def _commands() -> Iterator[tuple[str, ...]]:
    from typer.main import get_command

    def walk(command: Any, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for name, sub in subcommands.items():
                yield from walk(sub, (*path, name))
        else:
            yield path

    yield from walk(get_command(app), ())


@pytest.mark.parametrize("command", list(_commands()), ids=" ".join)
def test_every_command_has_help_with_an_example(command: tuple[str, ...]) -> None:
    result = run_cli(*command, "--help")
    assert result.exit_code == 0
    assert "Example" in result.stdout, f"esctl {' '.join(command)} --help has no example"
    assert f"esctl {command[0]}" in result.stdout or "esctl -" in result.stdout


def test_global_options_after_the_command_name() -> None:
    assert hoist_global_options(["stats", "-o", "json", "--limit", "5", "-q"]) == [
        "-o",
        "json",
        "-q",
        "stats",
        "--limit",
        "5",
    ]
    assert hoist_global_options(["read", "--output=jsonl", "--", "-o"]) == [
        "--output=jsonl",
        "read",
        "--",
        "-o",
    ]


def test_output_flag_before_or_after_gives_the_same_result(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 's.db'}"
    assert run_cli("-s", store, "init").exit_code == 0
    before = run_cli("-o", "json", "-s", store, "doctor")
    after = run_cli("doctor", "-s", store, "-o", "json")
    assert before.exit_code == after.exit_code == 0
    assert before.stdout == after.stdout and before.stdout.lstrip().startswith("{")


def test_missing_schema_is_exit_7_and_one_error_line(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'none.db'}"
    result = run_cli("-s", store, "config", "show")
    assert result.exit_code == 0  # config commands need no store
    result = run_process("-s", store, "doctor", "-o", "json")
    assert result.returncode == 7
    assert not (tmp_path / "none.db").exists(), "doctor must not create a store"


def test_bad_store_url_is_a_usage_error() -> None:
    result = run_process("-s", "mysql://x/y", "doctor")
    assert result.returncode == 2
    assert (
        result.stderr.splitlines()[0] == "Error: cannot tell which backend store 'mysql://x/y' is"
    )
    assert "Traceback" not in result.stderr


def test_unknown_command_is_exit_2() -> None:
    result = run_process("frobnicate")
    assert result.returncode == 2


def test_unreachable_server_is_exit_5_with_one_line() -> None:
    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql://esctl:hunter2@127.0.0.1:{port}/app"
    for command in ("doctor", "init"):
        result = run_process("-s", url, command, timeout=30)
        assert result.returncode == 5
        assert result.stderr.startswith("Error: store postgresql://esctl:***@127.0.0.1")
    assert "hunter2" not in result.stdout + result.stderr


def test_silent_server_times_out_with_exit_5(tmp_path: Path) -> None:
    """A server that accepts TCP but never answers: exit 5 after connect_timeout, not a hang."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    config = write_config(
        tmp_path / "c.yaml",
        {"slow": {"store": f"postgresql://esctl@127.0.0.1:{port}/app", "connect_timeout": 2}},
    )
    try:
        result = run_process("-c", str(config), "-p", "slow", "doctor", timeout=30)
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()
    assert result.returncode == 5
    assert "timeout" in result.stderr.lower() or "timed out" in result.stderr.lower()


def test_read_only_profile_refuses_writes_with_exit_8(target: Target, tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "ro.yaml",
        {"ro": {"store": target.url, "schema": target.schema, "read_only": True}},
    )
    result = run_cli("-c", str(config), "-p", "ro", "init")
    assert result.exit_code == 8
    assert result.stderr.startswith("Error: profile 'ro' is read-only")


def test_unexpected_errors_hint_at_verbose(tmp_path: Path) -> None:
    bad = tmp_path / "not-a-db.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    result = run_process("-s", f"sqlite:///{bad}", "doctor")
    assert result.returncode in (5, 7)
    assert result.stderr.startswith("Error:") or "FAIL" in result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "url",
    [
        "host=localhost password=hunter2 junk",
        "postgresql://u@localhost/db?bogus=1",
        # Values libpq checks only when it connects: still the URL's fault, not the server's.
        "postgresql://u:hunter2@127.0.0.1:1/db?sslmode=bogus",
        "postgresql://u:hunter2@127.0.0.1:abc/db",
        "postgresql://u:hunter2@127.0.0.1:1/db?target_session_attrs=sometimes",
    ],
)
def test_a_malformed_postgresql_url_is_a_usage_error(url: str) -> None:
    for command in ("doctor", "stats"):
        result = run_process("-s", url, command)
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith("Error: bad store URL ")
        assert "hunter2" not in result.stderr


# --- numbers and grammar in messages ------------------------------------------------------------


def test_plural_and_number_helpers() -> None:
    from esctl.words import noun_for, number, plural

    assert plural(1, "event") == "1 event"
    assert plural(0, "event") == "0 events"
    assert plural(300_000, "event") == "300,000 events"
    assert number(1234567) == "1,234,567"
    assert noun_for(1, "was") == "was" and noun_for(2, "was") == "were"
    assert plural(2, "entry") == "2 entries"


def _event(stream: str, n: int, event_id: str | None = None) -> str:
    import json

    event: dict[str, Any] = {"stream_id": stream, "event_type": "Noted", "data": {"n": n}}
    if event_id:
        event["event_id"] = event_id
    return json.dumps(event)


def test_append_message_counts_in_words_and_only_streams_that_receive_events(
    initialised: Target, tmp_path: Path
) -> None:
    ids = [f"00000000-0000-4000-8000-00000000000{i}" for i in range(1, 5)]
    first = tmp_path / "first.jsonl"
    first.write_text(_event("A-1", 1, ids[0]) + "\n" + _event("B-1", 1, ids[1]) + "\n")
    one = run_cli("append", str(first))
    assert one.exit_code == 0, one.stderr
    assert "Appended 2 events to 2 streams." in one.stderr
    # The same two events again plus one new event for a third stream: one stream receives one.
    again = tmp_path / "again.jsonl"
    lines = [_event("A-1", 1, ids[0]), _event("B-1", 1, ids[1]), _event("C-1", 1, ids[2])]
    again.write_text("\n".join(lines) + "\n")
    dry = run_cli("append", str(again), "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert (
        "Would append 1 event to 1 stream; 2 were already stored (duplicates, not appended)."
        in dry.stderr
    ), dry.stderr
    single = tmp_path / "single.jsonl"
    single.write_text(_event("A-1", 2, ids[3]) + "\n")
    result = run_cli("append", str(single))
    assert result.exit_code == 0, result.stderr
    assert "Appended 1 event to 1 stream." in result.stderr
    assert " 1 events" not in result.stderr and " 1 streams" not in result.stderr


def test_append_message_uses_thousands_separators(initialised: Target, tmp_path: Path) -> None:
    source = tmp_path / "many.jsonl"
    source.write_text("".join(_event(f"S-{i % 3}", i) + "\n" for i in range(1200)))
    result = run_cli("append", str(source))
    assert result.exit_code == 0, result.stderr
    assert "Appended 1,200 events to 3 streams." in result.stderr


def test_misplaced_read_options_error_is_grammatical(initialised: Target) -> None:
    one = run_cli("read", "A-1", "--category", "A")
    assert one.exit_code == 2
    assert one.stderr.splitlines()[0] == "Error: --category works only with --all"
    two = run_cli("read", "A-1", "--category", "A", "--type", "Noted")
    assert two.exit_code == 2
    assert two.stderr.splitlines()[0] == "Error: --category and --type work only with --all"


def test_tail_end_note_is_singular_for_one_event(initialised: Target, tmp_path: Path) -> None:
    source = tmp_path / "one.jsonl"
    source.write_text(_event("A-1", 1) + "\n")
    assert run_cli("append", str(source)).exit_code == 0
    result = run_cli("tail", "--all", "--from-start", "--idle-timeout", "0.5", "-o", "jsonl")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines()[-1] == "1 event."
    assert len(result.stdout.splitlines()) == 1


def test_bench_names_the_server_and_prints_readable_parameters(initialised: Target) -> None:
    import re

    result = run_cli("bench", "read", "--events", "30", "--batch-size", "10", "--seed", "1234")
    assert result.exit_code == 0, result.stderr
    server = r"PostgreSQL \d+(\.\d+)*" if initialised.backend == "postgresql" else r"SQLite 3\.\d+"
    assert re.search(rf"esctl bench — {server}\b", result.stdout), result.stdout
    note = " ".join(result.stderr.split())
    assert "Parameters: events 30, streams 100, batch size 10, writers 1, " in note, note
    assert "payload 256 bytes, tail rate 1,000 events/s, warm-up 0 events, seed 1234." in note
    assert "{" not in result.stderr and "'events'" not in result.stderr


def test_server_label() -> None:
    from esctl.bench import server_label

    assert server_label("postgresql", "18.1 (Debian 18.1-1.pgdg13+2)") == "PostgreSQL 18.1"
    assert server_label("postgresql", "16.4") == "PostgreSQL 16.4"
    assert server_label("sqlite", "SQLite 3.46.1") == "SQLite 3.46.1"
