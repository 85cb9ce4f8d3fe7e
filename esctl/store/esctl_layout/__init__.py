"""esctl's own layout (tables `events`, `snapshots`, `subscription_checkpoints`, `esctl_schema`,
`esctl_leases`) on both engines: queries written once, engine differences in the engine modules.
One module per port; this module wires them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from esctl.ports import Capabilities, Checkpoints, EventLog, Leases, Live, SchemaAdmin, Snapshots

if TYPE_CHECKING:
    from esctl.store.base import Session, Store


class EsctlLayout:
    name = "esctl"

    def __init__(self, store: Store) -> None:
        self.store = store
        self.capabilities = Capabilities(has_copy=store.location.backend == "postgresql")

    def event_log(self, session: Session) -> EventLog:
        from esctl.store.esctl_layout.event_log import EsctlEventLog

        return EsctlEventLog(session)

    def checkpoints(self, session: Session) -> Checkpoints:
        from esctl.store.esctl_layout.checkpoints import EsctlCheckpoints

        return EsctlCheckpoints(session)

    def snapshots(self, session: Session) -> Snapshots:
        from esctl.store.esctl_layout.snapshots import EsctlSnapshots

        return EsctlSnapshots(session)

    def leases(self, session: Session) -> Leases:
        from esctl.store.esctl_layout.leases import EsctlLeases

        return EsctlLeases(session)

    def live(self) -> Live:
        from esctl.store.esctl_layout.live import EsctlLive

        return EsctlLive(self.store)

    def admin(self) -> SchemaAdmin:
        from esctl.store.esctl_layout.admin import EsctlSchemaAdmin

        return EsctlSchemaAdmin(self.store)
