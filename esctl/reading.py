"""Reading the store: one stream, the global log with filters, one event, streams and statistics.

Every function here runs in read-only transactions and streams rows (a server-side cursor on
PostgreSQL, `fetchmany` on SQLite), so reading a million events keeps memory flat."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from esctl.encoding import dumps
from esctl.errors import NotFound
from esctl.store.base import EVENT_COLUMNS, Row, Session, Store
from esctl.types import RecordedEvent
from esctl.values import StoredTime, category_of, stored_time, time_json

BATCH_SIZE = 5000

# Where readers say that a row cannot go back through `esctl append` unchanged (a warning on
# stderr naming its global position); None: nowhere.
Warn = Callable[[str], None] | None


MAX_WARNINGS = 20


def capped(warn: Callable[[str], None], limit: int = MAX_WARNINGS) -> Callable[[str], None]:
    """`warn` for the first `limit` odd rows, then once that the rest are not named."""
    count = 0

    def capped_warn(message: str) -> None:
        nonlocal count
        count += 1
        if count <= limit:
            warn(message)
        elif count == limit + 1:
            warn(f"more events cannot be appended as they are; only the first {limit} are named")

    return capped_warn


def _events(rows: Iterator[Row], warn: Warn) -> Iterator[RecordedEvent]:
    for row in rows:
        event = RecordedEvent.from_row(row)
        if event.problems and warn is not None:
            warn(event.warning() or "")
        yield event


# --- filters --------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventFilter:
    """Which events of the global log to read: a stream or a category, event types, a time range.

    `where()` is the SQL condition (with `%s` placeholders) shared by `read --all` and `tail`."""

    stream_id: str | None = None
    category: str | None = None
    types: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    from_position: int | None = None

    def where(self, time_param: Callable[[datetime], Any] | None = None) -> tuple[str, list[Any]]:
        """The condition and its parameters; `time_param` is the session's (for since/until)."""
        bind = time_param or (lambda value: value)
        parts: list[str] = []
        params: list[Any] = []
        if self.stream_id is not None:
            parts.append("stream_id = %s")
            params.append(self.stream_id)
        if self.category is not None:
            # The category is the stream id up to its first `-`; substr, not LIKE, because
            # SQLite's LIKE ignores case and `_`/`%` in a category are data.
            prefix = self.category + "-"
            parts.append("(stream_id = %s OR substr(stream_id, 1, %s) = %s)")
            params += [self.category, len(prefix), prefix]
        if self.types:
            parts.append("event_type IN (" + ", ".join(["%s"] * len(self.types)) + ")")
            params += list(self.types)
        if self.since is not None:
            parts.append("created_at >= %s")
            params.append(bind(self.since))
        if self.until is not None:
            parts.append("created_at < %s")
            params.append(bind(self.until))
        if self.from_position is not None:
            parts.append("global_position >= %s")
            params.append(self.from_position)
        return (" AND ".join(parts) or "1 = 1"), params

    def matches(self, event: RecordedEvent) -> bool:
        """The same test in Python (for rows a live reader fetched without the SQL condition)."""
        if self.stream_id is not None and event.stream_id != self.stream_id:
            return False
        if self.category is not None and category_of(event.stream_id) != self.category:
            return False
        return not self.types or event.event_type in self.types


# --- events ---------------------------------------------------------------------------------

SELECT_EVENTS = "SELECT " + EVENT_COLUMNS + " FROM {events} "  # noqa: S608


def stream_exists(session: Session, stream_id: str) -> bool:
    return bool(
        session.fetchval("SELECT 1 FROM {events} WHERE stream_id = %s LIMIT 1", [stream_id])
    )


def read_stream(
    store: Store,
    stream_id: str,
    *,
    from_version: int | None = None,
    limit: int | None = None,
    backwards: bool = False,
    warn: Warn = None,
) -> Iterator[RecordedEvent]:
    """The events of one stream in version order (newest first with `backwards`); NotFound (exit 4)
    when the stream has no events at all."""
    with store.reading() as session:
        if not stream_exists(session, stream_id):
            raise NotFound(
                f"stream {stream_id!r} not found",
                hint="`esctl streams list` shows the streams in the store",
            )
        query = SELECT_EVENTS + "WHERE stream_id = %s"
        params: list[Any] = [stream_id]
        if from_version is not None:
            query += " AND version <= %s" if backwards else " AND version >= %s"
            params.append(from_version)
        query += " ORDER BY version DESC" if backwards else " ORDER BY version"
        if limit is not None:
            query += " LIMIT %s"
            params.append(limit)
        yield from _events(session.stream(query, params, batch_size=BATCH_SIZE), warn)


def _all_query(
    session: Session, event_filter: EventFilter, from_position: int | None, limit: int | None
) -> tuple[str, list[Any]]:
    where, params = event_filter.where(session.time_param)
    if from_position is not None:
        where += " AND global_position >= %s"
        params.append(from_position)
    query = "FROM {events} WHERE " + where + " ORDER BY global_position"
    if limit is not None:
        query += " LIMIT %s"
        params.append(limit)
    return query, params


def read_all(
    store: Store,
    event_filter: EventFilter | None = None,
    *,
    from_position: int | None = None,
    limit: int | None = None,
    warn: Warn = None,
) -> Iterator[RecordedEvent]:
    """The global log in position order, from `from_position` (inclusive), filtered."""
    with store.reading() as session:
        query, params = _all_query(session, event_filter or EventFilter(), from_position, limit)
        rows = session.stream(
            "SELECT " + EVENT_COLUMNS + " " + query, params, batch_size=BATCH_SIZE
        )
        yield from _events(rows, warn)


