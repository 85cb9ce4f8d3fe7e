"""`streams state`: a stream folded through its reducer up to a version or a time, starting from
its stored snapshot when that is at or below the target, and what each event changed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from esctl.errors import EsctlError, NotFound
from esctl.snapshots.reducers import ReducerChoice, State
from esctl.snapshots.replay import normalise
from esctl.snapshots.verify import differences
from esctl.types import RecordedEvent
from esctl.values import time_json

if TYPE_CHECKING:
    from esctl.store.base import Store


@dataclass(frozen=True)
class Change:
    """What one event changed in the state: dotted key paths and verify-style diff lines."""

    version: int
    event_type: str
    event_id: str
    created_at: Any
    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    diff: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "event_type": self.event_type,
            "event_id": self.event_id,
            "created_at": time_json(self.created_at),
            "added": list(self.added),
            "changed": list(self.changed),
            "removed": list(self.removed),
            "diff": list(self.diff),
        }


@dataclass
class Fold:
    """The result: the state, the version it is at, and where the fold started."""

    stream_id: str
    state: State = field(default_factory=dict)
    version: int = 0
    snapshot_version: int | None = None
    snapshot_skipped: str | None = None


def _same_reducer_as_snapshots(reducers: ReducerChoice, stream_type: str) -> bool:
    """Whether the reducer chosen is the one `snapshots rebuild` writes this stream type's
    snapshots with (the profile's or merge): a snapshot records no reducer, so one made by another
    reducer must not be mixed with this one's fold."""
    if reducers.override is None:
        return True
    written_by = ReducerChoice(None, reducers.configured, reducers.base_dir, reducers.profile)
    try:
        default = written_by.for_stream_type(stream_type).function
    except EsctlError:
        return False
    return default is reducers.for_stream_type(stream_type).function


def _change(before: Any, after: Any, event: RecordedEvent) -> Change:
    diffs = list(differences(before, after))
    kinds: dict[str, list[str]] = {"added": [], "changed": [], "removed": []}
    for d in diffs:
        kinds[d.kind].append(d.path)
    return Change(
        event.version,
        event.event_type,
        event.event_id,
        event.created_at,
        tuple(kinds["added"]),
        tuple(kinds["changed"]),
        tuple(kinds["removed"]),
        tuple(d.line() for d in diffs),
    )


def _before(event: RecordedEvent, at: datetime | None) -> bool:
    created = event.created_at
    return at is None or (isinstance(created, datetime) and created <= at)


def stream_state(
    store: Store,
    stream_id: str,
    reducers: ReducerChoice,
    *,
    at_version: int | None = None,
    at: datetime | None = None,
    use_snapshot: bool = True,
    on_change: Any = None,
) -> Fold:
    """The stream's state at `at_version`, or as of time `at` (the events in version order up to
    the first created after it), or at its last event. NotFound (exit 4) when the stream has no
    events or no such version. A stored snapshot at or below the target is the starting point
    unless `use_snapshot` is False; `on_change(Change)` is called for each event folded."""
    with store.reading() as tx:
        log = tx.log
        first = next(iter(log.read_stream(stream_id, limit=1)), None)
        if first is None:
            raise NotFound(
                f"stream {stream_id!r} not found",
                hint="`esctl streams list` shows the streams in the store",
            )
        last = next(iter(log.read_stream(stream_id, limit=1, backwards=True)))
        if at_version is not None and at_version > last.version:
            raise NotFound(
                f"stream {stream_id} has no version {at_version} (its last is {last.version})",
                hint="omit --at-version for the latest state",
            )
        target = last.version if at_version is None else at_version
        result = Fold(stream_id)
        if target == 0:
            return result
        reducer = reducers.for_stream_type(first.stream_type)
        state: State | None = None
        start = 1
        snapshot = (
            tx.snapshots.get(stream_id)
            if use_snapshot and store.capabilities.has_snapshots
            else None
        )
        if snapshot is not None and not _same_reducer_as_snapshots(reducers, first.stream_type):
            result.snapshot_skipped = (
                f"the snapshot at version {snapshot.version} was not used: --reducer "
                f"{reducer.name} is not the reducer snapshots are rebuilt with"
            )
            snapshot = None
        if (
            snapshot is not None
            and 1 <= snapshot.version <= target
            and isinstance(snapshot.snapshot_data, dict)
        ):
            at_snapshot = next(
                iter(log.read_stream(stream_id, from_version=snapshot.version, limit=1)), None
            )
            if (
                at_snapshot is not None
                and at_snapshot.version == snapshot.version
                and _before(at_snapshot, at)
            ):
                state = snapshot.snapshot_data
                result.version = snapshot.version
                result.snapshot_version = snapshot.version
                start = snapshot.version + 1
        if start <= target:
            for event in log.read_stream(stream_id, from_version=start, limit=target - start + 1):
                if not _before(event, at):
                    break
                before = normalise(state or {}) if on_change is not None else None
                try:
                    new = reducer.function(state, event)
                    if not isinstance(new, dict):
                        raise TypeError(f"returned {type(new).__name__}, not a dict")
                except Exception as exc:
                    raise EsctlError(
                        f"reducer {reducer.name} failed at version {event.version} "
                        f"({event.event_type}): {type(exc).__name__}: {exc}"
                    ) from exc
                state = new
                result.version = event.version
                if on_change is not None:
                    on_change(_change(before, normalise(state), event))
        try:
            result.state = normalise(state or {})
        except (TypeError, ValueError) as exc:
            raise EsctlError(f"the state cannot be written as JSON: {exc}") from exc
        return result
