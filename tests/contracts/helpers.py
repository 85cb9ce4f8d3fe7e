"""What the port contract tests share: a transaction's ports, typed, and events written the way
another program would (plain SQL, not esctl's append)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast

from esctl.ports import Checkpoints, EventLog, Leases, Snapshots
from esctl.store.base import Session, Store, TransactionPorts
from esctl.types import Cursor
from esctl.values import category_of


def log(tx: Session) -> EventLog:
    return cast(TransactionPorts, tx).log


def checkpoints(tx: Session) -> Checkpoints:
    return cast(TransactionPorts, tx).checkpoints


def leases(tx: Session) -> Leases:
    ports: Leases = cast(TransactionPorts, tx).leases
    return ports


def snapshots(tx: Session) -> Snapshots:
    return cast(TransactionPorts, tx).snapshots


def insert_event(
    session: Session, stream_id: str, data: dict[str, Any], *, created_at: datetime | None = None
) -> int:
    """One event in `session`'s transaction, the next version of its stream; its position."""
    version = session.fetchval(
        "SELECT coalesce(max(version), 0) + 1 FROM {events} WHERE stream_id = %s", [stream_id]
    )
    columns = "id, stream_id, stream_type, event_type, event_data, metadata, version"
    values: list[Any] = [
        str(uuid.uuid4()),
        stream_id,
        category_of(stream_id),
        "Happened",
        session.json_param(data),
        session.json_param({}),
        version,
    ]
    marks = ", ".join(["%s"] * len(values))
    if created_at is not None:
        columns += ", created_at"
        marks += ", %s"
        values.append(session.time_param(created_at))
    session.execute(f"INSERT INTO {{events}} ({columns}) VALUES ({marks})", values)
    return int(session.fetchval("SELECT max(global_position) FROM {events}"))


def seed(store: Store, count: int, stream: str = "Order-1") -> list[int]:
    """`count` events, each in its own transaction; their positions."""
    positions = []
    for n in range(count):
        with store.writing() as tx:
            positions.append(insert_event(tx, stream, {"n": n}))
    return positions


def cursors(store: Store) -> list[Cursor]:
    """Every event's cursor, in commit order."""
    with store.reading() as tx:
        return [Cursor.after(e) for e in log(tx).events_after(Cursor(0, 0), 10_000)]
