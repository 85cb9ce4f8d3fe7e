"""Subscription checkpoints: lag you can trust, and moves that are planned before they are made.

A checkpoint is a place in the log in commit order (`esctl.cursor.Cursor`): every event at or before
it has been handled. esctl stores it as (`last_transaction_id`, `last_position`); rows written by the
seed's subscriber carry `last_position` only, and their cursor is the cursor of the event there.

Lag is the number of events after the cursor, counted, not `head - position` (which gaps from
rolled-back transactions inflate). Counting is bounded by a cap per checkpoint (`LAG_COUNT_CAP`):
past it the lag is reported as an estimate (`lag_estimated`), so `checkpoints list` stays quick on a
store of hundreds of millions of events. Moves are computed as a `MovePlan` first and written only
by `execute()`, with a compare-and-set on the old value.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from esctl.cursor import START, Cursor, checkpoint_cursor, cursor_before_position
from esctl.errors import ConcurrencyError, InvalidInput, NotFound, UsageError
from esctl.leases import Holder, live_holder, live_holders
from esctl.store.base import EVENT_COLUMNS, Row, Session, Store
from esctl.types import RecordedEvent, iso_time
from esctl.values import parse_time
from esctl.words import noun_for

# Counting more events than this per checkpoint costs seconds on a large store; past it, lag is
# reported as an estimate from positions (never less than the cap).
LAG_COUNT_CAP = 100_000
DEFAULT_LAG_THRESHOLD = 1_000
DEFAULT_STALE_AFTER = 600.0  # seconds

Status = Literal["ok", "lagging", "stalled", "ahead-of-head"]
# The status shown is the first condition that holds, in this order.
STATUS_PRECEDENCE: tuple[Status, ...] = ("ahead-of-head", "stalled", "lagging")

_SELECT_ROW = (
    "SELECT subscription_id, last_position, last_transaction_id, updated_at FROM {checkpoints}"
)


@dataclass(frozen=True)
class CheckpointState:
    """One checkpoint with its lag and status, as `checkpoints list` shows it."""

    subscription_id: str
    last_position: int
    last_transaction_id: int | None
    head_position: int
    lag: int
    lag_estimated: bool
    updated_at: datetime | None
    age_seconds: float | None
    status: Status
    conditions: frozenset[Status] = field(default_factory=frozenset)
    lease: Holder | None = None  # the running consumer (`tail --checkpoint`) holding it

    def to_dict(self) -> dict[str, Any]:
        return {
            "subscription_id": self.subscription_id,
            "last_position": self.last_position,
            "last_transaction_id": self.last_transaction_id,
            "head_position": self.head_position,
            "lag": self.lag,
            "lag_estimated": self.lag_estimated,
            "updated_at": self.updated_at,
            "age_seconds": None if self.age_seconds is None else round(self.age_seconds, 3),
            "status": self.status,
            "lease_holder": self.lease.describe() if self.lease else None,
            "lease_since": self.lease.since if self.lease else None,
        }


@dataclass(frozen=True)
class Thresholds:
    """When a checkpoint counts as lagging or stalled."""

    lag: int = DEFAULT_LAG_THRESHOLD
    stale_after: float = DEFAULT_STALE_AFTER
    count_cap: int | None = LAG_COUNT_CAP  # None: count every event, however long it takes


# --- reading ---------------------------------------------------------------------------------


def list_checkpoints(store: Store, thresholds: Thresholds | None = None) -> list[CheckpointState]:
    """Every checkpoint with lag and status, most lagging first."""
    thresholds = thresholds or Thresholds()
    with store.reading() as session:
        now = server_now(session)
        head = head_position(session)
        rows = session.fetchall(_SELECT_ROW + " ORDER BY subscription_id")
        holders = live_holders(session)
        states = [
            replace(
                _state(store, session, row, head, now, thresholds),
                lease=holders.get(row["subscription_id"]),
            )
            for row in rows
        ]
    return sorted(states, key=lambda s: (-s.lag, s.subscription_id))


def show_checkpoint(
    store: Store, name: str, *, pending: int = 10, thresholds: Thresholds | None = None
) -> tuple[CheckpointState, list[RecordedEvent]]:
    """One checkpoint and the next `pending` events it has not handled yet (exit 4 if absent)."""
    with store.reading() as session:
        row = _require_row(session, name)
        state = _state(
            store,
            session,
            row,
            head_position(session),
            server_now(session),
            thresholds or Thresholds(),
        )
        state = replace(state, lease=live_holder(session, name))
        events = events_after(store, session, checkpoint_cursor(session, row), pending)
    return state, events


def _state(
    store: Store, session: Session, row: Row, head: int, now: datetime, thresholds: Thresholds
) -> CheckpointState:
    position = int(row["last_position"])
    updated_at = _utc(row["updated_at"]) if row["updated_at"] is not None else None
    age = (now - updated_at).total_seconds() if updated_at is not None else None
    conditions: set[Status] = set()
    if position > head:
        # Past the head (a restore, a copied row): shown as negative lag, never clamped to zero.
        conditions.add("ahead-of-head")
        lag, estimated = head - position, False
    else:
        lag, estimated = count_events(
            store, session, after=checkpoint_cursor(session, row), cap=thresholds.count_cap
        )
        if estimated:
            lag = max(lag, head - position)
        if lag > thresholds.lag:
            conditions.add("lagging")
        if lag > 0 and age is not None and age > thresholds.stale_after:
            conditions.add("stalled")
    status: Status = next((s for s in STATUS_PRECEDENCE if s in conditions), "ok")
    return CheckpointState(
        subscription_id=row["subscription_id"],
        last_position=position,
        last_transaction_id=_transaction_id(row["last_transaction_id"]),
        head_position=head,
        lag=lag,
        lag_estimated=estimated,
        updated_at=updated_at,
        age_seconds=age,
        status=status,
        conditions=frozenset(conditions),
    )


def matching(states: list[CheckpointState], fail_on: set[str]) -> list[CheckpointState]:
    """The checkpoints for which any of the `fail_on` conditions holds."""
    return [s for s in states if s.conditions & fail_on]


# --- the commit-ordered log ------------------------------------------------------------------


def server_now(session: Session) -> datetime:
    """The store's clock (ages are measured against it, as the subscriber's NOW() writes them)."""
    return _utc(session.fetchval("SELECT CURRENT_TIMESTAMP"))


def utc_time(value: Any) -> datetime:
    """A stored time as an aware datetime; SQLite's CURRENT_TIMESTAMP text is UTC, no offset."""
    parsed = parse_time(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


_utc = utc_time


def head_position(session: Session) -> int:
    return int(session.fetchval("SELECT coalesce(max(global_position), 0) FROM {events}"))


def _bound(cursor: Cursor | None) -> tuple[int, int] | None:
    return None if cursor is None else (cursor.transaction_id, cursor.global_position)


def _transaction_id(value: Any) -> int | None:
    return None if value is None else int(value)


def _event_cursor(row: Row) -> Cursor:
    return Cursor(_transaction_id(row["transaction_id"]) or 0, int(row["global_position"]))


def count_events(
    store: Store,
    session: Session,
    *,
    after: Cursor | None = None,
    upto: Cursor | None = None,
    cap: int | None = None,
) -> tuple[int, bool]:
    """Events after `after` and at or before `upto` in commit order, counted up to `cap`;
    (count, True) when the cap was reached."""
    total = 0
    for where, params, _ in store.commit_order_slices(_bound(after), _bound(upto)):
        if cap is None:
            total += int(
                session.fetchval(f"SELECT count(*) FROM {{events}} WHERE {where}", params)  # noqa: S608 - the backend's condition; values are bound
            )
            continue
        total += int(
            session.fetchval(
                f"SELECT count(*) FROM (SELECT 1 FROM {{events}} WHERE {where} LIMIT %s) capped",  # noqa: S608
                [*params, cap + 1 - total],
            )
        )
        if total > cap:
            return cap, True
    return total, False


def nth_event(
    store: Store,
    session: Session,
    index: int,
    *,
    after: Cursor | None = None,
    upto: Cursor | None = None,
    descending: bool = False,
    created_from: datetime | None = None,
) -> Cursor | None:
    """The cursor of the `index`-th (from 0) event of the range in commit order (or backwards),
    optionally only events created at or after `created_from`; None when there are fewer."""
    extra, extra_params = "", []
    if created_from is not None:
        extra, extra_params = " AND created_at >= %s", [session.time_param(created_from)]
    for where, params, order in store.commit_order_slices(
        _bound(after), _bound(upto), descending=descending
    ):
        condition = where + extra
        row = session.fetchone(
            f"SELECT global_position, transaction_id FROM {{events}} WHERE {condition} "  # noqa: S608
            f"ORDER BY {order} LIMIT 1 OFFSET %s",
            [*params, *extra_params, index],
        )
        if row is not None:
            return _event_cursor(row)
        if index:
            in_slice = int(
                session.fetchval(
                    f"SELECT count(*) FROM {{events}} WHERE {condition}",  # noqa: S608
                    [*params, *extra_params],
                )
            )
            index -= in_slice
    return None


def events_after(store: Store, session: Session, cursor: Cursor, limit: int) -> list[RecordedEvent]:
    """The next `limit` events after `cursor` in commit order."""
    events: list[RecordedEvent] = []
    for where, params, order in store.commit_order_slices(_bound(cursor), None):
        if len(events) >= limit:
            break
        rows = session.fetchall(
            f"SELECT {EVENT_COLUMNS}, transaction_id FROM {{events}} "  # noqa: S608
            f"WHERE {where} ORDER BY {order} LIMIT %s",
            [*params, limit - len(events)],
        )
        events += [RecordedEvent.from_row(row) for row in rows]
    return events


# --- moves -----------------------------------------------------------------------------------

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
    with store.reading() as session:
        row = _fetch_row(session, name)
        if row is None and target.kind == "shift":
            raise NotFound(
                f"subscription {name!r} has no checkpoint to shift",
                hint="use --position, --to-start, --to-end or --to-time to create one",
            )
        old = checkpoint_cursor(session, row) if row is not None else START
        new, notes = _resolve(store, session, target, old)
        stored = _stored_pair(session, target, new)
        redelivered = skipped = 0
        estimated = False
        if new < old:
            redelivered, estimated = count_events(
                store, session, after=new, upto=old, cap=count_cap
            )
        elif new > old:
            skipped, estimated = count_events(store, session, after=old, upto=new, cap=count_cap)
        if row is not None and int(row["last_position"]) > head_position(session):
            notes.insert(0, "the old position is past the head (ahead-of-head)")
        holder = live_holder(session, name)
        if holder is not None:
            notes.insert(0, _leased_note(holder))
    return MovePlan(
        subscription_id=name,
        action="set" if row is not None else "create",
        target=target.describe(),
        old_position=int(row["last_position"]) if row is not None else None,
        old_transaction_id=_transaction_id(row["last_transaction_id"]) if row else None,
        new_position=stored.global_position,
        new_transaction_id=stored.transaction_id or None,
        redelivered=redelivered,
        skipped=skipped,
        estimated=estimated,
        notes=tuple(notes),
    )


def plan_delete(store: Store, name: str) -> MovePlan:
    """The plan for `checkpoints delete` (exit 4 if there is no such checkpoint)."""
    with store.reading() as session:
        row = _require_row(session, name)
        holder = live_holder(session, name)
    notes = ["its subscriber starts from its own default position when it next runs"]
    if holder is not None:
        notes.insert(0, _leased_note(holder))
    return MovePlan(
        subscription_id=name,
        action="delete",
        target="delete",
        old_position=int(row["last_position"]),
        old_transaction_id=_transaction_id(row["last_transaction_id"]),
        new_position=None,
        new_transaction_id=None,
        notes=tuple(notes),
    )


def _leased_note(holder: Holder) -> str:
    return (
        f"a running consumer holds it ({holder.sentence()}): --execute is refused unless "
        "--force, and with --force that consumer stops (exit 3) at its next save"
    )


def _resolve(
    store: Store, session: Session, target: MoveTarget, old: Cursor
) -> tuple[Cursor, list[str]]:
    """The new cursor for `target`, and notes on how it was chosen."""
    notes: list[str] = []
    last = nth_event(store, session, 0, descending=True) or START
    if target.kind == "start":
        return START, notes
    if target.kind == "end":
        return last, notes
    if target.kind == "position":
        return _at_position(session, target.position, notes), notes
    if target.kind == "time":
        assert target.time is not None
        # The first event in commit order created at/after T; the new cursor is just before it,
        # so every event created at/after T is delivered (at least once) and none is skipped.
        first = nth_event(store, session, 0, created_from=target.time)
        if first is None:
            notes.append("no event was created at or after that time: moving to the end")
            return last, notes
        return nth_event(store, session, 1, upto=first, descending=True) or START, notes
    if target.shift > 0:
        moved = nth_event(store, session, target.shift - 1, after=old)
        if moved is None:
            notes.append("fewer events than that after the checkpoint: clamped to the end")
            return last, notes
        return moved, notes
    if target.shift < 0:
        moved = nth_event(store, session, -target.shift, upto=old, descending=True)
        if moved is None:
            notes.append("fewer events than that before the checkpoint: clamped to the start")
            return START, notes
        return moved, notes
    return old, notes


def _stored_pair(session: Session, target: MoveTarget, new: Cursor) -> Cursor:
    """What the row will hold: the new cursor, except for `--position N` when no event's exact
    cursor is safe there: then (N, no transaction id), which readers resolve to the same
    at-least-once cursor (`cursor_before_position`) and the seed's subscriber reads as N."""
    if target.kind != "position" or new.global_position == target.position:
        return new
    return Cursor(0, target.position)


def _at_position(session: Session, position: int, notes: list[str]) -> Cursor:
    if position < 0:
        raise UsageError(f"--position must be 0 or more, not {position}")
    if position == 0:
        return START
    head = head_position(session)
    if position > head:
        raise UsageError(
            f"position {position} is past the head of the log ({head})",
            hint="use --to-end to move to the last event",
        )
    cursor = cursor_before_position(session, position)
    if cursor.global_position != position:
        notes.append(
            "positions are not commit order: events of older transactions at higher positions "
            f"come after it, so some events at or before {position} are delivered again"
        )
    return cursor


def load_cursor(store: Store, name: str) -> Cursor | None:
    """The cursor saved under `name`, for a live reader (`tail`) to resume from; None when there
    is no such checkpoint."""
    with store.reading() as session:
        row = _fetch_row(session, name)
        return checkpoint_cursor(session, row, live=True) if row is not None else None


def load_stored(store: Store, name: str) -> tuple[Cursor, Cursor] | None:
    """For the consumer that owns `name`: (the cursor to resume from, the pair stored in the row
    as it is, which its next save compares against); None when there is no such checkpoint."""
    with store.reading() as session:
        row = _fetch_row(session, name)
        if row is None:
            return None
        stored = Cursor(_transaction_id(row["last_transaction_id"]) or 0, int(row["last_position"]))
        return checkpoint_cursor(session, row, live=True), stored


def create_cursor(store: Store, name: str, cursor: Cursor) -> bool:
    """Create the checkpoint at `cursor` (a consumer's first run); False if it exists already."""
    check_subscription_name(name)
    with store.writing() as session:
        tx_sql, tx = store.transaction_id_sql(cursor.transaction_id)
        created = session.execute(
            "INSERT INTO {checkpoints} (subscription_id, last_position, last_transaction_id, "  # noqa: S608 - bound values
            f"updated_at) VALUES (%s, %s, {tx_sql}, %s) ON CONFLICT (subscription_id) DO NOTHING",
            [name, cursor.global_position, tx, session.time_param(server_now(session))],
        )
    return created == 1


def save_owned(store: Store, session: Session, name: str, cursor: Cursor, stored: Cursor) -> None:
    """The consumer's save: a compare-and-set against the pair it last saved (`stored`). A
    checkpoint moved or deleted under it raises ConcurrencyError (exit 3); nothing is written."""
    tx_sql, tx = store.transaction_id_sql(cursor.transaction_id)
    guard, guard_params = _guard(store, name, stored.global_position, stored.transaction_id)
    changed = session.execute(
        "UPDATE {checkpoints} SET last_position = %s, "  # noqa: S608 - bound values
        f"last_transaction_id = {tx_sql}, updated_at = %s WHERE {guard}",
        [cursor.global_position, tx, session.time_param(server_now(session)), *guard_params],
    )
    if changed != 1:
        raise moved_under(session, name, stored)


def check_unmoved(store: Store, session: Session, name: str, stored: Cursor) -> None:
    """ConcurrencyError (exit 3) if the checkpoint no longer holds `stored`."""
    guard, guard_params = _guard(store, name, stored.global_position, stored.transaction_id)
    if session.fetchval(f"SELECT count(*) FROM {{checkpoints}} WHERE {guard}", guard_params) != 1:  # noqa: S608
        raise moved_under(session, name, stored)


def moved_under(session: Session, name: str, stored: Cursor) -> ConcurrencyError:
    current = _fetch_row(session, name)
    found = (
        "it was deleted" if current is None else f"it is now at position {current['last_position']}"
    )
    return ConcurrencyError(
        f"checkpoint {name!r} was moved while this consumer ran (it had saved position "
        f"{stored.global_position}; {found}): stopping without overwriting the move",
        hint=f"run `esctl tail --checkpoint {name}` again to resume from where it was moved to",
    )


def _guard(
    store: Store, name: str, position: int | None, tx_id: int | None
) -> tuple[str, list[Any]]:
    """`WHERE` the checkpoint row holds exactly (position, transaction id)."""
    old_sql, old_tx = store.transaction_id_sql(tx_id)
    # `IS NOT DISTINCT FROM` needs SQLite 3.39; spelled out, the guard works everywhere.
    guard = "subscription_id = %s AND last_position = %s AND "
    params: list[Any] = [name, position]
    if old_tx is None:
        guard += "last_transaction_id IS NULL"
    else:
        guard += f"last_transaction_id = {old_sql}"
        params.append(old_tx)
    return guard, params


def execute(store: Store, plan: MovePlan, *, force: bool = False) -> MovePlan:
    """Write a plan atomically, compare-and-set on the old value: a checkpoint moved, created or
    deleted since the plan was made raises ConcurrencyError (exit 3) and nothing is written.
    A checkpoint a running consumer holds the lease on is refused (exit 3) unless `force`."""
    with store.writing() as session:
        holder = live_holder(session, plan.subscription_id)
        if holder is not None and not force:
            raise ConcurrencyError(
                f"checkpoint {plan.subscription_id!r} is held by a running consumer "
                f"({holder.sentence()}): nothing was written",
                hint="stop that consumer first, or add --force (it then stops with exit 3 at "
                "its next save instead of overwriting the move)",
            )
        now = session.time_param(server_now(session))
        new_sql, new_tx = store.transaction_id_sql(plan.new_transaction_id)
        guard, guard_params = _guard(
            store, plan.subscription_id, plan.old_position, plan.old_transaction_id
        )
        if plan.action == "create":
            changed = session.execute(
                "INSERT INTO {checkpoints} (subscription_id, last_position, "  # noqa: S608 - bound values
                f"last_transaction_id, updated_at) VALUES (%s, %s, {new_sql}, %s) "
                "ON CONFLICT (subscription_id) DO NOTHING",
                [plan.subscription_id, plan.new_position, new_tx, now],
            )
        elif plan.action == "set":
            changed = session.execute(
                "UPDATE {checkpoints} SET last_position = %s, "  # noqa: S608 - bound values
                f"last_transaction_id = {new_sql}, updated_at = %s WHERE {guard}",
                [plan.new_position, new_tx, now, *guard_params],
            )
        else:
            changed = session.execute(
                f"DELETE FROM {{checkpoints}} WHERE {guard}",  # noqa: S608 - bound values
                guard_params,
            )
        if changed != 1:
            raise _conflict(session, plan)
    return replace(plan, executed=True)


def _conflict(session: Session, plan: MovePlan) -> ConcurrencyError:
    current = _fetch_row(session, plan.subscription_id)
    if current is None:
        found = "it no longer exists"
    else:
        found = f"it is now at position {current['last_position']}"
    expected = "no checkpoint" if plan.old_position is None else f"position {plan.old_position}"
    return ConcurrencyError(
        f"checkpoint {plan.subscription_id!r} changed concurrently: expected {expected}, "
        f"{found}; nothing was written",
        hint="run the command again to plan from its current position",
    )


# The seed's `subscription_id VARCHAR(255)`: the same rule on SQLite, so a name that works there
# also works on PostgreSQL, and an oversized one is invalid input (exit 6), not a driver error.
MAX_SUBSCRIPTION_NAME = 255


def check_subscription_name(name: str) -> None:
    """Refuse (exit 6) a subscription name that the seed's table cannot hold."""
    shown = repr(name) if len(name) <= 60 else repr(name[:40]) + f"… ({len(name)} characters)"
    if not name:
        raise InvalidInput("subscription name is empty")
    if len(name) > MAX_SUBSCRIPTION_NAME:
        raise InvalidInput(
            f"subscription name {shown} is longer than {MAX_SUBSCRIPTION_NAME} characters"
        )
    if "\x00" in name:
        raise InvalidInput(f"subscription name {shown} contains a NUL character")


def _fetch_row(session: Session, name: str) -> Row | None:
    check_subscription_name(name)
    return session.fetchone(_SELECT_ROW + " WHERE subscription_id = %s", [name])


def _require_row(session: Session, name: str) -> Row:
    row = _fetch_row(session, name)
    if row is None:
        raise NotFound(
            f"no checkpoint for subscription {name!r}",
            hint="`esctl checkpoints list` shows the subscriptions",
        )
    return row


# --- parsing user input ----------------------------------------------------------------------
