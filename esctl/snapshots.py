"""Snapshots: list and show the stored ones, rebuild them by replaying events through reducers, and
verify them against a replay.

Rebuild and verify make one pass over the selected streams' events, ordered by (stream_id, version)
through a server-side cursor, joined to each stream's stored snapshot: the join brings the stored
version on every row and the stored state on the row whose version it is, so nothing is fetched per
stream or per event and memory stays flat (one stream's state at a time, plus one batch of results).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from esctl.errors import (
    EsctlError,
    NotFound,
    ReadOnlyRefused,
    SchemaMissing,
    StoreUnavailable,
    UsageError,
)
from esctl.reducers import ReducerChoice, State
from esctl.store.base import Row, Session, Store
from esctl.types import RecordedEvent
from esctl.values import StoredTime, json_value, stored_time, time_json

# Streams upserted per write transaction: large enough to amortise commits, small enough that a
# failed batch is cheap to redo stream by stream.
DEFAULT_BATCH_SIZE = 500
DIFF_LINES = 5

Drift = Literal["ok", "missing", "stale", "different", "ahead", "failed"]
Status = Literal["rebuilt", "would-rebuild", "unchanged", "failed", "kept-newer"]


def _age_seconds(created_at: StoredTime, now: datetime) -> float | None:
    if not isinstance(created_at, datetime):
        return None  # NULL, or a time no datetime holds (infinite, BC)
    return round((now - created_at).total_seconds(), 3)


# --- selection ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """Which streams a rebuild or verify covers: given ids, one stream type, or all."""

    stream_ids: tuple[str, ...] = ()
    stream_type: str | None = None
    all_streams: bool = False

    def __post_init__(self) -> None:
        given = sum([bool(self.stream_ids), self.stream_type is not None, self.all_streams])
        if given != 1:
            raise UsageError(
                "choose the streams: give stream ids, --stream-type T, or --all (one of them)"
            )
        object.__setattr__(self, "stream_ids", tuple(dict.fromkeys(self.stream_ids)))

    def where(self) -> tuple[str, list[Any]]:
        """A WHERE clause on `{events} e` (empty for all streams) and its parameters."""
        if self.stream_ids:
            marks = ", ".join(["%s"] * len(self.stream_ids))
            return f" WHERE e.stream_id IN ({marks})", list(self.stream_ids)
        if self.stream_type is not None:
            # Streams of that type, replayed whole: an event of another type in the same stream
            # (the seed's schema allows it) must not go missing from the snapshot.
            return (
                " WHERE e.stream_id IN (SELECT t.stream_id FROM {events} t WHERE t.stream_type = %s)",
                [self.stream_type],
            )
        return "", []


def check_streams_exist(session: Session, selection: Selection) -> None:
    """Raise NotFound (exit 4) for stream ids given by name that have no events."""
    if not selection.stream_ids:
        return
    where, params = selection.where()
    found = {
        row["stream_id"]
        for row in session.fetchall(f"SELECT DISTINCT e.stream_id FROM {{events}} e{where}", params)  # noqa: S608 - placeholders only
    }
    missing = [s for s in selection.stream_ids if s not in found]
    if missing:
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        raise NotFound(
            f"no events in stream{'s' if len(missing) > 1 else ''} {shown}",
            hint="esctl streams list shows the streams there are",
        )


def count_streams(session: Session, selection: Selection) -> int:
    """How many streams the selection covers (for a progress bar's ETA)."""
    if selection.stream_ids:
        return len(selection.stream_ids)
    where, params = selection.where()
    query = f"SELECT count(DISTINCT e.stream_id) FROM {{events}} e{where}"  # noqa: S608 - placeholders only
    return int(session.fetchval(query, params) or 0)


# --- stored snapshots --------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """A stored snapshot, with the version of its stream's last event."""

    stream_id: str
    stream_type: str
    version: int
    snapshot_data: Any
    created_at: StoredTime
    stream_version: int | None

    @classmethod
    def from_row(cls, row: Row) -> Snapshot:
        created = row["created_at"]
        stream_version = row["stream_version"]
        return cls(
            stream_id=row["stream_id"],
            stream_type=row["stream_type"],
            version=int(row["version"]),
            snapshot_data=json_value(row["snapshot_data"]),
            created_at=stored_time(created),
            stream_version=int(stream_version) if stream_version is not None else None,
        )

    @property
    def events_behind(self) -> int | None:
        """Events the stream has beyond the snapshot (negative: the snapshot is ahead)."""
        return None if self.stream_version is None else self.stream_version - self.version

    def to_dict(self, now: datetime | None = None) -> dict[str, Any]:
        now = now or datetime.now(UTC)
        return {
            "stream_id": self.stream_id,
            "stream_type": self.stream_type,
            "version": self.version,
            "snapshot_data": self.snapshot_data,
            "created_at": time_json(self.created_at),
            "stream_version": self.stream_version,
            "events_behind": self.events_behind,
            "age_seconds": _age_seconds(self.created_at, now),
        }


SNAPSHOT_SELECT = (
    "SELECT s.stream_id, s.stream_type, s.version, s.snapshot_data, s.created_at, "
    "(SELECT max(e.version) FROM {events} e WHERE e.stream_id = s.stream_id) AS stream_version "
    "FROM {snapshots} s"
)


def list_snapshots(
    session: Session, *, stream_type: str | None = None, limit: int | None = None
) -> Iterator[Snapshot]:
    """Stored snapshots ordered by stream id, optionally of one stream type, at most `limit`."""
    query = SNAPSHOT_SELECT
    params: list[Any] = []
    if stream_type is not None:
        query += " WHERE s.stream_type = %s"
        params.append(stream_type)
    query += " ORDER BY s.stream_id"
    if limit is not None:
        query += " LIMIT %s"
        params.append(limit)
    for row in session.stream(query, params):
        yield Snapshot.from_row(row)


def show_snapshot(session: Session, stream_id: str) -> Snapshot:
    """The stored snapshot of one stream; NotFound (exit 4) if it has none."""
    row = session.fetchone(SNAPSHOT_SELECT + " WHERE s.stream_id = %s", [stream_id])
    if row is None:
        has_events = session.fetchval(
            "SELECT 1 FROM {events} WHERE stream_id = %s LIMIT 1", [stream_id]
        )
        if has_events:
            raise NotFound(
                f"stream {stream_id} has no snapshot",
                hint=f"esctl snapshots rebuild {stream_id}",
            )
        raise NotFound(f"no snapshot and no events for stream {stream_id}")
    return Snapshot.from_row(row)


# --- replay ------------------------------------------------------------------------------------


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

    @property
    def drift(self) -> Drift:
        """How the stored snapshot differs from the replay."""
        if self.failure is not None:
            return "failed"
        if self.stored_version is None:
            return "missing"
        if self.stored_version > self.version:
            return "ahead"
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


REPLAY_SELECT = (
    "SELECT e.global_position, e.stream_id, e.stream_type, e.version, e.event_type, e.id, "
    "e.event_data, e.metadata, e.created_at, s.version AS stored_version, "
    "CASE WHEN s.version = e.version THEN s.snapshot_data END AS stored_state "
    "FROM {events} e LEFT JOIN {snapshots} s ON s.stream_id = e.stream_id"
)


def replay_streams(
    session: Session, selection: Selection, reducers: ReducerChoice
) -> Iterator[Replay]:
    """Replay each selected stream from its first event, in one ordered pass; one Replay per
    stream. A reducer failure ends that stream's replay (its other events are skipped), not the
    pass. A reducer that cannot be loaded raises UsageError."""
    where, params = selection.where()
    query = REPLAY_SELECT + where + " ORDER BY e.stream_id, e.version"
    current: Replay | None = None
    for row in session.stream(query, params):
        if current is None or row["stream_id"] != current.stream_id:
            if current is not None:
                yield _finish(current)
            current = _start(row, reducers)
        _apply(current, row, reducers)
    if current is not None:
        yield _finish(current)


def _start(row: Row, reducers: ReducerChoice) -> Replay:
    stored = row["stored_version"]
    try:
        reducer = reducers.for_stream_type(row["stream_type"])
    except UsageError as exc:
        raise UsageError(
            f"{exc.message} (needed for stream {row['stream_id']}, version {row['version']}, "
            f"event type {row['event_type']})",
            hint=exc.hint,
        ) from exc
    return Replay(
        stream_id=row["stream_id"],
        stream_type=row["stream_type"],
        reducer=reducer.name,
        stored_version=int(stored) if stored is not None else None,
    )


def _apply(replay: Replay, row: Row, reducers: ReducerChoice) -> None:
    if replay.failure is not None:
        return
    event = RecordedEvent.from_row(row)
    replay.version = event.version
    replay.events += 1
    reducer = reducers.for_stream_type(replay.stream_type)
    try:
        state = reducer.function(replay.state, event)
        if not isinstance(state, dict):
            raise TypeError(f"returned {type(state).__name__}, not a dict")
        if event.version == replay.stored_version:
            replay.stored_state = json_value(row["stored_state"])
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


# --- rebuild -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RebuildOutcome:
    """What a rebuild did (or, with --dry-run, would do) to one stream's snapshot."""

    stream_id: str
    stream_type: str
    status: Status
    drift: Drift
    version: int
    previous_version: int | None
    events: int
    reducer: str
    event_type: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "stream_id": self.stream_id,
            "stream_type": self.stream_type,
            "status": self.status,
            "drift": self.drift,
            "version": self.version,
            "previous_version": self.previous_version,
            "events": self.events,
            "reducer": self.reducer,
            "event_type": self.event_type,
            "error": self.error,
        }


