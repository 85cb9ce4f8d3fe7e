"""Replaying streams through reducers, in one ordered pass over their events.

The Snapshots port streams the selected streams' events by (stream id, version), each with its
stream's stored snapshot (its version on every row, its state on the row whose version it is), so
nothing is fetched per stream or per event and memory stays flat: one stream's state at a time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from esctl.errors import UsageError
from esctl.ports import Snapshots
from esctl.snapshots.reducers import ReducerChoice, State
from esctl.types import RecordedEvent, ReplayRow, StreamSelection

Drift = Literal["ok", "missing", "stale", "different", "ahead", "failed", "redacted"]


@dataclass(frozen=True)
class ReducerFailure:
    """A reducer that raised (or returned something unusable) on one event."""

    version: int
    event_type: str
    reducer: str
    error: str

    def __str__(self) -> str:
        return f"reducer {self.reducer} failed at version {self.version} ({self.event_type}): {self.error}"


@dataclass
class Replay:
    """One stream replayed, with the snapshot stored for it when the pass read it."""

    stream_id: str
    stream_type: str
    reducer: str
    version: int = 0
    events: int = 0
    state: State | None = None
    stored_version: int | None = None
    stored_state: Any = None
    replayed_at_stored: Any = None
    failure: ReducerFailure | None = None
    redaction: str | None = None  # why the stored snapshot may hold redacted values

    @property
    def drift(self) -> Drift:
        """How the stored snapshot differs from the replay."""
        if self.failure is not None:
            return "failed"
        if self.stored_version is None:
            return "missing"
        if self.stored_version > self.version:
            return "ahead"
        if self.redaction is not None:
            return "redacted"
        if self.stored_version < self.version:
            return "stale"
        return "ok" if same_state(self.stored_state, self.state) else "different"


def normalise(state: Any) -> Any:
    """The state as it reads back from the store (a JSON round trip); ValueError/TypeError if it
    cannot be stored as JSON."""
    return json.loads(json.dumps(state, allow_nan=False, ensure_ascii=False))


def same_state(a: Any, b: Any) -> bool:
    """Equal as JSON: unlike `==`, `true` is not `1`."""
    return a == b and _canonical(a) == _canonical(b)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def replay_streams(
    snapshots: Snapshots,
    selection: StreamSelection,
    reducers: ReducerChoice,
    redactions: dict[str, str] | None = None,
) -> Iterator[Replay]:
    """Replay each selected stream from its first event, in one ordered pass; one Replay per
    stream. A reducer failure ends that stream's replay (its other events are skipped), not the
    pass. A reducer that cannot be loaded raises UsageError. `redactions`: the streams whose
    snapshot predates a redaction (snapshots/redactions.py), and why."""
    current: Replay | None = None
    for row in snapshots.replay_rows(selection):
        if current is None or row.event.stream_id != current.stream_id:
            if current is not None:
                yield _finish(current)
            current = _start(row, reducers)
            current.redaction = (redactions or {}).get(current.stream_id)
        _apply(current, row, reducers)
    if current is not None:
        yield _finish(current)


def _start(row: ReplayRow, reducers: ReducerChoice) -> Replay:
    event = row.event
    try:
        reducer = reducers.for_stream_type(event.stream_type)
    except UsageError as exc:
        raise UsageError(
            f"{exc.message} (needed for stream {event.stream_id}, version {event.version}, "
            f"event type {event.event_type})",
            hint=exc.hint,
        ) from exc
    return Replay(
        stream_id=event.stream_id,
        stream_type=event.stream_type,
        reducer=reducer.name,
        stored_version=row.stored_version,
    )


def _apply(replay: Replay, row: ReplayRow, reducers: ReducerChoice) -> None:
    if replay.failure is not None:
        return
    event: RecordedEvent = row.event
    replay.version = event.version
    replay.events += 1
    reducer = reducers.for_stream_type(replay.stream_type)
    try:
        state = reducer.function(replay.state, event)
        if not isinstance(state, dict):
            raise TypeError(f"returned {type(state).__name__}, not a dict")
        if event.version == replay.stored_version:
            replay.stored_state = row.stored_state
            # A copy: the reducer may change the state in place on later events.
            replay.replayed_at_stored = normalise(state)
    except Exception as exc:
        replay.failure = ReducerFailure(
            event.version, event.event_type, reducer.name, f"{type(exc).__name__}: {exc}"
        )
        replay.state = None
        return
    replay.state = state


def _finish(replay: Replay) -> Replay:
    if replay.failure is None:
        try:
            replay.state = normalise(replay.state)
        except (TypeError, ValueError) as exc:
            replay.failure = ReducerFailure(
                replay.version,
                "(final state)",
                replay.reducer,
                f"the state cannot be stored as JSON: {exc}",
            )
    return replay
