"""Commit order on Message DB: `(transaction id, global_position)`, where the transaction id is the
row's `xmin` widened to 64 bits (xid8). Message DB takes its advisory lock per category, so
`global_position` becomes visible out of order across categories; commit order by the writing
transaction does not skip: a reader releases only rows of transactions below the snapshot's
horizon (`pg_snapshot_xmin(pg_current_snapshot())`), every one of which has ended.

`xmin` is a 32-bit xid. It is widened against the snapshot's xmax (a 64-bit xid8 that every
visible row's xid is below, and, unfrozen, at most 2^31 below): the xid8 is the reference minus
the 32-bit distance `mod(ref - xmin, 2^32)`, so wraparound of the 32-bit counter is harmless.
Consumers' position streams (`…:position-…`) are left out of the order, as `live` leaves them.
(A row frozen more than 2^31 transactions ago keeps its old xmin and would be widened wrongly;
such rows are older than any cursor a reader holds, and only a scan from the start meets them.)

A mixin of `MessageDbEventLog` (`tx.log.count_after(…)`); SQL holds no literal `%` (mod())."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from esctl.store.message_db.messages import COLUMNS, MESSAGES
from esctl.types import START, Cursor, RecordedEvent, StoredCheckpoint

if TYPE_CHECKING:
    from esctl.store.base import Session

REFERENCE = "CAST(CAST(pg_snapshot_xmax(pg_current_snapshot()) AS text) AS bigint)"
XID8 = (
    "(" + REFERENCE + " - mod(mod(" + REFERENCE + " - CAST(CAST(row_xmin AS text) AS bigint), "
    "4294967296) + 4294967296, 4294967296))"
)
# MESSAGES with the widened transaction id, as `transaction_id`.
ORDERED = "(SELECT m.*, " + XID8 + " AS transaction_id FROM " + MESSAGES + ") AS o"  # noqa: S608
HORIZON = "CAST(CAST(pg_snapshot_xmin(pg_current_snapshot()) AS text) AS bigint)"


# Consumers' position streams are bookkeeping: not counted or delivered (as `live` skips them).
NOT_POSITIONS = "strpos(stream_id, ':position-') = 0"


def after_sql(
    after: Cursor | None, upto: Cursor | None, base: str = NOT_POSITIONS
) -> tuple[str, list[Any]]:
    parts, params = [base], []
    if after is not None:
        parts.append("(transaction_id, global_position) > (%s, %s)")
        params += [after.transaction_id, after.global_position]
    if upto is not None:
        parts.append("(transaction_id, global_position) <= (%s, %s)")
        params += [upto.transaction_id, upto.global_position]
    return " AND ".join(parts), params


class MessageDbOrder:
    """esctl.ports.CommitOrder on Message DB; the session is `self.session`. Another layout whose
    rows carry a 64-bit `transaction_id` reuses it with its own relation (`ordered`: the rows with
    esctl's column names and `transaction_id`), `columns` and `base` condition (the emmett layout)."""

    session: Session
    ordered: str = ORDERED
    columns: str = COLUMNS
    base: str = NOT_POSITIONS

    def count_after(
        self, after: Cursor | None = None, upto: Cursor | None = None, *, cap: int | None = None
    ) -> tuple[int, bool]:
        where, params = after_sql(after, upto, self.base)
        if cap is None:
            return int(
                self.session.fetchval(f"SELECT count(*) FROM {self.ordered} WHERE {where}", params)  # noqa: S608
            ), False
        n = int(
            self.session.fetchval(
                f"SELECT count(*) FROM (SELECT 1 FROM {self.ordered} WHERE {where} LIMIT %s) c",  # noqa: S608
                [*params, cap + 1],
            )
        )
        return (cap, True) if n > cap else (n, False)

    def nth_after(
        self,
        index: int,
        *,
        after: Cursor | None = None,
        upto: Cursor | None = None,
        descending: bool = False,
        created_from: datetime | None = None,
    ) -> Cursor | None:
        where, params = after_sql(after, upto, self.base)
        if created_from is not None:
            where += " AND created_at >= %s"
            params.append(self.session.time_param(created_from))
        desc = " DESC" if descending else ""
        row = self.session.fetchone(
            f"SELECT transaction_id, global_position FROM {self.ordered} WHERE {where} "  # noqa: S608
            f"ORDER BY transaction_id{desc}, global_position{desc} LIMIT 1 OFFSET %s",
            [*params, index],
        )
        return (
            None if row is None else Cursor(int(row["transaction_id"]), int(row["global_position"]))
        )

    def events_after(self, after: Cursor, limit: int) -> list[RecordedEvent]:
        where, params = after_sql(after, None, self.base)
        rows = self.session.fetchall(
            f"SELECT {self.columns}, transaction_id FROM {self.ordered} WHERE {where} "  # noqa: S608
            "ORDER BY transaction_id, global_position LIMIT %s",
            [*params, limit],
        )
        return [RecordedEvent.from_row(row) for row in rows]

    def cursor_before(self, position: int, *, live: bool = False) -> Cursor:
        """The highest cursor every message at a global position above `position` sorts after
        (an Eventide position says only "handled up to here"): the lowest of just before the
        first later message in commit order, the horizon (`live`), the message at `position`.
        Messages at or below `position` that sort after it come again (at-least-once)."""
        bounds: list[Cursor] = []
        first = self.session.fetchone(
            f"SELECT transaction_id, global_position FROM {self.ordered} "  # noqa: S608
            "WHERE global_position > %s AND " + self.base + " "
            "ORDER BY transaction_id, global_position LIMIT 1",
            [position],
        )
        if first is not None:
            bounds.append(Cursor(int(first["transaction_id"]), int(first["global_position"]) - 1))
        if live:
            bounds.append(Cursor(int(self.session.fetchval("SELECT " + HORIZON)), 0))
        at = self._transaction_at(position)
        if at is not None:
            bounds.append(Cursor(at, position))
        return min(bounds, default=Cursor(0, position))

    def checkpoint_cursor(self, checkpoint: StoredCheckpoint, *, live: bool = False) -> Cursor:
        position, stored = checkpoint.position, checkpoint.transaction_id
        if stored is not None:
            at = self._transaction_at(position)
            if at is None or at == stored:
                return Cursor(stored, position)
        if position <= 0 and stored is None:
            return START
        return self.cursor_before(position, live=live)

    def _transaction_at(self, position: int) -> int | None:
        value = self.session.fetchval(
            f"SELECT transaction_id FROM {self.ordered} WHERE global_position = %s",  # noqa: S608 - fixed fragments
            [position],
        )
        return None if value is None else int(value)
