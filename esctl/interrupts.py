"""Ctrl-C and SIGTERM around a COMMIT: a signal that arrives while a transaction commits waits
until the caller has counted that commit, so "N events committed" is never one batch short.

Outside a held section a signal interrupts at once (a long COPY stops at once; its transaction rolls
back). SIGTERM interrupts the same way as SIGINT and exits 143.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Any

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


class Interrupted(KeyboardInterrupt):
    """A SIGINT or SIGTERM; `exit_code` is 130 or 143 (128 + the signal)."""

    exit_code = 130


def interruption(signum: int, text: str = "") -> Interrupted:
    error = Interrupted(text)
    error.exit_code = EXIT_CODES.get(signal.Signals(signum), 128 + signum)
    return error


class InterruptGate:
    """While entered, SIGINT and SIGTERM raise `Interrupted` (main thread only), except between
    `hold()` and `release()`: there the signal is kept and raised by `release()`."""

    def __init__(self) -> None:
        self.held = False
        self.pending: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> InterruptGate:
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in EXIT_CODES}
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for signum, old in self._previous.items():
            signal.signal(signum, old)
        self._previous = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.held:
            self.pending = self.pending or signum
            return
        raise interruption(signum)

    def hold(self) -> None:
        """From here (just before a COMMIT) a signal waits for `release()`."""
        self.held = True

    def release(self) -> None:
        """The commit is counted: raise the signal that arrived meanwhile, if any."""
        self.held = False
        pending, self.pending = self.pending, None
        if pending is not None:
            raise interruption(pending)

    def forget(self) -> int | None:
        """Stop holding without raising; the signal that arrived meanwhile (the work is done)."""
        self.held = False
        pending, self.pending = self.pending, None
        return pending
