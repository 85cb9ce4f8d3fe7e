"""Consumer leases on `esctl_leases`."""

from __future__ import annotations

from esctl.store.base import Session


class EsctlLeases:
    def __init__(self, session: Session) -> None:
        self.session = session
