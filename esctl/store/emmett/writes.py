"""The write side of the event log on Emmett: only through Emmett's own SQL function
`emt_append_to_stream`, called as Emmett's `appendToStream` calls it (`schema/appendToStream.ts`,
0.42): one call per run of a stream's messages, with the stream position expected before them,
Emmett's default partition `emt:default`, schema version `1`, kind `E` (event), the stream type
Emmett derives from the name (the text before the first `-`, else `emt:unknown`), and the
metadata stored without `messageId` (that is the row's `message_id`). The function keeps
`emt_streams` and the stream positions: a stream that moved meanwhile (its UPDATE of the expected
position finds no row, or the INSERT of a new stream a duplicate key) is a Conflict (exit 3, or
esctl's careful path). The message's time is the function's `now()`: it takes none.

Emmett has no unique constraint on `message_id`; esctl's idempotency by event id needs one to
fire, so each call first looks the ids up and raises Conflict when one is stored (the careful
path then reports it as a duplicate, as on esctl's own tables)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from esctl.errors import Conflict
from esctl.store.emmett.messages import COLUMNS, DEFAULT_PARTITION, MESSAGES
from esctl.types import NewEventRow, RecordedEvent

if TYPE_CHECKING:
    from esctl.store.base import Session

CHUNK = 1000
UNKNOWN_TYPE = "emt:unknown"  # Emmett's `unknownTag`
APPEND = (
    "SELECT success, next_stream_position FROM {schema}.emt_append_to_stream("
    "CAST(%s AS text[]), CAST(CAST(%s AS text[]) AS jsonb[]), CAST(CAST(%s AS text[]) AS jsonb[]), "
    "CAST(%s AS text[]), CAST(%s AS text[]), CAST(%s AS text[]), CAST(%s AS text), "
    "CAST(%s AS text), CAST(%s AS bigint), CAST(%s AS text))"
)


def emmett_stream_type(stream_id: str) -> str:
    """The stream type Emmett's event store writes for a stream (`postgreSQLEventStore.ts`)."""
    first, *rest = stream_id.split("-")
    return first if first and rest else UNKNOWN_TYPE


def _json(value: str | dict[str, Any]) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _metadata_text(value: str | dict[str, Any]) -> str:
    metadata = _json(value) or {}
    if isinstance(metadata, dict):
        metadata = {k: v for k, v in metadata.items() if k != "messageId"}
    return json.dumps(metadata, ensure_ascii=False, separators=(",", ":"))


def _data_text(value: str | dict[str, Any]) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class EmmettWrites:
    session: Session
    schema: str
    base: str

    def head(self) -> int:
        query = "SELECT coalesce(max(global_position), 0) FROM " + MESSAGES + " WHERE " + self.base  # noqa: S608 - fixed fragments
        return int(self.session.fetchval(query))

    def append_mark(self) -> int:
        return self.head()

    def stream_versions(self, stream_ids: Sequence[str]) -> dict[str, int]:
        """Each existing stream's position in `emt_streams` (Emmett's default partition)."""
        found: dict[str, int] = {}
        for start in range(0, len(stream_ids), CHUNK):
            rows = self.session.fetchall(
                "SELECT stream_id, stream_position FROM {schema}.emt_streams "
                "WHERE stream_id = ANY(%s) AND partition = %s AND NOT is_archived",
                [list(stream_ids[start : start + CHUNK]), DEFAULT_PARTITION],
            )
            found.update((r["stream_id"], int(r["stream_position"])) for r in rows)
        return found

    def stored_by_id(self, event_ids: Sequence[str]) -> dict[str, RecordedEvent]:
        found: dict[str, RecordedEvent] = {}
        for start in range(0, len(event_ids), CHUNK):
            rows = self.session.fetchall(
                f"SELECT {COLUMNS} FROM {MESSAGES} WHERE {self.base} AND id = ANY(%s)",  # noqa: S608
                [list(event_ids[start : start + CHUNK])],
            )
            for row in rows:
                record = RecordedEvent.from_row(row)
                found[record.event_id] = record
        return found

    def append(self, rows: Iterable[NewEventRow]) -> None:
        """emt_append_to_stream per run of one stream's rows (at most CHUNK a call)."""
        quoted = '"' + self.schema.replace('"', '""') + '"'
        # The function's body names Emmett's tables unqualified, as Emmett's clients call it
        # (with the schema on their search path).
        self.session.fetchval("SELECT set_config('search_path', %s, true)", [quoted])
        for run in _runs(rows):
            self._append_run(run)

    def _append_run(self, run: list[NewEventRow]) -> None:
        stream_id = run[0].stream_id
        ids = [r.event_id for r in run]
        if self.session.fetchval(
            "SELECT 1 FROM {schema}.emt_messages WHERE message_id = ANY(%s) LIMIT 1", [ids]
        ):
            raise Conflict(f"stream {stream_id!r}: an event id of this input is already stored")
        expected = run[0].version - 1
        result = self.session.fetchone(
            APPEND,
            [
                ids,
                [_data_text(r.data) for r in run],
                [_metadata_text(r.metadata) for r in run],
                ["1"] * len(run),
                [r.event_type for r in run],
                ["E"] * len(run),
                stream_id,
                emmett_stream_type(stream_id),
                expected,
                DEFAULT_PARTITION,
            ],
        )
        if result is None or not result["success"]:
            raise Conflict(
                f"Emmett refused the append to {stream_id!r}: its stream position is no longer "
                f"{expected}"
            )
        if int(result["next_stream_position"]) != run[-1].version:
            raise Conflict(f"stream {stream_id!r}: Emmett's positions differ from esctl's versions")

    def appended_positions(
        self, since: int, versions: Mapping[str, tuple[int, int]] | None = None
    ) -> dict[str, tuple[int, int]]:
        rows = self.session.fetchall(
            "SELECT stream_id, min(global_position) AS first, max(global_position) AS last "
            "FROM {schema}.emt_messages WHERE global_position > %s "
            "AND transaction_id = pg_current_xact_id() GROUP BY stream_id",
            [since],
        )
        return {r["stream_id"]: (int(r["first"]), int(r["last"])) for r in rows}


def _runs(rows: Iterable[NewEventRow]) -> Iterator[list[NewEventRow]]:
    """Consecutive rows of one stream, at most CHUNK together."""
    run: list[NewEventRow] = []
    for row in rows:
        if run and (row.stream_id != run[0].stream_id or len(run) >= CHUNK):
            yield run
            run = []
        run.append(row)
    if run:
        yield run
