"""The engine interface: what every engine (`sqlite.py`, `postgres.py`) provides to the layouts.

A store is an engine (connections, read-only and read-write transactions, sessions, error
translation, its primitives) plus a layout (`store.layout`, chosen by `esctl.store.detect`) that
implements the ports of `esctl.ports` on top of it: `tx.log`, `tx.checkpoints`, … inside a
transaction, `store.live` and `store.admin` outside. Features use the ports and hold no SQL; only
the layout's adapters (`esctl/store/esctl_layout/`) and the engines write SQL, once for both
engines, with two conventions:

- placeholders are `%s` (SQLite's session turns them into `?`); SQL text holds no literal `%`, `{` or `}`;
- tables are named `{events}`, `{snapshots}`, `{checkpoints}`, `{esctl_schema}`, `{leases}`: the
  engine fills in the quoted, schema-qualified identifier. Stream ids, types and names are always
  bound parameters.

Where the engines differ (COPY, the xid8 horizon, LISTEN/NOTIFY, TABLESAMPLE, catalogs), the
engine exposes a primitive below, for the layouts' adapters.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol, cast

from esctl.config import Settings
from esctl.errors import ReadOnlyRefused, SchemaMissing
from esctl.ports import Capabilities, Checkpoints, EventLog, Live, SchemaAdmin, Snapshots
from esctl.store.esctl_layout.tables import EVENT_COLUMNS as EVENT_COLUMNS
from esctl.store.esctl_layout.tables import LEASE_COLUMNS as LEASE_COLUMNS
from esctl.urls import Backend, StoreLocation

if TYPE_CHECKING:
    from esctl.store.horizon import Horizon
    from esctl.store.layout import Layout

from esctl.types import (
    SCHEMA_VERSION,
    Cursor,
    LiveBatch,
    LiveLines,
    Migration,
    NewEventRow,
    NodeStatus,
    Row,
    SchemaReport,
)

__all__ = ["EVENT_COLUMNS", "SCHEMA_VERSION", "EventRow", "Migration", "NodeStatus", "Row"]
__all__ += ["SchemaReport", "Session", "Store"]
EventRow = NewEventRow
Ranges = dict[str, tuple[int, int]]  # per stream: first and last of one append
Versions = Mapping[str, tuple[int, int]] | None


class Session(Protocol):
    """One transaction on the store (read-only or read-write)."""

    backend: Backend

    def execute(self, query: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; the number of rows it changed."""
        ...

    def executemany(self, query: str, params: Sequence[Sequence[Any]]) -> None:
        """Run one statement for each parameter set, pipelined where the driver can."""
        ...

    def fetchall(self, query: str, params: Sequence[Any] = ()) -> list[Row]: ...

    def fetchone(self, query: str, params: Sequence[Any] = ()) -> Row | None: ...

    def fetchval(self, query: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row, or None."""
        ...

    def stream(
        self, query: str, params: Sequence[Any] = (), batch_size: int = 2000
    ) -> Iterator[Row]:
        """Rows one at a time, fetched in batches (a server-side cursor on PostgreSQL)."""
        ...

    def json_param(self, value: Any) -> Any:
        """Bind a JSON value (jsonb on PostgreSQL, text on SQLite)."""
        ...

    def time_param(self, value: datetime) -> Any:
        """Bind a timestamp, comparable with `created_at`."""
        ...

    # The ports of this transaction (see TransactionPorts).
    @property
    def log(self) -> EventLog: ...

    @property
    def checkpoints(self) -> Checkpoints: ...

    @property
    def snapshots(self) -> Snapshots: ...

    @property
    def leases(self) -> Any: ...


class TransactionPorts:
    """The ports of one transaction, built on first use by the store's layout: `tx.log`,
    `tx.checkpoints`, `tx.snapshots`, `tx.leases` (see `esctl.ports`). Every engine's session
    inherits this, so `with store.reading() as tx:` gives the ports of that transaction."""

    def _layout(self) -> Layout:
        return cast("Store", self._store).layout  # type: ignore[attr-defined]

    @cached_property
    def log(self) -> EventLog:
        return self._layout().event_log(cast(Session, self))

    @cached_property
    def checkpoints(self) -> Checkpoints:
        return self._layout().checkpoints(cast(Session, self))

    @cached_property
    def snapshots(self) -> Snapshots:
        return self._layout().snapshots(cast(Session, self))

    @cached_property
    def leases(self) -> Any:
        return self._layout().leases(cast(Session, self))


class Store(ABC):
    """A connection to one event store, PostgreSQL or SQLite."""

    backend: Backend
    pooler: str | None = None  # a transaction pooler in front: "pgbouncer" or "detected"

    def __init__(self, location: StoreLocation, settings: Settings, *, write: bool) -> None:
        self.location = location
        self.settings = settings
        self.write = write

    @property
    def display_url(self) -> str:
        """The store's URL with any password redacted."""
        return self.location.display

    # --- connections and transactions -------------------------------------------------------

    @abstractmethod
    def reading(self) -> AbstractContextManager[Session]:
        """A read-only transaction."""

    @abstractmethod
    def writing(self) -> AbstractContextManager[Session]:
        """A read-write transaction; refused with exit 8 on a read-only profile or store."""

    @abstractmethod
    def close(self) -> None: ...

    def check_writable(self) -> None:
        """Refuse (exit 8) before any write when the profile is read-only."""
        if self.settings.read_only:
            who = f"profile {self.settings.profile!r}" if self.settings.profile else "the profile"
            raise ReadOnlyRefused(
                f"{who} is read-only: refusing to write to {self.display_url}",
                hint="use a profile without read_only: true for write commands",
            )
        if not self.write:
            raise ReadOnlyRefused(f"store {self.display_url} was opened for reading only")

    @cached_property
    def _detected(self) -> tuple[Layout, str]:
        from esctl.store.detect import detect_layout

        return detect_layout(self, self.settings.layout)

    @property
    def layout(self) -> Layout:
        """The table layout this store holds (`layout:`, or detected: `esctl.store.detect`)."""
        return self._detected[0]

    @property
    def layout_reason(self) -> str:
        """Why that layout (for doctor)."""
        return self._detected[1]

    @property
    def capabilities(self) -> Capabilities:
        return self.layout.capabilities

    @cached_property
    def live(self) -> Live:
        """Commit-ordered live reading (tail, consumers), outside any transaction."""
        return self.layout.live()

    @cached_property
    def admin(self) -> SchemaAdmin:
        """The layout's schema: migrations, inspection, repairs, node status (init, doctor)."""
        return self.layout.admin()

    def horizon(self) -> Horizon | None:
        """Who holds back the visibility horizon (PostgreSQL); None: writers are serialised."""
        return None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- schema admin (behind store.admin) -------------------------------------------------------

    @abstractmethod
    def server_version(self) -> str: ...

    @abstractmethod
    def migrations(self) -> list[Migration]:
        """Every migration, oldest first."""

    @abstractmethod
    def render_migration(self, migration: Migration) -> list[str]:
        """The SQL of a migration as it would run, for `init --dry-run`."""

    @abstractmethod
    def apply_migrations(self, pending: list[Migration]) -> list[str]:
        """Apply `pending` in order, each in its own transaction, recording the version; then
        repair what a current schema can still lack. Returns the repairs made."""

    def doctor_facts(self) -> dict[str, Any]:
        """What `doctor` shows beyond the schema: role, schema and table sizes (PostgreSQL),
        file path and size (SQLite)."""
        return {}

    def check_init_privileges(self, *, alters: bool) -> None:
        """Raise PermissionDenied naming what `init` lacks (PostgreSQL roles); `alters`: init will
        change existing tables."""
        return None

    def repairs(self) -> list[str]:
        """The SQL `init` would run on a store whose schema is current (for `--dry-run`), e.g.
        rebuilding an index an interrupted build left invalid."""
        return []

    @abstractmethod
    def inspect_schema(self) -> SchemaReport: ...

    @abstractmethod
    def schema_version(self) -> int | None:
        """The version recorded in `esctl_schema`, or None when esctl never initialised the store."""

    def pending_migrations(self) -> list[Migration]:
        current = self.schema_version() or 0
        return [m for m in self.migrations() if m.version > current]

    def require_schema(self) -> None:
        """Raise SchemaMissing (exit 7) unless the store has esctl's current schema."""
        other = getattr(self.layout, "require_schema", None)
        if other is not None:  # another product's layout checks its own tables
            other()
            return
        version = self.schema_version()
        if version is None:
            raise SchemaMissing(
                f"store {self.display_url} has no esctl schema",
                hint="run `esctl init` (add --dry-run to see the SQL first)",
            )
        if version < SCHEMA_VERSION:
            raise SchemaMissing(
                f"store {self.display_url} has schema version {version}, esctl needs {SCHEMA_VERSION}",
                hint="run `esctl init` to upgrade it",
            )
        if version > SCHEMA_VERSION:
            raise SchemaMissing(
                f"store {self.display_url} has schema version {version}, newer than this esctl "
                f"knows ({SCHEMA_VERSION})",
                hint="upgrade esctl",
            )

    # --- appending (behind tx.log) ---------------------------------------------------------------

    @abstractmethod
    def insert_events(self, session: Session, rows: Iterable[EventRow]) -> None:
        """Insert events in bulk (versions assigned; created_at None is now); duplicates: Conflict."""

    def append_mark(self, session: Session) -> int:  # the head this transaction sees
        return int(session.fetchval("SELECT coalesce(max(global_position), 0) FROM {events}"))

    def text_rows(self, values: Sequence[str]) -> tuple[str, list[Any]]:  # FROM item v(column1)
        return "(VALUES " + ", ".join(["(%s)"] * len(values)) + ") AS v", list(values)

    @abstractmethod
    def appended_positions(self, session: Session, since: int, versions: Versions = None) -> Ranges:
        """Each stream's first and last position this transaction appended (found by `versions`)."""

    # --- the server (behind store.admin) ---------------------------------------------------------

    @abstractmethod
    def node_status(self, primary_lsn: str | None = None) -> NodeStatus:
        """Role and version of the server; on a standby, its lag behind `primary_lsn`."""

    # --- commit order (behind tx.log, tx.checkpoints) --------------------------------------------

    @abstractmethod
    def commit_order_slices(
        self,
        after: tuple[int, int] | None,
        upto: tuple[int, int] | None,
        *,
        descending: bool = False,
    ) -> list[tuple[str, list[Any], str]]:
        """The events after `after` and at or before `upto` (`(transaction_id, global_position)`,
        None: no bound) in commit order, as slices queried one after the other: each a WHERE on
        {events}, its parameters and its ORDER BY, so the backend's indexes serve it."""

    @abstractmethod
    def transaction_id_sql(self, value: int | None) -> tuple[str, Any]:
        """A SQL expression with one placeholder and its parameter, binding a transaction id
        (None or 0: NULL) for `subscription_checkpoints.last_transaction_id`."""

    # --- live reading, statistics, export (behind store.live, tx.log) ----------------------------

    @abstractmethod
    def live_head(self) -> Cursor:
        """The cursor of the last event committed below the horizon (where `tail` starts)."""

    @abstractmethod
    def live_batch(self, after: Cursor, where: str, params: Sequence[Any], limit: int) -> LiveBatch:
        """Up to `limit` events matching `where`, committed after `after`, in commit order, each
        row with `EVENT_COLUMNS` plus `transaction_id`; only events no concurrent
        transaction can still precede."""

    def live_lines(
        self, after: Cursor, where: str, params: Sequence[Any], limit: int
    ) -> LiveLines | None:
        """`live_batch` as JSON lines rendered by the server (`esctl.read.events.event_json_line`),
        or None: rendering is left to `esctl.read.follow` (or a row needs a warning)."""
        return None

    @abstractmethod
    def wait_for_events(self, timeout: float) -> None:
        """Block until new events may be there (NOTIFY on PostgreSQL) or `timeout` seconds pass."""

    @abstractmethod
    def stop_listening(self) -> None:
        """Close what `wait_for_events` opened."""

    @abstractmethod
    def category_sql(self) -> str:
        """The SQL expression of an event's category (its stream id up to the first `-`)."""

    @abstractmethod
    def estimated_counts(self) -> dict[str, int | None] | None:
        """Catalog estimates of `events` and `streams` (PostgreSQL), or None (SQLite)."""

    @abstractmethod
    def estimate_counts(self, session: Session) -> dict[str, int | None] | None:
        """`estimated_counts` inside the caller's transaction."""

    @abstractmethod
    def sample_clause(self, percent: float) -> str:
        """A FROM-clause suffix that reads about `percent` % of `events` ('' when unsupported)."""

    @abstractmethod
    def byte_length_sql(self, column: str) -> str:
        """The SQL expression of the UTF-8 bytes of a JSON column's text (0 for NULL): the text
        esctl reads and exports, not the bytes as stored (jsonb, compressed)."""

    def relation_sizes(self, session: Session) -> list[Row]:
        """On-disk sizes of the events, snapshots and checkpoints tables (table, rows_estimate,
        table_bytes, toast_bytes, index_bytes, total_bytes); [] where the engine has none."""
        return []

    @abstractmethod
    def session_json_lines(
        self,
        session: Session,
        where: str,
        params: Sequence[Any],
        limit: int | None,
        *,
        warn: Callable[[str], None] | None = None,
    ) -> Iterator[bytes] | None:
        """The events matching `where` in position order as JSON lines rendered by the server,
        inside the caller's transaction (UTF-8 chunks of whole lines, the bytes of
        `esctl.read.events.event_json_line`), or None when the backend leaves that to
        `esctl.read.events`. `warn` names each row that cannot go back through `esctl append`
        unchanged."""

    # --- the raw-COPY ceiling of `esctl bench` ---------------------------------------------------

    @abstractmethod
    def create_ceiling_table(self) -> bool:
        """Create an empty table identical to `events` for the raw-COPY ceiling of `esctl bench`;
        False when the backend has no COPY (SQLite)."""

    @abstractmethod
    def copy_into_ceiling(self, copy_text: str) -> int:
        """Load COPY text rows (id, stream_id, stream_type, event_type, event_data, metadata,
        version) into the ceiling table in one transaction; the rows loaded."""
