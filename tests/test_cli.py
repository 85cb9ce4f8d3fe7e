"""The command line as a whole: global options, help, exit codes and error lines."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from esctl import __version__
from esctl.cli.app import app, hoist_global_options
from tests.conftest import Target, run_cli, run_process, write_config


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
    "url", ["host=localhost password=hunter2 junk", "postgresql://u@localhost/db?bogus=1"]
)
def test_a_malformed_postgresql_url_is_a_usage_error(url: str) -> None:
    for command in ("doctor", "stats"):
        result = run_process("-s", url, command)
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith("Error: bad store URL ")
        assert "hunter2" not in result.stderr
