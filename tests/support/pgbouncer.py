"""A real PgBouncer (Debian's `pgbouncer`) in transaction pooling mode in front of the test
session's PostgreSQL, on 127.0.0.1 and a free port.

When the binary is missing it is installed with apt-get (CI runs as root on a fresh Debian-like
machine); where that cannot be done the tests fail under CI=true and skip elsewhere. PgBouncer
refuses to run as root, so as root it runs as the embedded server's system user."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from psycopg.conninfo import conninfo_to_dict

CANDIDATES = ("pgbouncer", "/usr/sbin/pgbouncer", "/usr/bin/pgbouncer")


def _binary() -> str | None:
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def ensure_pgbouncer() -> str:
    """The pgbouncer binary, installed with apt-get when missing (fails under CI if it cannot)."""
    found = _binary()
    if found:
        return found
    problem = "pgbouncer is not installed and apt-get is not available as root"
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        steps = (
            ["apt-get", "update"],
            ["apt-get", "install", "-y", "--no-install-recommends", "pgbouncer"],
        )
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, env=env, check=False)
            if done.returncode != 0:
                problem = f"{' '.join(step)} failed: {done.stderr.strip()[-500:]}"
                break
        found = _binary()
        if found:
            return found
    if os.environ.get("CI"):
        pytest.fail(f"the PgBouncer tests must run in CI: {problem}")
    pytest.skip(problem)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Bouncer:
    """A running PgBouncer: `url` reaches the server's `database` through it."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_pgbouncer(server_url: str, work: Path) -> Bouncer:
    """PgBouncer in transaction mode in front of `server_url` (the embedded server's URL)."""
    binary = ensure_pgbouncer()
    given: dict[str, Any] = conninfo_to_dict(server_url)
    database = given.get("dbname", "postgres")
    user = given.get("user", "postgres")
    backend = " ".join(
        f"{key}={given[key]}" for key in ("host", "port", "user", "password") if given.get(key)
    )
    port = free_port()
    work.mkdir(parents=True, exist_ok=True)
    (work / "users.txt").write_text(f'"{user}" ""\n')
    log = work / "pgbouncer.log"
    ini = work / "pgbouncer.ini"
    ini.write_text(
        "[databases]\n"
        f"{database} = {backend} dbname={database}\n"
        "[pgbouncer]\n"
        "listen_addr = 127.0.0.1\n"
        f"listen_port = {port}\n"
        "unix_socket_dir =\n"
        "auth_type = trust\n"
        f"auth_file = {work / 'users.txt'}\n"
        "pool_mode = transaction\n"
        "max_client_conn = 500\n"
        "default_pool_size = 4\n"  # few server sessions: transactions move between them
        f"logfile = {log}\n"
        f"pidfile = {work / 'pgbouncer.pid'}\n"
        # psycopg and libpq send nothing else; a client's extra_float_digits is harmless.
        "ignore_startup_parameters = extra_float_digits\n"
    )
    run_as: str | None = None
    if os.geteuid() == 0:  # PgBouncer refuses root
        run_as = "embedded_postgres"
        try:
            entry = pwd.getpwnam(run_as)
        except KeyError:
            run_as = "nobody"
            entry = pwd.getpwnam(run_as)
        for path in (work, *work.iterdir()):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    process = subprocess.Popen(
        [binary, "-q", str(ini)], user=run_as, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"postgresql://{user}@127.0.0.1:{port}/{database}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                err = process.stderr.read().decode() if process.stderr else ""
                text = log.read_text() if log.exists() else ""
                process.kill()
                raise RuntimeError(f"pgbouncer did not start: {err}{text}") from None
            time.sleep(0.05)
    return Bouncer(url, process, log)
