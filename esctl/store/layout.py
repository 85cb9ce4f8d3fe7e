"""What a table layout provides to a store: the port adapters of one transaction, and its
capabilities. One implementation per layout package (`esctl/store/esctl_layout/`, …)."""

from __future__ import annotations

from typing import Protocol

from esctl.ports import Capabilities, Checkpoints, EventLog, Leases, Live, SchemaAdmin, Snapshots
from esctl.store.base import Session


class Layout(Protocol):
    name: str  # as in `layout:` (esctl.config.LAYOUTS)
    capabilities: Capabilities

    def event_log(self, session: Session) -> EventLog: ...

    def checkpoints(self, session: Session) -> Checkpoints: ...

    def snapshots(self, session: Session) -> Snapshots: ...

    def leases(self, session: Session) -> Leases: ...

    def live(self) -> Live:
        """The store's live reader (one per store: it holds the LISTEN connection)."""
        ...

    def admin(self) -> SchemaAdmin: ...
