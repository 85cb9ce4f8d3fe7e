"""The layout of the Python `eventsourcing` library's PostgreSQL recorder (PyPI `eventsourcing`):
a stored-events table per application (`<app>_events`) and a tracking table per follower
(`<app>_tracking`). Read-only for esctl: it reads, tails and reports lag; it never writes the
library's tables (append, snapshots rebuild and checkpoint moves are refused up front, exit 2).
One module per port; this module wires them and resolves the tables (`tables.py`) once."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from esctl.errors import UsageError
from esctl.ports import Capabilities, Checkpoints, EventLog, Leases, Live, SchemaAdmin, Snapshots

if TYPE_CHECKING:
    from esctl.store.base import Session, Store
    from esctl.store.eventsourcing_layout.tables import Tables


class EventsourcingLayout:
    name = "eventsourcing"
    event_id_form = "ORIGINATOR_ID:VERSION"  # the library has no event ids (`events show`)
    capabilities = Capabilities(
        can_append=False,
        has_snapshots=False,
        has_checkpoints=True,
        has_copy=False,
        live_cursor=True,
        can_move_checkpoints=False,
    )

    def __init__(self, store: Store, tables: Tables | None = None) -> None:
        self.store = store
        if tables is not None:
            self.__dict__["tables"] = tables

    @cached_property
    def tables(self) -> Tables:
        from esctl.store.eventsourcing_layout.tables import resolve

        if self.store.backend != "postgresql":
            raise UsageError("the eventsourcing layout is on PostgreSQL only")
        settings = self.store.settings
        with self.store.reading() as session:
            return resolve(
                session, settings.schema, settings.events_table, settings.tracking_tables
            )

    def require_schema(self) -> None:
        """The library's tables are there (resolving them raises otherwise)."""
        self.tables  # noqa: B018

    def event_log(self, session: Session) -> EventLog:
        from esctl.store.eventsourcing_layout.event_log import EventsourcingEventLog

        return EventsourcingEventLog(session, self.tables)  # type: ignore[return-value]

    def checkpoints(self, session: Session) -> Checkpoints:
        from esctl.store.eventsourcing_layout.checkpoints import EventsourcingCheckpoints

        return EventsourcingCheckpoints(session, self.tables)

    def snapshots(self, session: Session) -> Snapshots:
        raise UsageError(
            "snapshots refused: the eventsourcing layout has no snapshots esctl manages"
        )

    def leases(self, session: Session) -> Leases:
        from esctl.store.eventsourcing_layout.leases import NoLeases

        return NoLeases()

    def live(self) -> Live:
        from esctl.store.eventsourcing_layout.live import EventsourcingLive

        return EventsourcingLive(self.store, self.tables)

    def admin(self) -> SchemaAdmin:
        from esctl.store.eventsourcing_layout.admin import EventsourcingAdmin

        return EventsourcingAdmin(self.store, self)
