"""The snapshots port (esctl.ports.Snapshots) on `snapshots`."""

from __future__ import annotations

from esctl.store.base import Session


class EsctlSnapshots:
    def __init__(self, session: Session) -> None:
        self.session = session
