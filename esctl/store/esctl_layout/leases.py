"""Consumer leases (esctl.ports.Leases) on `esctl_leases` (schema migration 3): one row per
subscription with the holder's host and pid, a random token, when it took the lease and when the
lease expires. Taking over a dead holder's lease is a compare-and-set on its token."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from esctl.store.esctl_layout.commit_order import store_now
from esctl.types import LeaseHolder, Row, utc_time

if TYPE_CHECKING:
    from esctl.store.base import Session

_SELECT = "SELECT subscription_id, holder_host, holder_pid, token, since, expires_at FROM {leases}"


def _holder(row: Row) -> LeaseHolder:
    return LeaseHolder(
        host=str(row["holder_host"]),
        pid=int(row["holder_pid"]),
        since=utc_time(row["since"]),
        expires_at=utc_time(row["expires_at"]),
        subscription_id=str(row["subscription_id"]),
        token=str(row["token"]),
    )


class EsctlLeases:
    def __init__(self, session: Session) -> None:
        self.session = session

    def now(self) -> datetime:
        return store_now(self.session)

    def holder(self, name: str) -> LeaseHolder | None:
        row = self.session.fetchone(_SELECT + " WHERE subscription_id = %s", [name])
        return None if row is None else _holder(row)

    def holders(self) -> list[LeaseHolder]:
        return [_holder(r) for r in self.session.fetchall(_SELECT)]

    def acquire(self, holder: LeaseHolder, *, replacing: str | None = None) -> bool:
        session = self.session
        values = [
            holder.host,
            holder.pid,
            holder.token,
            session.time_param(holder.since),
            session.time_param(holder.expires_at),
        ]
        if replacing is None:
            taken = session.execute(
                "INSERT INTO {leases} (subscription_id, holder_host, holder_pid, token, since, "
                "expires_at) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (subscription_id) "
                "DO NOTHING",
                [holder.subscription_id, *values],
            )
        else:
            taken = session.execute(
                "UPDATE {leases} SET holder_host = %s, holder_pid = %s, token = %s, since = %s, "
                "expires_at = %s WHERE subscription_id = %s AND token = %s",
                [*values, holder.subscription_id, replacing],
            )
        return taken == 1

    def renew(self, name: str, token: str, expires_at: datetime) -> bool:
        renewed = self.session.execute(
            "UPDATE {leases} SET expires_at = %s WHERE subscription_id = %s AND token = %s",
            [self.session.time_param(expires_at), name, token],
        )
        return renewed == 1

    def release(self, name: str, token: str) -> bool:
        released = self.session.execute(
            "DELETE FROM {leases} WHERE subscription_id = %s AND token = %s", [name, token]
        )
        return released == 1
