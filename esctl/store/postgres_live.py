"""PostgreSQL live reading: the xid8 horizon (only rows of transactions below
`pg_snapshot_xmin(pg_current_snapshot())`, which can no longer be preceded), LISTEN/NOTIFY to
wake `tail` with a poll as the fallback (a standby gets no NOTIFY), and the statistics
primitives (the category expression, catalog estimates, TABLESAMPLE)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from psycopg import sql

from esctl.store.base import EVENT_COLUMNS, Row, Session
from esctl.store.esctl_layout.filters import PG_CATEGORY_SQL
from esctl.store.postgres_connection import PostgresConnections
from esctl.store.postgres_errors import translate_errors
from esctl.store.postgres_export import PostgresExport
from esctl.types import Cursor, LiveBatch, LiveLines

if TYPE_CHECKING:
    from psycopg import Connection

NOTIFY_CHANNEL = "esctl_events"


def _lines_query(rows: str) -> str:
    """One slice of a live batch as JSON lines: its rows (`rows`: FROM … ORDER BY … LIMIT %s)
    in one text, and "transaction_id position" of each row; a NULL line would be left out of
    the text, so the two counts tell one."""
    return (
        "SELECT count(*) AS events, count(line) AS lines, string_agg(line, chr(10) ORDER BY "  # noqa: S608 - esctl's SQL; values are bound
        "transaction_id, global_position) AS data, string_agg(cursor, ',' ORDER BY "
        "transaction_id, global_position) AS cursors FROM (SELECT "
        + PostgresExport.EVENT_JSON_SQL
        + " AS line, coalesce(transaction_id::text, '0') || ' ' || global_position AS cursor, "
        "transaction_id, global_position" + rows + ") batch"
    )


def _cursor_list(text: str) -> Callable[[int], Cursor]:
    """The cursor after the line at an index, from "xid position,…" (split only when asked)."""
    items: list[str] = []

    def cursor_after(index: int) -> Cursor:
        if not items:
            items.extend(text.split(","))
        transaction_id, _, position = items[index].partition(" ")
        return Cursor(int(transaction_id), int(position))

    return cursor_after


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

        rows: list[Row] = []
        with self.reading() as session:
            horizon = session.fetchval("SELECT pg_snapshot_xmin(pg_current_snapshot())")
            for query, bound in self._live_slices(after, horizon, where, params):
                rows += session.fetchall(
                    "SELECT " + EVENT_COLUMNS + ", transaction_id" + query,
                    [*bound, limit - len(rows)],
                )
                if len(rows) >= limit:
                    return LiveBatch(rows, after, False)
            scanned, pending = self._live_rest(session, after, horizon, where)
        return LiveBatch(rows, scanned, pending)

    def live_lines(
        self, after: Cursor, where: str, params: Sequence[Any], limit: int
    ) -> LiveLines | None:
        # `live_batch` with each row rendered by the server as its JSON line (PostgresExport's
        # EVENT_JSON_SQL, the bytes of `event_json_line`) and a batch's lines joined into one
        # text: no row is decoded or encoded in Python. Same slices, horizon and order.
        texts: list[str] = []
        cursors: list[str] = []
        count = 0
        with self.reading() as session:
            horizon = session.fetchval("SELECT pg_snapshot_xmin(pg_current_snapshot())")
            for query, bound in self._live_slices(after, horizon, where, params):
                got = session.fetchone(_lines_query(query), [*bound, limit - count])
                if got is None or not got["events"]:
                    continue
                if got["events"] != got["lines"]:
                    return None  # a NULL the rendering did not foresee: `live_batch` shows it
                text = got["data"]
                if text.startswith("!") or "\n!" in text:
                    return None  # a row that needs a warning: `live_batch` gives it
                texts.append(text)
                cursors.append(got["cursors"])
                count += int(got["events"])
                if count >= limit:
                    break
            if count >= limit:
                scanned, pending = after, False
            else:
                scanned, pending = self._live_rest(session, after, horizon, where)
        data = "\n".join([*texts, ""]).encode() if texts else b""
        return LiveLines(data, count, _cursor_list(",".join(cursors)), scanned, pending)

    def _live_slices(
        self, after: Cursor, horizon: Any, where: str, params: Sequence[Any]
    ) -> Iterator[tuple[str, list[Any]]]:
        """The FROM … LIMIT %s part of a live read (the limit left to bind), slice by slice:
        rows from before `esctl init` (no transaction id) first, by position, then the rows of
        transactions below the horizon in (transaction_id, global_position) order, so the query
        keeps using that index."""
        if after.transaction_id == 0:
            yield (
                " FROM {events} WHERE transaction_id IS NULL AND global_position > %s "
                "AND (" + where + ") ORDER BY global_position LIMIT %s",
                [after.global_position, *params],
            )
        yield (
            " FROM {events} WHERE transaction_id < %s "
            "AND (transaction_id, global_position) > (%s, %s) AND (" + where + ") "
            "ORDER BY transaction_id, global_position LIMIT %s",
            [horizon, str(after.transaction_id), after.global_position, *params],
        )

    def _live_rest(
        self, session: Session, after: Cursor, horizon: Any, where: str
    ) -> tuple[Cursor, bool]:
        """After a batch that was not full: how far it scanned (a filtered read moves past what
        did not match below the horizon) and whether commits wait above the horizon."""
        scanned = after
        if where.strip() != "1 = 1":
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
        pending = bool(
            session.fetchval("SELECT 1 FROM {events} WHERE transaction_id >= %s LIMIT 1", [horizon])
        )
        return scanned, pending

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
