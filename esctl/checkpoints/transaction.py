"""The ports of one transaction, typed: `store.reading()` yields an engine session, which carries
its ports (`esctl.store.base.TransactionPorts`); features reach them only through these."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from esctl.ports import Checkpoints, EventLog, Leases, Snapshots

if TYPE_CHECKING:
    from esctl.store.base import Session, TransactionPorts
    from esctl.types import StoredCheckpoint


def log(tx: Session) -> EventLog:
    return cast("TransactionPorts", tx).log


def checkpoints(tx: Session) -> Checkpoints:
    return cast("TransactionPorts", tx).checkpoints


def log_of(tx: Session, checkpoint: StoredCheckpoint) -> EventLog:
    """The log a checkpoint follows: the store's, or the one its layout names (an
    eventsourcing follower's upstream application has its own events table)."""
    follows = getattr(checkpoints(tx), "log_of", None)
    return log(tx) if follows is None else cast(EventLog, follows(checkpoint))


def leases(tx: Session) -> Leases:
    ports: Leases = cast("TransactionPorts", tx).leases
    return ports


def snapshots(tx: Session) -> Snapshots:
    return cast("TransactionPorts", tx).snapshots
