"""Moving and deleting checkpoints: planned before they are made (`checkpoints set|delete`).

A move is computed as a `MovePlan` first (old → new, the events re-delivered or skipped, counted)
and written only by `execute()`, with a compare-and-set on the old value."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from esctl.checkpoints import transaction
from esctl.checkpoints.leases import Holder, live_holder
from esctl.checkpoints.names import find, require
from esctl.errors import ConcurrencyError, NotFound, UsageError
from esctl.lifecycle.audit import Actor, record
from esctl.ports import Checkpoints, EventLog
from esctl.store.base import Session, Store
from esctl.types import START, Cursor, iso_time
from esctl.words import noun_for

TargetKind = Literal["position", "start", "end", "time", "shift"]


@dataclass(frozen=True)
class MoveTarget:
    """Where `checkpoints set` moves a checkpoint."""

    kind: TargetKind
    position: int = 0
    time: datetime | None = None
    shift: int = 0

    def describe(self) -> str:
        if self.kind == "position":
            return f"position {self.position}"
        if self.kind == "time":
            assert self.time is not None
            return f"last event before {iso_time(self.time)}"
        if self.kind == "shift":
            return f"shift by {self.shift:+,d} {noun_for(abs(self.shift), 'event')}"
        return self.kind


@dataclass(frozen=True)
class MovePlan:
    """What a move or delete will do: old → new, and the events re-delivered or skipped."""

    subscription_id: str
    action: Literal["set", "create", "delete"]
    target: str
    old_position: int | None
    old_transaction_id: int | None
    new_position: int | None
    new_transaction_id: int | None
    redelivered: int = 0
    skipped: int = 0
    estimated: bool = False
    notes: tuple[str, ...] = ()
    executed: bool = False
    # Where the checkpoint is in commit order (the stored row resolved: a row the seed's
    # subscriber wrote has no transaction id), and when the plan was made: a plan file's.
    current: Cursor | None = None
    planned_at: datetime | None = None

    @property
    def changes_nothing(self) -> bool:
        return self.action == "set" and (self.old_position, self.old_transaction_id) == (
            self.new_position,
            self.new_transaction_id,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "subscription_id": self.subscription_id,
            "action": self.action,
            "target": self.target,
            "old_position": self.old_position,
            "old_transaction_id": self.old_transaction_id,
            "new_position": self.new_position,
            "new_transaction_id": self.new_transaction_id,
            "events_redelivered": self.redelivered,
            "events_skipped": self.skipped,
            "estimated": self.estimated,
            "notes": list(self.notes),
            "executed": self.executed,
        }


def plan_move(
    store: Store, name: str, target: MoveTarget, *, count_cap: int | None = None
) -> MovePlan:
    """The plan for `checkpoints set`. A subscription with no checkpoint is created (as Kafka's
    reset-offsets does for a new group), except by `--shift-by`, which needs a position.
    Re-delivered and skipped events are counted exactly (one checkpoint: the cap of `list`,
    `LAG_COUNT_CAP`, does not apply to a plan an operator reads before `--execute`)."""
    with store.reading() as tx:
        return plan_in(tx, name, target, count_cap=count_cap)


def plan_in(
    tx: Session, name: str, target: MoveTarget, *, count_cap: int | None = None
) -> MovePlan:
    """`plan_move` inside a transaction (a plan of many checkpoints reads them all in one)."""
    log = transaction.log(tx)
    stored = find(transaction.checkpoints(tx), name)
    if stored is None and target.kind == "shift":
        raise NotFound(
            f"subscription {name!r} has no checkpoint to shift",
            hint="use --position, --to-start, --to-end or --to-time to create one",
        )
    old = log.checkpoint_cursor(stored) if stored is not None else START
    new, notes = _resolve(log, target, old)
    written = _stored_pair(target, new)
    redelivered = skipped = 0
    estimated = False
    if new < old:
        redelivered, estimated = log.count_after(new, old, cap=count_cap)
    elif new > old:
        skipped, estimated = log.count_after(old, new, cap=count_cap)
    if stored is not None and stored.position > log.head():
        notes.insert(0, "the old position is past the head (ahead-of-head)")
    holder = live_holder(transaction.leases(tx), name)
    if holder is not None:
        notes.insert(0, leased_note(holder))
    return MovePlan(
        subscription_id=name,
        action="set" if stored is not None else "create",
        target=target.describe(),
        old_position=stored.position if stored is not None else None,
        old_transaction_id=stored.transaction_id if stored else None,
        new_position=written.global_position,
        new_transaction_id=written.transaction_id or None,
        redelivered=redelivered,
        skipped=skipped,
        estimated=estimated,
        notes=tuple(notes),
        current=old,
        planned_at=transaction.checkpoints(tx).now(),
    )


def plan_delete(store: Store, name: str) -> MovePlan:
    """The plan for `checkpoints delete` (exit 4 if there is no such checkpoint)."""
    with store.reading() as tx:
        stored = require(transaction.checkpoints(tx), name)
        holder = live_holder(transaction.leases(tx), name)
    notes = ["its subscriber starts from its own default position when it next runs"]
    if holder is not None:
        notes.insert(0, leased_note(holder))
    return MovePlan(
        subscription_id=name,
        action="delete",
        target="delete",
        old_position=stored.position,
        old_transaction_id=stored.transaction_id,
        new_position=None,
        new_transaction_id=None,
        notes=tuple(notes),
    )


def leased_note(holder: Holder) -> str:
    return (
        f"a running consumer holds it ({holder.sentence()}): --execute is refused unless "
        "--force, and with --force that consumer stops (exit 3) at its next save"
    )


def _resolve(log: EventLog, target: MoveTarget, old: Cursor) -> tuple[Cursor, list[str]]:
    """The new cursor for `target`, and notes on how it was chosen."""
    notes: list[str] = []
    last = log.nth_after(0, descending=True) or START
    if target.kind == "start":
        return START, notes
    if target.kind == "end":
        return last, notes
    if target.kind == "position":
        return _at_position(log, target.position, notes), notes
    if target.kind == "time":
        assert target.time is not None
        # The first event in commit order created at/after T; the new cursor is just before it,
        # so every event created at/after T is delivered (at least once) and none is skipped.
        first = log.nth_after(0, created_from=target.time)
        if first is None:
            notes.append("no event was created at or after that time: moving to the end")
            return last, notes
        return log.nth_after(1, upto=first, descending=True) or START, notes
    if target.shift > 0:
        moved = log.nth_after(target.shift - 1, after=old)
        if moved is None:
            notes.append("fewer events than that after the checkpoint: clamped to the end")
            return last, notes
        return moved, notes
    if target.shift < 0:
        moved = log.nth_after(-target.shift, upto=old, descending=True)
        if moved is None:
            notes.append("fewer events than that before the checkpoint: clamped to the start")
            return START, notes
        return moved, notes
    return old, notes


def _stored_pair(target: MoveTarget, new: Cursor) -> Cursor:
    """What the row will hold: the new cursor, except for `--position N` when no event's exact
    cursor is safe there: then (N, no transaction id), which readers resolve to the same
    at-least-once cursor (`cursor_before`) and the seed's subscriber reads as N."""
    if target.kind != "position" or new.global_position == target.position:
        return new
    return Cursor(0, target.position)


