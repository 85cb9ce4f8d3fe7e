"""The careful path of an append: idempotency by event id, used only when the fast path hit a
constraint or a check (and for `--dry-run`).

The unit is read in batches that first look up which event ids are already stored. A stored event
with the same stream and content is a duplicate (reported with its stored position, not written);
stored events must be the leading part of each stream's events in the input, at consecutive
versions, else the batch mixes stored and new events for the same positions: a conflict (exit 3).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from esctl.append.new_events import NewEvent, to_json
from esctl.append.state import AppendState
from esctl.append.versions import expected_hint, version_error
from esctl.errors import ConcurrencyError
from esctl.ports import EventWrites
from esctl.types import NewEventRow, RecordedEvent

CAREFUL_BATCH = 1000


class CarefulPath(AppendState):
    """Writing (or, for a dry run, only deciding) a unit with stored event ids looked up first."""

    def careful_unit(self, log: EventWrites, events: Iterable[NewEvent], *, write: bool) -> None:
        since = log.append_mark()
        looked_up: set[str] = set()
        for batch in _batched(events, CAREFUL_BATCH):
            stored = log.stored_by_id([e.event_id for e in batch if e.has_id])
            fresh = list({e.stream_id for e in batch} - looked_up)
            current = log.stream_versions(fresh)
            looked_up.update(fresh)
            for sid in fresh:
                self._adopt(sid, current.get(sid, 0))
            rows = [
                row
                for event in batch
                if (row := self._careful_row(event, stored.get(event.event_id))) is not None
            ]
            if write and rows:
                log.append(rows)
            if self.progress is not None:
                self.progress(len(batch))
        if write:
            for sid, (first, last) in log.appended_positions(since).items():
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
            raise version_error(stream_id, str(committed), stored)
        state.current = state.read_version = stored

    def _careful_row(self, event: NewEvent, record: RecordedEvent | None) -> NewEventRow | None:
        sid = event.stream_id
        state = self._state(sid)
        assert state.current is not None
        if record is not None:
            same_event(event, record)
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
                raise version_error(sid, str(event.version - 1), record.version - 1, event.where)
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
            raise version_error(sid, str(state.next_duplicate - 1), state.current)
        state.seen_new = True
        version = state.current + 1
        if event.version is not None and event.version != version:
            raise version_error(sid, str(event.version - 1), state.current, event.where)
        state.current = version
        state.appended += 1
        state.versions(version, version)
        return NewEventRow(
            event.event_id,
            event.stream_id,
            event.stream_type,
            event.event_type,
            event.data_json,
            event.metadata_json,
            version,
            event.created_at,
        )

    def _check(self, stream_id: str, version: int) -> None:
        if not self.expected.accepts(version):
            error = version_error(stream_id, str(self.expected), version)
            error.hint = expected_hint(self.expected, stream_id, version)
            raise error
        self._state(stream_id).checked = True


def same_event(event: NewEvent, record: RecordedEvent) -> None:
    """Raise ConcurrencyError (exit 3) unless the stored event with this id is this event."""
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


def _batched(events: Iterable[NewEvent], size: int) -> Iterator[list[NewEvent]]:
    iterator = iter(events)
    while batch := list(itertools.islice(iterator, size)):
        yield batch
