"""PostgreSQL's bulk paths: appending with text COPY (formatted here, streamed in blocks while the
rows are produced), the positions a transaction appended, and the raw-COPY ceiling of `esctl bench`."""

from __future__ import annotations

import itertools
import json
import json.encoder
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from psycopg import sql

from esctl.store.base import EventRow, Session
from esctl.store.postgres_connection import PostgresConnections, PostgresSession
from esctl.store.postgres_errors import translate_errors

BLOCK_ROWS = 64
# A unit of at most this many rows takes its positions from the sequence before the COPY (one
# query) and sends them with the rows, so no lookup after the COPY is needed to report them.
SMALL_UNIT = 1000
# The global_position sequence, when inserting chosen values is what the column default does
# (BIGSERIAL or an identity BY DEFAULT): else no rows, and the rows take the default.
_RESERVE_POSITIONS = (
    "SELECT nextval(q.s) AS position "
    "FROM (SELECT CAST(pg_get_serial_sequence(%s, 'global_position') AS regclass) AS s) q "
    "CROSS JOIN generate_series(1, %s) "
    "WHERE q.s IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a "
    "WHERE a.attrelid = CAST(%s AS regclass) AND a.attname = 'global_position' "
    "AND a.attidentity = 'a')"
)


# Where each stream's first and last event of this transaction landed, by the versions it
# assigned (rows this transaction wrote carry its id in transaction_id, the column's default).
# Scalar subqueries, not joins: a join let the planner read every row of the transaction through
# the transaction_id index and hash them (0.8 s after 1,000,000 rows); a subquery per version is
# one probe of the (stream_id, version) index whatever the statistics say.
_POSITIONS_BY_VERSION = (
    "SELECT * FROM (SELECT v.stream_id, "
    "(SELECT e.global_position FROM {events} e WHERE e.stream_id = v.stream_id "
    "AND e.version = v.first_version AND e.transaction_id = pg_current_xact_id()) AS first, "
    "(SELECT e.global_position FROM {events} e WHERE e.stream_id = v.stream_id "
    "AND e.version = v.last_version AND e.transaction_id = pg_current_xact_id()) AS last "
    "FROM unnest(%s::text[], %s::bigint[], %s::bigint[]) "
    "AS v(stream_id, first_version, last_version)) p "
    "WHERE p.first IS NOT NULL AND p.last IS NOT NULL"
)


