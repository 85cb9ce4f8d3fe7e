"""Tail without loss on Emmett (esctl.ports.Live): Emmett stores the appending transaction's id
(`transaction_id xid8`, `pg_current_xact_id()` in `emt_append_to_stream`) with every message, and
its own processors read `transaction_id < pg_snapshot_xmin(pg_current_snapshot())` ordered by
`(transaction_id, global_position)`. esctl's cursor is that pair: a batch releases only messages
of transactions below the snapshot's horizon (every one of them has ended, so nothing can still
appear behind the cursor), in that order. Emmett has no index on it: each batch scans the table,
as Emmett's own pullers do. Emmett sends no NOTIFY, so `wait_for_change` polls."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from esctl.ports import EventFilter
from esctl.store.emmett.messages import COLUMNS, MESSAGES, base_condition, filter_sql
from esctl.types import Cursor, LiveBatch, LiveLines

if TYPE_CHECKING:
    from esctl.store.base import Store

HORIZON = "SELECT CAST(CAST(pg_snapshot_xmin(pg_current_snapshot()) AS text) AS bigint)"
END = 2**63 - 1  # past every global position of a transaction


class EmmettLive:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.base = base_condition(include_archived=store.settings.include_archived)

    def head(self) -> Cursor:
        """Just below the horizon: every message of a transaction that has ended is behind it."""
        with self.store.reading() as session:
            horizon = int(session.fetchval(HORIZON))
        return Cursor(horizon - 1, END)

    def batch(self, after: Cursor, where: EventFilter, limit: int) -> LiveBatch:
        condition, params = filter_sql(where, self.base)
        with self.store.reading() as session:
            horizon = int(session.fetchval(HORIZON))
            rows = session.fetchall(
                f"SELECT {COLUMNS}, transaction_id FROM {MESSAGES} "  # noqa: S608 - fixed fragments
                "WHERE transaction_id < %s AND (transaction_id, global_position) > (%s, %s) "
                "AND " + condition + " ORDER BY transaction_id, global_position LIMIT %s",
                [horizon, after.transaction_id, after.global_position, *params, limit],
            )
            pending = bool(
                session.fetchval(
                    f"SELECT 1 FROM {MESSAGES} WHERE transaction_id >= %s LIMIT 1",  # noqa: S608
                    [horizon],
                )
            )
        # Everything below the horizon was looked at when the batch was not cut by its limit:
        # past what did not match too.
        scanned = max(after, Cursor(horizon - 1, END)) if len(rows) < limit else after
        return LiveBatch(rows, scanned, pending)

    def lines(self, after: Cursor, where: EventFilter, limit: int) -> LiveLines | None:
        return None  # rows are rendered by the caller (esctl.read.follow)

    def wait_for_change(self, timeout: float) -> None:
        time.sleep(min(timeout, 0.2))

    def stop(self) -> None:
        return None
