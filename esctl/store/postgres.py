"""The PostgreSQL engine (13+): one class assembled from the engine's modules — connections and
sessions (`postgres_connection`), error translation (`postgres_errors`), schema admin
(`postgres_admin`), COPY (`postgres_copy`), live reading and statistics (`postgres_live`), the
JSON-lines export (`postgres_export`) — plus the commit-order slices of checkpoints."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from esctl.store.postgres_admin import PostgresAdmin
from esctl.store.postgres_connection import PostgresSession
from esctl.store.postgres_copy import PostgresCopy
from esctl.store.postgres_errors import translate_errors
from esctl.store.postgres_export import PostgresExport
from esctl.store.postgres_live import NOTIFY_CHANNEL, PostgresLive

if TYPE_CHECKING:
    from esctl.store.horizon import Horizon

__all__ = ["NOTIFY_CHANNEL", "PostgresSession", "PostgresStore", "translate_errors"]


class PostgresStore(PostgresLive, PostgresExport, PostgresCopy, PostgresAdmin):
    """An event store in one schema of a PostgreSQL database."""

    def horizon(self) -> Horizon:
        from esctl.store.postgres_horizon import PostgresHorizon

        return PostgresHorizon(self)

    # --- checkpoint primitives (checkpoints issue) --------------------------------------------

    def commit_order_slices(
        self,
        after: tuple[int, int] | None,
        upto: tuple[int, int] | None,
        *,
        descending: bool = False,
    ) -> list[tuple[str, list[Any], str]]:
        # Commit order is (coalesce(transaction_id, 0), global_position). coalesce() would hide
        # the (transaction_id, global_position) index, so rows written before `esctl init` (NULL,
        # i.e. transaction 0, first in commit order) and later rows are queried as two slices.
        desc = " DESC" if descending else ""
        slices: list[tuple[str, list[Any], str]] = []
        if after is None or after[0] == 0:
            where = ["transaction_id IS NULL"]
            params: list[Any] = []
            if after is not None:
                where.append("global_position > %s")
                params.append(after[1])
            if upto is not None and upto[0] == 0:
                where.append("global_position <= %s")
                params.append(upto[1])
            slices.append((" AND ".join(where), params, f"global_position{desc}"))
        if upto is None or upto[0] > 0:
            where = ["transaction_id IS NOT NULL"]
            params = []
            if after is not None and after[0] > 0:
                where.append("(transaction_id, global_position) > (CAST(%s AS xid8), %s)")
                params += [str(after[0]), after[1]]
            if upto is not None and upto[0] > 0:
                where.append("(transaction_id, global_position) <= (CAST(%s AS xid8), %s)")
                params += [str(upto[0]), upto[1]]
            slices.append(
                (" AND ".join(where), params, f"transaction_id{desc}, global_position{desc}")
            )
        return slices[::-1] if descending else slices

    def transaction_id_sql(self, value: int | None) -> tuple[str, Any]:
        return "CAST(%s AS xid8)", str(value) if value else None
