"""`esctl trace ID`: every event that shares a correlation id, as a causation tree across streams.

ID is an event id (its correlation id is followed; an event without one is the root of the
events that name it as their correlation id) or a correlation id. Events are found with a
`--where`-style equality on metadata, so on PostgreSQL a GIN index on `metadata` serves it; a
parent is the event whose id is the child's causation id. An event whose parent is not among
them (not stored, or beyond `limit`) is a root with a note; a causation cycle (bad data) is cut
where it closes, never followed forever."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from esctl.conditions import Condition, WherePlan
from esctl.errors import NotFound
from esctl.ports import EventFilter
from esctl.store.base import Store
from esctl.types import RecordedEvent

DEFAULT_KEYS = ("correlation_id", "causation_id")
DEFAULT_LIMIT = 1000


@dataclass(frozen=True)
class TracedEvent:
    """One event in the tree: its parent's id (None for a root), depth (0 for a root), the
    seconds since its parent, and a note when it is a root only because its parent is missing."""

    event: RecordedEvent
    parent_event_id: str | None
    depth: int
    since_parent: float | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The event's JSON object plus `parent_event_id`, `depth`, `since_parent_seconds`, `note`."""
        return {
            **self.event.to_dict(),
            "parent_event_id": self.parent_event_id,
            "depth": self.depth,
            "since_parent_seconds": self.since_parent,
            "note": self.note,
        }


@dataclass
class Trace:
    """The events of one correlation id in tree order (each root, then its children, by
    position), whether `limit` cut them, and (PostgreSQL) how the store found them."""

    correlation_id: Any
    events: list[TracedEvent] = field(default_factory=list)
    cut: bool = False
    plan: WherePlan | None = None

    def children(self) -> dict[str | None, list[TracedEvent]]:
        """Events by their parent's id (None: the roots), in tree order."""
        by_parent: dict[str | None, list[TracedEvent]] = {}
        for traced in self.events:
            by_parent.setdefault(traced.parent_event_id, []).append(traced)
        return by_parent


def _path(key: str) -> tuple[str, ...]:
    from esctl.conditions import parse_condition

    # A trace key is a `--where` path inside metadata (validated the same way).
    return parse_condition(f"metadata.{key}=x").path


def _lookup(metadata: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(metadata, dict) or key not in metadata:
            return None
        metadata = metadata[key]
    return metadata


def _equal(path: tuple[str, ...], value: Any) -> Condition:
    if isinstance(value, bool):
        kind = "boolean"
    elif isinstance(value, int | float):
        kind = "number"
    else:
        kind = "string"
    return Condition("metadata", path, "=", value, kind)  # type: ignore[arg-type]


def _seconds(child: RecordedEvent, parent: RecordedEvent) -> float | None:
    if isinstance(child.created_at, datetime) and isinstance(parent.created_at, datetime):
        return (child.created_at - parent.created_at).total_seconds()
    return None


def trace(
    store: Store,
    identifier: str,
    *,
    keys: tuple[str, str] = DEFAULT_KEYS,
    limit: int | None = DEFAULT_LIMIT,
    explain: bool = True,
) -> Trace:
    """The causation tree of `identifier` (an event id or a correlation id); NotFound (exit 4)
    when no event has it."""
    from uuid import UUID

    correlation, causation = _path(keys[0]), _path(keys[1])
    start: RecordedEvent | None = None
    with store.reading() as tx:
        try:
            start = tx.log.get_event(str(UUID(identifier)))
        except ValueError:
            start = None
        value: Any = identifier
        if start is not None:
            value = _lookup(start.metadata, correlation)
            if value is None or isinstance(value, dict | list):
                value = start.event_id  # a root that does not carry its own id
        where = EventFilter(conditions=(_equal(correlation, value),))
        fetch = limit + 1 if limit is not None else None
        found = list(tx.log.read_all(where, limit=fetch))
        plan = tx.log.where_plan(where) if explain else None
    result = Trace(value, plan=plan)
    if limit is not None and len(found) > limit:
        found, result.cut = found[:limit], True
    if start is not None and all(e.event_id != start.event_id for e in found):
        found = sorted([*found, start], key=lambda e: e.global_position)
    if not found:
        raise NotFound(
            f"no event has id or {'.'.join(correlation)} {identifier!r}",
            hint="give an event id or a correlation id (trace_keys: in the profile names the "
            "metadata keys)",
        )
    result.events = list(_tree(found, causation))
    return result


def _tree(events: list[RecordedEvent], causation: tuple[str, ...]) -> Iterator[TracedEvent]:
    """Events in tree order: roots by position, each followed by its children's subtrees."""
    by_id = {e.event_id: e for e in events}
    parents: dict[str, str | None] = {}
    for event in events:
        cause = _lookup(event.metadata, causation)
        cause = str(cause) if cause is not None else None
        parents[event.event_id] = cause if cause != event.event_id else None
    children: dict[str, list[RecordedEvent]] = {}
    roots: list[tuple[RecordedEvent, str | None]] = []
    for event in events:
        parent = parents[event.event_id]
        if parent is not None and parent in by_id:
            children.setdefault(parent, []).append(event)
        else:
            note = None if parent is None else f"parent {parent} not found"
            roots.append((event, note))
    seen: set[str] = set()

    def walk(root: RecordedEvent, note: str | None) -> Iterator[TracedEvent]:
        # Iterative: a causation chain may be deeper than Python's recursion limit.
        stack: list[tuple[RecordedEvent, RecordedEvent | None, int]] = [(root, None, 0)]
        while stack:
            event, parent, depth = stack.pop()
            if event.event_id in seen:
                continue
            seen.add(event.event_id)
            yield TracedEvent(
                event,
                parent.event_id if parent is not None else None,
                depth,
                _seconds(event, parent) if parent is not None else None,
                note if parent is None else None,
            )
            for child in reversed(children.get(event.event_id, [])):
                if child.event_id not in seen:
                    stack.append((child, event, depth + 1))

    for root, note in roots:
        yield from walk(root, note)
    # What no root reaches is a causation cycle: each one is shown from its first event.
    for event in events:
        if event.event_id not in seen:
            yield from walk(event, "in a causation cycle")
