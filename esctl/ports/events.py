"""The event ports: writing, reading, commit order and live reading of the global log (see
`esctl.ports`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from esctl.capabilities import Capabilities as Capabilities
from esctl.capabilities import require as require
from esctl.conditions import Condition, WherePlan
from esctl.types import Cursor, LiveBatch, LiveLines, NewEventRow, RecordedEvent, Row
from esctl.types import SchemaReport as SchemaReport
from esctl.values import category_of

if TYPE_CHECKING:  # the records of checkpoints, leases and snapshots
    from esctl.types import StoredCheckpoint


@dataclass(frozen=True)
class EventFilter:
    """Which events of the global log to read: a stream or a category, event types, a time range,
    positions from one on, `--where` conditions on data and metadata (ANDed). Adapters compile it
    to their query language; features never do."""

    stream_id: str | None = None
    category: str | None = None
    types: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    from_position: int | None = None
    conditions: tuple[Condition, ...] = ()

    def matches(self, event: RecordedEvent) -> bool:
        """The stream, category, type and `--where` test in Python (for rows a live reader
        fetched without the store's condition); the same answer as the store's query."""
        if self.stream_id is not None and event.stream_id != self.stream_id:
            return False
        if self.category is not None and category_of(event.stream_id) != self.category:
            return False
        if self.types and event.event_type not in self.types:
            return False
        return all(condition.matches(event) for condition in self.conditions)


# --- The event log: commit order, writes, reads --------------------------------------------------


class CommitOrder(Protocol):
    """The log in commit order, `(transaction_id, global_position)`, inside one transaction: what
    checkpoints, moves and consumers count and step through. Cursors are `esctl.types.Cursor`;
    None for `after`/`upto` means no bound. (The head it counts up to is `EventLog.head`.)"""

    def count_after(
        self, after: Cursor | None = None, upto: Cursor | None = None, *, cap: int | None = None
    ) -> tuple[int, bool]:
        """Events after `after` and at or before `upto`, counted up to `cap`: (count, True)
        when the cap was reached (the count is then the cap)."""
        ...

    def nth_after(
        self,
        index: int,
        *,
        after: Cursor | None = None,
        upto: Cursor | None = None,
        descending: bool = False,
        created_from: datetime | None = None,
    ) -> Cursor | None:
        """The cursor of the `index`-th (from 0) event of the range (backwards if `descending`),
        only events created at or after `created_from` if given; None when there are fewer."""
        ...

    def events_after(self, after: Cursor, limit: int) -> list[RecordedEvent]:
        """The first `limit` events after `after`, in commit order."""
        ...

    def cursor_before(self, position: int, *, live: bool = False) -> Cursor:
        """The highest cursor every event at a position above `position` still sorts after
        (`live`: also below the visibility horizon, for a reader starting there)."""
        ...

    def checkpoint_cursor(self, checkpoint: StoredCheckpoint, *, live: bool = False) -> Cursor:
        """The cursor a stored checkpoint stands for (at-least-once for position-only rows)."""
        ...


class EventWrites(Protocol):
    """What appending asks of the event log, inside one read-write transaction: the versions and
    stored ids it decides on, then its rows in bulk. The store's unique constraints (event id;
    stream and version) are the arbiters: a row that loses a race raises Conflict."""

    def head(self) -> int:
        """The highest global position this transaction sees (0 for an empty store)."""
        ...

    def append_mark(self) -> int:
        """Taken before appending: the `since` of `appended_positions` (may cost no query)."""
        ...

    def stream_versions(self, stream_ids: Sequence[str]) -> dict[str, int]:
        """The current version of each stream that exists (a stream without events is absent)."""
        ...

    def stored_by_id(self, event_ids: Sequence[str]) -> dict[str, RecordedEvent]:
        """The stored events among `event_ids`, by event id (an id not stored is absent)."""
        ...

    def append(self, rows: Iterable[NewEventRow]) -> None:
        """Insert new events, streamed in bulk (the caller assigned versions; `created_at` None is
        now); a unique violation raises Conflict (exit 3)."""
        ...

    def appended_positions(
        self, since: int, versions: Mapping[str, tuple[int, int]] | None = None
    ) -> dict[str, tuple[int, int]]:
        """First and last global position, per stream, of the events this transaction appended;
        `since` is `append_mark()` before appending. `versions`, when the caller knows them: the
        first and last version each stream got in this transaction (a layout may then look the
        positions up by stream and version, two index probes a stream, instead of reading every
        row the transaction wrote)."""
        ...


class EventReads(Protocol):
    """The read side of the event log, inside one (read-only) transaction. Every read streams:
    iterate it inside the transaction."""

    def stream_exists(self, stream_id: str) -> bool: ...

    def read_stream(
        self,
        stream_id: str,
        *,
        from_version: int | None = None,
        limit: int | None = None,
        backwards: bool = False,
        conditions: tuple[Condition, ...] = (),
    ) -> Iterator[RecordedEvent]:
        """A stream's events in version order (newest first with `backwards`), matching."""
        ...

    def read_all(self, where: EventFilter, *, limit: int | None = None) -> Iterator[RecordedEvent]:
        """The global log in position order, filtered."""
        ...

    def export_json_lines(
        self,
        where: EventFilter,
        *,
        limit: int | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> Iterator[bytes] | None:
        """`read_all` as UTF-8 JSON lines rendered by the server (chunks of whole lines, byte for
        byte what esctl renders), or None when the layout leaves rendering to the caller."""
        ...

    def where_plan(self, where: EventFilter) -> WherePlan | None:
        """How `read_all(where)` would run (`-v`): indexes used and wanted; None if unknown."""
        ...

    def get_event(self, event_id: str) -> RecordedEvent | None: ...

    def stream_ids(self, prefix: str, limit: int) -> list[str]:
        """Up to `limit` stream ids from `prefix` on, in order."""
        ...

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
        """Streams (with data_bytes, metadata_bytes, bytes) in id order after `after`, or ranked
        by `sort` (events, size, last; largest first unless `reverse`), over a sample if asked."""
        ...

    def stream_summary(self, stream_id: str) -> Row | None:
        """stream_type, version, events, first_at, last_at, counts_by_type, snapshot_version;
        None when the stream has no events."""
        ...

    def bounds(self) -> Row:
        """head (None when empty), oldest and newest created_at."""
        ...

    def count(self) -> int: ...

    def count_streams(self) -> int: ...

    def estimated_counts(self) -> dict[str, int | None] | None:
        """Cheap estimates of `events` and `streams`, or None where there are none."""
        ...

    def counts_by_type(self, *, sample_percent: float | None = None) -> list[Row]:
        """(category, event_type, n) rows in order, over a sample of the log if asked."""
        ...

    def sizes_by_type(self, *, sample_percent: float | None = None) -> list[Row]: ...

    def relation_sizes(self) -> list[Row]: ...  # tables' bytes on disk, where known


class GroupedCounts(Protocol):
    """What an event log may also do for `stats --by` (looked up on `tx.log`, so a layout that
    lacks it still works: its counts by category and type are regrouped, and by stream it is
    refused). Kept out of EventLog for that reason."""

    def counts_grouped(
        self, by: Sequence[str], *, sample_percent: float | None = None
    ) -> list[Row]:
        """Events counted by `by` (each of `category`, `event_type`, `stream_id`): rows with
        those keys and `n`, ordered by them in that order (the store's collation)."""
        ...


class EventLog(EventReads, EventWrites, CommitOrder, Protocol):
    """The events of a store, inside one transaction: its reads, its writes, and its commit order."""


class Live(Protocol):
    """Commit-ordered live reading (tail, consumers): outside a caller's transaction."""

    def head(self) -> Cursor:
        """The cursor of the last event committed below the horizon (where `tail` starts)."""
        ...

    def batch(self, after: Cursor, where: EventFilter, limit: int) -> LiveBatch:
        """Up to `limit` matching events committed after `after`, in commit order, only events no
        concurrent transaction can still precede (rows as `RecordedEvent.from_row` takes them)."""
        ...

    def lines(self, after: Cursor, where: EventFilter, limit: int) -> LiveLines | None:
        """`batch`, rendered by the store as JSON lines (byte for byte what esctl renders), with
        the same cursor and horizon; None when the layout leaves rendering to the caller, or for
        a batch it cannot render as it is (a row that needs a warning): the caller reads that
        batch with `batch` instead."""
        ...

    def wait_for_change(self, timeout: float) -> None:
        """Block until new events may be there (NOTIFY) or `timeout` seconds pass."""
        ...

    def stop(self) -> None:
        """Close what `wait_for_change` opened."""
        ...
