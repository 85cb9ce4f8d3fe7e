"""The checkpoints port (esctl.ports.Checkpoints) on `subscription_checkpoints`."""

from __future__ import annotations

from esctl.store.base import Session


class EsctlCheckpoints:
    def __init__(self, session: Session) -> None:
        self.session = session
