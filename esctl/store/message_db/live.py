"""Tail without loss on Message DB (esctl.ports.Live): commit order by the writing transaction.

Message DB locks per category, so a message at a lower `global_position` can become visible after
a higher one of another category. A batch therefore releases only messages whose transaction
(the row's `xmin`, widened to xid8 in `order`) is below the snapshot's horizon
`pg_snapshot_xmin(pg_current_snapshot())`: every such transaction has ended, so no message can
still appear behind the cursor `(transaction id, global_position)`. This is esctl's own commit-order
cursor (esctl_layout/live.py), on `xmin` instead of a stored transaction id.

Message DB has no index on xmin, so a batch scans by `global_position` from a *settled* position:
one below which every message is visible or will never be. After a batch that read everything
below its horizon, the sequence value read before that batch's snapshot (`last_value`) settles
once a later horizon has passed that snapshot's xmax (every transaction that could hold a
position up to it has ended). Until something settles (the first batches of a reader), a batch
scans from the start; and every RESCAN_EVERY batches it does so again, a safety net that finds
any message a settled bound might hide (it is delivered then, in commit order after the cursor).
Wake-ups: Message DB sends no NOTIFY, so `wait_for_change` polls. Without a stream or category,
consumers' position streams (`{category}:position-{consumer}`) are not followed."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from esctl.ports import EventFilter
from esctl.store.message_db.messages import COLUMNS, filter_sql
from esctl.store.message_db.order import NOT_POSITIONS, ORDERED
from esctl.types import Cursor, LiveBatch, LiveLines

if TYPE_CHECKING:
    from esctl.store.base import Store

RESCAN_EVERY = 50
SNAPSHOT = (
    "SELECT CAST(CAST(pg_snapshot_xmin(pg_current_snapshot()) AS text) AS bigint) AS horizon, "
    "CAST(CAST(pg_snapshot_xmax(pg_current_snapshot()) AS text) AS bigint) AS xmax"
)


class MessageDbLive:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.settled = 0  # every message at or below this global position was considered
        self.waiting: tuple[int, int] | None = None  # (sequence value, xmax) not yet settled
        self.drained_to: Cursor | None = None
        self.batches = 0

    def head(self) -> Cursor:
        """Just below the horizon: every message of a transaction that had ended is behind it."""
        with self.store.reading() as session:
            horizon = int(session.fetchval(SNAPSHOT.split(" AS horizon")[0]))
        return Cursor(horizon - 1, 2**63 - 1)

    def batch(self, after: Cursor, where: EventFilter, limit: int) -> LiveBatch:
        condition, params = filter_sql(where)
        if where.stream_id is None and where.category is None:
            # Consumers' position streams are bookkeeping, not the log a tail follows (and a
            # `tail --all --checkpoint` would otherwise follow its own saves).
            condition += " AND " + NOT_POSITIONS
        self.batches += 1
        if self.drained_to is None or after < self.drained_to or self.batches % RESCAN_EVERY == 0:
            floor = 0  # a cursor this reader did not reach by draining: scan from the start
        else:
            floor = self.settled
        with self.store.reading() as session:
            sequence = int(
                session.fetchval(
                    "SELECT last_value FROM message_store.messages_global_position_seq"
                )
            )
            snapshot = session.fetchone(SNAPSHOT)
            assert snapshot is not None
            horizon, xmax = int(snapshot["horizon"]), int(snapshot["xmax"])
            rows = session.fetchall(
                f"SELECT {COLUMNS}, transaction_id FROM {ORDERED} "  # noqa: S608 - fixed fragments
                "WHERE global_position > %s AND transaction_id < %s "
                "AND (transaction_id, global_position) > (%s, %s) AND (" + condition + ") "
                "ORDER BY transaction_id, global_position LIMIT %s",
                [floor, horizon, after.transaction_id, after.global_position, *params, limit],
            )
            scanned = after
            drained = len(rows) < limit
            if drained:
                # Everything below the horizon has been looked at: past what did not match too.
                scanned = max(after, Cursor(horizon - 1, 2**63 - 1))
            pending = bool(
                session.fetchval(
                    f"SELECT 1 FROM {ORDERED} WHERE global_position > %s "  # noqa: S608
                    "AND transaction_id >= %s LIMIT 1",
                    [floor, horizon],
                )
            )
        if drained:
            self.drained_to = max(after, Cursor(horizon - 1, 2**63 - 1))
            if self.waiting is not None and horizon >= self.waiting[1]:
                self.settled = max(self.settled, self.waiting[0])
                self.waiting = None
            if self.waiting is None:
                self.waiting = (sequence, xmax)
        else:
            self.drained_to = None
        return LiveBatch(rows, scanned, pending)

    def lines(self, after: Cursor, where: EventFilter, limit: int) -> LiveLines | None:
        return None  # rows are rendered by the caller (esctl.read.follow)

    def wait_for_change(self, timeout: float) -> None:
        time.sleep(min(timeout, 0.2))

    def stop(self) -> None:
        return None
