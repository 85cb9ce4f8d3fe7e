"""`append` reads any readable file, streamed once: a FIFO, `/dev/stdin`, process substitution
(`/dev/fd/N`); never seeked, spooled for a second pass like `-`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.support.processes import run_cli
from tests.support.stores import Target

EVENTS = [
    {"stream_id": f"Order-{i % 3}", "event_type": "Placed", "data": {"i": i}} for i in range(50)
]


def _stored(target: Target) -> list[dict[str, object]]:
    with target.open(write=False, create=False) as store, store.reading() as session:
        return session.fetchall(
            "SELECT stream_id, version, event_data FROM {events} ORDER BY global_position"
        )


def _feed(fifo: Path, data: bytes) -> threading.Thread:
    def write() -> None:
        with fifo.open("wb") as writer:  # blocks until esctl opens the FIFO for reading
            for start in range(0, len(data), 7):  # in small pieces, as a slow producer would
                writer.write(data[start : start + 7])
                writer.flush()

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("commit_every", [None, "7"])
@pytest.mark.parametrize(("name", "layout"), [("events", "lines"), ("events.json", "array")])
def test_append_from_a_fifo(
    initialised: Target, tmp_path: Path, name: str, layout: str, commit_every: str | None
) -> None:
    fifo = tmp_path / name
    os.mkfifo(fifo)
    if layout == "lines":
        data = "".join(json.dumps(e) + "\n" for e in EVENTS)
    else:
        data = json.dumps(EVENTS, indent=2)
    writer = _feed(fifo, data.encode())
    extra = ["--commit-every", commit_every] if commit_every else []
    result = run_cli("append", str(fifo), *extra, "-o", "json")
    writer.join(timeout=10)
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert sum(r["appended"] for r in rows) == len(EVENTS)
    stored = _stored(initialised)
    assert len(stored) == len(EVENTS)
    data_of = [r["event_data"] for r in stored]
    values = [json.loads(d) if isinstance(d, str) else d for d in data_of]
    assert [v["i"] for v in values] == list(range(50))


def test_a_problem_in_a_fifo_names_the_fifo_and_line(initialised: Target, tmp_path: Path) -> None:
    fifo = tmp_path / "input.jsonl"
    os.mkfifo(fifo)
    writer = _feed(fifo, (json.dumps(EVENTS[0]) + "\n{oops\n").encode())
    result = run_cli("append", str(fifo))
    writer.join(timeout=10)
    assert result.exit_code == 6
    assert f"  {fifo}:2: not valid JSON" in result.stderr
    assert _stored(initialised) == []


def test_append_from_dev_stdin_pipe(initialised: Target) -> None:
    data = "".join(json.dumps(e) + "\n" for e in EVENTS)
    result = subprocess.run(
        [sys.executable, "-m", "esctl", "append", "/dev/stdin", "-o", "jsonl"],
        input=data,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert sum(json.loads(line)["appended"] for line in result.stdout.splitlines()) == 50
    assert len(_stored(initialised)) == 50


@pytest.mark.skipif(shutil.which("bash") is None, reason="process substitution needs bash")
def test_append_from_process_substitution(initialised: Target, tmp_path: Path) -> None:
    source = tmp_path / "src.jsonl"
    source.write_text("".join(json.dumps(e) + "\n" for e in EVENTS))
    command = f'"{sys.executable}" -m esctl append <(cat "{source}") --commit-every 10 -o jsonl'
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert sum(json.loads(line)["appended"] for line in result.stdout.splitlines()) == 50
    assert len(_stored(initialised)) == 50


def test_missing_file_and_directory_are_still_refused(initialised: Target, tmp_path: Path) -> None:
    missing = run_cli("append", str(tmp_path / "nope.jsonl"))
    assert missing.exit_code == 6
    assert missing.stderr == f"Error: cannot read {tmp_path / 'nope.jsonl'}: no such file\n"
    directory = run_cli("append", str(tmp_path))
    assert directory.exit_code == 6
    assert directory.stderr == f"Error: cannot read {tmp_path}: is a directory\n"
