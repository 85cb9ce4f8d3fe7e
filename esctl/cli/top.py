"""`esctl top`: a live dashboard in the terminal; `q` or Ctrl-C ends it (exit 0), the terminal
restored on every exit path. Not a terminal: refused (exit 2) unless --once."""

from __future__ import annotations

import contextlib
import os
import select
import sys
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import typer

from esctl.cli.options import examples
from esctl.cli.state import state
from esctl.errors import UsageError

TOP_EXAMPLES = examples("esctl top", "esctl top --interval 5", "esctl top --once")


@contextlib.contextmanager
def _cbreak(fd: int) -> Iterator[None]:
    """Keys without Enter while inside; the terminal's settings restored however it ends."""
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _replica_lag(app: Any) -> Callable[[], float | None] | None:
    """Seconds the read_store (a replica) is behind the primary, when the profile has one."""
    if not app.settings.read_store or app.primary:
        return None

    stores: list[Any] = []  # opened once, not per frame

    def lag() -> float | None:
        from esctl.errors import EsctlError

        try:
            if not stores:
                stores.extend(
                    app.open_store(check=False, node=node) for node in ("primary", "replica")
                )
            primary = stores[0].node_status()
            replica = stores[1].node_status(primary.wal_lsn)
        except EsctlError:
            return None
        return replica.lag_seconds if replica.lag_bytes else 0.0

    return lag


def top(
    ctx: typer.Context,
    interval: Annotated[
        float, typer.Option("--interval", min=0.1, help="Seconds between redraws.")
    ] = 2.0,
    once: Annotated[
        bool, typer.Option("--once", help="Print one frame and exit (works without a terminal).")
    ] = False,
) -> None:
    """A live dashboard: head, events appended per category (1 m, 5 m, sparkline), each
    checkpoint's lag in events and seconds with its status, the horizon age (PostgreSQL: the
    oldest transaction holding back the visibility horizon; SQLite: none).

    `q` or Ctrl-C ends it (exit 0). Without a terminal it is refused (exit 2): use
    `checkpoints list --watch`, or --once for one frame.
    """
    from esctl.operate.top import TopCollector
    from esctl.render.dashboard import dashboard

    app = state(ctx)
    out = app.out
    terminal = sys.stdin.isatty() and out.console.is_terminal
    if not once and not terminal:
        raise UsageError("top needs a terminal; use checkpoints list --watch or esctl metrics")
    collector = TopCollector(app.open_store(), replica_lag=_replica_lag(app))
    if once:
        out.console.print(dashboard(collector.snapshot()))
        return
    from rich.live import Live

    fd = sys.stdin.fileno()
    try:
        with _cbreak(fd), Live(console=out.console, screen=True, auto_refresh=False) as live:
            while True:
                live.update(dashboard(collector.snapshot()), refresh=True)
                ready, _, _ = select.select([fd], [], [], interval)
                if ready and os.read(fd, 32).lower().startswith(b"q"):
                    break
    except KeyboardInterrupt:
        pass
