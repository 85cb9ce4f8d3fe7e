"""The SQLite engine: the embedded default. SQLite serialises writers, so position order is commit
order. Connections and sessions are in `sqlite_connection`, schema admin in `sqlite_admin`; this
module adds the append, live-reading and statistics primitives."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from esctl.errors import EsctlError
from esctl.store.base import EVENT_COLUMNS, EventRow, Session
from esctl.store.sqlite_admin import SQLiteAdmin
from esctl.store.sqlite_connection import SQLiteSession, format_time, translate_errors
from esctl.types import Cursor, LiveBatch

__all__ = ["SQLiteSession", "SQLiteStore", "format_time", "translate_errors"]

LIVE_POLL_INTERVAL = 0.05  # tail polls this often (SQLite has no NOTIFY)
APPEND_CACHE_KB = 64 * 1024
POSITION_CHUNK = 300  # streams per lookup of appended positions (3 parameters each)


class SQLiteStore(SQLiteAdmin):
    """An event store in one SQLite file."""

    # --- append primitives (issue 3) ---------------------------------------------------------

    def insert_events(self, session: Session, rows: Iterable[EventRow]) -> None:
        # One statement over a generator: sqlite3 steps it row by row, in the caller's
        # BEGIN IMMEDIATE transaction, so memory stays flat and nothing is visible before COMMIT.
        now = format_time(datetime.now(UTC))
        # A large append touches every index all over: with SQLite's default 2 MB page cache it
        # spills dirty pages to the WAL again and again (most of its time, mostly waiting on
        # I/O). A bounded 64 MB cache for this connection keeps the working set in memory.
        session.execute(f"PRAGMA cache_size = -{APPEND_CACHE_KB}")

        def dumps(value: str | dict[str, Any]) -> str:
            if type(value) is str:
                return value
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

        params = (
            (
                r[0],
                r[1],
                r[2],
                r[3],
                dumps(r[4]),
                dumps(r[5]),
                r[6],
                format_time(r[7]) if r[7] else now,
            )
            for r in rows
        )
        session.executemany(
            "INSERT INTO {events} (id, stream_id, stream_type, event_type, event_data, metadata, "
            "version, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            cast(Any, params),
        )

    def appended_positions(
        self, session: Session, since: int, versions: Mapping[str, tuple[int, int]] | None = None
    ) -> dict[str, tuple[int, int]]:
        # Writers are serialised: every row past `since` in this transaction is ours.
        if versions is not None:  # two probes of (stream_id, version) a stream, not every row
            found: dict[str, tuple[int, int]] = {}
            streams = list(versions)
            for start in range(0, len(streams), POSITION_CHUNK):
                part = streams[start : start + POSITION_CHUNK]
                values = ", ".join(["(%s, %s, %s)"] * len(part))
                params = [x for s in part for x in (s, versions[s][0], versions[s][1])]
                rows = session.fetchall(
                    "SELECT v.column1 AS stream_id, f.global_position AS first, "  # noqa: S608
                    "l.global_position AS last "
                    f"FROM (VALUES {values}) AS v "
                    "JOIN {events} f ON f.stream_id = v.column1 AND f.version = v.column2 "
                    "JOIN {events} l ON l.stream_id = v.column1 AND l.version = v.column3 "
                    "WHERE f.global_position > %s",
                    [*params, since],
                )
                found.update((r["stream_id"], (int(r["first"]), int(r["last"]))) for r in rows)
            return found
        rows = session.fetchall(
            "SELECT stream_id, min(global_position) AS first, max(global_position) AS last "
            "FROM {events} WHERE global_position > %s GROUP BY stream_id",
            [since],
        )
        return {r["stream_id"]: (int(r["first"]), int(r["last"])) for r in rows}

    # --- live reading primitives (issue 4) ---------------------------------------------------
    # SQLite serialises writers, so position order is commit order: the live cursor is the
    # position alone (transaction_id is always NULL, read as 0) and a short poll replaces NOTIFY.

    def live_head(self) -> Cursor:

        with self.reading() as session:
            return Cursor(
                0, int(session.fetchval("SELECT max(global_position) FROM {events}") or 0)
            )

    def live_batch(self, after: Cursor, where: str, params: Sequence[Any], limit: int) -> LiveBatch:

        with self.reading() as session:  # one snapshot for both statements (WAL)
            rows = session.fetchall(
                "SELECT " + EVENT_COLUMNS + ", transaction_id FROM {events} "  # noqa: S608
                "WHERE global_position > %s AND (" + where + ") "
                "ORDER BY global_position LIMIT %s",
                [after.global_position, *params, limit],
            )
            scanned = after
            if len(rows) < limit and where.strip() != "1 = 1":
                head = session.fetchval("SELECT max(global_position) FROM {events}")
                scanned = max(after, Cursor(0, int(head or 0)))
        for row in rows:
            row["transaction_id"] = None
        return LiveBatch(rows, scanned, False)

    def wait_for_events(self, timeout: float) -> None:
        time.sleep(max(0.0, min(timeout, LIVE_POLL_INTERVAL)))

    def stop_listening(self) -> None:
        pass

    def category_sql(self) -> str:
        # esctl.values.category_of: up to the first `-` that does not start the id.
        return (
            "CASE WHEN instr(substr(stream_id, 2), '-') > 0 "
            "THEN substr(stream_id, 1, instr(substr(stream_id, 2), '-')) ELSE stream_id END"
        )

    def estimated_counts(self) -> dict[str, int | None] | None:
        return None

    def estimate_counts(self, session: Session) -> dict[str, int | None] | None:
        return None  # no catalog estimates: stats counts

    def sample_clause(self, percent: float) -> str:
        return ""

    def byte_length_sql(self, column: str) -> str:
        return f"coalesce(length(CAST({column} AS BLOB)), 0)"

    def session_json_lines(
        self,
        session: Session,
        where: str,
        params: Sequence[Any],
        limit: int | None,
        *,
        warn: Callable[[str], None] | None = None,
    ) -> Iterator[bytes] | None:
        return None  # esctl.read.events renders the lines

    # --- checkpoint primitives (checkpoints issue) --------------------------------------------

    def commit_order_slices(
        self,
        after: tuple[int, int] | None,
        upto: tuple[int, int] | None,
        *,
        descending: bool = False,
    ) -> list[tuple[str, list[Any], str]]:
        # SQLite serialises writers: position order is commit order, and the rowid serves it.
        where = ["1 = 1"]
        params: list[Any] = []
        if after is not None:
            where.append("global_position > %s")
            params.append(after[1])
        if upto is not None:
            where.append("global_position <= %s")
            params.append(upto[1])
        order = "global_position DESC" if descending else "global_position"
        return [(" AND ".join(where), params, order)]

    def transaction_id_sql(self, value: int | None) -> tuple[str, Any]:
        return "%s", value or None

    # --- bench primitives (issue 7) -------------------------------------------------------------

    def create_ceiling_table(self) -> bool:
        return False  # no COPY: SQLite's ceiling is its own executemany, which append uses

    def copy_into_ceiling(self, copy_text: str) -> int:
        raise EsctlError("SQLite has no COPY: the raw-COPY ceiling is PostgreSQL only")
