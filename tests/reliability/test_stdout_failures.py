"""Standard output that fails: a reader that goes away (`| head -1`), a closed descriptor (`>&-`),
a full disk (`> /dev/full`). A closed pipe ends the command quietly with 141 on both backends; any
other write failure is one line `Error: cannot write output: …` with exit 1; never a traceback or
`Exception ignored …`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.data import seed_events
from tests.support.processes import esctl_command, profile_env
from tests.support.stores import Target

pytestmark = pytest.mark.reliability

STREAMS = 1000  # `streams list` prints ~110 kB: more than a pipe holds, so `head -1` cuts it
EVENTS = 4000  # about 1 MB of JSON lines: far more than a pipe holds

COMMANDS = [
    ["read", "--all", "-o", "jsonl"],
    ["read", "--all", "-o", "json"],
    ["read", "--all", "-o", "csv"],
    ["read", "--all", "--limit", "3000"],
    ["read", "Order-1", "-o", "jsonl"],
    ["streams", "list", "-o", "jsonl"],
    ["streams", "list", "-o", "csv"],
    ["streams", "list"],
    ["stats"],
    ["stats", "-o", "json"],
]


@pytest.fixture
def filled(initialised_target: Target, tmp_path: Path) -> dict[str, str]:
    with initialised_target.open() as store:
        seed_events(
            store,
            [(f"Order-{i % STREAMS}", "Placed", {"i": i, "pad": "x" * 150}) for i in range(EVENTS)],
        )
    return profile_env(initialised_target, tmp_path)


def _env(env: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **env, "COLUMNS": "120"}


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a))
def test_reader_gone_before_the_first_write_ends_quietly_with_141(
    filled: dict[str, str], args: list[str]
) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # every write gets EPIPE
    try:
        result = subprocess.run(
            esctl_command(*args),
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            env=_env(filled),
        )
    finally:
        os.close(write_end)
    assert result.returncode == 141, result.stderr
    assert result.stderr == ""


@pytest.mark.parametrize(
    "args",
    [["--help"], ["read", "--help"], ["checkpoints", "set", "--help"], ["--version"]],
    ids=" ".join,
)
def test_help_into_a_closed_pipe_ends_quietly_with_141(args: list[str]) -> None:
    """`esctl read --help | head -1`: help, like data, ends with 141 and nothing on stderr
    (the command-line library's own handling would say exit 1)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            esctl_command(*args),
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            env={**os.environ, "COLUMNS": "120"},
        )
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (141, "")


@pytest.mark.parametrize(
    "args",
    [
        ["read", "--all", "-o", "jsonl"],
        ["read", "--all", "-o", "csv"],
        ["streams", "list", "-o", "jsonl"],
    ],
    ids=lambda a: " ".join(a),
)
def test_head_1_ends_the_listing_promptly_and_quietly(
    filled: dict[str, str], args: list[str]
) -> None:
    """`esctl … | head -1`: the first line arrives, then the reader closes; esctl ends at once
    with 141, its read transaction closed (no `Exception ignored … closed database`)."""
    process = subprocess.Popen(
        esctl_command(*args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(filled),
    )
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    process.stdout.close()
    returncode = process.wait(timeout=30)
    stderr = process.stderr.read().decode()
    assert first.strip(), stderr
    assert returncode == 141, stderr
    assert stderr == ""


@pytest.mark.parametrize(
    "args", [["read", "--all", "-o", "jsonl"], ["read", "--all"], ["stats"]], ids=" ".join
)
def test_full_disk_is_one_error_line_exit_1(filled: dict[str, str], args: list[str]) -> None:
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            esctl_command(*args),
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            env=_env(filled),
        )
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines()[-1] == "Error: cannot write output: No space left on device"
    assert "Traceback" not in result.stderr and "unexpected" not in result.stderr


@pytest.mark.parametrize(
    "args", [["read", "--all", "-o", "jsonl"], ["read", "--all"], ["stats"]], ids=" ".join
)
def test_closed_stdout_is_one_error_line_exit_1(filled: dict[str, str], args: list[str]) -> None:
    shell = 'exec "$@" >&-'
    result = subprocess.run(
        ["sh", "-c", shell, "sh", *esctl_command(*args)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        env=_env(filled),
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines()[-1] == "Error: cannot write output: standard output is closed"
    assert "Traceback" not in result.stderr and "unexpected" not in result.stderr


def test_stdout_wrapper_keeps_the_bytes_and_the_tty_test(
    filled: dict[str, str], tmp_path: Path
) -> None:
    """The wrapper main() puts on stdout changes nothing when writes succeed."""
    out = tmp_path / "out.jsonl"
    with out.open("w") as handle:
        result = subprocess.run(
            esctl_command("read", "--all", "-o", "jsonl"),
            stdout=handle,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            env=_env(filled),
        )
    assert result.returncode == 0, result.stderr
    lines = out.read_text().splitlines()
    assert len(lines) == EVENTS
    assert lines[-1].startswith('{"global_position": ')
    assert sys.stdout is not None


@pytest.mark.parametrize(
    ("redirect", "reason"),
    [(">&-", "standard output is closed"), ("> /dev/full", "No space left on device")],
)
def test_version_outside_a_command_maps_the_same(redirect: str, reason: str) -> None:
    """`--version` writes while the command line is parsed, before any command runs."""
    result = subprocess.run(
        ["sh", "-c", f'exec "$@" {redirect}', "sh", *esctl_command("--version")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr == f"Error: cannot write output: {reason}\n"
