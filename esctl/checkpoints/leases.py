"""The lease a running consumer (`tail --checkpoint NAME`) holds on its checkpoint.

One lease per subscription (the Leases port: `esctl_leases` in esctl's layout): the holder's host
and pid, a random token, when it took the lease and when the lease expires. The holder renews it
(`renew`, at least every `HEARTBEAT` seconds) and deletes it when it ends. A holder that died
without deleting it (SIGKILL, a lost machine) blocks no one forever: its lease counts as free once
`expires_at` has passed, or at once when the holder ran on this host and its pid is gone.

The lease keeps a second consumer and an operator's `checkpoints set|delete --execute` (without
`--force`) away; correctness does not rest on it alone: every save by the consumer is also a
compare-and-set on the checkpoint (see `esctl.checkpoints.consumer`)."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from esctl.checkpoints import transaction
from esctl.checkpoints.names import check_subscription_name
from esctl.errors import ConcurrencyError
from esctl.ports import Leases
from esctl.store.base import Session, Store
from esctl.types import LeaseHolder

TTL = 30.0  # seconds a lease lives without a renewal
HEARTBEAT = 5.0  # a holder renews at least this often

Holder = LeaseHolder


@dataclass(frozen=True)
class Lease:
    """A lease this process holds."""

    subscription_id: str
    token: str


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


def live_holder(leases: Leases, name: str) -> Holder | None:
    """The live holder of `name`'s lease, if any (in the transaction of `leases`)."""
    holder = leases.holder(name)
    if holder is None:
        return None
    return holder if is_live(holder, leases.now()) else None


def live_holders(leases: Leases) -> dict[str, Holder]:
    """Every live lease, by subscription."""
    now = leases.now()
    holders = {h.subscription_id: h for h in leases.holders()}
    return {name: h for name, h in holders.items() if is_live(h, now)}


def acquire(store: Store, name: str, *, ttl: float = TTL) -> Lease:
    """Take the lease on `name`, or raise ConcurrencyError (exit 3) naming its live holder.
    A dead holder's lease is taken over (compare-and-set on its token)."""
    check_subscription_name(name)
    token = uuid.uuid4().hex
    with store.writing() as tx:
        leases = transaction.leases(tx)
        now = leases.now()
        mine = Holder(
            host=socket.gethostname(),
            pid=os.getpid(),
            since=now,
            expires_at=now + timedelta(seconds=ttl),
            subscription_id=name,
            token=token,
        )
        current = leases.holder(name)
        if current is None:
            taken = leases.acquire(mine)
        elif not is_live(current, now):
            taken = leases.acquire(mine, replacing=current.token)
        else:
            taken = False
        if not taken:
            current = leases.holder(name)
            who = current.sentence() if current is not None else "another consumer"
            raise ConcurrencyError(
                f"subscription {name!r} is being consumed by {who}: refusing a second consumer",
                hint="stop that consumer first (its lease ends with it, or "
                f"{int(ttl)}s after it stopped renewing it)",
            )
    return Lease(name, token)


def renew(tx: Session, lease: Lease, *, ttl: float = TTL) -> None:
    """Extend the lease, in the transaction `tx`; ConcurrencyError (exit 3) if it was lost."""
    leases = transaction.leases(tx)
    expires = leases.now() + timedelta(seconds=ttl)
    if not leases.renew(lease.subscription_id, lease.token, expires):
        raise ConcurrencyError(
            f"lost the lease on subscription {lease.subscription_id!r} (it expired and another "
            "consumer took it): stopping without saving the checkpoint"
        )


def release(store: Store, lease: Lease) -> None:
    """Give the lease up (only if it is still ours)."""
    with store.writing() as tx:
        transaction.leases(tx).release(lease.subscription_id, lease.token)
