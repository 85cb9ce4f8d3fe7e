"""The snapshots port (esctl.ports.Snapshots) on `snapshots`, and the replay pass over `events`.

The replay is one query ordered by (stream_id, version) through a server-side cursor, joined to
each stream's stored snapshot: the join brings the stored version on every row and the stored
state on the row whose version it is, so nothing is fetched per stream or per event."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from esctl.store.esctl_layout.commit_order import engine_of
from esctl.types import RecordedEvent, ReplayRow, Row, Snapshot, StreamSelection
from esctl.values import json_value, stored_time

if TYPE_CHECKING:
    from esctl.store.base import Session

_SELECT = (
    "SELECT s.stream_id, s.stream_type, s.version, s.snapshot_data, s.created_at, "
    "(SELECT max(e.version) FROM {events} e WHERE e.stream_id = s.stream_id) AS stream_version "
    "FROM {snapshots} s"
)

_REPLAY = (
    "SELECT e.global_position, e.stream_id, e.stream_type, e.version, e.event_type, e.id, "
    "e.event_data, e.metadata, e.created_at, s.version AS stored_version, "
    "CASE WHEN s.version = e.version THEN s.snapshot_data END AS stored_state "
    "FROM {events} e LEFT JOIN {snapshots} s ON s.stream_id = e.stream_id"
)

# Overwrites only an older snapshot, or one above the stream's last event (which no correct writer
# makes): a newer snapshot written while the rebuild ran is kept.
_UPSERT = (
    "INSERT INTO {snapshots} AS s (stream_id, stream_type, snapshot_data, version, created_at) "
    "VALUES (%s, %s, %s, %s, %s) "
    "ON CONFLICT (stream_id) DO UPDATE SET stream_type = excluded.stream_type, "
    "snapshot_data = excluded.snapshot_data, version = excluded.version, "
    "created_at = excluded.created_at "
    "WHERE s.version <= excluded.version OR s.version > "
    "(SELECT coalesce(max(e.version), 0) FROM {events} e WHERE e.stream_id = excluded.stream_id)"
)


def _snapshot(row: Row) -> Snapshot:
    stream_version = row.get("stream_version")
    return Snapshot(
        stream_id=row["stream_id"],
        stream_type=row["stream_type"],
        version=int(row["version"]),
        snapshot_data=json_value(row["snapshot_data"]),
        created_at=stored_time(row["created_at"]),
        stream_version=int(stream_version) if stream_version is not None else None,
    )


def _visible(alias: str) -> str:
    """The rows of `alias` (events `e`, snapshots `s`) whose stream is not soft-deleted (`streams
    delete`): what is shown unless `--include-deleted`."""
    return f"{alias}.stream_id NOT IN (SELECT d.stream_id FROM {{tombstones}} d)"  # noqa: S608 - a fixed alias


_VISIBLE, _SNAPSHOT_VISIBLE = _visible("e"), _visible("s")


def _where(selection: StreamSelection, *, hide_deleted: bool) -> tuple[str, list[Any]]:
    """A WHERE clause on `{events} e` (empty for all streams) and its parameters."""
    visible = " AND " + _VISIBLE if hide_deleted else ""
    if selection.stream_ids:
        marks = ", ".join(["%s"] * len(selection.stream_ids))
        return f" WHERE e.stream_id IN ({marks}){visible}", list(selection.stream_ids)
    if selection.stream_type is not None:
        # Streams of that type, replayed whole: an event of another type in the same stream
        # (the seed's schema allows it) must not go missing from the snapshot.
        return (
            " WHERE e.stream_id IN (SELECT t.stream_id FROM {events} t WHERE t.stream_type = %s)"  # noqa: S608 - fixed fragments
            + visible,
            [selection.stream_type],
        )
    return (" WHERE " + _VISIBLE if hide_deleted else ""), []


class EsctlSnapshots:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _where(self, selection: StreamSelection) -> tuple[str, list[Any]]:
        return _where(selection, hide_deleted=self._hidden())

    def _hidden(self) -> bool:
        """Whether soft-deleted streams are left out (unless `--include-deleted`)."""
        return not engine_of(self.session).settings.include_deleted

    def all(
        self, *, stream_type: str | None = None, limit: int | None = None
    ) -> Iterator[Snapshot]:
        query = _SELECT
        params: list[Any] = []
        where = [_SNAPSHOT_VISIBLE] if self._hidden() else []
        if stream_type is not None:
            where.append("s.stream_type = %s")
            params.append(stream_type)
        if where:
            query += " WHERE " + " AND ".join(where)
        query += " ORDER BY s.stream_id"
        if limit is not None:
            query += " LIMIT %s"
            params.append(limit)
        for row in self.session.stream(query, params):
            yield _snapshot(row)

    def get(self, stream_id: str) -> Snapshot | None:
        visible = " AND " + _SNAPSHOT_VISIBLE if self._hidden() else ""
        row = self.session.fetchone(_SELECT + " WHERE s.stream_id = %s" + visible, [stream_id])
        return None if row is None else _snapshot(row)

    def stream_exists(self, stream_id: str) -> bool:
        visible = " AND " + _VISIBLE if self._hidden() else ""
        found = self.session.fetchval(
            "SELECT 1 FROM {events} e WHERE e.stream_id = %s" + visible + " LIMIT 1",  # noqa: S608 - fixed fragments
            [stream_id],
        )
        return bool(found)

    def streams_with_events(self, selection: StreamSelection) -> set[str]:
        where, params = self._where(selection)
        query = f"SELECT DISTINCT e.stream_id FROM {{events}} e{where}"  # noqa: S608 - placeholders only
        rows = self.session.fetchall(query, params)
        return {row["stream_id"] for row in rows}

    def count_streams(self, selection: StreamSelection) -> int:
        where, params = self._where(selection)
        query = f"SELECT count(DISTINCT e.stream_id) FROM {{events}} e{where}"  # noqa: S608 - placeholders only
        return int(self.session.fetchval(query, params) or 0)

    def replay_rows(self, selection: StreamSelection) -> Iterator[ReplayRow]:
        where, params = self._where(selection)
        query = _REPLAY + where + " ORDER BY e.stream_id, e.version"
        for row in self.session.stream(query, params):
            stored = row["stored_version"]
            yield ReplayRow(
                RecordedEvent.from_row(row),
                int(stored) if stored is not None else None,
                json_value(row["stored_state"]),
            )

    def without_events(self, stream_type: str | None = None) -> Iterator[Snapshot]:
        query = (
            "SELECT s.stream_id, s.stream_type, s.version, s.snapshot_data, s.created_at "
            "FROM {snapshots} s WHERE NOT EXISTS "
            "(SELECT 1 FROM {events} e WHERE e.stream_id = s.stream_id)"
        )
        params: list[Any] = []
        if stream_type is not None:
            query += " AND s.stream_type = %s"
            params.append(stream_type)
        for row in self.session.stream(query + " ORDER BY s.stream_id", params):
            yield _snapshot(row)

    def upsert_if_newer(
        self, stream_id: str, stream_type: str, version: int, state: Any, created_at: datetime
    ) -> bool:
        session = self.session
        changed = session.execute(
            _UPSERT,
            [
                stream_id,
                stream_type,
                session.json_param(state),
                version,
                session.time_param(created_at),
            ],
        )
        return changed > 0
