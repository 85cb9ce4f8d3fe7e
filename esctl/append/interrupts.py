"""Ctrl-C and SIGTERM around a COMMIT: a signal that arrives while a transaction commits waits
until the caller has counted that commit, so "N events committed" is never one batch short.

Outside a held section a signal interrupts at once (a long COPY stops at once; its transaction rolls
back). SIGTERM interrupts the same way as SIGINT and exits 143.

After some `--commit-every` batches were committed, an interrupt or a failure says how far the
append got and whether re-running is safe (`AppendInterrupted`, `partial_failure`).
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Any

from esctl.append.validation import InputSummary
from esctl.errors import EsctlError
from esctl.words import noun_for, number, plural

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


class AppendInterrupted(Interrupted):
    """Ctrl-C (or SIGINT, SIGTERM) after some --commit-every batches were committed; its text says
    how far the append got (the CLI prints it)."""

    def __init__(self, text: str, exit_code: int) -> None:
        super().__init__(text)
        self.exit_code = exit_code


def interrupted_text(committed: int, batches: int, where: str, summary: InputSummary) -> str:
    batch_word = "batch" if batches == 1 else "batches"
    last = f" (the last committed event: {where})" if where else ""
    rerun = (
        "re-run the same command to append the rest: stored events are skipped by event_id"
        if not summary.without_id
        else f"re-running would append {summary.without_id} events without event_id again"
    )
    return (
        f"Interrupted: {committed} of {summary.events} events committed in {batches} "
        f"{batch_word}{last}; {rerun}"
    )


def partial_failure(error: EsctlError, committed: int, summary: InputSummary) -> EsctlError:
    """A failure after some --commit-every chunks were committed: say so, and whether re-running
    is safe."""
    safe = (
        "re-running the same command is safe: stored events are skipped as duplicates"
        if not summary.without_id
        else f"re-running would append {plural(summary.without_id, 'event')} without event_id again; "
        "give every event an event_id to make re-runs safe"
    )
    error.message += (
        f" ({number(committed)} of {plural(summary.events, 'event')} "
        f"{noun_for(committed, 'was')} committed before this failure)"
    )
    error.hint = f"{safe}" + (f"; {error.hint}" if error.hint else "")
    return error
