"""Plans of many checkpoint moves (`checkpoints set NAME… | --all | --match GLOB`, `--from-file`).

A plan is a list of `MovePlan`s read in one transaction, so every row of it is as the store was
at one moment (`planned_at`); it is written with `execute_all`, in one transaction, each move a
compare-and-set on the value it was planned from. A plan loaded from a file (`plan_file`) is
checked against the store first (`recheck`): any checkpoint that moved since refuses the whole
plan (exit 3) before anything is written, and the write repeats the same compare-and-set."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from fnmatch import fnmatchcase

from esctl.checkpoints import transaction
from esctl.checkpoints.leases import live_holder
from esctl.checkpoints.moves import MovePlan, MoveTarget, leased_note, plan_in
from esctl.checkpoints.names import check_subscription_name
from esctl.errors import ConcurrencyError, NotFound, UsageError
from esctl.store.base import Session, Store
from esctl.types import START, Cursor
from esctl.words import plural


def _select(tx: Session, names: Sequence[str], every: bool, patterns: Sequence[str]) -> list[str]:
    """The names given, then the stored checkpoints that `--all` or a `--match` glob selects
    (by name), each once."""
    chosen = dict.fromkeys(names)
    if every or patterns:
        stored = sorted(c.name for c in transaction.checkpoints(tx).all())
        if every and not stored:
            raise NotFound("no checkpoints to move: no subscription has saved a position yet")
        for pattern in patterns:
            found = [name for name in stored if fnmatchcase(name, pattern)]
            if not found:
                raise NotFound(
                    f"no checkpoint matches {pattern!r}",
                    hint="`esctl checkpoints list` shows the subscriptions",
                )
            chosen.update(dict.fromkeys(found))
        if every:
            chosen.update(dict.fromkeys(stored))
    if not chosen:
        raise UsageError("name a checkpoint, or give --all or --match GLOB")
    return list(chosen)


def plan_moves(
    store: Store,
    names: Sequence[str],
    target: MoveTarget,
    *,
    every: bool = False,
    patterns: Sequence[str] = (),
    count_cap: int | None = None,
) -> list[MovePlan]:
    """One plan for every selected checkpoint, all read in one transaction."""
    with store.reading() as tx:
        return [
            plan_in(tx, name, target, count_cap=count_cap)
            for name in _select(tx, names, every, patterns)
        ]


def recheck(
    store: Store, plans: Sequence[MovePlan], *, source: str, count_cap: int | None = None
) -> list[MovePlan]:
    """A loaded plan against the store now: exit 2 for a checkpoint it names that does not
    exist or a position past the head, exit 3 (nothing changed) when any checkpoint moved
    since the plan was made; else the plan, its re-delivered and skipped events counted anew."""
    checked: list[MovePlan] = []
    moved: list[str] = []
    with store.reading() as tx:
        log = transaction.log(tx)
        checkpoints = transaction.checkpoints(tx)
        leases = transaction.leases(tx)
        head = log.head()
        for plan in plans:
            name = plan.subscription_id
            check_subscription_name(name)
            stored = checkpoints.get(name)
            if plan.action == "set" and stored is None:
                raise UsageError(
                    f"{source}: unknown checkpoint {name!r}: the plan moves it, but the store has "
                    "no such checkpoint (deleted since, or a plan for another store)",
                    hint="`esctl checkpoints list` shows the subscriptions",
                )
            if (plan.new_position or 0) > head:
                raise UsageError(
                    f"{source}: checkpoint {name!r}: position {plan.new_position} is past the "
                    f"head of the log ({head})"
                )
            expected = Cursor(plan.old_transaction_id or 0, plan.old_position or 0)
            if plan.action == "create" and stored is not None:
                moved.append(f"{name!r} was created since (at position {stored.position})")
                continue
            if stored is not None and stored.stored != expected:
                moved.append(
                    f"{name!r} moved from position {plan.old_position} to {stored.position}"
                )
                continue
            old = log.checkpoint_cursor(stored) if stored is not None else START
            new = Cursor(plan.new_transaction_id or 0, plan.new_position or 0)
            if plan.new_transaction_id is None and plan.new_position:
                new = log.cursor_before(plan.new_position)  # as readers resolve that row
            redelivered = skipped = 0
            estimated = False
            if new < old:
                redelivered, estimated = log.count_after(new, old, cap=count_cap)
            elif new > old:
                skipped, estimated = log.count_after(old, new, cap=count_cap)
            holder = live_holder(leases, name)
            notes = (leased_note(holder),) if holder is not None else ()
            checked.append(
                replace(
                    plan,
                    current=old,
                    redelivered=redelivered,
                    skipped=skipped,
                    estimated=estimated,
                    notes=notes,
                )
            )
    if moved:
        shown = "; ".join(moved[:10]) + (f"; and {len(moved) - 10} more" if len(moved) > 10 else "")
        raise ConcurrencyError(
            f"{source}: the plan is stale: {plural(len(moved), 'checkpoint')} changed since it "
            f"was made ({shown}); nothing was changed",
            hint="make a new plan (checkpoints set … --export FILE) and apply that",
        )
    return checked
