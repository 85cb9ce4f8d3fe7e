"""Appending validated events: versions, expected version, idempotency, chunked commits.

By default one pass, in one transaction: each event is validated
(`esctl.append.validation.Validator`) and streamed into the open transaction at once (COPY on
PostgreSQL, `executemany` in BEGIN IMMEDIATE on SQLite). At the first problem writing stops, the
rest of the input is still validated (to report every problem with file, line and field), and the
transaction is rolled back: nothing is ever visible (a rejected input costs dead rows and a gap in
positions on PostgreSQL, never an event). With `--commit-every N` (chunks commit as they go) and
`--dry-run`, every input is validated first and read again to append. Each unit (the whole input,
or N events) is one transaction:

- fast path (`esctl.append.fast_path`): the current version of each stream is read when the
  stream first appears (events are held back in a bounded look-ahead until the versions of their
  new streams are known, then the COPY continues), the expected version checked, versions
  assigned and every row sent in bulk. The unique constraints `(stream_id, version)` and `id` are
  the arbiters: nothing is read-then-trusted.
- careful path (`esctl.append.idempotency`), only when the fast path hit a constraint or a check:
  the unit is retried in a new transaction (standard input is read again from its spool), in
  batches that first look up which event ids are already stored. A stored event with the same
  stream and content is a duplicate (reported with its stored position, not written); stored
  events must be the leading part of each stream's events in the input, at consecutive versions,
  else the batch mixes stored and new events for the same positions: a conflict (exit 3). A lost
  race is exit 3 with stream, expected and actual version; with `--expected-version any` the
  caller asked for no position, so a lost race is retried instead.

The store is reached only through `tx.log` (`esctl.ports.EventWrites`).
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable, Iterator, Sequence

from esctl.append.fast_path import FastPath
from esctl.append.idempotency import CarefulPath
from esctl.append.interrupts import (
    AppendInterrupted,
    Interrupted,
    InterruptGate,
    interrupted_text,
    partial_failure,
)
from esctl.append.new_events import NewEvent
from esctl.append.sources import InputSource
from esctl.append.state import Fallback, Tick, event_writes
from esctl.append.validation import InputSummary, Validator, read_events, validate_inputs
from esctl.append.versions import ANY, AppendResult, ExpectedVersion, StreamResult, version_error
from esctl.errors import ConcurrencyError, Conflict, EsctlError, UsageError
from esctl.store.base import Store

__all__ = ["ANY", "AppendInterrupted", "AppendResult", "ExpectedVersion", "StreamResult"]
__all__ += ["append_events"]

# Under `any`, every lost race means another writer committed: the system progresses, so retry
# (with a jittered pause, so racers spread out) rather than fail the caller.
MAX_RETRIES = 30
ProgressFn = Callable[[str, int, int | None], None]


class _Invalid(Exception):
    """The single pass met a problem in the input: roll back, then report every problem."""


class _Progress:
    """Progress in events per phase; a unit read again (careful path, retries) is not counted twice."""

    def __init__(self, report: ProgressFn | None) -> None:
        self.report = report

    def phase(self, name: str, total: int | None) -> Callable[[int], None] | None:
        """A counter for one phase; `total` is None when it is not known in advance (the single
        pass: the bar then shows bytes read of the input size, which never moves)."""
        report = self.report
        if report is None:
            return None
        seen = high = 0

        def tick(count: int) -> None:
            nonlocal seen, high
            seen += count
            if seen > high:
                report(name, seen - high, total)
                high = seen

        def rewind(to: int) -> None:
            nonlocal seen
            seen = to

        tick.rewind = rewind  # type: ignore[attr-defined]
        return tick


def append_events(
    store: Store,
    sources: Sequence[InputSource],
    *,
    stream: str | None = None,
    expected: ExpectedVersion = ANY,
    commit_every: int | None = None,
    dry_run: bool = False,
    progress: ProgressFn | None = None,
) -> AppendResult:
    """Validate and append every input (or, with `dry_run`, report what would be appended)."""
    if commit_every is not None and commit_every < 1:
        raise UsageError("--commit-every must be at least 1")
    phases = _Progress(progress)

    def events() -> Iterator[NewEvent]:  # restartable: the careful path reads the input again
        return read_events(sources, stream=stream)

    if not dry_run and commit_every is None:
        validator = Validator(sources, stream=stream)
        tick = phases.phase("appending", None)
        appender = _Appender(store, validator.summary, expected, tick)
        appender.single_pass(validator, events)
        return AppendResult(appender.ordered_results(), validator.summary.events)
    summary = validate_inputs(
        sources, stream=stream, unit_size=commit_every, progress=phases.phase("validating", None)
    )
    appender = _Appender(store, summary, expected, phases.phase("appending", summary.events))
    if dry_run:
        with store.reading() as tx:
            appender.careful_unit(event_writes(tx), events(), write=False)
        appender.merge()
    else:
        appender.run(events, commit_every or summary.events)
    return AppendResult(appender.ordered_results(), summary.events, dry_run)


class _Appender(FastPath, CarefulPath):
    """One append: its running state (`AppendState`), its fast and careful paths, and the units
    (transactions) it writes them in."""

    def __init__(
        self,
        store: Store,
        summary: InputSummary,
        expected: ExpectedVersion,
        progress: Tick | None,
    ) -> None:
        super().__init__(store, summary, expected, progress)
        self.gate = InterruptGate()
        self.careful = False

    # --- the single pass -----------------------------------------------------------------------

    def single_pass(self, validator: Validator, events: Callable[[], Iterator[NewEvent]]) -> None:
        """Validate and write in one transaction; on a problem roll back and raise InvalidInput
        with every problem; on a constraint or check, validate the rest, then go careful."""
        try:
            with self.store.writing() as tx:
                self.fast_stream(event_writes(tx), validator.events())
                if validator.problems:
                    raise _Invalid
                validator.finish(ids_stored=True)  # raises for an input without events
            self.merge()
            return
        except (Fallback, Conflict, _Invalid):
            self.unit.clear()
        validator.finish()  # the rest of the input: InvalidInput (exit 6) for any problem
        self.careful = True
        self._rewind_progress()
        self.run(events, validator.summary.events)

    # --- units (--commit-every, and the careful path) ------------------------------------------

    def run(self, events: Callable[[], Iterator[NewEvent]], unit_size: int) -> None:
        with InterruptGate() as self.gate:
            self._run(events, unit_size)

    def _run(self, events: Callable[[], Iterator[NewEvent]], unit_size: int) -> None:
        total = self.summary.events
        last_where: list[str] = []

        def tracked() -> Iterator[NewEvent]:
            for event in events():
                last_where[:] = [event.where]
                yield event

        source = tracked()
        committed_where = ""
        unit = 0
        while self.committed < total:
            size = min(unit_size, total - self.committed)
            try:
                # A signal that came while the last unit committed is raised here, once counted.
                self.gate.release()
                source = self._write_unit(unit, source, size, tracked)
            except EsctlError as error:
                if self.committed:
                    raise partial_failure(error, self.committed, self.summary) from None
                raise
            except Interrupted as interrupt:
                if self.committed:
                    raise AppendInterrupted(
                        interrupted_text(self.committed, unit, committed_where, self.summary),
                        interrupt.exit_code,
                    ) from None
                raise
            self.committed += size
            committed_where = last_where[0] if last_where else ""
            unit += 1
        # A signal during the last commit: everything is stored, so the append is done (exit 0).
        self.gate.forget()

    def _write_unit(
        self,
        unit: int,
        source: Iterator[NewEvent],
        size: int,
        events: Callable[[], Iterator[NewEvent]],
    ) -> Iterator[NewEvent]:
        """Write the next `size` events of `source` in one transaction; the source to go on with."""
        if not self.careful:
            try:
                with self.store.writing() as tx:
                    self.fast_unit(event_writes(tx), unit, itertools.islice(source, size))
                    self.gate.hold()  # the COMMIT: a signal now waits until it is counted
                self.merge()
                return source
            except (Fallback, Conflict):
                self.gate.release()  # nothing committed: a signal held meanwhile stops here
                self.careful = True  # and stay careful: the next units likely hold stored events
                self.unit.clear()
                self._rewind_progress()
                source = itertools.islice(events(), self.committed, None)
        for attempt in itertools.count(1):
            try:
                with self.store.writing() as tx:
                    self.careful_unit(event_writes(tx), itertools.islice(source, size), write=True)
                    self.gate.hold()
                self.merge()
                return source
            except Conflict as conflict:
                self.gate.release()
                moved = self._moved_streams()
                self.unit.clear()
                if moved and self.expected.kind != "any":
                    raise moved[0] from None
                if attempt >= MAX_RETRIES:
                    raise ConcurrencyError(
                        f"gave up after {attempt} attempts: other writers kept winning "
                        f"({conflict.message})",
                        hint="retry later",
                    ) from None
                time.sleep(random.uniform(0, 0.01 * min(attempt, 10)))
                self._rewind_progress()
                source = itertools.islice(events(), self.committed, None)
        raise AssertionError("unreachable")

    def _moved_streams(self) -> list[ConcurrencyError]:
        """After a lost race: the streams whose stored version is no longer the one this unit read."""
        read = {sid: s.read_version for sid, s in self.unit.items() if s.read_version is not None}
        if not read:
            return []
        with self.store.reading() as tx:
            actual = event_writes(tx).stream_versions(list(read))
        return [
            version_error(sid, self._expected_for(sid), actual.get(sid, 0))
            for sid, version in read.items()
            if actual.get(sid, 0) != version
        ]
