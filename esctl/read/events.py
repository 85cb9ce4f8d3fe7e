"""Reading events: one stream, the global log with filters, one event (`read`, `read --all`).

Every function here runs in read-only transactions and streams rows (a server-side cursor on
PostgreSQL, `fetchmany` on SQLite), so reading a million events keeps memory flat."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

from esctl.conditions import Condition, WherePlan
from esctl.encoding import dumps
from esctl.errors import NotFound
from esctl.ports import EventFilter
from esctl.store.base import Store
from esctl.store.lifecycle import stream_admin
from esctl.types import RecordedEvent

__all__ = ["EventFilter", "capped", "event_json_line", "get_event", "read_all", "read_all_json"]
__all__ += ["read_stream", "where_plan"]

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


def _events(events: Iterator[RecordedEvent], warn: Warn) -> Iterator[RecordedEvent]:
    for event in events:
        if event.problems and warn is not None:
            warn(event.warning() or "")
        yield event


# --- events ---------------------------------------------------------------------------------


def read_stream(
    store: Store,
    stream_id: str,
    *,
    from_version: int | None = None,
    limit: int | None = None,
    backwards: bool = False,
    conditions: tuple[Condition, ...] = (),
    warn: Warn = None,
) -> Iterator[RecordedEvent]:
    """The events of one stream in version order (newest first with `backwards`), those matching
    every `--where` condition if given; NotFound (exit 4) when the stream has no events at all."""
    with store.reading() as tx:
        if not tx.log.stream_exists(stream_id):
            from esctl.lifecycle.visibility import stream_not_found

            raise stream_not_found(tx, stream_id)
        events = tx.log.read_stream(
            stream_id,
            from_version=from_version,
            limit=limit,
            backwards=backwards,
            conditions=conditions,
        )
        yield from _events(events, warn)


def _with_position(event_filter: EventFilter | None, from_position: int | None) -> EventFilter:
    event_filter = event_filter or EventFilter()
    if from_position is None:
        return event_filter
    if event_filter.from_position is not None:  # both bounds hold: the higher one
        from_position = max(from_position, event_filter.from_position)
    return replace(event_filter, from_position=from_position)


def read_all(
    store: Store,
    event_filter: EventFilter | None = None,
    *,
    from_position: int | None = None,
    limit: int | None = None,
    warn: Warn = None,
) -> Iterator[RecordedEvent]:
    """The global log in position order, from `from_position` (inclusive), filtered."""
    where = _with_position(event_filter, from_position)
    with store.reading() as tx:
        yield from _events(tx.log.read_all(where, limit=limit), warn)


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
    where = _with_position(event_filter, from_position)
    with store.reading() as tx:
        lines = tx.log.export_json_lines(where, limit=limit, warn=warn)
        if lines is not None:
            yield from lines
            return
        chunk: list[str] = []
        for event in _events(tx.log.read_all(where, limit=limit), warn):
            chunk.append(dumps(event.to_dict()))
            if len(chunk) == 256:
                chunk.append("")
                yield "\n".join(chunk).encode()
                chunk.clear()
        if chunk:
            chunk.append("")
            yield "\n".join(chunk).encode()


def where_plan(store: Store, event_filter: EventFilter) -> WherePlan | None:
    """How the store would run a filtered read of the global log (`-v`): the indexes used and
    the ones that would help; None where the store cannot tell (SQLite)."""
    with store.reading() as tx:
        return tx.log.where_plan(event_filter)


def get_event(store: Store, event_id: str, *, warn: Warn = None) -> RecordedEvent:
    """One event by id; NotFound (exit 4) when there is none."""
    from uuid import UUID

    try:
        key = str(UUID(event_id))
    except ValueError:
        if getattr(store.layout, "event_id_form", None) is None:  # ids of its own (eventsourcing)
            raise NotFound(f"event {event_id!r} not found (not a UUID)") from None
        key = event_id
    with store.reading() as tx:
        event = tx.log.get_event(key)
        admin = stream_admin(tx) if event is None else None
        deleted = admin.deleted_stream_of(key) if admin is not None else None
    if deleted is not None and not store.settings.include_deleted:
        raise NotFound(
            f"event {event_id!r} is in stream {deleted!r}, which is deleted (soft)",
            hint=f"--include-deleted shows it; `esctl streams undelete {deleted} --execute` "
            "restores the stream",
        )
    if event is None:
        raise NotFound(f"event {event_id!r} not found")
    return next(_events(iter([event]), warn))
