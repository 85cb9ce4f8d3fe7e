"""Checkpoint lag you can trust: `checkpoints list` and `show`.

Lag is the number of events after the checkpoint's cursor in commit order, counted, not
`head - position` (which gaps from rolled-back transactions inflate). Counting is bounded by a cap
per checkpoint (`LAG_COUNT_CAP`): past it the lag is reported as an estimate (`lag_estimated`), so
`checkpoints list` stays quick on a store of hundreds of millions of events.

`lag_seconds` is how long the oldest pending event (the first after the cursor in commit order)
has waited: now - its created_at; 0 when caught up, None past the head.

A checkpoint is `rewound` when the last move esctl recorded for it (esctl_checkpoint_history,
written with every esctl checkpoint write) went backwards, the row still holds that position, and
the move is more recent than the stall window (`--stall-after`). A row only another program writes
has no history and is never rewound."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from esctl.checkpoints import transaction
from esctl.checkpoints.leases import Holder, live_holder, live_holders
from esctl.checkpoints.names import require
from esctl.ports import EventLog
from esctl.store.base import Store
from esctl.types import RecordedEvent, StoredCheckpoint, utc_time
from esctl.values import StoredTime

# Counting more events than this per checkpoint costs seconds on a large store; past it, lag is
# reported as an estimate from positions (never less than the cap).
LAG_COUNT_CAP = 100_000
DEFAULT_LAG_THRESHOLD = 1_000
DEFAULT_STALE_AFTER = 300.0  # seconds (`--stall-after 5m`)

Status = Literal["ok", "lagging", "stalled", "rewound", "ahead-of-head"]
# The status shown is the first condition that holds, in this order.
STATUS_PRECEDENCE: tuple[Status, ...] = ("ahead-of-head", "rewound", "stalled", "lagging")


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
    lag_seconds: float | None = None
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
            "lag_seconds": None if self.lag_seconds is None else round(self.lag_seconds, 3),
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


def list_checkpoints(store: Store, thresholds: Thresholds | None = None) -> list[CheckpointState]:
    """Every checkpoint with lag and status, most lagging first."""
    thresholds = thresholds or Thresholds()
    with store.reading() as tx:
        log, checkpoints = transaction.log(tx), transaction.checkpoints(tx)
        now = checkpoints.now()
        head = log.head()
        stored = checkpoints.all()
        holders = live_holders(transaction.leases(tx))
        states = []
        for c in stored:
            followed = transaction.log_of(tx, c)
            at = head if followed is log else followed.head()
            moves = checkpoints.recent_moves(c.name)
            state = _state(followed, c, at, now, thresholds, moves)
            states.append(replace(state, lease=holders.get(c.name)))
    return sorted(states, key=lambda s: (-s.lag, s.subscription_id))


def show_checkpoint(
    store: Store, name: str, *, pending: int = 10, thresholds: Thresholds | None = None
) -> tuple[CheckpointState, list[RecordedEvent]]:
    """One checkpoint and the next `pending` events it has not handled yet (exit 4 if absent)."""
    with store.reading() as tx:
        log, checkpoints = transaction.log(tx), transaction.checkpoints(tx)
        stored = require(checkpoints, name)
        moves = checkpoints.recent_moves(name)
        log = transaction.log_of(tx, stored)
        state = _state(
            log, stored, log.head(), checkpoints.now(), thresholds or Thresholds(), moves
        )
        state = replace(state, lease=live_holder(transaction.leases(tx), name))
        events = log.events_after(log.checkpoint_cursor(stored), pending)
    return state, events


def _state(
    log: EventLog,
    stored: StoredCheckpoint,
    head: int,
    now: datetime,
    thresholds: Thresholds,
    moves: list[tuple[int, StoredTime]],
) -> CheckpointState:
    position = stored.position
    updated_at = utc_time(stored.updated_at) if stored.updated_at is not None else None
    age = (now - updated_at).total_seconds() if updated_at is not None else None
    conditions: set[Status] = set()
    lag_seconds: float | None = None
    if _rewound(position, moves, now, thresholds.stale_after):
        conditions.add("rewound")
    if position > head:
        # Past the head (a restore, a copied row): shown as negative lag, never clamped to zero.
        conditions.add("ahead-of-head")
        lag, estimated = head - position, False
    else:
        cursor = log.checkpoint_cursor(stored)
        lag, estimated = log.count_after(cursor, cap=thresholds.count_cap)
        oldest = log.events_after(cursor, 1) if lag > 0 else []
        lag_seconds = _waited(oldest[0], now) if oldest else 0.0
        if estimated:
            lag = max(lag, head - position)
        if lag > thresholds.lag:
            conditions.add("lagging")
        if lag > 0 and age is not None and age > thresholds.stale_after:
            conditions.add("stalled")
    status: Status = next((s for s in STATUS_PRECEDENCE if s in conditions), "ok")
    return CheckpointState(
        subscription_id=stored.name,
        last_position=position,
        last_transaction_id=stored.transaction_id,
        head_position=head,
        lag=lag,
        lag_estimated=estimated,
        updated_at=updated_at,
        age_seconds=age,
        status=status,
        conditions=frozenset(conditions),
        lag_seconds=lag_seconds,
    )


def _waited(event: RecordedEvent, now: datetime) -> float:
    """How long `event` has waited (0 for an event stamped in the future)."""
    try:
        created = utc_time(event.created_at) if event.created_at is not None else None
    except (TypeError, ValueError):  # an odd time another writer stored: no age to tell
        return 0.0
    return 0.0 if created is None else max(0.0, (now - created).total_seconds())


def _rewound(
    position: int, moves: list[tuple[int, StoredTime]], now: datetime, window: float
) -> bool:
    """The last recorded move went backwards to where the row still is, within `window` s."""
    if len(moves) < 2:
        return False
    (latest, moved_at), (before, _) = moves[0], moves[1]
    if latest != position or latest >= before or moved_at is None:
        return False
    try:
        return (now - utc_time(moved_at)).total_seconds() <= window
    except (TypeError, ValueError):
        return False


def matching(states: list[CheckpointState], fail_on: set[str]) -> list[CheckpointState]:
    """The checkpoints for which any of the `fail_on` conditions holds."""
    return [s for s in states if s.conditions & fail_on]
