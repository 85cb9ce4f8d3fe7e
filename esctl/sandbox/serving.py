"""Serving a sandbox until a signal: SIGINT/SIGTERM stop it in order, and `--detach` forks a
background esctl that announces the sandbox once it is ready and then lets go of the terminal."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

from esctl.sandbox.server import Sandbox, SandboxInfo, _Stop


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