def _outcome(replay: Replay, status: Status, error: str | None = None) -> RebuildOutcome:
    failure = replay.failure
    return RebuildOutcome(
        stream_id=replay.stream_id,
        stream_type=replay.stream_type,
        status=status,
        drift=replay.drift,
        version=failure.version if failure else replay.version,
        previous_version=replay.stored_version,
        events=replay.events,
        reducer=replay.reducer,
        event_type=failure.event_type if failure else None,
        error=str(failure) if failure else error,
    )


# Overwrites only an older snapshot, or one above the stream's last event (which no correct writer
# makes): a newer snapshot written while the rebuild ran is kept.
UPSERT_SNAPSHOT = (
    "INSERT INTO {snapshots} AS s (stream_id, stream_type, snapshot_data, version, created_at) "
    "VALUES (%s, %s, %s, %s, %s) "
    "ON CONFLICT (stream_id) DO UPDATE SET stream_type = excluded.stream_type, "
    "snapshot_data = excluded.snapshot_data, version = excluded.version, "
    "created_at = excluded.created_at "
    "WHERE s.version <= excluded.version OR s.version > "
    "(SELECT coalesce(max(e.version), 0) FROM {events} e WHERE e.stream_id = excluded.stream_id)"
)

# Errors that end the run; any other error while writing a batch fails only the streams it hits.
FATAL_ERRORS = (StoreUnavailable, SchemaMissing, ReadOnlyRefused)


