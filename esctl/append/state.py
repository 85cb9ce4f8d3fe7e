"""The running state of one append, shared by its fast and careful paths: what committed units
did to each stream, and the unit being written now (merged only once it committed)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, cast

from esctl.append.validation import InputSummary
from esctl.append.versions import ExpectedVersion, StreamResult

if TYPE_CHECKING:
    from esctl.ports import EventWrites
    from esctl.store.base import Session, Store, TransactionPorts

# Progress in events of one phase; `rewind` goes back to a count (a unit read again).
Tick = Callable[[int], None]


class Fallback(Exception):
    """The fast path cannot decide (a constraint fired, or a check failed): go careful."""


def event_writes(tx: Session) -> EventWrites:
    """The write verbs of a transaction's event log (every engine's session carries its ports)."""
    return cast("TransactionPorts", tx).log


class AppendState:
    """Committed results per stream, plus the unit being written."""

    def __init__(
        self,
        store: Store,
        summary: InputSummary,
        expected: ExpectedVersion,
        progress: Tick | None,
    ) -> None:
        self.store = store
        self.summary = summary
        self.expected = expected
        self.progress = progress
        self.results: dict[str, StreamResult] = {}
        self.unit: dict[str, StreamResult] = {}
        self.committed = 0

    def ordered_results(self) -> list[StreamResult]:
        """Per stream, in the order streams first appear in the input."""
        results = self.results
        return [
            results.get(sid) or StreamResult(sid, plan.stream_type)
            for sid, plan in self.summary.streams.items()
        ]

    def merge(self) -> None:
        """The unit committed: its state becomes the invocation's."""
        self.results.update(self.unit)
        self.unit.clear()

    def _rewind_progress(self) -> None:
        if self.progress is not None:
            self.progress.rewind(self.committed)  # type: ignore[attr-defined]

    def _state(self, stream_id: str) -> StreamResult:
        state = self.unit.get(stream_id)
        if state is None:
            committed = self.results.get(stream_id)
            if committed is None:  # the stream's first unit (a one-unit append: every stream)
                state = StreamResult(stream_id, self.summary.streams[stream_id].stream_type)
            else:
                state = replace(committed)
            self.unit[stream_id] = state
            state.read_version = state.current  # what earlier units left, until read again
        return state

    def _expected_for(self, stream_id: str) -> str:
        committed = self.results.get(stream_id)
        if committed is not None and committed.current is not None:
            return str(committed.current)
        return str(self.expected)
