"""Emmett's PostgreSQL event store (`@event-driven-io/emmett-postgresql`, Node.js) as an esctl
layout: `emt_messages`, `emt_streams` and `emt_processors` in the configured schema, read with
the same commands and outputs as esctl's own tables, in Emmett's numbering (a stream's first
message is at stream position 1). esctl appends only through Emmett's own `emt_append_to_stream`,
called as Emmett's event store calls it (`writes`); checkpoint moves (a processor's row and lock
are its own) and snapshots (Emmett has none) are refused up front, exit 2. esctl never alters
Emmett's schema.

Modules: `messages` (the rows as esctl's events, filters, archived rows), `event_log` (reads,
statistics, commit order), `writes` (append), `live` (tail by `(transaction_id, global_position)` under the
snapshot's horizon, as Emmett's processors read), `processors` (checkpoints from
`emt_processors`), `catalog` (its tables, partition sizes), `admin` (doctor)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from esctl.errors import UsageError
from esctl.ports import Capabilities, Checkpoints, EventLog, Leases, Live, SchemaAdmin, Snapshots

if TYPE_CHECKING:
    from esctl.store.base import Session, Store


class EmmettLayout:
    name = "emmett"
    first_version = 1  # a stream's first message is at stream position 1
    capabilities = Capabilities(
        can_append=True,
        has_snapshots=False,
        has_checkpoints=True,
        has_copy=False,
        live_cursor=True,
        can_move_checkpoints=False,
    )

    def __init__(self, store: Store) -> None:
        if store.backend != "postgresql":
            raise UsageError(
                "the emmett layout is a PostgreSQL database (emt_messages, emt_processors)",
                hint="point --store at the Emmett event store's PostgreSQL database",
            )
        self.store = store

    def event_log(self, session: Session) -> EventLog:
        from esctl.store.emmett.event_log import EmmettEventLog

        settings = self.store.settings
        return EmmettEventLog(  # type: ignore[return-value]
            session, schema=settings.schema, include_archived=settings.include_archived
        )

    def checkpoints(self, session: Session) -> Checkpoints:
        from esctl.store.emmett.processors import EmmettProcessors

        return EmmettProcessors(session, self.store.settings.schema)

    def snapshots(self, session: Session) -> Snapshots:
        raise UsageError("snapshots refused: the emmett layout has no snapshots esctl can manage")

    def leases(self, session: Session) -> Leases:
        from esctl.store.eventsourcing_layout.leases import NoLeases

        return NoLeases()

    def live(self) -> Live:
        from esctl.store.emmett.live import EmmettLive

        return EmmettLive(self.store)

    def admin(self) -> SchemaAdmin:
        from esctl.store.emmett.admin import EmmettAdmin

        return EmmettAdmin(self.store)

    def require_schema(self) -> None:
        """Exit 7 unless the schema holds Emmett's messages and processors tables."""
        from esctl.store.emmett.admin import require_emmett

        require_emmett(self.store)
