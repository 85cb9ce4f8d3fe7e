"""Cursors from stored rows and positions (the Cursor type itself lives in esctl.types)."""

from __future__ import annotations

from esctl.store.base import Row, Session
from esctl.types import START, Cursor

__all__ = ["START", "Cursor", "checkpoint_cursor", "cursor_before_position"]


def checkpoint_cursor(session: Session, row: Row, *, live: bool = False) -> Cursor:
    """The cursor a `subscription_checkpoints` row stands for.

    A row esctl wrote holds the exact cursor of an event: its `last_transaction_id` is that
    event's. A row the seed's subscriber wrote (position only), or one whose position it moved
    since (leaving a stale transaction id), says only "every position up to here is done": its
    cursor is `cursor_before_position()`, which never skips an event (at-least-once). `live`: for
    a reader that starts from it (see `cursor_before_position`)."""
    position = int(row["last_position"])
    stored = row.get("last_transaction_id")
    if stored is not None:
        event = session.fetchone(
            "SELECT transaction_id FROM {events} WHERE global_position = %s", [position]
        )
        if event is None or int(event["transaction_id"] or 0) == int(stored):
            return Cursor(int(stored), position)
    if position <= 0 and stored is None:
        return START
    return cursor_before_position(session, position, live=live)


def cursor_before_position(session: Session, position: int, *, live: bool = False) -> Cursor:
    """The highest cursor that every event at a position above `position` still sorts after.

    Positions are not commit order on PostgreSQL: an event at a higher position can belong to an
    older transaction, so "after the event at `position`" would skip it. The cursor returned is
    the lowest of: just before the first later event in commit order; the visibility horizon
    (any transaction still running has an id at or above it); the event at `position` itself.
    Events at or below `position` that sort after it are delivered again (at-least-once).
    The horizon counts only for a `live` reader, which will also see transactions still running
    now; counting lag or planning a move looks at committed events alone. On SQLite this is
    simply (0, position)."""
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
    at = session.fetchone(
        "SELECT transaction_id FROM {events} WHERE global_position = %s", [position]
    )
    if at is not None:
        bounds.append(Cursor(int(at["transaction_id"] or 0), position))
    return min(bounds, default=Cursor(0, position))
