"""The event log port (esctl.ports.EventLog) on esctl's tables."""

from __future__ import annotations

from esctl.store.base import Session
from esctl.store.esctl_layout.commit_order import EsctlCommitOrder


class EsctlEventLog(EsctlCommitOrder):
    def __init__(self, session: Session) -> None:
        self.session = session
