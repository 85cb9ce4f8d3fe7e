"""The event log port (esctl.ports.EventLog) on an `eventsourcing` stored-events table.

Read-only: `append` is refused up front (capabilities), and the writes here raise. Commit order
is notification order: the library's recorder takes `LOCK TABLE … IN EXCLUSIVE MODE` before it
draws notification ids and holds it to commit, so an id is committed before the next is drawn
(cursors are `(0, notification_id)`). Type and stream filters are SQL; `--where`, categories and
times are tested in Python on the decoded state (the table has no JSON or time columns)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from esctl.errors import UsageError
from esctl.ports import EventFilter
from esctl.store.eventsourcing_layout.decode import CLASS_SQL, COLUMNS, event, stream_condition
from esctl.types import Cursor, NewEventRow, RecordedEvent, Row, StoredCheckpoint

if TYPE_CHECKING:
    from esctl.conditions import Condition, WherePlan
    from esctl.store.base import Session
    from esctl.store.eventsourcing_layout.tables import Tables

BATCH_SIZE = 2000


def utc_time_or_none(value: Any) -> datetime | None:
    """A stored time as an aware datetime, or None (none, or an odd one)."""
    return value if isinstance(value, datetime) else None


def _in_time(event: RecordedEvent, where: EventFilter) -> bool:
    if where.since is None and where.until is None:
        return True
    created = utc_time_or_none(event.created_at)
    if created is None:
        return False
    if where.since is not None and created < where.since:
        return False
    return not (where.until is not None and created >= where.until)


def refuse_writes() -> UsageError:
    return UsageError(
        "append refused: the eventsourcing layout is read-only for esctl",
        hint="write through the application (its recorder keeps the library's rules)",
    )


class EventsourcingEventLog:
    def __init__(self, session: Session, tables: Tables) -> None:
        self.session = session
        self.table = tables.events_sql

    def _select(self) -> str:
        return f"SELECT {COLUMNS} FROM {self.table} "  # noqa: S608 - quoted identifier

    def _events(self, query: str, params: Sequence[Any]) -> Iterator[RecordedEvent]:
        return (event(row) for row in self.session.stream(query, params, batch_size=BATCH_SIZE))

    # --- reads --------------------------------------------------------------------------------

    def stream_exists(self, stream_id: str) -> bool:
        where, params = stream_condition(stream_id)
        query = f"SELECT 1 FROM {self.table} WHERE {where} LIMIT 1"  # noqa: S608
        return bool(self.session.fetchval(query, params))

    def read_stream(
        self,
        stream_id: str,
        *,
        from_version: int | None = None,
        limit: int | None = None,
        backwards: bool = False,
        conditions: tuple[Condition, ...] = (),
    ) -> Iterator[RecordedEvent]:
        where, params = stream_condition(stream_id)
        query = self._select() + "WHERE " + where
        if from_version is not None:
            query += (
                " AND originator_version <= %s" if backwards else " AND originator_version >= %s"
            )
            params.append(from_version)
        query += " ORDER BY originator_version" + (" DESC" if backwards else "")
        events = self._events(query, params)
        return _limited((e for e in events if all(c.matches(e) for c in conditions)), limit)

    def read_all(self, where: EventFilter, *, limit: int | None = None) -> Iterator[RecordedEvent]:
        query, params = self._all_sql(where)
        events = self._events(query + " ORDER BY notification_id", params)
        return _limited((e for e in events if where.matches(e) and _in_time(e, where)), limit)

    def _all_sql(self, where: EventFilter) -> tuple[str, list[Any]]:
        clauses, params = ["TRUE"], []
        if where.stream_id is not None:
            condition, values = stream_condition(where.stream_id)
            clauses.append(condition)
            params += values
        if where.types:
            clauses.append(f"{CLASS_SQL} = ANY(%s)")
            params.append(list(where.types))
        if where.from_position is not None:
            clauses.append("notification_id >= %s")
            params.append(where.from_position)
        return self._select() + "WHERE " + " AND ".join(clauses), params

    def export_json_lines(
        self,
        where: EventFilter,
        *,
        limit: int | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> Iterator[bytes] | None:
        return None  # rendered by esctl from read_all

    def where_plan(self, where: EventFilter) -> WherePlan | None:
        return None

    def get_event(self, event_id: str) -> RecordedEvent | None:
        stream_id, _, version = event_id.rpartition(":")
        if not stream_id or not version.isdigit():
            return None
        where, params = stream_condition(stream_id)
        row = self.session.fetchone(
            self._select() + f"WHERE {where} AND originator_version = %s", [*params, int(version)]
        )
        return event(row) if row is not None else None

    def stream_ids(self, prefix: str, limit: int) -> list[str]:
        rows = self.session.fetchall(
            f"SELECT DISTINCT CAST(originator_id AS text) AS id FROM {self.table} "  # noqa: S608
            "WHERE CAST(originator_id AS text) >= %s ORDER BY 1 LIMIT %s",
            [prefix, limit],
        )
        return [str(r["id"]) for r in rows]

    def list_streams(
        self,
        *,
        category: str | None = None,
        after: str | None = None,
        limit: int | None = None,
        sort: str = "stream",
        reverse: bool = False,
        sample_percent: float | None = None,
    ) -> Iterator[Row]:
        from esctl.store.eventsourcing_layout.streams import list_streams

        return list_streams(
            self.session,
            self.table,
            category=category,
            after=after,
            limit=limit,
            sort=sort,
            reverse=reverse,
        )

    def stream_summary(self, stream_id: str) -> Row | None:
        from esctl.store.eventsourcing_layout.streams import stream_summary

        return stream_summary(self, stream_id)

    def bounds(self) -> Row:
        head = self.session.fetchval(f"SELECT max(notification_id) FROM {self.table}")  # noqa: S608
        first = next(self.read_all(EventFilter(), limit=1), None)
        last = self.session.fetchone(self._select() + "ORDER BY notification_id DESC LIMIT 1")
        return {
            "head": int(head) if head is not None else None,
            "oldest": first.created_at if first else None,
            "newest": event(last).created_at if last else None,
        }

    def count(self) -> int:
        return int(self.session.fetchval(f"SELECT count(*) FROM {self.table}") or 0)  # noqa: S608

    def count_streams(self) -> int:
        query = f"SELECT count(DISTINCT originator_id) FROM {self.table}"  # noqa: S608
        return int(self.session.fetchval(query) or 0)

    def estimated_counts(self) -> dict[str, int | None] | None:
        return None

    def counts_by_type(self, *, sample_percent: float | None = None) -> list[Row]:
        from esctl.store.eventsourcing_layout.streams import counts_by_type

        return counts_by_type(self.session, self.table)

    def counts_grouped(
        self, by: Sequence[str], *, sample_percent: float | None = None
    ) -> list[Row]:
        from esctl.store.eventsourcing_layout.streams import counts_grouped

        return counts_grouped(self.session, self.table, by)

    def sizes_by_type(self, *, sample_percent: float | None = None) -> list[Row]:
        from esctl.store.eventsourcing_layout.streams import sizes_by_type

        return sizes_by_type(self.session, self.table)

    def relation_sizes(self) -> list[Row]:
        return []

    # --- commit order: notification order (see the module's docstring) ------------------------

    def count_after(
        self, after: Cursor | None = None, upto: Cursor | None = None, *, cap: int | None = None
    ) -> tuple[int, bool]:
        where, params = self._range(after, upto)
        inner = f"SELECT 1 FROM {self.table} WHERE {where}"  # noqa: S608
        if cap is not None:
            inner += " LIMIT %s"
            params.append(cap + 1)
        total = int(self.session.fetchval(f"SELECT count(*) FROM ({inner}) AS n", params) or 0)  # noqa: S608
        if cap is not None and total > cap:
            return cap, True
        return total, False

    def nth_after(
        self,
        index: int,
        *,
        after: Cursor | None = None,
        upto: Cursor | None = None,
        descending: bool = False,
        created_from: datetime | None = None,
    ) -> Cursor | None:
        where, params = self._range(after, upto)
        order = " DESC" if descending else ""
        query = self._select() + f"WHERE {where} ORDER BY notification_id{order}"
        seen = 0
        for found in self._events(query, params):
            if created_from is not None:
                created = utc_time_or_none(found.created_at)
                if created is None or created < created_from:
                    continue
            if seen == index:
                return Cursor(0, found.global_position)
            seen += 1
        return None

    def events_after(self, after: Cursor, limit: int) -> list[RecordedEvent]:
        query = self._select() + "WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
        return [event(r) for r in self.session.fetchall(query, [after.global_position, limit])]

    def cursor_before(self, position: int, *, live: bool = False) -> Cursor:
        return Cursor(0, position)

    def checkpoint_cursor(self, checkpoint: StoredCheckpoint, *, live: bool = False) -> Cursor:
        return Cursor(0, checkpoint.position)

    def _range(self, after: Cursor | None, upto: Cursor | None) -> tuple[str, list[Any]]:
        clauses, params = ["TRUE"], []
        if after is not None:
            clauses.append("notification_id > %s")
            params.append(after.global_position)
        if upto is not None:
            clauses.append("notification_id <= %s")
            params.append(upto.global_position)
        return " AND ".join(clauses), params

    # --- writes: never (append is refused before it starts) -----------------------------------

    def head(self) -> int:
        return int(self.session.fetchval(f"SELECT max(notification_id) FROM {self.table}") or 0)  # noqa: S608

    def append_mark(self) -> int:
        raise refuse_writes()

    def stream_versions(self, stream_ids: Sequence[str]) -> dict[str, int]:
        raise refuse_writes()

    def stored_by_id(self, event_ids: Sequence[str]) -> dict[str, RecordedEvent]:
        raise refuse_writes()

    def append(self, rows: Iterable[NewEventRow]) -> None:
        raise refuse_writes()

    def appended_positions(
        self, since: int, versions: Mapping[str, tuple[int, int]] | None = None
    ) -> dict[str, tuple[int, int]]:
        raise refuse_writes()


def _limited(events: Iterator[RecordedEvent], limit: int | None) -> Iterator[RecordedEvent]:
    for index, item in enumerate(events):
        if limit is not None and index >= limit:
            return
        yield item
