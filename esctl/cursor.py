"""The cursor of the commit-ordered log, shared by `tail`, checkpoints and every live reader."""

from __future__ import annotations

from dataclasses import dataclass

from esctl.models import RecordedEvent
from esctl.store.base import Row, Session


@dataclass(frozen=True, order=True)
class Cursor:
    """A place in the log in commit order: `(transaction_id, global_position)`.

    On PostgreSQL, BIGSERIAL positions can become visible out of order, so live readers order by
    the writing transaction's id first and read only below `pg_snapshot_xmin(pg_current_snapshot())`.
    Rows written before `esctl init` added the column have a NULL transaction_id: they count as
    committed long ago and sort first, as transaction id 0. On SQLite, writers are serialised and
    `transaction_id` is always NULL (0), so position order is commit order. A checkpoint stores a
    cursor as (`last_transaction_id`, `last_position`).

    Conceptually the order is `(coalesce(transaction_id, 0), global_position)`. In SQL, use the
    store's primitives instead (`Store.commit_order_slices`, `Store.live_batch`): on PostgreSQL
    `xid8` does not mix with integers, and coalesce() would hide the
    `(transaction_id, global_position)` index, so the NULL rows are read as a slice of their own.
    """

    transaction_id: int = 0
    global_position: int = 0

    @classmethod
    def after(cls, event: RecordedEvent) -> Cursor:
        """The cursor just past `event`."""
        return cls(event.transaction_id or 0, event.global_position)


START = Cursor(0, 0)


def checkpoint_cursor(session: Session, row: Row) -> Cursor:
    """The cursor a `subscription_checkpoints` row stands for.

    The event at `last_position` decides: the seed's subscriber updates `last_position` alone, so
    after esctl (or `tail`) wrote a transaction id, a later position-only save leaves it stale;
    the event's own transaction id is always right. Only when no event is there (position 0, a
    gap, past the head) does the stored `last_transaction_id` count."""
    position = int(row["last_position"])
    if position > 0:
        event = session.fetchone(
            "SELECT global_position, transaction_id FROM {events} WHERE global_position = %s",
            [position],
        )
        if event is not None:
            return Cursor(int(event["transaction_id"] or 0), int(event["global_position"]))
    stored = row.get("last_transaction_id")
    return Cursor(int(stored) if stored is not None else 0, position)


def cursor_at_position(session: Session, position: int) -> Cursor:
    """The cursor of the event at `position` (a checkpoint written with a position only, as the
    seed's subscriber does). Position 0, or a position with no event, gives (0, position)."""
    if position <= 0:
        return START
    transaction_id = session.fetchval(
        "SELECT transaction_id FROM {events} WHERE global_position = %s", [position]
    )
    return Cursor(int(transaction_id or 0), position)
