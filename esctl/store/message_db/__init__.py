"""Eventide's Message DB (`message_store.messages`, written through `message_store.write_message`)
as an esctl layout: the same commands and outputs as on esctl's own tables, on Message DB's rows,
in Message DB's own numbering (a message's version is its 0-based `position`; the first message of
a stream is at 0). esctl never alters Message DB's schema, and writes only through its
`write_message` (its per-category advisory lock and expected-version check hold).

Modules: `messages` (the rows as esctl's events, filters), `event_log` (reads and statistics),
`writes` (append through write_message), `live` (tail without loss: the rows' xmin against the
snapshot horizon), `positions` (consumer positions: Eventide's `Recorded` messages in
`{category}:position-{consumer}` streams), `admin` (doctor: version, functions, indexes)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from esctl.errors import UsageError
from esctl.ports import Capabilities, Checkpoints, EventLog, Leases, Live, SchemaAdmin, Snapshots

if TYPE_CHECKING:
    from esctl.store.base import Session, Store


class MessageDbLayout:
    name = "message-db"
    schema = "message_store"  # the schema Message DB installs into (whatever the profile says)
    first_version = 0  # a stream's first message is at position 0

    def __init__(self, store: Store) -> None:
        if store.backend != "postgresql":
            raise UsageError(
                "the message-db layout is a PostgreSQL database (message_store.messages)",
                hint="point --store at the Message DB's PostgreSQL database",
            )
        self.store = store
        self.capabilities = Capabilities(
            can_append=True, has_snapshots=False, has_checkpoints=True, has_copy=False
        )

    def event_log(self, session: Session) -> EventLog:
        from esctl.store.message_db.event_log import MessageDbEventLog

        return MessageDbEventLog(session)

    def checkpoints(self, session: Session) -> Checkpoints:
        from esctl.store.message_db.positions import MessageDbPositions

        return MessageDbPositions(session)

    def snapshots(self, session: Session) -> Snapshots:
        raise UsageError("the message-db layout has no snapshots esctl can manage")

    def leases(self, session: Session) -> Leases:
        from esctl.store.message_db.positions import NoLeases

        return NoLeases(session)

    def live(self) -> Live:
        from esctl.store.message_db.live import MessageDbLive

        return MessageDbLive(self.store)

    def admin(self) -> SchemaAdmin:
        from esctl.store.message_db.admin import MessageDbAdmin

        return MessageDbAdmin(self.store)

    def require_schema(self) -> None:
        """Exit 7 unless the database holds Message DB's table and functions."""
        from esctl.store.message_db.admin import require_message_store

        require_message_store(self.store)
