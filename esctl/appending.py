"""Appending validated events: versions, expected version, idempotency, chunked commits.

By default one pass, in one transaction: each event is validated (`esctl.events.Validator`) and
streamed into the open transaction at once (COPY on PostgreSQL, `executemany` in BEGIN IMMEDIATE
on SQLite). At the first problem writing stops, the rest of the input is still validated (to report
every problem with file, line and field), and the transaction is rolled back: nothing is ever
visible (a rejected input costs dead rows and a gap in positions on PostgreSQL, never an event).
With `--commit-every N` (chunks commit as they go) and `--dry-run`, every input is validated first
and read again to append. Each unit (the whole input, or N events) is one transaction:

- fast path: the current version of each stream is read when the stream first appears (events
  are held back in a bounded look-ahead until the versions of their new streams are known, then
  the COPY continues), the expected version checked, versions assigned and every row sent in bulk.
  The unique constraints `(stream_id, version)` and `id` are the arbiters: nothing is
  read-then-trusted.
- careful path, only when the fast path hit a constraint or a check: the unit is retried in a new
  transaction (standard input is read again from its spool), in batches that first look up which
  event ids are already stored. A stored event with the same stream and content is a duplicate
  (reported with its stored position, not written); stored events must be the leading part of
  each stream's events in the input, at consecutive versions, else the batch mixes stored and new
  events for the same positions: a conflict (exit 3). A lost race is exit 3 with stream, expected
  and actual version; with `--expected-version any` the caller asked for no position, so a lost
  race is retried instead.
"""

from __future__ import annotations

import itertools
import json
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from esctl.errors import ConcurrencyError, Conflict, EsctlError, UsageError
from esctl.events import (
    InputSummary,
    NewEvent,
    Validator,
    read_events,
    to_json,
    validate_inputs,
)
from esctl.inputs import InputSource
from esctl.interrupts import Interrupted, InterruptGate
from esctl.store.base import EVENT_COLUMNS, EventRow, Session, Store
from esctl.types import RecordedEvent
from esctl.words import noun_for, number, plural

LOOKUP_CHUNK = 500
CAREFUL_BATCH = 1000
# The single pass holds back events behind a stream it has not seen yet, up to this many, then
# reads the versions of those streams (doubling up to the cap, so memory stays bounded).
FIRST_LOOKAHEAD = 1000
MAX_LOOKAHEAD = 16_000
# Under `any`, every lost race means another writer committed: the system progresses, so retry
# (with a jittered pause, so racers spread out) rather than fail the caller.
MAX_RETRIES = 30
ProgressFn = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class ExpectedVersion:
    """`any`, `no-stream` (version 0), `exists` (version > 0), or an exact version N."""

    kind: str
    version: int | None = None

    @classmethod
    def parse(cls, text: str) -> ExpectedVersion:
        text = text.strip().lower()
        if text in ("any", "no-stream", "exists"):
            return cls(text)
        if text.isdigit():
            return cls("exact", int(text))
        raise UsageError(
            f"--expected-version {text!r}: use any, no-stream, exists or a version number"
        )

    def accepts(self, version: int) -> bool:
        if self.kind == "any":
            return True
        if self.kind == "no-stream":
            return version == 0
        if self.kind == "exists":
            return version > 0
        return version == self.version

    def __str__(self) -> str:
        return str(self.version) if self.kind == "exact" else self.kind


ANY = ExpectedVersion("any")


@dataclass
class StreamResult:
    """What one invocation did to one stream (also its running state while appending)."""

    stream_id: str
    stream_type: str
    appended: int = 0
    duplicates: int = 0
    first_version: int | None = None
    last_version: int | None = None
    first_position: int | None = None
    last_position: int | None = None
    # running state: the stream's version as this invocation knows it, and the duplicate prefix
    current: int | None = None
    checked: bool = False
    next_duplicate: int | None = None
    seen_new: bool = False
    read_version: int | None = None  # the stored version the current unit started from

    def versions(self, first: int, last: int) -> None:
        self.first_version = first if self.first_version is None else self.first_version
        self.last_version = last

    def positions(self, first: int, last: int) -> None:
        self.first_position = (
            first if self.first_position is None else min(self.first_position, first)
        )
        self.last_position = last if self.last_position is None else max(self.last_position, last)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stream_id": self.stream_id,
            "stream_type": self.stream_type,
            "appended": self.appended,
            "duplicates": self.duplicates,
            "first_version": self.first_version,
            "last_version": self.last_version,
            "first_position": self.first_position,
            "last_position": self.last_position,
        }


