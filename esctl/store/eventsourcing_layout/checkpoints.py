"""The checkpoints port (esctl.ports.Checkpoints) on `eventsourcing` tracking tables: read-only.

A follower (a ProcessApplication, or anything that records `Tracking`) keeps, in its
`<follower>_tracking` table, the last notification id it processed of each upstream application
(`application_name`). Each (follower, upstream) is one checkpoint, named `FOLLOWER/UPSTREAM`
(`counters/BankAccounts`); its lag is counted in the upstream's own events table
(`<upstream>_events`, `log_of`). The rows have no time: age and `stalled` are unknown. esctl
never moves or deletes them (refused up front: the follower owns its tracking)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from esctl.errors import UsageError
from esctl.store.eventsourcing_layout.tables import application_of, quote
from esctl.types import Cursor, StoredCheckpoint
from esctl.values import StoredTime

if TYPE_CHECKING:
    from esctl.ports import EventLog
    from esctl.store.base import Session
    from esctl.store.eventsourcing_layout.tables import Tables

MIGRATION_ROW = "__migration__"  # the library's own marker row, not an upstream


def _refused() -> UsageError:
    return UsageError(
        "checkpoint moves refused: the eventsourcing layout's tracking rows belong to their "
        "followers",
        hint="the follower records its own tracking; esctl only reads it",
    )


class EventsourcingCheckpoints:
    def __init__(self, session: Session, tables: Tables) -> None:
        self.session = session
        self.tables = tables
        self._upstreams: dict[str, str] = {}  # checkpoint name -> upstream application

    def now(self) -> datetime:
        value = self.session.fetchval("SELECT now()")
        assert isinstance(value, datetime)
        return value

    def all(self) -> list[StoredCheckpoint]:
        found: list[StoredCheckpoint] = []
        for table in self.tables.tracking:
            follower = application_of(table)
            rows = self.session.fetchall(
                "SELECT application_name, max(notification_id) AS position "  # noqa: S608
                f"FROM {quote(self.tables.schema, table)} WHERE application_name <> %s "
                "GROUP BY application_name ORDER BY application_name",
                [MIGRATION_ROW],
            )
            for row in rows:
                name = f"{follower}/{row['application_name']}"
                self._upstreams[name] = str(row["application_name"])
                found.append(StoredCheckpoint(name, int(row["position"] or 0), None, None))
        return sorted(found, key=lambda c: c.name)

    def get(self, name: str) -> StoredCheckpoint | None:
        return next((c for c in self.all() if c.name == name), None)

    def names(self, prefix: str = "", limit: int | None = None) -> list[str]:
        names = [c.name for c in self.all() if c.name.startswith(prefix)]
        return names if limit is None else names[:limit]

    def log_of(self, checkpoint: StoredCheckpoint) -> EventLog:
        """The log this checkpoint follows: its upstream application's events table (the
        administered one when that application has no table in the schema)."""
        from dataclasses import replace

        from esctl.store.eventsourcing_layout.event_log import EventsourcingEventLog

        if checkpoint.name not in self._upstreams:
            self.all()
        upstream = self._upstreams.get(checkpoint.name, "")
        table = self.tables.events_of(upstream) or self.tables.events
        return EventsourcingEventLog(self.session, replace(self.tables, events=table))  # type: ignore[return-value]

    def recent_moves(self, name: str, limit: int = 2) -> list[tuple[int, StoredTime]]:
        return []

    def holds(self, name: str, expected: Cursor) -> bool:
        found = self.get(name)
        return found is not None and found.position == expected.global_position

    def save(self, name: str, cursor: Cursor) -> None:
        raise _refused()

    def create_if_absent(self, name: str, cursor: Cursor) -> bool:
        raise _refused()

    def compare_and_set(self, name: str, expected: Cursor, new: Cursor) -> bool:
        raise _refused()

    def delete(self, name: str, expected: Cursor | None = None) -> bool:
        raise _refused()
