"""The write side of the event log on Message DB: only through `message_store.write_message`, one
call per message, so its per-category advisory lock and its expected-version check hold for every
message esctl appends (a message that loses a race raises Conflict, exit 3).

esctl's append pipeline counts versions from 1 (version N is a stream's Nth event, 0 is "no
stream"); Message DB numbers positions from 0 (its stream version is the last position, -1 when
there is none). This adapter speaks the pipeline's count: a stream with messages at positions
0..4 has version 5, and the message the pipeline gives version N is written with
`expected_version` N - 2 (Message DB's version of the stream just before it), so Message DB itself
refuses it if anything else was written in between. The command line shows Message DB's numbers
(`MessageDbLayout.first_version`)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from esctl.errors import Conflict
from esctl.store.message_db.messages import SELECT
from esctl.types import NewEventRow, RecordedEvent

if TYPE_CHECKING:
    from esctl.store.base import Session

LOOKUP_CHUNK = 500
WRITE = "SELECT message_store.write_message(%s, %s, %s, CAST(%s AS jsonb), CAST(%s AS jsonb), %s)"
WRONG_VERSION = "Wrong expected version"


def _json_text(value: str | dict[str, Any]) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class MessageDbWrites:
    session: Session

    def head(self) -> int:
        return int(
            self.session.fetchval(
                "SELECT coalesce(max(global_position), 0) FROM message_store.messages"
            )
        )

    def append_mark(self) -> int:
        return self.head()

    def stream_versions(self, stream_ids: Sequence[str]) -> dict[str, int]:
        """The pipeline's version (messages in the stream: Message DB's last position + 1)."""
        found: dict[str, int] = {}
        for start in range(0, len(stream_ids), LOOKUP_CHUNK):
            part = stream_ids[start : start + LOOKUP_CHUNK]
            values = ", ".join(["(%s)"] * len(part))
            rows = self.session.fetchall(
                "SELECT v.column1 AS stream_id, (SELECT max(position) FROM message_store.messages "  # noqa: S608 - placeholders only
                f"WHERE stream_name = v.column1) AS version FROM (VALUES {values}) AS v",
                part,
            )
            found.update(
                (r["stream_id"], int(r["version"]) + 1) for r in rows if r["version"] is not None
            )
        return found

    def stored_by_id(self, event_ids: Sequence[str]) -> dict[str, RecordedEvent]:
        """Stored messages by id, versions in the pipeline's count (position + 1)."""
        found: dict[str, RecordedEvent] = {}
        for start in range(0, len(event_ids), LOOKUP_CHUNK):
            part = event_ids[start : start + LOOKUP_CHUNK]
            placeholders = ", ".join(["CAST(%s AS uuid)"] * len(part))
            rows = self.session.fetchall(
                SELECT + f"WHERE message_id IN ({placeholders})",
                part,
            )
            for row in rows:
                record = RecordedEvent.from_row({**row, "version": int(row["version"]) + 1})
                found[record.event_id] = record
        return found

    def append(self, rows: Iterable[NewEventRow]) -> None:
        """write_message per row (pipelined), expected version = the row's version - 2. The
        message's time is Message DB's (now, UTC): write_message takes none."""
        # write_message's body names its functions and table unqualified, as Eventide's clients
        # call it (connected as the message_store role, whose "$user" schema it is).
        self.session.fetchval("SELECT set_config('search_path', 'message_store, public', true)")
        params = (
            [
                row.event_id,
                row.stream_id,
                row.event_type,
                _json_text(row.data),
                _json_text(row.metadata),
                row.version - 2,
            ]
            for row in rows
        )
        try:
            for chunk in _chunks(params, 1000):
                self.session.executemany(WRITE, chunk)
        except Exception as error:  # write_message RAISEs (P0001) on a wrong expected version
            message = str(getattr(error, "message", error))
            if WRONG_VERSION in message or WRONG_VERSION in str(error.__cause__ or ""):
                raise Conflict(f"Message DB refused a write: {message}") from error
            raise

    def appended_positions(
        self, since: int, versions: Mapping[str, tuple[int, int]] | None = None
    ) -> dict[str, tuple[int, int]]:
        rows = self.session.fetchall(
            "SELECT stream_name, min(global_position) AS first, max(global_position) AS last "
            "FROM message_store.messages WHERE global_position > %s "
            "AND CAST(CAST(xmin AS text) AS bigint) = "
            "mod(CAST(CAST(pg_current_xact_id() AS text) AS bigint), 4294967296) "
            "GROUP BY stream_name",
            [since],
        )
        return {r["stream_name"]: (int(r["first"]), int(r["last"])) for r in rows}


def _chunks(params: Iterable[list[Any]], size: int) -> Iterable[list[list[Any]]]:
    chunk: list[list[Any]] = []
    for item in params:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
