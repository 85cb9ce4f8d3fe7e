"""SIGTERM or SIGINT to a running `esctl bench`: it stops its writer processes, removes its
temporary files and drops its throwaway schema (PostgreSQL) or file (SQLite), then exits 143/130.
Nothing is left behind: no child process, no esctl_bench_* schema, no temporary file."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.processes import esctl_command, profile_env
from tests.support.stores import Target

pytestmark = pytest.mark.reliability

WRITERS = 2


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def _writers(pid: int) -> list[int]:
    writers = []
    for child in _children(pid):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline:
            writers.append(child)
    return writers


def _bench_schemas(target: Target) -> set[str]:
    if target.backend != "postgresql":
        return set()
    import psycopg

    with psycopg.connect(target.url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'esctl\\_bench\\_%'"
        ).fetchall()
    return {row[0] for row in rows}


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_mid_bench_leaves_nothing_behind(
    initialised_target: Target, tmp_path: Path, signum: int, code: int
) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    before = _bench_schemas(initialised_target)
    env = {**os.environ, **profile_env(initialised_target, tmp_path), "TMPDIR": str(temp)}
    args = ["bench", "append", "--events", "150000", "--writers", str(WRITERS)]
    process = subprocess.Popen(
        esctl_command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    deadline = time.monotonic() + 120
    writers: list[int] = []
    while len(writers) < WRITERS:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the writers never started"
        time.sleep(0.05)
        writers = _writers(process.pid)
    time.sleep(0.5)  # the writers are appending now
    children = _children(process.pid)
    if initialised_target.backend == "postgresql":
        assert _bench_schemas(initialised_target) - before, "no bench schema while running"
    assert list(temp.iterdir()), "no bench temporary files while running"
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == code, stderr
    if signum == signal.SIGTERM:
        assert stderr.endswith(
            "Terminated: the bench stopped its writers and removed its schema or file.\n"
        )
    else:
        assert stderr.endswith("Interrupted.\n")
    assert "Traceback" not in stderr
    assert stdout == ""
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [pid for pid in children if _alive(pid)] == []
    assert _bench_schemas(initialised_target) == before
    assert list(temp.iterdir()) == []
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".esctl-bench-")] == []
