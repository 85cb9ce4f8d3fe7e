"""The checkpoints port (esctl.ports.Checkpoints) on `subscription_checkpoints`.

A row holds a cursor as (`last_position`, `last_transaction_id`); the seed's subscriber writes
`last_position` only, so a NULL transaction id is common, and a cursor's transaction id 0 is
stored as NULL. Every write stamps `updated_at` with the store's clock (SQLite has no NOW())."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from esctl.store.esctl_layout.commit_order import engine_of, store_now
from esctl.store.esctl_layout.tables import HISTORY_KEEP
from esctl.types import Cursor, Row, StoredCheckpoint
from esctl.values import StoredTime, stored_time

if TYPE_CHECKING:
    from esctl.store.base import Session

_SELECT = (
    "SELECT subscription_id, last_position, last_transaction_id, updated_at FROM {checkpoints}"
)


def _checkpoint(row: Row) -> StoredCheckpoint:
    transaction_id = row["last_transaction_id"]
    return StoredCheckpoint(
        name=row["subscription_id"],
        position=int(row["last_position"]),
        transaction_id=None if transaction_id is None else int(transaction_id),
        updated_at=stored_time(row["updated_at"]),
    )


class EsctlCheckpoints:
    def __init__(self, session: Session) -> None:
        self.session = session

    def now(self) -> datetime:
        return store_now(self.session)

    def get(self, name: str) -> StoredCheckpoint | None:
        row = self.session.fetchone(_SELECT + " WHERE subscription_id = %s", [name])
        return None if row is None else _checkpoint(row)

    def all(self) -> list[StoredCheckpoint]:
        return [
            _checkpoint(r) for r in self.session.fetchall(_SELECT + " ORDER BY subscription_id")
        ]

    def names(self, prefix: str = "", limit: int | None = None) -> list[str]:
        # From the prefix on along the primary key, bounded; then only those that start with it.
        query = "SELECT subscription_id FROM {checkpoints} WHERE subscription_id >= %s"
        params: list[Any] = [prefix]
        query += " ORDER BY subscription_id"
        if limit is not None:
            query += " LIMIT %s"
            params.append(limit)
        names = [str(r["subscription_id"]) for r in self.session.fetchall(query, params)]
        return [n for n in names if n.startswith(prefix)]

    def save(self, name: str, cursor: Cursor) -> None:
        tx_sql, tx = engine_of(self.session).transaction_id_sql(cursor.transaction_id)
        self.session.execute(
            "INSERT INTO {checkpoints} (subscription_id, last_position, last_transaction_id, "  # noqa: S608 - bound values
            f"updated_at) VALUES (%s, %s, {tx_sql}, %s) ON CONFLICT (subscription_id) DO UPDATE "
            "SET last_position = excluded.last_position, "
            "last_transaction_id = excluded.last_transaction_id, updated_at = excluded.updated_at",
            [name, cursor.global_position, tx, self._now_param()],
        )
        self._record(name, cursor.global_position)

    def create_if_absent(self, name: str, cursor: Cursor) -> bool:
        tx_sql, tx = engine_of(self.session).transaction_id_sql(cursor.transaction_id)
        created = self.session.execute(
            "INSERT INTO {checkpoints} (subscription_id, last_position, last_transaction_id, "  # noqa: S608 - bound values
            f"updated_at) VALUES (%s, %s, {tx_sql}, %s) ON CONFLICT (subscription_id) DO NOTHING",
            [name, cursor.global_position, tx, self._now_param()],
        )
        if created == 1:
            self._record(name, cursor.global_position)
        return created == 1

    def compare_and_set(self, name: str, expected: Cursor, new: Cursor) -> bool:
        tx_sql, tx = engine_of(self.session).transaction_id_sql(new.transaction_id)
        now = self._now_param()
        guard, guard_params = self._guard(name, expected)
        changed = self.session.execute(
            "UPDATE {checkpoints} SET last_position = %s, "  # noqa: S608 - bound values
            f"last_transaction_id = {tx_sql}, updated_at = %s WHERE {guard}",
            [new.global_position, tx, now, *guard_params],
        )
        if changed == 1:
            self._record(name, new.global_position)
        return changed == 1

    def holds(self, name: str, expected: Cursor) -> bool:
        guard, guard_params = self._guard(name, expected)
        found = self.session.fetchval(
            f"SELECT count(*) FROM {{checkpoints}} WHERE {guard}",  # noqa: S608 - bound values
            guard_params,
        )
        return int(found or 0) == 1

    def delete(self, name: str, expected: Cursor | None = None) -> bool:
        if expected is None:
            guard, params = "subscription_id = %s", [name]
        else:
            guard, params = self._guard(name, expected)
        changed = self.session.execute(
            f"DELETE FROM {{checkpoints}} WHERE {guard}",  # noqa: S608 - bound values
            params,
        )
        if changed == 1:
            self.session.execute(
                "DELETE FROM {checkpoint_history} WHERE subscription_id = %s", [name]
            )
        return changed == 1

    def recent_moves(self, name: str, limit: int = 2) -> list[tuple[int, StoredTime]]:
        rows = self.session.fetchall(
            "SELECT position, moved_at FROM {checkpoint_history} WHERE subscription_id = %s "
            "ORDER BY seq DESC LIMIT %s",
            [name, limit],
        )
        return [(int(r["position"]), stored_time(r["moved_at"])) for r in rows]

    def _record(self, name: str, position: int) -> None:
        """A history row when the position differs from the last one recorded; the oldest past
        HISTORY_KEEP pruned. Same transaction as the checkpoint write."""
        self.session.execute(
            "INSERT INTO {checkpoint_history} (subscription_id, position, moved_at) "
            "SELECT CAST(%s AS TEXT), %s, %s WHERE NOT EXISTS (SELECT 1 FROM {checkpoint_history} h "
            "WHERE h.subscription_id = %s AND h.position = %s AND h.seq = "
            "(SELECT max(seq) FROM {checkpoint_history} WHERE subscription_id = %s))",
            [name, position, self._now_param(), name, position, name],
        )
        self.session.execute(
            "DELETE FROM {checkpoint_history} WHERE subscription_id = %s AND seq NOT IN "
            "(SELECT seq FROM {checkpoint_history} WHERE subscription_id = %s "
            "ORDER BY seq DESC LIMIT %s)",
            [name, name, HISTORY_KEEP],
        )

    def _now_param(self) -> Any:
        return self.session.time_param(store_now(self.session))

    def _guard(self, name: str, expected: Cursor) -> tuple[str, list[Any]]:
        """`WHERE` the row holds exactly (position, transaction id); transaction id 0 is NULL."""
        old_sql, old_tx = engine_of(self.session).transaction_id_sql(expected.transaction_id)
        # `IS NOT DISTINCT FROM` needs SQLite 3.39; spelled out, the guard works everywhere.
        guard = "subscription_id = %s AND last_position = %s AND "
        params: list[Any] = [name, expected.global_position]
        if old_tx is None:
            guard += "last_transaction_id IS NULL"
        else:
            guard += f"last_transaction_id = {old_sql}"
            params.append(old_tx)
        return guard, params