def _at_position(log: EventLog, position: int, notes: list[str]) -> Cursor:
    if position < 0:
        raise UsageError(f"--position must be 0 or more, not {position}")
    if position == 0:
        return START
    head = log.head()
    if position > head:
        raise UsageError(
            f"position {position} is past the head of the log ({head})",
            hint="use --to-end to move to the last event",
        )
    cursor = log.cursor_before(position)
    if cursor.global_position != position:
        notes.append(
            "positions are not commit order: events of older transactions at higher positions "
            f"come after it, so some events at or before {position} are delivered again"
        )
    return cursor


def execute(
    store: Store, plan: MovePlan, *, force: bool = False, actor: Actor | None = None
) -> MovePlan:
    """Write a plan atomically, compare-and-set on the old value: a checkpoint moved, created or
    deleted since the plan was made raises ConcurrencyError (exit 3) and nothing is written.
    A checkpoint a running consumer holds the lease on is refused (exit 3) unless `force`.
    The audit row (`actor`: who, default this process) is written in the same transaction."""
    return execute_all(store, [plan], force=force, actor=actor)[0]


def execute_all(
    store: Store, plans: list[MovePlan], *, force: bool = False, actor: Actor | None = None
) -> list[MovePlan]:
    """`execute` for many checkpoints in ONE transaction: every move is written or none is.
    Leased checkpoints refuse the whole plan (exit 3, naming every holder) unless `force`; a
    checkpoint that changed since the plan (a compare-and-set that fails, or one that a plan
    leaves where it is but that no longer holds its planned value) rolls back every move."""
    with store.writing() as tx:
        leases = transaction.leases(tx)
        holders = {p.subscription_id: live_holder(leases, p.subscription_id) for p in plans}
        held = {name: h for name, h in holders.items() if h is not None}
        if held and not force:
            raise _refuse_leased(held)
        checkpoints = transaction.checkpoints(tx)
        for plan in plans:
            if not _write(checkpoints, plan):
                raise _conflict(checkpoints, plan)
            if plan.changes_nothing:
                continue
            counts = {
                "old_position": plan.old_position,
                "new_position": plan.new_position,
                "events_redelivered": plan.redelivered,
                "events_skipped": plan.skipped,
                "forced": force and plan.subscription_id in held,
            }
            if len(plans) > 1:
                counts["plan_size"] = len(plans)
            operation = "checkpoints delete" if plan.action == "delete" else "checkpoints set"
            record(tx, actor, operation, plan.subscription_id, counts)
    return [replace(plan, executed=not plan.changes_nothing) for plan in plans]


