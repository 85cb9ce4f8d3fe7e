"""A SQLite store (WAL mode) in a directory nobody may write (read-only media, a 0555 directory):
every reading command works, writes are refused with exit 8. Root ignores permissions, so as root
the child esctl runs as `nobody` (setpriv)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.reliability

ROOT = os.geteuid() == 0


@pytest.fixture
def read_only_store() -> Iterator[Path]:
    if ROOT and shutil.which("setpriv") is None:
        pytest.fail("running as root needs setpriv to drop to nobody")
    base = Path(tempfile.mkdtemp(prefix="esctl-ro-", dir="/tmp"))
    home = base / "home"
    home.mkdir()
    directory = base / "media"
    directory.mkdir()
    events = base / "events.jsonl"
    events.write_text(
        "".join(
            json.dumps({"stream_id": f"Order-{i % 4}", "event_type": "Placed", "data": {"i": i}})
            + "\n"
            for i in range(20)
        )
    )
    url = f"sqlite:///{directory / 'events.db'}"
    for args in (["init"], ["append", str(events)]):
        done = subprocess.run(
            [sys.executable, "-m", "esctl", "-s", url, *args], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
    db = directory / "events.db"
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    assert not (directory / "events.db-wal").exists()  # checkpointed when the last one closed
    db.chmod(0o444)
    directory.chmod(0o555)
    for path in (base, home):
        path.chmod(0o777 if path == home else 0o755)
    try:
        yield db
    finally:
        directory.chmod(0o755)
        shutil.rmtree(base, ignore_errors=True)


def _run(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    home = db.parent.parent / "home"
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home),
        "ESCTL_STORE": f"sqlite:///{db}",
    }
    env.pop("ESCTL_CONFIG", None)
    env.pop("ESCTL_PROFILE", None)
    drop = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] if ROOT else []
    return subprocess.run(
        [*drop, sys.executable, "-m", "esctl", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=str(home),
    )


def test_the_directory_is_really_not_writable(read_only_store: Path) -> None:
    probe = _run(read_only_store, "--version")
    assert probe.returncode == 0, probe.stderr
    drop = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] if ROOT else []
    touch = subprocess.run([*drop, "touch", str(read_only_store.parent / "x")], capture_output=True)
    assert touch.returncode != 0


def test_reading_commands_work_on_read_only_media(read_only_store: Path) -> None:
    read = _run(read_only_store, "read", "--all", "-o", "jsonl")
    assert read.returncode == 0, read.stderr
    lines = [json.loads(line) for line in read.stdout.splitlines()]
    assert [e["data"]["i"] for e in lines] == list(range(20))

    stream = _run(read_only_store, "read", "Order-1", "-o", "jsonl")
    assert stream.returncode == 0, stream.stderr
    assert len(stream.stdout.splitlines()) == 5

    stats = _run(read_only_store, "stats", "-o", "json")
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["events"] == 20

    streams = _run(read_only_store, "streams", "list", "-o", "jsonl")
    assert streams.returncode == 0, streams.stderr
    assert len(streams.stdout.splitlines()) == 4

    show = _run(read_only_store, "events", "show", lines[0]["event_id"], "-o", "json")
    assert show.returncode == 0, show.stderr
    assert json.loads(show.stdout)["event_id"] == lines[0]["event_id"]

    tail = _run(
        read_only_store,
        "tail",
        "--all",
        "--from-position",
        "1",
        "--max",
        "20",
        "--idle-timeout",
        "2",
        "-o",
        "jsonl",
    )
    assert tail.returncode == 0, tail.stderr
    assert len(tail.stdout.splitlines()) == 20


def test_writes_on_read_only_media_are_refused_with_8(read_only_store: Path) -> None:
    result = _run(read_only_store, "append", "-", "--stream", "Order-1")
    assert result.returncode in (6, 8), result.stderr  # empty stdin may be refused first
    events = read_only_store.parent.parent / "events.jsonl"
    result = _run(read_only_store, "append", str(events))
    assert result.returncode == 8, result.stderr
    assert result.stderr.startswith("Error: store sqlite:///")


def _crash_after_commit(db: Path) -> None:
    """A writer that commits one more event and dies without checkpointing: the -wal keeps it."""
    script = (
        "import os, sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('PRAGMA wal_autocheckpoint=0')\n"
        "c.execute(\"UPDATE events SET event_type = 'Late' WHERE global_position = 1\")\n"
        "os._exit(0)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(db)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_pending_wal_commits_on_read_only_media(read_only_store: Path) -> None:
    """With its -shm, a WAL store with pending commits is read whole; without it (SQLite cannot
    build one in a read-only directory) it is refused with exit 8, never read stale."""
    directory = read_only_store.parent
    directory.chmod(0o755)
    read_only_store.chmod(0o644)
    _crash_after_commit(read_only_store)
    wal = directory / "events.db-wal"
    assert wal.stat().st_size > 0
    for path in directory.iterdir():
        path.chmod(0o444)
    directory.chmod(0o555)
    read = _run(read_only_store, "read", "Order-0", "-o", "jsonl", "--limit", "1")
    assert read.returncode == 0, read.stderr
    assert json.loads(read.stdout)["event_type"] == "Late"

    directory.chmod(0o755)
    (directory / "events.db-shm").unlink()
    directory.chmod(0o555)
    refused = _run(read_only_store, "read", "--all", "-o", "jsonl")
    assert refused.returncode == 8, refused.stderr
    assert refused.stdout == ""
    assert "its -wal file holds commits not yet in the database file" in refused.stderr