def _upsert(session: Session, replay: Replay, now: datetime) -> bool:
    """Write one snapshot; False when a newer one was kept."""
    changed = session.execute(
        UPSERT_SNAPSHOT,
        [
            replay.stream_id,
            replay.stream_type,
            session.json_param(replay.state),
            replay.version,
            session.time_param(now),
        ],
    )
    return changed > 0


def _write_batch(store: Store, batch: Sequence[Replay]) -> Iterator[RebuildOutcome]:
    """Upsert a batch in one transaction; if it fails, redo it stream by stream so that one bad
    snapshot fails alone."""
    now = datetime.now(UTC)
    try:
        with store.writing() as session:
            written = [_upsert(session, replay, now) for replay in batch]
    except FATAL_ERRORS:
        raise
    except EsctlError:
        written = []
    if written:
        for replay, ok in zip(batch, written, strict=True):
            yield _outcome(replay, "rebuilt" if ok else "kept-newer")
        return
    for replay in batch:
        try:
            with store.writing() as session:
                ok = _upsert(session, replay, now)
        except FATAL_ERRORS:
            raise
        except EsctlError as exc:
            yield _outcome(replay, "failed", f"writing the snapshot failed: {exc.message}")
            continue
        yield _outcome(replay, "rebuilt" if ok else "kept-newer")