@dataclass
class AppendResult:
    """The outcome of one `append`: per stream, in input order."""

    streams: list[StreamResult]
    events: int
    dry_run: bool = False

    @property
    def appended(self) -> int:
        return sum(s.appended for s in self.streams)

    @property
    def duplicates(self) -> int:
        return sum(s.duplicates for s in self.streams)


class _Fallback(Exception):
    """The fast path cannot decide (a constraint fired, or a check failed): go careful."""


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
        with store.reading() as session:
            appender.careful_unit(session, events(), write=False)
        appender.merge()
    else:
        appender.run(events, commit_every or summary.events)
    return AppendResult(appender.ordered_results(), summary.events, dry_run)


class _Appender:
    """The running state of one append: committed results, plus the unit being written."""

    def __init__(
        self,
        store: Store,
        summary: InputSummary,
        expected: ExpectedVersion,
        progress: Callable[[int], None] | None,
    ) -> None:
        self.store = store
        self.summary = summary
        self.expected = expected
        self.progress = progress
        self.results: dict[str, StreamResult] = {}
        self.unit: dict[str, StreamResult] = {}
        self.committed = 0
        self.gate = InterruptGate()
        self.careful = False

    def ordered_results(self) -> list[StreamResult]:
        """Per stream, in the order streams first appear in the input."""
        results = self.results
        return [
            results.get(sid) or StreamResult(sid, plan.stream_type)
            for sid, plan in self.summary.streams.items()
        ]

    def _rewind_progress(self) -> None:
        if self.progress is not None:
            self.progress.rewind(self.committed)  # type: ignore[attr-defined]

    # --- the single pass -----------------------------------------------------------------------

    def single_pass(self, validator: Validator, events: Callable[[], Iterator[NewEvent]]) -> None:
        """Validate and write in one transaction; on a problem roll back and raise InvalidInput
        with every problem; on a constraint or check, validate the rest, then go careful."""
        try:
            with self.store.writing() as session:
                self.fast_stream(session, validator.events())
                if validator.problems:
                    raise _Invalid
                validator.finish(ids_stored=True)  # raises for an input without events
            self.merge()
            return
        except (_Fallback, Conflict, _Invalid):
            self.unit.clear()
        validator.finish()  # the rest of the input: InvalidInput (exit 6) for any problem
        self.careful = True
        self._rewind_progress()
        self.run(events, validator.summary.events)

    def fast_stream(self, session: Session, events: Iterator[NewEvent]) -> None:
        """The fast path over a stream of events: COPY (or executemany) while they arrive; the
        COPY pauses only to read the versions of streams not seen yet."""
        since = int(session.fetchval("SELECT coalesce(max(global_position), 0) FROM {events}"))
        pending: list[NewEvent] = []
        size = FIRST_LOOKAHEAD
        _take(events, pending, size)
        while pending:
            self._look_up(session, pending)
            ready, pending = pending, []
            self.store.insert_events(session, self._stream_rows(ready, events, pending, size))
            size = min(size * 2, MAX_LOOKAHEAD)
        for sid, (first, last) in self.store.appended_positions(session, since).items():
            self._state(sid).positions(first, last)

    def _look_up(self, session: Session, events: list[NewEvent]) -> None:
        """Read (and check) the stored version of the streams this unit has not seen yet."""
        unit = self.unit
        new = list(dict.fromkeys(e.stream_id for e in events if e.stream_id not in unit))
        current = _current_versions(session, new)
        for sid in new:
            state = self._state(sid)
            state.current = state.read_version = current.get(sid, 0)
            if not self.expected.accepts(state.current):
                raise _Fallback  # maybe the input's leading events are stored already
            state.checked = True

    def _stream_rows(
        self,
        ready: list[NewEvent],
        events: Iterator[NewEvent],
        pending: list[NewEvent],
        size: int,
    ) -> Iterator[EventRow]:
        """Rows of `ready`, then of the following events until one is in a stream not seen yet:
        that one and up to `size` after it go to `pending` (the COPY ends there)."""
        yield from self._fast_rows(ready)
        yield from self._fast_rows(events, pending, size)

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
                    raise _partial(error, self.committed, self.summary) from None
                raise
            except Interrupted as interrupt:
                if self.committed:
                    raise AppendInterrupted(
                        _interrupted(self.committed, unit, committed_where, self.summary),
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
                with self.store.writing() as session:
                    self.fast_unit(session, unit, itertools.islice(source, size))
                    self.gate.hold()  # the COMMIT: a signal now waits until it is counted
                self.merge()
                return source
            except (_Fallback, Conflict):
                self.gate.release()  # nothing committed: a signal held meanwhile stops here
                self.careful = True  # and stay careful: the next units likely hold stored events
                self.unit.clear()
                self._rewind_progress()
                source = itertools.islice(events(), self.committed, None)
        for attempt in itertools.count(1):
            try:
                with self.store.writing() as session:
                    self.careful_unit(session, itertools.islice(source, size), write=True)
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

    def merge(self) -> None:
        """The unit committed: its state becomes the invocation's."""
        self.results.update(self.unit)
        self.unit.clear()

    def _state(self, stream_id: str) -> StreamResult:
        state = self.unit.get(stream_id)
        if state is None:
            committed = self.results.get(stream_id)
            if committed is None:
                committed = StreamResult(stream_id, self.summary.streams[stream_id].stream_type)
            state = self.unit[stream_id] = replace(committed)
            state.read_version = state.current  # what earlier units left, until read again
        return state

    def _moved_streams(self) -> list[ConcurrencyError]:
        """After a lost race: the streams whose stored version is no longer the one this unit read."""
        read = {sid: s.read_version for sid, s in self.unit.items() if s.read_version is not None}
        if not read:
            return []
        with self.store.reading() as session:
            actual = _current_versions(session, list(read))
        return [
            _version_error(sid, self._expected_for(sid), actual.get(sid, 0))
            for sid, version in read.items()
            if actual.get(sid, 0) != version
        ]

    def _expected_for(self, stream_id: str) -> str:
        committed = self.results.get(stream_id)
        if committed is not None and committed.current is not None:
            return str(committed.current)
        return str(self.expected)

    # --- fast path (--commit-every units) ------------------------------------------------------

    def fast_unit(self, session: Session, unit: int, events: Iterable[NewEvent]) -> None:
        since = int(session.fetchval("SELECT coalesce(max(global_position), 0) FROM {events}"))
        new = [sid for sid, plan in self.summary.streams.items() if plan.first_unit == unit]
        current = _current_versions(session, new)
        for sid in new:
            state = self._state(sid)
            state.current = state.read_version = current.get(sid, 0)
            if not self.expected.accepts(state.current):
                raise _Fallback  # maybe the input's leading events are stored already
            state.checked = True
        self.store.insert_events(session, self._fast_rows(events))
        for sid, (first, last) in self.store.appended_positions(session, since).items():
            self._state(sid).positions(first, last)

    def _fast_rows(
        self, events: Iterable[NewEvent], pending: list[NewEvent] | None = None, size: int = 0
    ) -> Iterator[EventRow]:
        """Rows with versions assigned; with `pending`, stop at an event of a stream not seen yet
        and move it, with up to `size` events after it, to `pending`."""
        unit, progress = self.unit, self.progress
        done = 0
        for event in events:
            state = unit.get(event.stream_id)
            if state is None:
                if pending is None:  # a stream an earlier --commit-every unit read
                    state = self._state(event.stream_id)
                else:
                    pending.append(event)
                    _take(iter(events), pending, size)
                    break
            version = state.current + 1  # type: ignore[operator]
            if event.version is not None and event.version != version:
                raise _Fallback
            state.current = state.last_version = version
            if state.first_version is None:
                state.first_version = version
            state.appended += 1
            done += 1
            if progress is not None and done % 1000 == 0:
                progress(1000)
            yield EventRow(
                event.event_id,
                event.stream_id,
                event.stream_type,
                event.event_type,
                event.data_json,
                event.metadata_json,
                version,
                event.created_at,
            )
        if progress is not None and done % 1000:
            progress(done % 1000)

    # --- careful path --------------------------------------------------------------------------

    def careful_unit(self, session: Session, events: Iterable[NewEvent], *, write: bool) -> None:
        since = int(session.fetchval("SELECT coalesce(max(global_position), 0) FROM {events}"))
        looked_up: set[str] = set()
        for batch in _batched(events, CAREFUL_BATCH):
            stored = _stored_events(session, [e.event_id for e in batch if e.has_id])
            fresh = list({e.stream_id for e in batch} - looked_up)
            current = _current_versions(session, fresh)
            looked_up.update(fresh)
            for sid in fresh:
                self._adopt(sid, current.get(sid, 0))
            rows = [
                row
                for event in batch
                if (row := self._careful_row(event, stored.get(event.event_id))) is not None
            ]
            if write and rows:
                self.store.insert_events(session, rows)
            if self.progress is not None:
                self.progress(len(batch))
        if write:
            for sid, (first, last) in self.store.appended_positions(session, since).items():
                self._state(sid).positions(first, last)
        else:
            # A dry run knows the versions a stream would reach, not the positions its new events
            # would get: a stored duplicate's position is not where the stream would end.
            for state in self.unit.values():
                if state.appended:
                    state.last_position = None

    def _adopt(self, stream_id: str, stored: int) -> None:
        """The stored version of a stream, read in this transaction."""
        state = self._state(stream_id)
        known = self.results.get(stream_id)
        committed = known.current if known is not None else None
        if committed is not None and stored != committed and self.expected.kind != "any":
            raise _version_error(stream_id, str(committed), stored)
        state.current = state.read_version = stored

    def _careful_row(self, event: NewEvent, record: RecordedEvent | None) -> EventRow | None:
        sid = event.stream_id
        state = self._state(sid)
        assert state.current is not None
        if record is not None:
            _same_event(event, record)
            if state.seen_new or (
                state.next_duplicate is not None and record.version != state.next_duplicate
            ):
                raise ConcurrencyError(
                    f"stream {sid!r}: event {event.event_id} ({event.where}) is already stored at "
                    f"version {record.version}, out of place among the new events of this input",
                    hint="the input mixes stored and new events for the same stream positions",
                )
            if not state.checked:
                self._check(sid, record.version - 1)
            if event.version is not None and event.version != record.version:
                raise _version_error(sid, str(event.version - 1), record.version - 1, event.where)
            state.next_duplicate = record.version + 1
            state.duplicates += 1
            state.versions(record.version, record.version)
            state.positions(record.global_position, record.global_position)
            return None
        if not state.checked:
            self._check(sid, state.current)
        elif (
            state.next_duplicate is not None
            and not state.seen_new
            and state.current != state.next_duplicate - 1
            and self.expected.kind != "any"
        ):
            # stored events lead this stream's input, but others were appended after them
            raise _version_error(sid, str(state.next_duplicate - 1), state.current)
        state.seen_new = True
        version = state.current + 1
        if event.version is not None and event.version != version:
            raise _version_error(sid, str(event.version - 1), state.current, event.where)
        state.current = version
        state.appended += 1
        state.versions(version, version)
        return _row(event, version)

    def _check(self, stream_id: str, version: int) -> None:
        if not self.expected.accepts(version):
            error = _version_error(stream_id, str(self.expected), version)
            error.hint = _expected_hint(self.expected, stream_id, version)
            raise error
        self._state(stream_id).checked = True


# --- helpers ---------------------------------------------------------------------------------------


def _row(event: NewEvent, version: int) -> EventRow:
    return EventRow(
        event.event_id,
        event.stream_id,
        event.stream_type,
        event.event_type,
        event.data_json,
        event.metadata_json,
        version,
        event.created_at,
    )


def _version_error(
    stream_id: str, expected: str, actual: int, where: str | None = None
) -> ConcurrencyError:
    at = f" ({where})" if where else ""
    return ConcurrencyError(
        f"stream {stream_id!r}: expected version {expected}, actual version {actual}{at}",
        hint="another writer appended to the stream; read it and retry with the new version",
    )


def _same_event(event: NewEvent, record: RecordedEvent) -> None:
    differs = [
        name
        for name, mine, theirs in (
            ("stream_id", event.stream_id, record.stream_id),
            ("event_type", event.event_type, record.event_type),
        )
        if mine != theirs
    ]
    for name, text, value, stored_text, stored in (
        ("data", event.data_json, event.data, record.data_json, record.data),
        ("metadata", event.metadata_json, event.metadata, record.metadata_json, record.metadata),
    ):
        if not same_json(text or to_json(value), stored_text or json.dumps(stored)):
            differs.append(name)
    if differs:
        raise ConcurrencyError(
            f"event_id {event.event_id} ({event.where}) is already stored in stream "
            f"{record.stream_id!r} at version {record.version} with a different "
            f"{', '.join(differs)}",
            hint="an event id identifies one event: give the new event a new id",
        )


class AppendInterrupted(Interrupted):
    """Ctrl-C (or SIGINT, SIGTERM) after some --commit-every batches were committed; its text says
    how far the append got (the CLI prints it)."""

    def __init__(self, text: str, exit_code: int) -> None:
        super().__init__(text)
        self.exit_code = exit_code


def _interrupted(committed: int, batches: int, where: str, summary: InputSummary) -> str:
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


def _expected_hint(expected: ExpectedVersion, stream_id: str, actual: int) -> str:
    """Why a stream's version refused --expected-version, as the store shows it now."""
    if expected.kind == "no-stream":
        return (
            f"the stream already exists (version {actual}): use --expected-version {actual} "
            "to append after it, or any"
        )
    if expected.kind == "exists":
        return "the stream has no events yet: use --expected-version no-stream, or any"
    return (
        f"the stream is at version {actual}: read it (esctl read {stream_id}) and retry with "
        f"--expected-version {actual}; if you last saw version {expected}, another writer has "
        "appended since"
    )


def same_json(mine: str, theirs: str) -> bool:
    """Whether two JSON texts hold the same value as PostgreSQL's jsonb sees it: numbers by
    value (`1.5e300`, `1.5E+300` and jsonb's 301 digits are one number; `1.0` is `1`; `-0` is
    `0`), key order and whitespace aside; `true` is not `1`."""
    if mine == theirs:
        return True
    try:
        return _same_value(_EXACT.decode(mine), _EXACT.decode(theirs))
    except (ValueError, RecursionError):
        return False


_EXACT = json.JSONDecoder(parse_float=Decimal, parse_int=Decimal)


def _same_value(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same_value(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _partial(error: EsctlError, committed: int, summary: InputSummary) -> EsctlError:
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


def _take(events: Iterator[NewEvent], into: list[NewEvent], count: int) -> None:
    """Move up to `count` more events from `events` to the end of `into`."""
    into.extend(itertools.islice(events, count))


def _batched(events: Iterable[NewEvent], size: int) -> Iterator[list[NewEvent]]:
    iterator = iter(events)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def _placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)


def _current_versions(session: Session, stream_ids: Sequence[str]) -> dict[str, int]:
    """The highest stored version of each stream (absent: no events)."""
    found: dict[str, int] = {}
    for start in range(0, len(stream_ids), LOOKUP_CHUNK):
        part = stream_ids[start : start + LOOKUP_CHUNK]
        # One max() per stream, which both databases answer from the end of the
        # (stream_id, version) index; `max … GROUP BY` would read every event of the streams.
        values = ", ".join(["(%s)"] * len(part))
        rows = session.fetchall(
            "SELECT v.column1 AS stream_id, (SELECT max(version) FROM {events} "  # noqa: S608 - placeholders only
            f"WHERE stream_id = v.column1) AS version FROM (VALUES {values}) AS v",
            part,
        )
        found.update((r["stream_id"], int(r["version"])) for r in rows if r["version"] is not None)
    return found


def _stored_events(session: Session, event_ids: Sequence[str]) -> dict[str, RecordedEvent]:
    found: dict[str, RecordedEvent] = {}
    for start in range(0, len(event_ids), LOOKUP_CHUNK):
        part = event_ids[start : start + LOOKUP_CHUNK]
        rows = session.fetchall(
            f"SELECT {EVENT_COLUMNS} FROM {{events}} "  # noqa: S608 - placeholders only
            f"WHERE id IN ({_placeholders(len(part))})",
            part,
        )
        for row in rows:
            record = RecordedEvent.from_row(row)
            found[record.event_id] = record
    return found
