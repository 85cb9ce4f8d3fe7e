"""`streams truncate STREAM --before-version N`: remove a stream's events below version N,
planned first, refused unless a snapshot at version N - 1 or later keeps the state they made
(or `force`), and never the stream's last event (its version must survive, or the next append
would start the stream again at version 1). Executed in audited batches, lowest versions first:
an interrupted run leaves a shorter prefix removed, which a re-run finishes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from esctl.checkpoints import transaction
from esctl.errors import UsageError
from esctl.lifecycle.audit import Actor, record
from esctl.lifecycle.streams import BATCH_SIZE, StreamFacts, admin_of, changing_events
from esctl.lifecycle.visibility import stream_not_found
from esctl.store.base import Store


@dataclass(frozen=True)
class TruncatePlan:
    stream: StreamFacts  # the events that would go
    before_version: int
    last_version: int  # the stream's version, which stays
    forced: bool = False
    executed: bool = False
    audit_id: int | None = None

    def counts(self) -> dict[str, Any]:
        return {
            "events": self.stream.events,
            "bytes": self.stream.bytes,
            "before_version": self.before_version,
            "forced": self.forced,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": "truncate",
            "executed": self.executed,
            "audit_id": self.audit_id,
            **self.counts(),
            "stream": self.stream.to_dict(),
        }


def plan_truncate(
    store: Store, stream_id: str, before_version: int, *, force: bool = False
) -> TruncatePlan:
    """The plan; exit 4 for a stream without events, exit 2 when it would remove the last event
    or no snapshot at version `before_version` - 1 or later exists (unless `force`)."""
    if before_version < 1:
        raise UsageError(f"--before-version must be 1 or more, not {before_version}")
    with store.reading() as tx:
        admin = admin_of(tx)
        whole = admin.facts(stream_id)
        if not whole["events"]:
            raise stream_not_found(tx, stream_id)
        last_version = int(whole["last_version"])
        if before_version > last_version:
            raise UsageError(
                f"--before-version {before_version} would remove every event of {stream_id!r} "
                f"(its version is {last_version}): the last event must stay",
                hint=f"use --before-version {last_version} at most, or `esctl streams delete "
                f"{stream_id} --hard` to remove the stream",
            )
        snapshot = admin.snapshot_version(stream_id)
        if not force and (snapshot is None or snapshot < before_version - 1):
            have = "no snapshot" if snapshot is None else f"a snapshot at version {snapshot}"
            raise UsageError(
                f"refusing to truncate {stream_id!r} below version {before_version}: it has "
                f"{have}, and replaying it would need the events removed",
                hint=f"rebuild its snapshot first (`esctl snapshots rebuild {stream_id}`), or "
                "add --force",
            )
        going = admin.facts(stream_id, below_version=before_version)
        last = going["last_position"]
        positions = [(c.name, c.position) for c in transaction.checkpoints(tx).all()]
        pending = tuple(n for n, p in positions if last is not None and p < int(last))
    facts = StreamFacts(
        stream_id=stream_id,
        events=going["events"],
        first_version=going["first_version"],
        last_version=going["last_version"],
        first_position=going["first_position"],
        last_position=last,
        bytes=going["bytes"],
        snapshot_version=snapshot,
        deleted_at=None,
        checkpoints=pending,
    )
    return TruncatePlan(facts, before_version, last_version, forced=force)


def execute_truncate(
    store: Store,
    plan: TruncatePlan,
    *,
    actor: Actor | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
) -> TruncatePlan:
    """Remove the planned events in audited batches."""
    if batch_size < 1:
        raise UsageError("--batch-size must be 1 or more")
    stream_id = plan.stream.stream_id
    with store.writing() as tx:
        audit_id = record(tx, actor, "streams truncate", stream_id, plan.counts())
    assert audit_id is not None
    deleted = 0
    while True:
        with store.writing() as tx:
            admin = changing_events(tx, audit_id, {**plan.counts(), "events_deleted": deleted})
            removed = admin.delete_events(stream_id, batch_size, below_version=plan.before_version)
            admin.touch_audit(audit_id, {**plan.counts(), "events_deleted": deleted + removed})
        deleted += removed
        if progress is not None and removed:
            progress(removed)
        if removed < batch_size:
            break
    return replace(plan, executed=True, audit_id=audit_id)
