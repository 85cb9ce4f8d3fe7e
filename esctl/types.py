"""The value types of esctl, at the ground floor: events as stored, new-event rows, cursors of the
commit-ordered log, live batches, schema reports and node status. This module imports nothing from
esctl but `esctl.values` (the decoders of stored values, also ground floor); every layer above uses
these types, so no lower module ever needs a higher one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from esctl.values import (
    EventDict,
    JSONText,
    StoredTime,
    _text,
    category_of,
    created_at_problem,
    decode_json,
    odd_row_warning,
    parse_time,
    stored_time,
    time_json,
    value_problems,
)

Row = dict[str, Any]

# The schema version this esctl writes; `init` migrates older stores up to it.
SCHEMA_VERSION = 5


def iso_time(value: datetime) -> str:
    """ISO 8601 in UTC with a `Z` (a naive time is taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- events ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedEvent:
    """An event as stored. `to_dict()` is the output format of `-o json`/`-o jsonl`, which is also
    valid input for `esctl append` unless `problems` says why not."""

    global_position: int
    stream_id: str
    stream_type: str
    version: int
    event_type: str
    event_id: str
    data: Any
    metadata: Any
    created_at: StoredTime
    transaction_id: int | None = field(default=None, compare=False)
    data_json: JSONText | None = field(default=None, compare=False, repr=False)
    metadata_json: JSONText | None = field(default=None, compare=False, repr=False)
    problems: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> RecordedEvent:
        """Build from a row with the keys of `esctl.store.base.EVENT_COLUMNS` (plus, optionally,
        `transaction_id`); a layout's adapter maps its own columns to these keys."""
        transaction_id = row.get("transaction_id")
        problems: list[str] = []
        data, data_json, problem = decode_json(row["event_data"])
        if problem:
            problems.append(f"data {problem}")
        if row["metadata"] is None:  # SQL NULL: no metadata, as `{}` (what append stores)
            metadata: Any = {}
            metadata_json = JSONText("{}")
        else:
            metadata, metadata_json, problem = decode_json(row["metadata"])
            if problem:
                problems.append(f"metadata {problem}")
        if not problems:  # text that is not JSON is already named
            problems += value_problems(data, metadata)
        stream_id, stream_type = _text(row["stream_id"]), _text(row["stream_type"])
        event_type = _text(row["event_type"])
        for name, text in (("stream_id", stream_id), ("stream_type", stream_type)):
            if "\x00" in text:
                problems.append(f"{name} holds a NUL (append refuses it)")
        if "\x00" in event_type or not event_type.strip():
            problems.append("event_type is empty or holds a NUL (append refuses it)")
        created_at = stored_time(row["created_at"])
        time_problem = created_at_problem(created_at)
        if time_problem:
            problems.append(time_problem)
        return cls(
            global_position=int(row["global_position"]),
            stream_id=stream_id,
            stream_type=stream_type,
            version=int(row["version"]),
            event_type=event_type,
            event_id=_text(row["id"]),
            data=data,
            metadata=metadata,
            created_at=created_at,
            transaction_id=int(transaction_id) if transaction_id is not None else None,
            data_json=data_json,
            metadata_json=metadata_json,
            problems=tuple(problems),
        )

    @property
    def category(self) -> str:
        return category_of(self.stream_id)

    def to_dict(self) -> EventDict:
        texts = {}
        if self.data_json is not None:
            texts["data"] = self.data_json
        if self.metadata_json is not None:
            texts["metadata"] = self.metadata_json
        values = {
            "global_position": self.global_position,
            "stream_id": self.stream_id,
            "stream_type": self.stream_type,
            "version": self.version,
            "event_type": self.event_type,
            "event_id": self.event_id,
            "data": self.data,
            "metadata": self.metadata,
            "created_at": time_json(self.created_at),
        }
        return EventDict(values, texts)

    def warning(self) -> str | None:
        """The warning readers print for this event, or None."""
        return odd_row_warning(self.global_position, self.problems)


class NewEventRow(NamedTuple):
    """A new event as the event log's `append` takes it. `data` and `metadata` are JSON objects,
    or their compact JSON text (what `esctl append` passes: it encoded them once while
    validating); `created_at` None means now."""

    event_id: str
    stream_id: str
    stream_type: str
    event_type: str
    data: str | dict[str, Any]
    metadata: str | dict[str, Any]
    version: int
    created_at: datetime | None = None


# --- the commit-ordered log ------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Cursor:
    """A place in the log in commit order: `(transaction_id, global_position)`.

    On PostgreSQL, BIGSERIAL positions can become visible out of order, so live readers order by
    the writing transaction's id first and read only below `pg_snapshot_xmin(pg_current_snapshot())`.
    Rows written before `esctl init` added the column have a NULL transaction_id: they count as
    committed long ago and sort first, as transaction id 0. On SQLite, writers are serialised and
    `transaction_id` is always NULL (0), so position order is commit order. A checkpoint stores a
    cursor as (`last_transaction_id`, `last_position`).

    Conceptually the order is `(coalesce(transaction_id, 0), global_position)`. In SQL, use the
    store's primitives instead (`Store.commit_order_slices`, `Store.live_batch`): on PostgreSQL
    `xid8` does not mix with integers, and coalesce() would hide the
    `(transaction_id, global_position)` index, so the NULL rows are read as a slice of their own.
    """

    transaction_id: int = 0
    global_position: int = 0

    @classmethod
    def after(cls, event: RecordedEvent) -> Cursor:
        """The cursor just past `event`."""
        return cls(event.transaction_id or 0, event.global_position)


START = Cursor(0, 0)


class LiveBatch(NamedTuple):
    """What one live read returns (see `Store.live_batch`)."""

    rows: list[Row]
    # Every committed event up to here has been considered (matching or not).
    scanned_to: Cursor
    # Commits exist that the horizon does not release yet (an older transaction is still open).
    pending: bool


class LiveLines(NamedTuple):
    """A live batch the store rendered as JSON lines (see `esctl.ports.Live.lines`): the bytes
    `tail -o jsonl` writes for its events, with the cursor after each line."""

    # Whole lines, each ending in a newline: the UTF-8 of `esctl.read.events.event_json_line`.
    data: bytes
    events: int  # how many lines (events) `data` holds
    # The cursor just past the line at an index (from 0): where a checkpoint may move once that
    # line has been written whole.
    cursor_after: Callable[[int], Cursor]
    scanned_to: Cursor
    pending: bool

    @property
    def last(self) -> Cursor:
        """The cursor past the batch's last line (`scanned_to` when it has none)."""
        return self.cursor_after(self.events - 1) if self.events else self.scanned_to


# --- schema and servers ------------------------------------------------------------------------


@dataclass(frozen=True)
class Migration:
    """One step of the schema, applied in one transaction."""

    version: int
    description: str
    statements: list[str]


@dataclass
class SchemaReport:
    """What `doctor` found: the store's schema compared with what esctl expects."""

    schema_version: int | None
    expected_version: int = SCHEMA_VERSION
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing and self.schema_version == self.expected_version


@dataclass
class NodeStatus:
    """The server behind a store: its role, and how far behind the primary it is (standby)."""

    address: str
    role: str  # "primary", "standby", or "embedded" (SQLite)
    server_version: str
    wal_lsn: str | None = None
    lag_bytes: int | None = None
    lag_seconds: float | None = None


# --- checkpoints, leases and snapshots: the records their ports return ------------------------


def utc_time(value: Any) -> datetime:
    """A stored time as an aware datetime (SQLite's CURRENT_TIMESTAMP text is UTC, no offset);
    ValueError for a time no datetime holds."""
    parsed = parse_time(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class StoredCheckpoint:
    """A subscription checkpoint as its row holds it. `transaction_id` is None for a row the
    seed's subscriber wrote (position only); `updated_at` is whatever time the row holds (another
    program may have written an odd one, or none)."""

    name: str
    position: int
    transaction_id: int | None
    updated_at: StoredTime

    @property
    def stored(self) -> Cursor:
        """The pair as stored (a compare-and-set compares against exactly this)."""
        return Cursor(self.transaction_id or 0, self.position)


def _printable(text: str) -> str:
    """Text from a table (any program may have written it) with no control characters."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


@dataclass(frozen=True)
class LeaseHolder:
    """Who holds a consumer's lease on a subscription, as stored (live or not: deciding that is
    the feature's, `esctl.checkpoints.leases.is_live`). `token` proves ownership; it is never shown."""

    host: str
    pid: int
    since: datetime
    expires_at: datetime
    subscription_id: str = field(default="", compare=False)
    token: str = field(default="", compare=False, repr=False)

    def describe(self) -> str:
        return f"{_printable(self.host)}:{self.pid}"

    def sentence(self) -> str:
        return f"pid {self.pid} on {_printable(self.host)}, since {iso_time(self.since)}"


@dataclass(frozen=True)
class StreamSelection:
    """Which streams a snapshot rebuild or verify covers: given ids, one stream type, or all.
    A value the Snapshots port compiles; `esctl.snapshots.Selection` validates what users give."""

    stream_ids: tuple[str, ...] = ()
    stream_type: str | None = None
    all_streams: bool = False


def _age_seconds(created_at: StoredTime, now: datetime) -> float | None:
    if not isinstance(created_at, datetime):
        return None  # NULL, or a time no datetime holds (infinite, BC)
    return round((now - created_at).total_seconds(), 3)


@dataclass(frozen=True)
class Snapshot:
    """A stored snapshot, with the version of its stream's last event (None: no events)."""

    stream_id: str
    stream_type: str
    version: int
    snapshot_data: Any
    created_at: StoredTime
    stream_version: int | None

    @property
    def events_behind(self) -> int | None:
        """Events the stream has beyond the snapshot (negative: the snapshot is ahead)."""
        return None if self.stream_version is None else self.stream_version - self.version

    def to_dict(self, now: datetime | None = None) -> dict[str, Any]:
        now = now or datetime.now(UTC)
        return {
            "stream_id": self.stream_id,
            "stream_type": self.stream_type,
            "version": self.version,
            "snapshot_data": self.snapshot_data,
            "created_at": time_json(self.created_at),
            "stream_version": self.stream_version,
            "events_behind": self.events_behind,
            "age_seconds": _age_seconds(self.created_at, now),
        }


class ReplayRow(NamedTuple):
    """One event of a snapshot replay, with its stream's stored snapshot: the stored version on
    every row, the stored state (decoded) only on the row whose version it is."""

    event: RecordedEvent
    stored_version: int | None
    stored_state: Any
