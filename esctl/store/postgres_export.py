"""PostgreSQL's `read --all -o jsonl` fast path: the server renders each event's JSON line and
COPY streams it, so esctl only copies bytes through."""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable, Iterator, Sequence
from typing import Any, cast

from psycopg import sql

from esctl.errors import EsctlError
from esctl.store.base import Session
from esctl.store.postgres_connection import PostgresConnections, PostgresSession
from esctl.store.postgres_errors import translate_errors


class PostgresExport(PostgresConnections):
    # `read --all -o jsonl` on PostgreSQL: the server renders each event's JSON line, byte for
    # byte as `esctl.read.events.event_json_line` (the one encoder: `", "`/`": "` separators, jsonb's
    # own text for data and metadata, times as `esctl.values.time_json`), and COPY streams it, so
    # esctl only copies bytes through. A row that cannot go back through `esctl append` unchanged
    # is prefixed `!POSITION|` for a warning. Braces come from chr(): SQL text here holds no `{`.
    _UTC = "(created_at AT TIME ZONE 'UTC')"
    _IN_RANGE = (
        "created_at >= TIMESTAMPTZ '0001-01-01 00:00:00+00' "
        "AND created_at < TIMESTAMPTZ '10000-01-01 00:00:00+00'"
    )
    _YEAR = f"(extract(year FROM {_UTC})::int + CASE WHEN extract(year FROM {_UTC}) < 0 THEN 1 ELSE 0 END)"
    _CLOCK = "'-MM-DD\"T\"HH24:MI:SS.US'"
    TIME_JSON_SQL = (
        f"CASE WHEN {_IN_RANGE} THEN '\"' || replace(to_char({_UTC}, 'YYYY' || {_CLOCK}), "
        "'.000000', '') || 'Z\"' "
        "WHEN created_at IS NULL THEN 'null' "
        "WHEN NOT isfinite(created_at) THEN '\"' || created_at::text || '\"' "
        f"ELSE '\"' || CASE WHEN {_YEAR} < 0 THEN '-' || lpad((-{_YEAR})::text, 4, '0') "
        f"WHEN {_YEAR} > 9999 THEN '+' || {_YEAR}::text ELSE lpad({_YEAR}::text, 4, '0') END "
        f"|| replace(to_char({_UTC}, {_CLOCK}), '.000000', '') || 'Z\"' END"
    )
    EVENT_JSON_SQL = (
        "CASE WHEN jsonb_typeof(event_data) = 'object' AND (metadata IS NULL OR "
        f"jsonb_typeof(metadata) = 'object') AND {_IN_RANGE} THEN '' "
        "ELSE '!' || global_position || '|' END"
        " || chr(123) || '\"global_position\": ' || global_position"
        " || ', \"stream_id\": ' || to_json(stream_id)::text"
        " || ', \"stream_type\": ' || to_json(stream_type)::text"
        " || ', \"version\": ' || version"
        " || ', \"event_type\": ' || to_json(event_type)::text"
        ' || \', "event_id": "\' || id::text'
        ' || \'", "data": \' || event_data::text'
        " || ', \"metadata\": ' || coalesce(metadata::text, chr(123) || chr(125))"
        f" || ', \"created_at\": ' || {TIME_JSON_SQL} || chr(125)"
    )

    def session_json_lines(
        self,
        session: Session,
        where: str,
        params: Sequence[Any],
        limit: int | None,
        *,
        warn: Callable[[str], None] | None = None,
    ) -> Iterator[bytes] | None:
        return self._copy_lines(session, where, params, limit, warn)

    def _copy_lines(
        self,
        session: Session,
        where: str,
        params: Sequence[Any],
        limit: int | None,
        warn: Callable[[str], None] | None,
    ) -> Iterator[bytes]:
        query = "SELECT " + self.EVENT_JSON_SQL + " FROM {events} WHERE " + where  # noqa: S608
        query += " ORDER BY global_position" + (" LIMIT %s" if limit is not None else "")
        bound = [*params, limit] if limit is not None else list(params)
        with translate_errors(self):
            statement = sql.SQL("COPY ({}) TO STDOUT").format(self.compose(query))
            connection = cast(PostgresSession, session).connection
            with connection.cursor().copy(statement, bound) as copy:
                rows: list[Any] = []
                size = 0
                for row in copy:  # one row (line) per item
                    if row[0] in _MARKS:
                        row = _odd_line(bytes(row), warn)
                    rows.append(row)
                    size += len(row)
                    if size >= JSON_CHUNK_BYTES:
                        yield _unescape_copy(b"".join(rows))
                        rows.clear()
                        size = 0
                if rows:
                    yield _unescape_copy(b"".join(rows))


JSON_CHUNK_BYTES = 1 << 16


_MARKS = frozenset(b"!\\")  # a row's first byte: `!` an odd row, `\\` a NULL (`\\N`)


def _odd_line(row: bytes, warn: Callable[[str], None] | None) -> bytes:
    """An odd row of the COPY fast path: warn (as `RecordedEvent.from_row` would), strip the mark."""
    from esctl.values import created_at_problem, odd_row_warning, stored_time, value_problems

    if row.startswith(b"\\N"):  # a NULL the SQL did not foresee: never a `\\N` line in an export
        raise EsctlError("the store returned an event esctl cannot render (a NULL column)")
    mark, _, line = row.partition(b"|")
    if warn is not None:
        event = json.loads(_unescape_copy(line))
        problems = value_problems(event["data"], event["metadata"])
        time_problem = created_at_problem(stored_time(event["created_at"]))
        if time_problem:
            problems.append(time_problem)
        message = odd_row_warning(int(mark[1:]), problems)
        if message:
            warn(message)
    return line


def _unescape_copy(data: bytes) -> bytes:
    """COPY's text format doubles backslashes; JSON text holds no raw control characters, so
    that is the only escape to undo."""
    return data.replace(b"\\\\", b"\\")
