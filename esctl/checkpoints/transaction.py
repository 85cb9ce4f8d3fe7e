"""The ports of one transaction, typed: `store.reading()` yields an engine session, which carries
its ports (`esctl.store.base.TransactionPorts`); features reach them only through these."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from esctl.ports import Checkpoints, EventLog, Leases, Snapshots

if TYPE_CHECKING:
    from esctl.store.base import Session, TransactionPorts


def log(tx: Session) -> EventLog:
    return cast("TransactionPorts", tx).log


def checkpoints(tx: Session) -> Checkpoints:
    return cast("TransactionPorts", tx).checkpoints


def leases(tx: Session) -> Leases:
    ports: Leases = cast("TransactionPorts", tx).leases
    return ports


def snapshots(tx: Session) -> Snapshots:
    return cast("TransactionPorts", tx).snapshots
