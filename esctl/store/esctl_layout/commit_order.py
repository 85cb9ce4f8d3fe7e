"""The commit-ordered log (esctl.ports.CommitOrder) on esctl's `events`: counting, stepping and
reading in `(transaction_id, global_position)` order, and the cursors of positions and of stored
checkpoints. A mixin of `EsctlEventLog` (`tx.log.count_after(…)`).

Commit order is read through the engine's `commit_order_slices` (each slice a condition its
indexes serve; on PostgreSQL `xid8` does not mix with integers and the NULL-transaction rows of
pre-upgrade stores are a slice of their own), so no query here spells the order itself."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, cast

from esctl.store.esctl_layout.filters import HIDDEN
from esctl.store.esctl_layout.tables import EVENT_COLUMNS, SQLITE_NOW
from esctl.types import START, Cursor, RecordedEvent, Row, StoredCheckpoint, utc_time

if TYPE_CHECKING:
    from esctl.store.base import Session, Store


def engine_of(session: Session) -> Store:
    """The store a session belongs to, for its engine primitives (`commit_order_slices`,
    `transaction_id_sql`): every engine's session keeps it as `_store`."""
    return cast("Store", getattr(session, "_store"))  # noqa: B009 - not on the Session protocol


def store_now(session: Session) -> datetime:
    """The store's clock, to the precision events are stamped with (SQLite's CURRENT_TIMESTAMP
    has whole seconds: an event stamped within the current second would look not yet due)."""
    if session.backend == "postgresql":
        return utc_time(session.fetchval("SELECT CURRENT_TIMESTAMP"))
    return utc_time(session.fetchval("SELECT " + SQLITE_NOW))


def _visible(session: Session) -> str:
    """The condition that leaves soft-deleted streams out (unless `--include-deleted`): what a
    consumer is delivered, so what lag counts and pending events show."""
    return "" if engine_of(session).settings.include_deleted else " AND " + HIDDEN


def _bound(cursor: Cursor | None) -> tuple[int, int] | None:
    return None if cursor is None else (cursor.transaction_id, cursor.global_position)


def _event_cursor(row: Row) -> Cursor:
    transaction_id = row["transaction_id"]
    return Cursor(
        int(transaction_id) if transaction_id is not None else 0, int(row["global_position"])
    )


class EsctlCommitOrder:
    """esctl.ports.CommitOrder; the session is `self.session` (set by `EsctlEventLog`)."""

    session: Session

    def count_after(
        self, after: Cursor | None = None, upto: Cursor | None = None, *, cap: int | None = None
    ) -> tuple[int, bool]:
        session = self.session
        total = 0
        visible = _visible(session)
        for where, params, _ in engine_of(session).commit_order_slices(_bound(after), _bound(upto)):
            where += visible
            if cap is None:
                total += int(
                    session.fetchval(f"SELECT count(*) FROM {{events}} WHERE {where}", params)  # noqa: S608 - the engine's condition; values are bound
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

    def nth_after(
        self,
        index: int,
        *,
        after: Cursor | None = None,
        upto: Cursor | None = None,
        descending: bool = False,
        created_from: datetime | None = None,
    ) -> Cursor | None:
        session = self.session
        extra, extra_params = "", []
        if created_from is not None:
            extra, extra_params = " AND created_at >= %s", [session.time_param(created_from)]
        slices = engine_of(session).commit_order_slices(
            _bound(after), _bound(upto), descending=descending
        )
        for where, params, order in slices:
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

    def events_after(self, after: Cursor, limit: int) -> list[RecordedEvent]:
        session = self.session
        events: list[RecordedEvent] = []
        visible = _visible(session)
        for where, params, order in engine_of(session).commit_order_slices(_bound(after), None):
            if len(events) >= limit:
                break
            where += visible
            rows = session.fetchall(
                f"SELECT {EVENT_COLUMNS}, transaction_id FROM {{events}} "  # noqa: S608
                f"WHERE {where} ORDER BY {order} LIMIT %s",
                [*params, limit - len(events)],
            )
            events += [RecordedEvent.from_row(row) for row in rows]
        return events

    def cursor_before(self, position: int, *, live: bool = False) -> Cursor:
        """Positions are not commit order on PostgreSQL: an event at a higher position can belong
        to an older transaction, so "after the event at `position`" would skip it. The cursor is
        the lowest of: just before the first later event in commit order; the visibility horizon
        (`live` only: any transaction still running has an id at or above it); the event at
        `position` itself. Events at or below `position` that sort after it are delivered again
        (at-least-once). On SQLite this is simply (0, position)."""
        session = self.session
        first_old = session.fetchval(
            "SELECT global_position FROM {events} WHERE transaction_id IS NULL "
            "AND global_position > %s ORDER BY global_position LIMIT 1",
            [position],
        )
        if first_old is not None:  # pre-upgrade rows (all SQLite rows) sort first, by position
            return Cursor(0, position)
        bounds = []
        first_new = session.fetchone(
            "SELECT transaction_id, global_position FROM {events} WHERE transaction_id IS NOT NULL "
            "AND global_position > %s ORDER BY transaction_id, global_position LIMIT 1",
            [position],
        )
        if first_new is not None:
            bounds.append(
                Cursor(int(first_new["transaction_id"]), int(first_new["global_position"]) - 1)
            )
        if live and session.backend == "postgresql":
            horizon = session.fetchval("SELECT pg_snapshot_xmin(pg_current_snapshot())")
            bounds.append(Cursor(int(horizon), 0))
        at = self._transaction_at(position)
        if at is not None:
            bounds.append(Cursor(at, position))
        return min(bounds, default=Cursor(0, position))

    def checkpoint_cursor(self, checkpoint: StoredCheckpoint, *, live: bool = False) -> Cursor:
        """A row esctl wrote holds the exact cursor of an event: its transaction id is that
        event's. A row the seed's subscriber wrote (position only), or one whose position it
        moved since (leaving a stale transaction id), says only "every position up to here is
        done": its cursor is `cursor_before`, which never skips an event."""
        position, stored = checkpoint.position, checkpoint.transaction_id
        if stored is not None:
            at = self._transaction_at(position)
            if at is None or at == stored:
                return Cursor(stored, position)
        if position <= 0 and stored is None:
            return START
        return self.cursor_before(position, live=live)

    def _transaction_at(self, position: int) -> int | None:
        """The transaction id of the event at `position` (0 when NULL); None: no such event."""
        event = self.session.fetchone(
            "SELECT transaction_id FROM {events} WHERE global_position = %s", [position]
        )
        return None if event is None else int(event["transaction_id"] or 0)
