"""The lease a running consumer (`tail --checkpoint NAME`) holds on its checkpoint.

One row per subscription in `esctl_leases` (schema migration 3), on both backends: the holder's
host and pid, a random token, when it took the lease and when the lease expires. The holder renews
it (`renew`, at least every `HEARTBEAT` seconds) and deletes it when it ends. A holder that died
without deleting it (SIGKILL, a lost machine) blocks no one forever: its lease counts as free once
`expires_at` has passed, or at once when the holder ran on this host and its pid is gone.

The lease keeps a second consumer and an operator's `checkpoints set|delete --execute` (without
`--force`) away; correctness does not rest on it alone: every save by the consumer is also a
compare-and-set on the checkpoint (see `esctl.consumer`)."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from esctl.errors import ConcurrencyError
from esctl.store.base import Row, Session, Store
from esctl.types import iso_time

TTL = 30.0  # seconds a lease lives without a renewal
HEARTBEAT = 5.0  # a holder renews at least this often


@dataclass(frozen=True)
class Holder:
    """Who holds a lease, as `checkpoints list/show` report it."""

    host: str
    pid: int
    since: datetime
    expires_at: datetime

    def describe(self) -> str:
        return f"{_printable(self.host)}:{self.pid}"

    def sentence(self) -> str:
        return f"pid {self.pid} on {_printable(self.host)}, since {iso_time(self.since)}"


def _printable(text: str) -> str:
    """A host name from the table (any program may have written it) with no control characters."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


@dataclass(frozen=True)
class Lease:
    """A lease this process holds."""

    subscription_id: str
    token: str


def _holder(row: Row) -> Holder:
    from esctl.checkpoints import utc_time

    return Holder(
        host=str(row["holder_host"]),
        pid=int(row["holder_pid"]),
        since=utc_time(row["since"]),
        expires_at=utc_time(row["expires_at"]),
    )


def _pid_gone(pid: int) -> bool:
    if pid <= 0:  # no process has such an id (and kill() would mean a process group)
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError, ValueError):
        return False
    return False


def is_live(holder: Holder, now: datetime) -> bool:
    """The lease still holds: not expired, and not held by a process of this host that is gone."""
    if holder.expires_at <= now:
        return False
    return not (holder.host == socket.gethostname() and _pid_gone(holder.pid))


def _row(session: Session, name: str) -> Row | None:
    return session.fetchone(
        "SELECT subscription_id, holder_host, holder_pid, token, since, expires_at "
        "FROM {leases} WHERE subscription_id = %s",
        [name],
    )


def live_holder(session: Session, name: str) -> Holder | None:
    """The live holder of `name`'s lease, if any (in the caller's transaction)."""
    from esctl.checkpoints import server_now

    row = _row(session, name)
    if row is None:
        return None
    holder = _holder(row)
    return holder if is_live(holder, server_now(session)) else None


def live_holders(session: Session) -> dict[str, Holder]:
    """Every live lease, by subscription."""
    from esctl.checkpoints import server_now

    now = server_now(session)
    rows = session.fetchall(
        "SELECT subscription_id, holder_host, holder_pid, token, since, expires_at FROM {leases}"
    )
    holders = {str(r["subscription_id"]): _holder(r) for r in rows}
    return {name: h for name, h in holders.items() if is_live(h, now)}


def acquire(store: Store, name: str, *, ttl: float = TTL) -> Lease:
    """Take the lease on `name`, or raise ConcurrencyError (exit 3) naming its live holder.
    A dead holder's lease is taken over (compare-and-set on its token)."""
    from esctl.checkpoints import check_subscription_name, server_now

    check_subscription_name(name)
    token = uuid.uuid4().hex
    with store.writing() as session:
        now = server_now(session)
        values: list[Any] = [
            socket.gethostname(),
            os.getpid(),
            token,
            session.time_param(now),
            session.time_param(now + timedelta(seconds=ttl)),
        ]
        row = _row(session, name)
        if row is None:
            taken = session.execute(
                "INSERT INTO {leases} (subscription_id, holder_host, holder_pid, token, since, "
                "expires_at) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (subscription_id) "
                "DO NOTHING",
                [name, *values],
            )
        elif not is_live(_holder(row), now):
            taken = session.execute(
                "UPDATE {leases} SET holder_host = %s, holder_pid = %s, token = %s, since = %s, "
                "expires_at = %s WHERE subscription_id = %s AND token = %s",
                [*values, name, row["token"]],
            )
        else:
            taken = 0
        if taken != 1:
            current = _row(session, name)
            who = _holder(current).sentence() if current is not None else "another consumer"
            raise ConcurrencyError(
                f"subscription {name!r} is being consumed by {who}: refusing a second consumer",
                hint="stop that consumer first (its lease ends with it, or "
                f"{int(ttl)}s after it stopped renewing it)",
            )
    return Lease(name, token)


def renew(session: Session, lease: Lease, *, ttl: float = TTL) -> None:
    """Extend the lease, in the caller's transaction; ConcurrencyError (exit 3) if it was lost."""
    from esctl.checkpoints import server_now

    expires = server_now(session) + timedelta(seconds=ttl)
    renewed = session.execute(
        "UPDATE {leases} SET expires_at = %s WHERE subscription_id = %s AND token = %s",
        [session.time_param(expires), lease.subscription_id, lease.token],
    )
    if renewed != 1:
        raise ConcurrencyError(
            f"lost the lease on subscription {lease.subscription_id!r} (it expired and another "
            "consumer took it): stopping without saving the checkpoint"
        )


def release(store: Store, lease: Lease) -> None:
    """Give the lease up (only if it is still ours)."""
    with store.writing() as session:
        session.execute(
            "DELETE FROM {leases} WHERE subscription_id = %s AND token = %s",
            [lease.subscription_id, lease.token],
        )