class PostgresCopy(PostgresConnections):
    # --- append primitives (issue 3) ---------------------------------------------------------

    _COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})

    @classmethod
    def _copy_text(cls, value: str) -> str:
        """A name in COPY's text format."""
        if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
            return value.translate(cls._COPY_ESCAPES)
        return value

    @staticmethod
    def _copy_time(value: datetime) -> str:
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()

    def insert_events(self, session: Session, rows: Iterable[EventRow]) -> None:
        # Text COPY, formatted here: JSON text never holds raw tabs or newlines, so only
        # backslashes need doubling; names get the full COPY escaping. Rows are sent in blocks
        # while they are produced, so the server works while Python parses the next ones.
        # `now` in COPY's text is the transaction's start time, now() itself: no query for it.
        now = "now"
        text, bs, bs2 = self._copy_text, "\\", "\\\\"
        # One C encoder for all rows: JSONEncoder.encode would build a new one per call.
        encode = json.encoder.c_make_encoder(  # type: ignore[attr-defined]
            None, None, json.encoder.encode_basestring, None, ":", ",", False, False, True
        )

        def dumps(value: dict[str, Any]) -> str:
            return "".join(encode(value, 0)) if value else "{}"

        pg = cast(PostgresSession, session)
        rows = iter(rows)
        head = list(itertools.islice(rows, SMALL_UNIT + 1))
        positions = self._reserve_positions(pg, head) if len(head) <= SMALL_UNIT else []
        if positions:
            columns, rows = "version, global_position, created_at", iter(head)
            _record(pg, head, positions)
            chosen: Iterator[str] = iter(positions)
        else:
            columns, rows = "version, created_at", itertools.chain(head, rows)
            pg.appended = None  # this append's positions are looked up after the COPY
            chosen = itertools.repeat("")
        conn = pg.connection  # the pending BEGIN goes now if no statement took it
        query = self.query_bytes(
            "COPY {events} (id, stream_id, stream_type, event_type, event_data, metadata, "
            f"{columns}) FROM STDIN",
            conn,
        )
        with translate_errors(self), conn.cursor() as cursor, cursor.copy(query) as copy:
            # Blocks of BLOCK_ROWS rows: large enough that a write costs little per row, small
            # enough that the server starts on a 200-event batch before it is all formatted.
            block: list[str] = []
            for row, position in zip(rows, chosen, strict=False):  # chosen may be endless
                event_id, stream_id, stream_type, event_type, data, meta, version, at = row
                names = f"{stream_id}\t{stream_type}\t{event_type}"
                if "\\" in names or "\n" in names or "\r" in names or names.count("\t") != 2:
                    names = f"{text(stream_id)}\t{text(stream_type)}\t{text(event_type)}"
                data = data if isinstance(data, str) else dumps(data)
                meta = meta if isinstance(meta, str) else dumps(meta)
                block.append(
                    f"{event_id}\t{names}\t{data.replace(bs, bs2)}\t{meta.replace(bs, bs2)}\t"
                    f"{version}\t{position}{self._copy_time(at) if at else now}\n"
                )
                if len(block) >= BLOCK_ROWS:
                    copy.write("".join(block))
                    block.clear()
            if block:
                copy.write("".join(block))

    def _reserve_positions(self, session: PostgresSession, rows: list[EventRow]) -> list[str]:
        """Positions for `rows` from the column's own sequence, ascending, each followed by a tab
        (the COPY column); none when the column cannot take chosen values."""
        if not rows:
            return []
        table = '"' + self.settings.schema.replace('"', '""') + '".events'
        found = session.fetchall(_RESERVE_POSITIONS, [table, len(rows), table])
        return [f"{p}\t" for p in sorted(int(r["position"]) for r in found)]

    def text_rows(self, values: Sequence[str]) -> tuple[str, list[Any]]:
        return "unnest(%s::text[]) AS v(column1)", [list(values)]

    def append_mark(self, session: Session) -> int:
        return 0  # appended_positions finds this transaction's rows by transaction_id

    def appended_positions(
        self, session: Session, since: int, versions: Mapping[str, tuple[int, int]] | None = None
    ) -> dict[str, tuple[int, int]]:
        known = cast(PostgresSession, session).appended
        if known is not None:  # every append of this transaction chose its positions
            chosen = known if versions is None else {s: known[s] for s in versions if s in known}
            after = {s: span for s, span in chosen.items() if span[0] > since}
            if all(span[1] <= since for s, span in chosen.items() if s not in after):
                return after  # no stream has positions on both sides of `since`
        # Rows this transaction wrote carry its id in transaction_id (the column's default).
        if versions is not None:
            # Two probes of (stream_id, version) a stream: the whole-transaction GROUP BY below
            # read every appended row (1.4 s after a 1,000,000-event COPY; this, milliseconds).
            streams = list(versions)
            rows = session.fetchall(
                _POSITIONS_BY_VERSION,
                [streams, [versions[s][0] for s in streams], [versions[s][1] for s in streams]],
            )
            return {r["stream_id"]: (int(r["first"]), int(r["last"])) for r in rows}
        rows = session.fetchall(
            "SELECT stream_id, min(global_position) AS first, max(global_position) AS last "
            "FROM {events} WHERE transaction_id = pg_current_xact_id() AND global_position > %s "
            "GROUP BY stream_id",
            [since],
        )
        return {r["stream_id"]: (int(r["first"]), int(r["last"])) for r in rows}

    # --- bench primitives (issue 7) -------------------------------------------------------------

    CEILING_TABLE = "events_raw_copy"

    def _ceiling_sql(self, query: str) -> sql.Composed:
        return sql.SQL(query).format(
            ceiling=sql.Identifier(self.settings.schema, self.CEILING_TABLE),
            **self.identifiers,  # type: ignore[arg-type]
        )

    def create_ceiling_table(self) -> bool:
        # LIKE … INCLUDING ALL copies columns, defaults (the same position sequence, the
        # transaction id), constraints and indexes; the statement-level NOTIFY trigger is added
        # so the ceiling pays for what `events` pays for.
        with self.writing() as session, translate_errors(self):
            conn = session.connection
            conn.execute(self._ceiling_sql("CREATE TABLE {ceiling} (LIKE {events} INCLUDING ALL)"))
            conn.execute(
                self._ceiling_sql(
                    "CREATE TRIGGER esctl_notify_events AFTER INSERT ON {ceiling} "
                    "FOR EACH STATEMENT EXECUTE FUNCTION {notify_function}()"
                )
            )
        return True

    def copy_into_ceiling(self, copy_text: str) -> int:
        query = self._ceiling_sql(
            "COPY {ceiling} (id, stream_id, stream_type, event_type, event_data, metadata, "
            "version) FROM STDIN"
        )
        with (
            self.writing() as session,
            translate_errors(self),
            session.connection.cursor() as cursor,
        ):
            with cursor.copy(query) as copy:
                copy.write(copy_text)
            return int(cursor.rowcount)


def _record(session: PostgresSession, rows: list[EventRow], positions: list[str]) -> None:
    """Note the first and last position per stream of rows about to be sent with `positions`."""
    known = session.appended
    if known is None:
        return
    for row, text in zip(rows, positions, strict=True):
        position = int(text[:-1])
        first = known.get(row[1], (position, position))[0]
        known[row[1]] = (first, position)
