"""Leases (esctl.ports.Leases) on the `eventsourcing` layout: none. esctl runs no consumer
against the library's tracking (tail --checkpoint is refused), so no lease is ever held."""

from __future__ import annotations

from datetime import UTC, datetime

from esctl.types import LeaseHolder


class NoLeases:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def holder(self, name: str) -> LeaseHolder | None:
        return None

    def holders(self) -> list[LeaseHolder]:
        return []

    def acquire(self, holder: LeaseHolder, *, replacing: str | None = None) -> bool:
        return False

    def renew(self, name: str, token: str, expires_at: datetime) -> bool:
        return False

    def release(self, name: str, token: str) -> bool:
        return False