def _write(checkpoints: Checkpoints, plan: MovePlan) -> bool:
    """The plan's change, compare-and-set on its old value; False when that value is gone."""
    name = plan.subscription_id
    old = Cursor(plan.old_transaction_id or 0, plan.old_position or 0)
    new = Cursor(plan.new_transaction_id or 0, plan.new_position or 0)
    if plan.changes_nothing:
        return checkpoints.holds(name, old)
    if plan.action == "create":
        return checkpoints.create_if_absent(name, new)
    if plan.action == "set":
        return checkpoints.compare_and_set(name, old, new)
    return checkpoints.delete(name, old)


def _refuse_leased(held: dict[str, Holder]) -> ConcurrencyError:
    hint = (
        "stop that consumer first, or add --force (it then stops with exit 3 at its next save "
        "instead of overwriting the move)"
    )
    if len(held) == 1:
        name, holder = next(iter(held.items()))
        return ConcurrencyError(
            f"checkpoint {name!r} is held by a running consumer ({holder.sentence()}): "
            "nothing was written",
            hint=hint,
        )
    who = "; ".join(f"{name!r} by {holder.sentence()}" for name, holder in held.items())
    return ConcurrencyError(
        f"{len(held)} checkpoints of the plan are held by running consumers ({who}): "
        "nothing was written",
        hint=hint.replace("that consumer", "those consumers").replace("it then", "they then"),
    )


def _conflict(checkpoints: Checkpoints, plan: MovePlan) -> ConcurrencyError:
    current = checkpoints.get(plan.subscription_id)
    found = (
        "it no longer exists" if current is None else f"it is now at position {current.position}"
    )
    expected = "no checkpoint" if plan.old_position is None else f"position {plan.old_position}"
    return ConcurrencyError(
        f"checkpoint {plan.subscription_id!r} changed concurrently: expected {expected}, "
        f"{found}; nothing was written",
        hint="run the command again to plan from its current position",
    )
