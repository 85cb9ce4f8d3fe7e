"""`streams delete` (soft, or `--hard`) and `streams undelete`: planned first (`plan_streams`:
the streams, their events, version and position ranges, bytes, snapshot, the checkpoints that
still had their events pending), written only by `execute`, audited in the same transaction.

Soft delete writes a tombstone: reads, listings, stats and tails leave the stream out unless
`--include-deleted`, and esctl refuses appends to it (exit 3) until it is undeleted. The seed's
plain INSERTs are not esctl's: one into a soft-deleted stream is stored (its version follows the
stream's last one, since the events are all still there), hidden like the rest of the stream,
and shown again by `undelete`; nothing is corrupted.

A hard delete tombstones the streams first (so they are hidden at once and appends are refused),
then deletes their events in batches of `batch_size`, each its own short transaction (no long
lock, bounded memory), and finally the snapshots and tombstones. Killed at any point, it leaves
tombstoned streams with fewer events, which a re-run of the same command plans and finishes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from esctl.checkpoints import transaction
from esctl.errors import NotFound, UsageError
from esctl.lifecycle.audit import Actor, record
from esctl.store.base import Session, Store
from esctl.store.lifecycle import StreamAdmin, audit_trail, stream_admin
from esctl.values import stored_time, time_json

Action = Literal["delete", "hard-delete", "undelete"]
BATCH_SIZE = 1000


@dataclass(frozen=True)
class StreamFacts:
    """One stream in a plan."""

    stream_id: str
    events: int
    first_version: int | None
    last_version: int | None
    first_position: int | None
    last_position: int | None
    bytes: int
    snapshot_version: int | None
    deleted_at: str | None  # when it was soft-deleted, if it is
    checkpoints: tuple[str, ...] = ()  # checkpoints with events of the stream still pending

    def to_dict(self) -> dict[str, Any]:
        return {
            "stream_id": self.stream_id,
            "events": self.events,
            "first_version": self.first_version,
            "last_version": self.last_version,
            "first_position": self.first_position,
            "last_position": self.last_position,
            "bytes": self.bytes,
            "snapshot_version": self.snapshot_version,
            "deleted_at": self.deleted_at,
            "checkpoints_affected": list(self.checkpoints),
        }


@dataclass(frozen=True)
class StreamsPlan:
    action: Action
    streams: tuple[StreamFacts, ...]
    executed: bool = False
    audit_id: int | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def events(self) -> int:
        return sum(s.events for s in self.streams)

    @property
    def operation(self) -> str:
        return {
            "delete": "streams delete",
            "hard-delete": "streams delete --hard",
            "undelete": "streams undelete",
        }[self.action]

    def counts(self) -> dict[str, Any]:
        return {
            "streams": len(self.streams),
            "events": self.events,
            "bytes": sum(s.bytes for s in self.streams),
            "snapshots": sum(1 for s in self.streams if s.snapshot_version is not None),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "executed": self.executed,
            "audit_id": self.audit_id,
            **self.counts(),
            "streams_planned": [s.to_dict() for s in self.streams],
            "notes": list(self.notes),
        }


def admin_of(tx: Session) -> StreamAdmin:
    admin = stream_admin(tx)
    if admin is None:
        raise UsageError("streams delete refused: only esctl's own layout has stream deletes")
    return admin


def plan_streams(store: Store, stream_ids: Sequence[str], action: Action) -> StreamsPlan:
    """The plan: exit 4 for a stream that has neither events nor a tombstone (delete), or that
    is not deleted (undelete); exit 2 for one already deleted (soft delete again)."""
    ids = list(dict.fromkeys(stream_ids))
    if not ids:
        raise UsageError("name at least one stream")
    planned: list[StreamFacts] = []
    with store.reading() as tx:
        admin = admin_of(tx)
        positions = [(c.name, c.position) for c in transaction.checkpoints(tx).all()]
        for stream_id in ids:
            facts = admin.facts(stream_id)
            tomb = admin.tombstone(stream_id)
            if action == "undelete" and tomb is None:
                raise NotFound(
                    f"stream {stream_id!r} is not deleted", hint="`esctl streams list` shows it"
                )
            if action != "undelete" and tomb is None and not facts["events"]:
                raise NotFound(
                    f"stream {stream_id!r} not found",
                    hint="`esctl streams list --include-deleted` shows the streams",
                )
            if action == "delete" and tomb is not None:
                raise UsageError(
                    f"stream {stream_id!r} is already deleted",
                    hint="add --hard to remove its events for good, or `esctl streams undelete`",
                )
            last = facts["last_position"]
            pending = tuple(n for n, p in positions if last is not None and p < int(last))
            planned.append(
                StreamFacts(
                    stream_id=stream_id,
                    events=facts["events"],
                    first_version=facts["first_version"],
                    last_version=facts["last_version"],
                    first_position=facts["first_position"],
                    last_position=last,
                    bytes=facts["bytes"],
                    snapshot_version=admin.snapshot_version(stream_id),
                    deleted_at=time_json(stored_time(tomb["deleted_at"])) if tomb else None,
                    checkpoints=pending,
                )
            )
    notes: list[str] = []
    if any(s.checkpoints for s in planned) and action != "undelete":
        notes.append(
            "checkpoints listed as affected have events of these streams pending: consumers "
            "will not receive them"
        )
    return StreamsPlan(action, tuple(planned), notes=tuple(notes))


def execute(
    store: Store,
    plan: StreamsPlan,
    *,
    actor: Actor | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
) -> StreamsPlan:
    """Carry out a plan, audited; a hard delete in batches (`progress` gets each batch's count)."""
    if batch_size < 1:
        raise UsageError("--batch-size must be 1 or more")
    with store.writing() as tx:
        admin = admin_of(tx)
        audit_id = record(
            tx, actor, plan.operation, ", ".join(s.stream_id for s in plan.streams), plan.counts()
        )
        assert audit_id is not None  # esctl's layout always has the audit trail
        for stream in plan.streams:
            if plan.action == "undelete":
                admin.remove_tombstone(stream.stream_id)
            else:
                admin.add_tombstone(stream.stream_id, stream.last_version or 0, audit_id)
    if plan.action == "hard-delete":
        _hard_delete(store, plan, audit_id, batch_size, progress)
    return replace(plan, executed=True, audit_id=audit_id)


def _hard_delete(
    store: Store,
    plan: StreamsPlan,
    audit_id: int,
    batch_size: int,
    progress: Callable[[int], None] | None,
) -> None:
    deleted = 0
    for stream in plan.streams:
        while True:
            with store.writing() as tx:
                admin = changing_events(tx, audit_id, {**plan.counts(), "events_deleted": deleted})
                removed = admin.delete_events(stream.stream_id, batch_size)
                done = {**plan.counts(), "events_deleted": deleted + removed}
                admin.touch_audit(audit_id, done)  # the progress this batch commits
            deleted += removed
            if progress is not None and removed:
                progress(removed)
            if removed < batch_size:
                break
    with store.writing() as tx:
        admin = changing_events(tx, audit_id, {**plan.counts(), "events_deleted": deleted})
        for stream in plan.streams:
            admin.delete_events(stream.stream_id, batch_size)  # a seed INSERT meanwhile
            admin.delete_snapshot(stream.stream_id)
            admin.remove_tombstone(stream.stream_id)


def changing_events(tx: Session, audit_id: int, counts: dict[str, Any]) -> StreamAdmin:
    """This transaction may change events as the audited change `audit_id` (its progress is
    written to the audit row, which on PostgreSQL makes it a row of this transaction)."""
    admin = admin_of(tx)
    admin.touch_audit(audit_id, counts)
    trail = audit_trail(tx)
    assert trail is not None
    trail.allow_event_changes(audit_id)
    return admin
