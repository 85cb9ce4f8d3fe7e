"""PostgreSQL's bulk paths: appending with text COPY (formatted here, streamed in blocks while the
rows are produced), the positions a transaction appended, and the raw-COPY ceiling of `esctl bench`."""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, cast

from psycopg import sql

from esctl.store.base import EventRow, Session
from esctl.store.postgres_connection import PostgresConnections, PostgresSession
from esctl.store.postgres_errors import translate_errors

BLOCK_ROWS = 64


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
        conn = cast(PostgresSession, session).connection
        # `now` in COPY's text is the transaction's start time, now() itself: no query for it.
        now = "now"
        text, bs, bs2 = self._copy_text, "\\", "\\\\"
        # One C encoder for all rows: JSONEncoder.encode would build a new one per call.
        encode = json.encoder.c_make_encoder(  # type: ignore[attr-defined]
            None, None, json.encoder.encode_basestring, None, ":", ",", False, False, True
        )

        def dumps(value: dict[str, Any]) -> str:
            return "".join(encode(value, 0)) if value else "{}"

        query = self.compose(
            "COPY {events} (id, stream_id, stream_type, event_type, event_data, metadata, "
            "version, created_at) FROM STDIN"
        )
        with translate_errors(self), conn.cursor() as cursor, cursor.copy(query) as copy:
            # Blocks of BLOCK_ROWS rows: large enough that a write costs little per row, small
            # enough that the server starts on a 200-event batch before it is all formatted.
            block: list[str] = []
            for event_id, stream_id, stream_type, event_type, data, meta, version, at in rows:
                names = f"{stream_id}\t{stream_type}\t{event_type}"
                if "\\" in names or "\n" in names or "\r" in names or names.count("\t") != 2:
                    names = f"{text(stream_id)}\t{text(stream_type)}\t{text(event_type)}"
                data = data if isinstance(data, str) else dumps(data)
                meta = meta if isinstance(meta, str) else dumps(meta)
                block.append(
                    f"{event_id}\t{names}\t{data.replace(bs, bs2)}\t{meta.replace(bs, bs2)}\t"
                    f"{version}\t{self._copy_time(at) if at else now}\n"
                )
                if len(block) >= BLOCK_ROWS:
                    copy.write("".join(block))
                    block.clear()
            if block:
                copy.write("".join(block))

    def append_mark(self, session: Session) -> int:
        return 0  # appended_positions finds this transaction's rows by transaction_id

    def appended_positions(
        self, session: Session, since: int, versions: Mapping[str, tuple[int, int]] | None = None
    ) -> dict[str, tuple[int, int]]:
        # Rows this transaction wrote carry its id in transaction_id (the column's default).
        if versions is not None:
            # Two probes of (stream_id, version) a stream: the whole-transaction GROUP BY below
            # read every appended row (1.4 s after a 1,000,000-event COPY; this, milliseconds).
            streams = list(versions)
            rows = session.fetchall(
                "SELECT v.stream_id, f.global_position AS first, l.global_position AS last "
                "FROM unnest(%s::text[], %s::bigint[], %s::bigint[]) "
                "AS v(stream_id, first_version, last_version) "
                "JOIN {events} f ON f.stream_id = v.stream_id AND f.version = v.first_version "
                "JOIN {events} l ON l.stream_id = v.stream_id AND l.version = v.last_version "
                "WHERE f.transaction_id = pg_current_xact_id() "
                "AND l.transaction_id = pg_current_xact_id()",
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