def rebuild_snapshots(
    store: Store,
    selection: Selection,
    reducers: ReducerChoice,
    *,
    dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Iterator[RebuildOutcome]:
    """Replay the selected streams and upsert each changed snapshot with the version of the last
    event replayed: one outcome per stream, failures included. Writes go through `store` in
    transactions of `batch_size` streams, while a second, read-only connection streams the events;
    `dry_run` writes nothing and needs no second connection."""
    if not dry_run:
        store.check_writable()
    reader = store if dry_run else _reader_for(store)
    try:
        with reader.reading() as session:
            check_streams_exist(session, selection)
            batch: list[Replay] = []
            for replay in replay_streams(session, selection, reducers):
                if replay.failure is not None:
                    yield _outcome(replay, "failed")
                elif replay.drift == "ok":
                    yield _outcome(replay, "unchanged")
                elif dry_run:
                    yield _outcome(replay, "would-rebuild")
                else:
                    batch.append(replay)
                    if len(batch) >= batch_size:
                        yield from _write_batch(store, batch)
                        batch = []
            if batch:
                yield from _write_batch(store, batch)
    finally:
        if reader is not store:
            reader.close()


def _reader_for(store: Store) -> Store:
    """A second, read-only connection to the same store: its transaction holds the cursor over
    the events while the batches commit on `store`'s own connection."""
    from esctl.store import open_store

    return open_store(store.settings, write=False)


@dataclass
class RebuildSummary:
    """Counts of a rebuild, by outcome."""

    rebuilt: int = 0
    unchanged: int = 0
    failed: int = 0
    kept_newer: int = 0
    events: int = 0
    failures: list[RebuildOutcome] = field(default_factory=list)

    def add(self, outcome: RebuildOutcome) -> None:
        self.events += outcome.events
        if outcome.status in ("rebuilt", "would-rebuild"):
            self.rebuilt += 1
        elif outcome.status == "unchanged":
            self.unchanged += 1
        elif outcome.status == "kept-newer":
            self.kept_newer += 1
        else:
            self.failed += 1

    @property
    def streams(self) -> int:
        return self.rebuilt + self.unchanged + self.failed + self.kept_newer


# --- verify ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SnapshotCheck:
    """One stream's stored snapshot compared with a replay of its events."""

    stream_id: str
    stream_type: str
    drift: Drift
    snapshot_version: int | None
    stream_version: int
    detail: str
    diff: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "stream_id": self.stream_id,
            "stream_type": self.stream_type,
            "drift": self.drift,
            "snapshot_version": self.snapshot_version,
            "stream_version": self.stream_version,
            "detail": self.detail,
            "diff": list(self.diff),
        }


def _check(replay: Replay) -> SnapshotCheck:
    drift = replay.drift
    diff: list[str] = []
    stored = replay.stored_version
    if drift == "failed":
        detail = str(replay.failure)
    elif drift == "missing":
        detail = "no snapshot"
    elif drift == "ahead":
        detail = f"above the last event ({replay.version})"
    elif drift == "stale":
        behind = replay.version - (stored or 0)
        detail = f"{behind} event{'s' if behind != 1 else ''} behind"
        if not same_state(replay.replayed_at_stored, replay.stored_state):
            diff = diff_states(replay.stored_state, replay.replayed_at_stored)
            detail += f"; state differs from a replay to version {stored}"
    elif drift == "different":
        diff = diff_states(replay.stored_state, replay.state)
        detail = "state differs from the replay"
    else:
        detail = "ok"
    return SnapshotCheck(
        replay.stream_id, replay.stream_type, drift, stored, replay.version, detail, tuple(diff)
    )


def verify_snapshots(
    session: Session, selection: Selection, reducers: ReducerChoice
) -> Iterator[SnapshotCheck]:
    """Replay the selected streams and compare with their stored snapshots: one check per stream
    (drift `ok` included), then any snapshot of the selection whose stream has no events."""
    check_streams_exist(session, selection)
    for replay in replay_streams(session, selection, reducers):
        yield _check(replay)
    if selection.stream_ids:
        return
    query = (
        "SELECT s.stream_id, s.stream_type, s.version FROM {snapshots} s WHERE NOT EXISTS "
        "(SELECT 1 FROM {events} e WHERE e.stream_id = s.stream_id)"
    )
    params: list[Any] = []
    if selection.stream_type is not None:
        query += " AND s.stream_type = %s"
        params.append(selection.stream_type)
    for row in session.stream(query + " ORDER BY s.stream_id", params):
        version = int(row["version"])
        yield SnapshotCheck(
            row["stream_id"],
            row["stream_type"],
            "ahead",
            version,
            0,
            "the stream has no events",
        )


def diff_states(stored: Any, replayed: Any, limit: int = DIFF_LINES) -> list[str]:
    """A short diff of two states: one line per differing path, at most `limit` lines."""
    lines: list[str] = []
    _diff(stored, replayed, "", lines)
    if len(lines) > limit:
        return [*lines[:limit], f"… and {len(lines) - limit} more differences"]
    return lines


def _diff(stored: Any, replayed: Any, path: str, lines: list[str]) -> None:
    if isinstance(stored, dict) and isinstance(replayed, dict):
        for key in sorted(set(stored) | set(replayed), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in replayed:
                lines.append(f"- {sub}: {_short(stored[key])} (only in the snapshot)")
            elif key not in stored:
                lines.append(f"+ {sub}: {_short(replayed[key])} (not in the snapshot)")
            else:
                _diff(stored[key], replayed[key], sub, lines)
    elif not same_state(stored, replayed):
        lines.append(f"~ {path or '(whole state)'}: {_short(stored)} → {_short(replayed)}")


def _short(value: Any, width: int = 40) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= width else text[: width - 1] + "…"
