"""The sandbox server itself: initdb with a random password, `postgres` run as esctl's own child
(127.0.0.1 only, parent-death signal), waiting until it accepts a login, and a fast shutdown."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from esctl.errors import EsctlError, StoreUnavailable, UsageError
from esctl.sandbox.host import (
    DATABASE,
    HOST,
    LOG_FILE,
    OWNER_FILE,
    PASSWORD_FILE,
    START_TIMEOUT,
    STOP_TIMEOUT,
    TEMP_PREFIX,
    USER,
    _check_reachable,
    _prepare_binaries,
    _system_user,
    bin_dir,
    free_port,
    port_is_free,
    remove_stale_sandboxes,
)


@dataclass(frozen=True)
class SandboxInfo:
    """A running sandbox: how to reach it and where it keeps its data."""

    url: str
    host: str
    port: int
    data_dir: Path
    persistent: bool
    pid: int  # the postgres server's
    server_version: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "host": self.host,
            "port": self.port,
            "user": USER,
            "database": DATABASE,
            "data_dir": str(self.data_dir),
            "persistent": self.persistent,
            "server_pid": self.pid,
            "esctl_pid": os.getpid(),
            "server_version": self.server_version,
        }


class _Stop(Exception):
    """SIGINT or SIGTERM arrived: stop the sandbox cleanly."""


def _die_with_parent(parent: int) -> Callable[[], None]:
    """A preexec function: SIGINT (fast shutdown) to postgres when esctl dies, however it dies.

    Everything it needs is resolved here: the child may already run as another user, which cannot
    read the Python installation to import anything."""
    prctl: Callable[..., int] | None = None
    if sys.platform.startswith("linux"):
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_pdeathsig = 1
    getppid, exit_now, sigint = os.getppid, os._exit, int(signal.SIGINT)

    def preexec() -> None:
        if prctl is not None:
            prctl(pr_set_pdeathsig, sigint, 0, 0, 0)
        if getppid() != parent:  # esctl died before the signal was armed
            exit_now(1)

    return preexec


class Sandbox:
    """One sandbox server, started by `start()` and stopped by `stop()`."""

    def __init__(
        self, *, port: int | None = None, data_dir: Path | None = None, keep: bool = False
    ) -> None:
        self.requested_port = port
        self.requested_dir = data_dir
        self.keep = keep
        self.process: subprocess.Popen[bytes] | None = None
        self.temp_dir: Path | None = None
        self.data_dir: Path | None = None
        self.info: SandboxInfo | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> SandboxInfo:
        """Initialise the data directory if needed, start postgres, wait until it accepts a login."""
        bin_path = bin_dir()
        if self.requested_port is not None and not port_is_free(self.requested_port):
            raise StoreUnavailable(
                f"cannot start the sandbox: port {self.requested_port} on {HOST} is in use",
                hint="choose another --port, or leave it out to use a free one",
            )
        owner = _system_user()
        if owner is not None:
            _prepare_binaries(bin_path)
        data = self._data_directory(owner)
        password = self._initdb(bin_path, data, owner)
        for attempt in range(3):
            port = self.requested_port or free_port()
            try:
                self.info = self._run(bin_path, data, port, password, owner)
                return self.info
            except _PortTaken:
                if self.requested_port is not None or attempt == 2:
                    raise StoreUnavailable(
                        f"cannot start the sandbox: port {port} on {HOST} is in use"
                    ) from None
        raise AssertionError("unreachable")

    def _data_directory(self, owner: tuple[int, int] | None) -> Path:
        if self.requested_dir is not None:
            data = self.requested_dir.expanduser().resolve()
            if data.exists() and not data.is_dir():
                raise UsageError(f"--data-dir {data} is not a directory")
            if data.is_dir() and any(data.iterdir()) and not (data / "PG_VERSION").exists():
                raise UsageError(
                    f"--data-dir {data} is neither empty nor a PostgreSQL data directory",
                    hint="give a new or empty directory, or one a previous sandbox kept",
                )
            data.mkdir(parents=True, exist_ok=True)
        else:
            remove_stale_sandboxes()
            self.temp_dir = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))
            (self.temp_dir / OWNER_FILE).write_text(f"{os.getpid()}\n")
            data = self.temp_dir / "pgdata"
            data.mkdir(mode=0o700)
            if owner is not None:
                self.temp_dir.chmod(0o711)  # the server's user passes through, lists nothing
        if owner is not None:
            _check_reachable(data, "the data directory")
            os.chown(data, *owner)
        data.chmod(0o700)
        self.data_dir = data
        return data

    def _initdb(self, bin_path: Path, data: Path, owner: tuple[int, int] | None) -> str:
        """A new cluster with a random superuser password; an existing one keeps its password."""
        password_file = data / PASSWORD_FILE
        if (data / "PG_VERSION").exists():
            try:
                return password_file.read_text().strip()
            except OSError:
                raise UsageError(
                    f"--data-dir {data} was not made by esctl sandbox (no {PASSWORD_FILE})"
                ) from None
        password = secrets.token_urlsafe(18)
        with tempfile.NamedTemporaryFile("w", prefix="esctl-sandbox-pw-") as pwfile:
            pwfile.write(password + "\n")
            pwfile.flush()
            if owner is not None:
                os.chown(pwfile.name, *owner)
            result = subprocess.run(
                [
                    str(bin_path / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    USER,
                    "--pwfile",
                    pwfile.name,
                    "--auth",
                    "scram-sha-256",
                    "--encoding",
                    "UTF8",
                    "--no-locale",
                    # A throwaway cluster: no fsync of every file at creation.
                    *(["--no-sync"] if self.temp_dir is not None else []),
                ],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                **_as_user(owner),
            )
        if result.returncode != 0:
            raise EsctlError(
                f"initdb failed in {data}: {_last_lines(result.stderr or result.stdout)}"
            )
        _write_private(password_file, password)
        return password

    def _run(
        self, bin_path: Path, data: Path, port: int, password: str, owner: tuple[int, int] | None
    ) -> SandboxInfo:
        log_path = data / LOG_FILE
        self._log = log_path.open("ab")
        start = self._log.tell()
        self.process = subprocess.Popen(
            [
                str(bin_path / "postgres"),
                "-D",
                str(data),
                "-p",
                str(port),
                "-c",
                f"listen_addresses={HOST}",
                "-c",
                "unix_socket_directories=",
                "-c",
                # Throwaway data needs no fsync; a kept --data-dir must survive a machine crash.
                f"fsync={'on' if self.temp_dir is None else 'off'}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
            start_new_session=True,  # Ctrl-C reaches esctl, which stops the server in order
            preexec_fn=_die_with_parent(os.getpid()),  # esctl is single-threaded here
            **_as_user(owner),
        )
        url = f"postgresql://{USER}:{password}@{HOST}:{port}/{DATABASE}"
        version = self._wait_ready(url, log_path, start, port)
        return SandboxInfo(url, HOST, port, data, self.temp_dir is None, self.process.pid, version)

    def _wait_ready(self, url: str, log_path: Path, start: int, port: int) -> str:
        import psycopg

        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                log = _read_from(log_path, start)
                self.process = None
                if "Address already in use" in log or "could not bind" in log:
                    raise _PortTaken
                if "lock file" in log and "already exists" in log:
                    raise StoreUnavailable(
                        f"cannot start the sandbox: {self.data_dir} is in use by another server"
                    )
                raise StoreUnavailable(
                    f"the sandbox server did not start: {_last_lines(log)}",
                    hint=f"see {log_path}",
                )
            try:
                with psycopg.connect(url, connect_timeout=2, autocommit=True) as conn:
                    row = conn.execute("SHOW server_version").fetchone()
                    return str(row[0]) if row else "?"
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise StoreUnavailable(
                        f"the sandbox server did not accept connections within "
                        f"{START_TIMEOUT:.0f} s",
                        hint=f"see {log_path}",
                    ) from None
                time.sleep(0.1)

    def wait(self) -> None:
        """Block until the server exits by itself (exit 5) or a stop signal arrives (returns)."""
        assert self.process is not None
        try:
            code = self.process.wait()
        except _Stop:
            return
        self.process = None
        raise StoreUnavailable(f"the sandbox server stopped unexpectedly (exit status {code})")

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove the temporary directory unless kept."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            for sig, timeout in ((signal.SIGINT, STOP_TIMEOUT), (signal.SIGQUIT, 5.0)):
                process.send_signal(sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout)
                    break
            else:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.temp_dir is not None and not self.keep:
            shutil.rmtree(self.temp_dir, ignore_errors=True)

    @property
    def removes_data(self) -> bool:
        return self.temp_dir is not None and not self.keep


class _PortTaken(Exception):
    """Another program took the port between our check and the server's bind."""


def _as_user(owner: tuple[int, int] | None) -> dict[str, Any]:
    if owner is None:
        return {}
    return {"user": owner[0], "group": owner[1], "extra_groups": []}


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(text + "\n")


def _read_from(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as file:
            file.seek(offset)
            return file.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _last_lines(text: str, count: int = 3) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " / ".join(lines[-count:]) or "no output"
