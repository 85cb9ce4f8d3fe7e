"""The event log port (esctl.ports.EventLog) on esctl's tables."""

from __future__ import annotations

from esctl.store.base import Session


class EsctlEventLog:
    def __init__(self, session: Session) -> None:
        self.session = session
