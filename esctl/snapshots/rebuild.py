"""`snapshots rebuild`: replay streams and upsert each changed snapshot, in batches.

Events stream through a second, read-only connection while batches of snapshots commit on the
store's own connection; a newer snapshot written meanwhile is kept (the port's upsert-if-newer)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from esctl.errors import EsctlError, ReadOnlyRefused, SchemaMissing, StoreUnavailable
from esctl.ports import Snapshots
from esctl.snapshots.redactions import redaction_marks
from esctl.snapshots.reducers import ReducerChoice
from esctl.snapshots.replay import Drift, Replay, replay_streams
from esctl.snapshots.selection import check_streams_exist, snapshots_of
from esctl.store.base import Store
from esctl.types import StreamSelection

# Streams upserted per write transaction: large enough to amortise commits, small enough that a
# failed batch is cheap to redo stream by stream.
DEFAULT_BATCH_SIZE = 500

Status = Literal["rebuilt", "would-rebuild", "unchanged", "failed", "kept-newer"]

# Errors that end the run; any other error while writing a batch fails only the streams it hits.
FATAL_ERRORS = (StoreUnavailable, SchemaMissing, ReadOnlyRefused)


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


def _upsert(snapshots: Snapshots, replay: Replay, now: datetime) -> bool:
    """Write one snapshot; False when a newer one was kept."""
    return snapshots.upsert_if_newer(
        replay.stream_id, replay.stream_type, replay.version, replay.state, now
    )


def _write_batch(store: Store, batch: Sequence[Replay]) -> Iterator[RebuildOutcome]:
    """Upsert a batch in one transaction; if it fails, redo it stream by stream so that one bad
    snapshot fails alone."""
    now = datetime.now(UTC)
    try:
        with store.writing() as tx:
            snapshots = snapshots_of(tx)
            written = [_upsert(snapshots, replay, now) for replay in batch]
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
            with store.writing() as tx:
                ok = _upsert(snapshots_of(tx), replay, now)
        except FATAL_ERRORS:
            raise
        except EsctlError as exc:
            yield _outcome(replay, "failed", f"writing the snapshot failed: {exc.message}")
            continue
        yield _outcome(replay, "rebuilt" if ok else "kept-newer")


def rebuild_snapshots(
    store: Store,
    selection: StreamSelection,
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
        with reader.reading() as tx:
            snapshots = snapshots_of(tx)
            check_streams_exist(tx, selection)
            batch: list[Replay] = []
            marks = redaction_marks(tx, selection)  # rewritten even if their state is the same
            for replay in replay_streams(snapshots, selection, reducers, marks):
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
