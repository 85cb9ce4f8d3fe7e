"""The fast path of an append: versions read once per stream, assigned here, every row sent in
bulk while the input is still being read (COPY on PostgreSQL, `executemany` on SQLite).

The current version of each stream is read when the stream first appears (events are held back
in a bounded look-ahead until the versions of their new streams are known, then the bulk write
continues), the expected version checked, versions assigned and every row sent. The unique
constraints `(stream_id, version)` and `id` are the arbiters: nothing is read-then-trusted. When a
constraint or a check fires, `Fallback` (or Conflict) sends the unit to the careful path.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator

from esctl.append.new_events import NewEvent
from esctl.append.state import AppendState, Fallback
from esctl.ports import EventWrites
from esctl.types import NewEventRow

# The single pass holds back events behind a stream it has not seen yet, up to this many, then
# reads the versions of those streams (doubling up to the cap, so memory stays bounded).
FIRST_LOOKAHEAD = 1000
MAX_LOOKAHEAD = 16_000


class FastPath(AppendState):
    """Writing a unit (or the whole input) without looking up stored event ids."""

    def fast_stream(self, log: EventWrites, events: Iterator[NewEvent]) -> None:
        """The fast path over a stream of events: rows written while they arrive; the bulk write
        pauses only to read the versions of streams not seen yet."""
        since = log.append_mark()
        pending: list[NewEvent] = []
        size = FIRST_LOOKAHEAD
        take(events, pending, size)
        while pending:
            self._look_up(log, pending)
            ready, pending = pending, []
            log.append(self._stream_rows(ready, events, pending, size))
            size = min(size * 2, MAX_LOOKAHEAD)
        self._record_positions(log, since)

    def _look_up(self, log: EventWrites, events: list[NewEvent]) -> None:
        """Read (and check) the stored version of the streams this unit has not seen yet."""
        unit = self.unit
        new = list(dict.fromkeys(e.stream_id for e in events if e.stream_id not in unit))
        self._start_streams(log, new)

    def _start_streams(self, log: EventWrites, stream_ids: list[str]) -> None:
        current = log.stream_versions(stream_ids)
        for sid in stream_ids:
            state = self._state(sid)
            state.current = state.read_version = current.get(sid, 0)
            if not self.expected.accepts(state.current):
                raise Fallback  # maybe the input's leading events are stored already
            state.checked = True

    def _stream_rows(
        self,
        ready: list[NewEvent],
        events: Iterator[NewEvent],
        pending: list[NewEvent],
        size: int,
    ) -> Iterator[NewEventRow]:
        """Rows of `ready`, then of the following events until one is in a stream not seen yet:
        that one and up to `size` after it go to `pending` (the bulk write ends there)."""
        yield from self._fast_rows(ready)
        yield from self._fast_rows(events, pending, size)

    def fast_unit(self, log: EventWrites, unit: int, events: Iterable[NewEvent]) -> None:
        """One `--commit-every` unit: the streams that first appear in it are read up front."""
        since = log.append_mark()
        new = [sid for sid, plan in self.summary.streams.items() if plan.first_unit == unit]
        self._start_streams(log, new)
        log.append(self._fast_rows(events))
        self._record_positions(log, since)

    def _record_positions(self, log: EventWrites, since: int) -> None:
        """The positions this unit's events got, looked up by the versions it assigned."""
        versions = {
            sid: (state.read_version + 1, state.current)
            for sid, state in self.unit.items()
            if state.read_version is not None
            and state.current is not None
            and state.current > state.read_version
        }
        for sid, (first, last) in log.appended_positions(since, versions).items():
            self._state(sid).positions(first, last)

    def _fast_rows(
        self, events: Iterable[NewEvent], pending: list[NewEvent] | None = None, size: int = 0
    ) -> Iterator[NewEventRow]:
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
                    take(iter(events), pending, size)
                    break
            version = state.current + 1  # type: ignore[operator]
            if event.version is not None and event.version != version:
                raise Fallback
            state.current = state.last_version = version
            if state.first_version is None:
                state.first_version = version
            state.appended += 1
            done += 1
            if progress is not None and done % 1000 == 0:
                progress(1000)
            yield NewEventRow(
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


def take(events: Iterator[NewEvent], into: list[NewEvent], count: int) -> None:
    """Move up to `count` more events from `events` to the end of `into`."""
    into.extend(itertools.islice(events, count))
