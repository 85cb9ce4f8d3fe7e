"""What `streams archive` and `retention` read and remove on esctl's tables
(esctl.store.lifecycle.ArchiveAdmin): the selection's facts per stream, its events as the JSON
lines of `read -o jsonl` (rendered by the server on PostgreSQL), and the deletion of exactly the
archived events, by position and id. Soft-deleted streams are left out unless `include_deleted`."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from esctl.encoding import dumps
from esctl.store.esctl_layout.filters import HIDDEN, category_condition
from esctl.store.esctl_layout.tables import EVENT_COLUMNS
from esctl.types import RecordedEvent, Row

if TYPE_CHECKING:
    from esctl.store.base import Session, Store
    from esctl.store.lifecycle import Selection

LINES_PER_CHUNK = 256


class EsctlArchiveAdmin:
    def __init__(self, session: Session, engine: Store) -> None:
        self.session = session
        self.engine = engine

    def _where(self, selection: Selection) -> tuple[str, list[Any]]:
        parts: list[str] = [] if self.engine.settings.include_deleted else [HIDDEN]
        params: list[Any] = []
        if selection.stream_ids:
            parts.append("stream_id IN (" + ", ".join(["%s"] * len(selection.stream_ids)) + ")")
            params += list(selection.stream_ids)
        if selection.category is not None:
            condition, values = category_condition(selection.category)
            parts.append(condition)
            params += values
        old: list[str] = []
        if selection.before is not None:
            old.append("created_at < %s")
            params.append(self.session.time_param(selection.before))
        if selection.keep_last is not None:
            # All but the stream's newest `keep_last` versions: the outer row is named by the
            # table itself (`{events}.stream_id`), the inner one by its alias.
            old.append(
                "version <= (SELECT max(newest.version) FROM {events} newest "
                "WHERE newest.stream_id = {events}.stream_id) - %s"
            )
            params.append(selection.keep_last)
        if old:
            parts.append("(" + " OR ".join(old) + ")")
        if selection.max_position is not None:
            parts.append("global_position <= %s")
            params.append(selection.max_position)
        return " AND ".join(parts) or "1 = 1", params

    def facts(self, selection: Selection) -> list[Row]:
        where, params = self._where(selection)
        data = self.engine.byte_length_sql("event_data")
        meta = self.engine.byte_length_sql("metadata")
        rows = self.session.fetchall(
            "SELECT g.*, (SELECT s.version FROM {snapshots} s WHERE s.stream_id = g.stream_id) "  # noqa: S608 - fixed fragments
            "AS snapshot_version FROM (SELECT stream_id, count(*) AS events, "
            "min(version) AS first_version, max(version) AS last_version, "
            "min(global_position) AS first_position, max(global_position) AS last_position, "
            f"sum({data} + {meta}) AS bytes FROM {{events}} WHERE {where} "
            "GROUP BY stream_id) g ORDER BY g.stream_id",
            params,
        )
        return [
            {**row, "events": int(row["events"]), "bytes": int(row["bytes"] or 0)} for row in rows
        ]

    def json_lines(
        self, selection: Selection, warn: Callable[[str], None] | None = None
    ) -> Iterator[bytes]:
        where, params = self._where(selection)
        lines = self.engine.session_json_lines(self.session, where, params, None, warn=warn)
        if lines is not None:
            yield from lines
            return
        query = "SELECT " + EVENT_COLUMNS + " FROM {events} WHERE " + where  # noqa: S608
        chunk: list[str] = []
        for row in self.session.stream(query + " ORDER BY global_position", params, 5000):
            event = RecordedEvent.from_row(row)
            if event.problems and warn is not None:
                warn(event.warning() or "")
            chunk.append(dumps(event.to_dict()))
            if len(chunk) == LINES_PER_CHUNK:
                chunk.append("")
                yield "\n".join(chunk).encode()
                chunk.clear()
        if chunk:
            chunk.append("")
            yield "\n".join(chunk).encode()

    def _exactly(self, events: Sequence[tuple[int, str]]) -> tuple[str, list[Any]]:
        positions, ids = [p for p, _ in events], [i for _, i in events]
        if self.session.backend == "postgresql":
            # Two array parameters: PostgreSQL hashes a constant array (an IN list of
            # parameters is searched linearly for each row: quadratic in the batch size).
            where = "global_position = ANY(CAST(%s AS bigint[])) AND id = ANY(CAST(%s AS uuid[]))"
            return where, [positions, ids]
        # SQLite: `+id` keeps the id list off the id index (it would search every position with
        # every id); the positions are looked up by rowid, and each row's id checked in the list.
        marks = ", ".join(["%s"] * len(events))
        return "global_position IN (" + marks + ") AND +id IN (" + marks + ")", positions + ids

    def stored(self, events: Sequence[tuple[int, str]]) -> int:
        if not events:
            return 0
        where, params = self._exactly(events)
        return int(self.session.fetchval("SELECT count(*) FROM {events} WHERE " + where, params))  # noqa: S608

    def delete_selected(self, selection: Selection, limit: int) -> int:
        where, params = self._where(selection)
        return self.session.execute(
            "DELETE FROM {events} WHERE global_position IN (SELECT global_position "  # noqa: S608
            f"FROM {{events}} WHERE {where} ORDER BY global_position LIMIT %s)",
            [*params, limit],
        )

    def delete_exactly(self, events: Sequence[tuple[int, str]]) -> int:
        if not events:
            return 0
        where, params = self._exactly(events)
        return self.session.execute("DELETE FROM {events} WHERE " + where, params)  # noqa: S608
