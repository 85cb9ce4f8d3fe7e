"""The cursor of the commit-ordered log, shared by `tail`, checkpoints and every live reader."""

from __future__ import annotations

from dataclasses import dataclass

from esctl.models import RecordedEvent
from esctl.store.base import Session


@dataclass(frozen=True, order=True)
class Cursor:
    """A place in the log in commit order: `(transaction_id, global_position)`.

    On PostgreSQL, BIGSERIAL positions can become visible out of order, so live readers order by
    the writing transaction's id first and read only below `pg_snapshot_xmin(pg_current_snapshot())`.
    Rows written before `esctl init` added the column have a NULL transaction_id: they count as
    committed long ago and sort first, as transaction id 0. On SQLite, writers are serialised and
    `transaction_id` is always NULL (0), so position order is commit order. A checkpoint stores a
    cursor as (`last_transaction_id`, `last_position`).

    In SQL, the order is `(coalesce(transaction_id, 0), global_position)`; "after the cursor" is
    `(coalesce(transaction_id, 0), global_position) > (%s, %s)`.
    """

    transaction_id: int = 0
    global_position: int = 0

    @classmethod
    def after(cls, event: RecordedEvent) -> Cursor:
        """The cursor just past `event`."""
        return cls(event.transaction_id or 0, event.global_position)


START = Cursor(0, 0)


def cursor_at_position(session: Session, position: int) -> Cursor:
    """The cursor of the event at `position` (a checkpoint written with a position only, as the
    seed's subscriber does). Position 0, or a position with no event, gives (0, position)."""
    if position <= 0:
        return START
    transaction_id = session.fetchval(
        "SELECT transaction_id FROM {events} WHERE global_position = %s", [position]
    )
    return Cursor(int(transaction_id or 0), position)
