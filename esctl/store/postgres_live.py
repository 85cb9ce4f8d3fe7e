"""PostgreSQL live reading: the xid8 horizon (only rows of transactions below
`pg_snapshot_xmin(pg_current_snapshot())`, which can no longer be preceded), LISTEN/NOTIFY to
wake `tail` with a poll as the fallback (a standby gets no NOTIFY), and the statistics
primitives (the category expression, catalog estimates, TABLESAMPLE)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from psycopg import sql

from esctl.store.base import EVENT_COLUMNS, Row, Session
from esctl.store.esctl_layout.filters import PG_CATEGORY_SQL
from esctl.store.postgres_connection import PostgresConnections
from esctl.store.postgres_errors import translate_errors
from esctl.types import Cursor, LiveBatch

if TYPE_CHECKING:
    from psycopg import Connection

NOTIFY_CHANNEL = "esctl_events"


class PostgresLive(PostgresConnections):
    # --- live reading primitives (issue 4) ---------------------------------------------------
    # A live read takes the horizon once, then reads only rows of transactions below it: every
    # transaction below xmin has ended, so no row can still appear behind the cursor. Rows from
    # before `esctl init` (transaction_id NULL) come first, by position, so the live query keeps
    # using the (transaction_id, global_position) index for the rest.

    _listen_conn: Connection[Row] | None = None
    _on_standby: bool | None = None

    def live_head(self) -> Cursor:

        with self.reading() as session:
            row = session.fetchone(
                "SELECT transaction_id, global_position FROM {events} "
                "WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot()) "
                "ORDER BY transaction_id DESC, global_position DESC LIMIT 1"
            )
            if row is not None:
                return Cursor(int(row["transaction_id"]), int(row["global_position"]))
            position = session.fetchval(
                "SELECT global_position FROM {events} WHERE transaction_id IS NULL "
                "ORDER BY global_position DESC LIMIT 1"
            )
            return Cursor(0, int(position or 0))

    def live_batch(self, after: Cursor, where: str, params: Sequence[Any], limit: int) -> LiveBatch:

        columns = EVENT_COLUMNS + ", transaction_id"
        filtered = where.strip() != "1 = 1"
        with self.reading() as session:
            horizon = session.fetchval("SELECT pg_snapshot_xmin(pg_current_snapshot())")
            rows: list[Row] = []
            scanned = after
            if after.transaction_id == 0:
                rows = session.fetchall(
                    "SELECT " + columns + " FROM {events} WHERE transaction_id IS NULL "  # noqa: S608
                    "AND global_position > %s AND (" + where + ") "
                    "ORDER BY global_position LIMIT %s",
                    [after.global_position, *params, limit],
                )
                if len(rows) >= limit:
                    return LiveBatch(rows, scanned, False)
            rows += session.fetchall(
                "SELECT " + columns + " FROM {events} WHERE transaction_id < %s "  # noqa: S608
                "AND (transaction_id, global_position) > (%s, %s) AND (" + where + ") "
                "ORDER BY transaction_id, global_position LIMIT %s",
                [
                    horizon,
                    str(after.transaction_id),
                    after.global_position,
                    *params,
                    limit - len(rows),
                ],
            )
            if len(rows) < limit and filtered:
                # Everything below the horizon has been looked at: move past what did not match.
                head = session.fetchone(
                    "SELECT transaction_id, global_position FROM {events} "
                    "WHERE transaction_id < %s "
                    "ORDER BY transaction_id DESC, global_position DESC LIMIT 1",
                    [horizon],
                )
                if head is not None:
                    scanned = max(
                        after, Cursor(int(head["transaction_id"]), int(head["global_position"]))
                    )
            pending = False
            if len(rows) < limit:
                pending = bool(
                    session.fetchval(
                        "SELECT 1 FROM {events} WHERE transaction_id >= %s LIMIT 1", [horizon]
                    )
                )
        return LiveBatch(rows, scanned, pending)

    def wait_for_events(self, timeout: float) -> None:
        if self._on_standby is None:
            with self.reading() as session:
                self._on_standby = bool(session.fetchval("SELECT pg_is_in_recovery()"))
        if self._on_standby or self.pooler:  # NOTIFY reaches no standby, LISTEN no pooler: poll
            time.sleep(timeout)
            return
        with translate_errors(self):
            if self._listen_conn is None or self._listen_conn.closed:
                self._listen_conn = self.connect(autocommit=True)
                self._listen_conn.execute(
                    sql.SQL("LISTEN {}").format(sql.Identifier(NOTIFY_CHANNEL))
                )
            notified = False
            for _ in self._listen_conn.notifies(timeout=timeout, stop_after=1):
                notified = True
            if notified:  # several commits, one wake-up: drain what is already queued
                for _ in self._listen_conn.notifies(timeout=0):
                    pass

    def stop_listening(self) -> None:
        self._on_standby = None  # after a failover the node may have changed role
        if self._listen_conn is not None:
            self._listen_conn.close()
            self._listen_conn = None

    def category_sql(self) -> str:
        return PG_CATEGORY_SQL  # esctl.values.category_of, as idx_events_category indexes it

    def estimated_counts(self) -> dict[str, int | None] | None:
        with self.reading() as session:
            return self.estimate_counts(session)

    def estimate_counts(self, session: Session) -> dict[str, int | None] | None:
        row = session.fetchone(
            "SELECT c.reltuples::bigint AS events, s.n_distinct AS n_distinct "
            "FROM pg_catalog.pg_class c "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "LEFT JOIN pg_catalog.pg_stats s ON s.schemaname = n.nspname "
            "AND s.tablename = c.relname AND s.attname = 'stream_id' "
            "WHERE n.nspname = %s AND c.relname = 'events'",
            [self.settings.schema],
        )
        if row is None or row["events"] is None or int(row["events"]) < 0:
            return None  # never analysed
        events = int(row["events"])
        distinct = row["n_distinct"]
        streams: int | None = None
        if distinct is not None:
            # Negative n_distinct is a fraction of the rows (-1: every row distinct).
            streams = int(-distinct * events) if distinct < 0 else int(distinct)
        return {"events": events, "streams": streams}

    def sample_clause(self, percent: float) -> str:
        return f" TABLESAMPLE SYSTEM ({float(percent)!r})"

    def byte_length_sql(self, column: str) -> str:
        return f"coalesce(octet_length(CAST({column} AS TEXT)), 0)"

    def relation_sizes(self, session: Session) -> list[Row]:
        from esctl.store.postgres_facts import relation_sizes

        return relation_sizes(session, self.settings.schema)
