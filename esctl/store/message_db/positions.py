"""Consumer positions on Message DB (esctl.ports.Checkpoints), by Eventide's convention (its
consumer-postgres position store): a consumer records how far it got by writing a message of type
`Recorded` with data `{"position": N}` (N: the global position of the last message it handled) to
its position stream `{category}:position-{consumer}`; the latest `Recorded` message is its
position. A checkpoint's name in esctl is that stream's name (`account:position-projector`).

esctl writes positions the way a consumer does (write_message, with Message DB's expected-version
check as the compare-and-set) and adds the commit-order transaction id of that message as
`esctl_transaction_id`, which Eventide's readers ignore. Position streams are append-only: a
position is never deleted (`checkpoints delete` is refused). Message DB has no lease table, so
`NoLeases` grants every lease (a second consumer is not refused on this layout)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from esctl.errors import UsageError
from esctl.store.message_db.writes import WRITE, WRONG_VERSION
from esctl.types import Cursor, LeaseHolder, StoredCheckpoint, utc_time
from esctl.values import StoredTime, stored_time

if TYPE_CHECKING:
    from esctl.store.base import Session

RECORDED = "Recorded"
MARK = ":position-"
LATEST = (
    "SELECT DISTINCT ON (stream_name) stream_name, position, data, "
    "(time AT TIME ZONE 'UTC') AS updated_at FROM message_store.messages "
    "WHERE type = 'Recorded' AND strpos(stream_name, ':position-') > 0 "
)


def check_name(name: str) -> None:
    if MARK not in name or name.startswith(MARK):
        raise UsageError(
            f"checkpoint {name!r}: on Message DB a consumer position is a stream named "
            "{category}:position-{consumer}",
            hint="e.g. account:position-projector (`esctl checkpoints list` shows them)",
        )


def _checkpoint(row: dict[str, Any]) -> StoredCheckpoint | None:
    data = row["data"] if isinstance(row["data"], dict) else {}
    position = data.get("position")
    if not isinstance(position, int) or isinstance(position, bool):
        return None  # not a position esctl can read
    transaction = data.get("esctl_transaction_id")
    return StoredCheckpoint(
        name=row["stream_name"],
        position=position,
        transaction_id=transaction if isinstance(transaction, int) and transaction > 0 else None,
        updated_at=stored_time(row["updated_at"]),
    )


class MessageDbPositions:
    def __init__(self, session: Session) -> None:
        self.session = session

    def now(self) -> datetime:
        return utc_time(self.session.fetchval("SELECT CURRENT_TIMESTAMP"))

    def _latest(self, name: str) -> tuple[StoredCheckpoint | None, int | None]:
        """The stored position and the stream's version (its last message's position)."""
        row = self.session.fetchone(
            "SELECT stream_name, position, data, type, (time AT TIME ZONE 'UTC') AS updated_at "
            "FROM message_store.messages WHERE stream_name = %s ORDER BY position DESC LIMIT 1",
            [name],
        )
        if row is None:
            return None, None
        version = int(row["position"])
        if row["type"] != RECORDED:
            found = self.session.fetchone(
                LATEST + "AND stream_name = %s ORDER BY stream_name, position DESC", [name]
            )
            return (_checkpoint(found) if found else None), version
        return _checkpoint(row), version

    def get(self, name: str) -> StoredCheckpoint | None:
        return self._latest(name)[0]

    def all(self) -> list[StoredCheckpoint]:
        rows = self.session.fetchall(LATEST + "ORDER BY stream_name, position DESC")
        return [c for c in (_checkpoint(r) for r in rows) if c is not None]

    def names(self, prefix: str = "", limit: int | None = None) -> list[str]:
        names = [c.name for c in self.all() if c.name.startswith(prefix)]
        return names if limit is None else names[:limit]

    def _write(self, name: str, cursor: Cursor, expected: int | None) -> bool:
        """Write a Recorded message; False when Message DB refused the expected version."""
        check_name(name)
        data = {"position": cursor.global_position}
        if cursor.transaction_id:
            data["esctl_transaction_id"] = cursor.transaction_id
        self.session.execute("SAVEPOINT esctl_position")
        try:
            self.session.fetchval("SELECT set_config('search_path', 'message_store, public', true)")
            self.session.fetchval(
                WRITE, [str(uuid4()), name, RECORDED, json.dumps(data), None, expected]
            )
        except Exception as error:
            if WRONG_VERSION not in str(error) and WRONG_VERSION not in str(error.__cause__):
                raise
            self.session.execute("ROLLBACK TO SAVEPOINT esctl_position")
            return False
        self.session.execute("RELEASE SAVEPOINT esctl_position")
        return True

    def save(self, name: str, cursor: Cursor) -> None:
        self._write(name, cursor, None)

    def create_if_absent(self, name: str, cursor: Cursor) -> bool:
        stored, version = self._latest(name)
        if stored is not None:
            return False
        return self._write(name, cursor, -1 if version is None else version)

    def compare_and_set(self, name: str, expected: Cursor, new: Cursor) -> bool:
        stored, version = self._latest(name)
        if stored is None or stored.stored != expected:
            return False
        return self._write(name, new, version)

    def holds(self, name: str, expected: Cursor) -> bool:
        stored = self.get(name)
        return stored is not None and stored.stored == expected

    def delete(self, name: str, expected: Cursor | None = None) -> bool:
        raise UsageError(
            "checkpoints delete refused: a Message DB position stream is append-only "
            "(set the position instead)"
        )

    def recent_moves(self, name: str, limit: int = 2) -> list[tuple[int, StoredTime]]:
        rows = self.session.fetchall(
            "SELECT data, (time AT TIME ZONE 'UTC') AS at FROM message_store.messages "
            "WHERE stream_name = %s AND type = 'Recorded' ORDER BY position DESC LIMIT %s",
            [name, limit],
        )
        moves = []
        for row in rows:
            position = (row["data"] or {}).get("position")
            if isinstance(position, int):
                moves.append((position, stored_time(row["at"])))
        return moves


class NoLeases:
    """Message DB stores no leases: every lease is granted, none is held."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def now(self) -> datetime:
        return utc_time(self.session.fetchval("SELECT CURRENT_TIMESTAMP"))

    def holder(self, name: str) -> LeaseHolder | None:
        return None

    def holders(self) -> list[LeaseHolder]:
        return []

    def acquire(self, holder: LeaseHolder, *, replacing: str | None = None) -> bool:
        return True

    def renew(self, name: str, token: str, expires_at: datetime) -> bool:
        return True

    def release(self, name: str, token: str) -> bool:
        return True