def event_json_line(event: RecordedEvent) -> str:
    """One event as its JSON line (without the newline): the bytes every command prints for it."""
    return dumps(event.to_dict())


def read_all_json(
    store: Store,
    event_filter: EventFilter | None = None,
    *,
    from_position: int | None = None,
    limit: int | None = None,
    warn: Warn = None,
) -> Iterator[bytes]:
    """Like `read_all`, as UTF-8 JSON lines in chunks of whole lines (the `-o jsonl` fast path:
    rendered by the server where the backend can, byte for byte as `event_json_line`)."""
    event_filter = event_filter or EventFilter()
    with store.reading() as session:
        where, params = event_filter.where(session.time_param)
    if from_position is not None:
        where += " AND global_position >= %s"
        params.append(from_position)
    lines = store.event_json_lines(where, params, limit, warn=warn)
    if lines is not None:
        yield from lines
        return
    chunk: list[str] = []
    for event in read_all(store, event_filter, from_position=from_position, limit=limit, warn=warn):
        chunk.append(dumps(event.to_dict()))
        if len(chunk) == 256:
            chunk.append("")
            yield "\n".join(chunk).encode()
            chunk.clear()
    if chunk:
        chunk.append("")
        yield "\n".join(chunk).encode()


def get_event(store: Store, event_id: str, *, warn: Warn = None) -> RecordedEvent:
    """One event by id; NotFound (exit 4) when there is none."""
    from uuid import UUID

    try:
        key = str(UUID(event_id))
    except ValueError:
        raise NotFound(f"event {event_id!r} not found (not a UUID)") from None
    with store.reading() as session:
        row = session.fetchone(SELECT_EVENTS + "WHERE id = %s", [key])
    if row is None:
        raise NotFound(f"event {event_id!r} not found")
    return next(_events(iter([row]), warn))


# --- streams --------------------------------------------------------------------------------


def list_streams(
    store: Store, *, category: str | None = None, after: str | None = None, limit: int | None = None
) -> Iterator[Row]:
    """Streams in id order, one page after `after`: keyset pagination over the
    `(stream_id, version)` index, so a page reads only its own streams' events."""
    conditions: list[str] = []
    params: list[Any] = []
    if after is not None:
        conditions.append("stream_id > %s")
        params.append(after)
    if category is not None:
        prefix = category + "-"
        # A lower bound the index can start from, then the exact category test.
        conditions.append("stream_id >= %s")
        conditions.append("(stream_id = %s OR substr(stream_id, 1, %s) = %s)")
        params += [category, category, len(prefix), prefix]
    where = ("WHERE " + " AND ".join(conditions)) if conditions else ""
    query = (
        "SELECT stream_id, min(stream_type) AS stream_type, max(version) AS version, "  # noqa: S608
        "count(*) AS events, max(created_at) AS last_event_at FROM {events} "
        + where
        + " GROUP BY stream_id ORDER BY stream_id"
    )
    if limit is not None:
        query += " LIMIT %s"
        params.append(limit)
    with store.reading() as session:
        for row in session.stream(query, params, batch_size=1000):
            yield {**row, "last_event_at": stored_time(row["last_event_at"])}


@dataclass
class StreamInfo:
    """What `streams show` prints."""

    stream_id: str
    stream_type: str
    version: int
    events: int
    first_event_at: StoredTime
    last_event_at: StoredTime
    counts_by_type: dict[str, int] = field(default_factory=dict)
    snapshot_version: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "stream_id": self.stream_id,
            "stream_type": self.stream_type,
            "category": category_of(self.stream_id),
            "version": self.version,
            "events": self.events,
            "first_event_at": time_json(self.first_event_at),
            "last_event_at": time_json(self.last_event_at),
            "counts_by_type": self.counts_by_type,
            "snapshot_version": self.snapshot_version,
        }


def show_stream(store: Store, stream_id: str) -> StreamInfo:
    """Version, counts by type, first and last time and snapshot version of one stream."""
    with store.reading() as session:
        summary = session.fetchone(
            "SELECT min(stream_type) AS stream_type, max(version) AS version, count(*) AS events, "
            "min(created_at) AS first_at, max(created_at) AS last_at FROM {events} "
            "WHERE stream_id = %s",
            [stream_id],
        )
        if summary is None or not summary["events"]:
            raise NotFound(
                f"stream {stream_id!r} not found",
                hint="`esctl streams list` shows the streams in the store",
            )
        by_type = session.fetchall(
            "SELECT event_type, count(*) AS n FROM {events} WHERE stream_id = %s "
            "GROUP BY event_type ORDER BY count(*) DESC, event_type",
            [stream_id],
        )
        snapshot = session.fetchval(
            "SELECT version FROM {snapshots} WHERE stream_id = %s", [stream_id]
        )
    return StreamInfo(
        stream_id=stream_id,
        stream_type=summary["stream_type"],
        version=int(summary["version"]),
        events=int(summary["events"]),
        first_event_at=stored_time(summary["first_at"]),
        last_event_at=stored_time(summary["last_at"]),
        counts_by_type={r["event_type"]: int(r["n"]) for r in by_type},
        snapshot_version=int(snapshot) if snapshot is not None else None,
    )
