"""The lifecycle ports of esctl's layout (SPEC "Lifecycle"): the audit trail every executed
change writes in its own transaction, and the permission to change `events` that an audited
lifecycle transaction takes under `init --protect`. Other layouts have neither (`audit_trail`
returns None there: esctl never alters another product's schema)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from esctl.types import Migration, Row

if TYPE_CHECKING:
    from esctl.store.base import Session, Store


@dataclass(frozen=True)
class AuditEntry:
    """One row of the audit trail: who (OS user, host; the database user is the server's),
    the command line (secrets redacted), what was done to what, and its counts."""

    os_user: str
    host: str
    command: str
    operation: str
    target: str
    counts: dict[str, Any] = field(default_factory=dict)
    manifest_sha256: str | None = None


class AuditTrail(Protocol):
    """The audit table, inside one transaction."""

    def record(self, entry: AuditEntry) -> int:
        """Write `entry`; its id."""
        ...

    def allow_event_changes(self, audit_id: int) -> None:
        """Let this transaction (only) UPDATE and DELETE `events` under `init --protect`, as the
        audited change `audit_id` (recorded in this transaction first)."""
        ...

    def entries(
        self,
        *,
        since: datetime | None = None,
        limit: int | None = None,
        operation: str | None = None,
    ) -> Iterator[Row]:
        """Audit rows, newest first (id, at, db_user, os_user, host, command, operation, target,
        counts, manifest_sha256), of one `operation` if given."""
        ...


def audit_trail(tx: Session) -> AuditTrail | None:
    """The audit trail of the store behind `tx`, or None when its layout has none."""
    store = getattr(tx, "_store", None)
    if store is None or store.layout.name != "esctl":
        return None
    from esctl.store.esctl_layout.audit import EsctlAuditTrail

    return EsctlAuditTrail(tx)


class Protection(Protocol):
    """`init --protect`'s triggers on `events`, inside one transaction."""

    def is_on(self) -> bool: ...

    def set(self, on: bool) -> None:
        """Install (`on`) or remove the triggers; idempotent."""
        ...


def protection(tx: Session) -> Protection | None:
    """The protection of the store behind `tx`, or None when its layout has none."""
    store = getattr(tx, "_store", None)
    if store is None or store.layout.name != "esctl":
        return None
    from esctl.store.esctl_layout.protection import EsctlProtection

    return EsctlProtection(tx, store.settings.schema)


def protection_sql(store: Store, on: bool) -> list[str] | None:
    """The SQL that turns protection on (or off) in the store, as `init --dry-run` prints it
    (names filled in); None when the layout has no protection."""
    if store.layout.name != "esctl":
        return None
    from esctl.store.esctl_layout.protection import statements

    # Rendered as a migration is (the engine fills in and quotes the names); the row that
    # records a migration's version, which render_migration appends last, is not part of it.
    step = Migration(
        0, "init --protect" if on else "init --unprotect", statements(store.backend, on)
    )
    return store.render_migration(step)[:-1]


class StreamAdmin(Protocol):
    """Soft and hard deletes of streams (esctl_layout/streams_admin.py), in one transaction."""

    def facts(self, stream_id: str, below_version: int | None = None) -> Row: ...

    def snapshot_version(self, stream_id: str) -> int | None: ...

    def tombstone(self, stream_id: str) -> Row | None: ...

    def deleted(self, stream_ids: list[str]) -> set[str]: ...

    def deleted_stream_of(self, event_id: str) -> str | None: ...

    def add_tombstone(self, stream_id: str, version: int, audit_id: int) -> bool: ...

    def remove_tombstone(self, stream_id: str) -> bool: ...

    def delete_events(
        self, stream_id: str, limit: int, below_version: int | None = None
    ) -> int: ...

    def delete_snapshot(self, stream_id: str) -> bool: ...

    def touch_audit(self, audit_id: int, counts: Any) -> None: ...


def stream_admin(tx: Session) -> StreamAdmin | None:
    """Stream deletes on the store behind `tx`, or None when its layout has none."""
    store = getattr(tx, "_store", None)
    if store is None or store.layout.name != "esctl":
        return None
    from esctl.store.esctl_layout.streams_admin import EsctlStreamAdmin

    return EsctlStreamAdmin(tx, store)


class EventRedactor(Protocol):
    """`events redact` on the store's events, inside one read-write (or read) transaction."""

    def event(self, event_id: str, *, lock: bool = False) -> Row | None:
        """global_position, event_id, stream_id, stream_type, version, event_type, data and
        metadata (their JSON text as the store gives it; metadata None when NULL) of an event,
        soft-deleted streams included; `lock`: held until the transaction ends."""
        ...

    def rewrite(self, global_position: int, data: str, metadata: str | None) -> None:
        """Store new JSON text for the event's data and metadata; nothing else of it changes."""
        ...


def event_redactor(tx: Session) -> EventRedactor | None:
    """Redaction on the store behind `tx`, or None when its layout has none."""
    store = getattr(tx, "_store", None)
    if store is None or store.layout.name != "esctl":
        return None
    from esctl.store.esctl_layout.redaction import EsctlEventRedactor

    return EsctlEventRedactor(tx)


@dataclass(frozen=True)
class Selection:
    """The events an archive or a retention rule takes: of `stream_ids` or of `category`, those
    created before `before`, or (`keep_last`) all but each stream's newest `keep_last` (either
    rule takes an event when both are given; neither: every event of the streams)."""

    stream_ids: tuple[str, ...] = ()
    category: str | None = None
    before: datetime | None = None
    keep_last: int | None = None
    max_position: int | None = None  # none above this global position (what a plan saw)


class ArchiveAdmin(Protocol):
    """What `streams archive` and `retention` read and remove (esctl_layout/archive.py)."""

    def facts(self, selection: Selection) -> list[Row]:
        """Per stream of the selection, in stream order: stream_id, events, first/last version,
        first/last position, bytes, snapshot_version."""
        ...

    def json_lines(
        self, selection: Selection, warn: Callable[[str], None] | None = None
    ) -> Iterator[bytes]:
        """The selected events in position order as JSON lines (`read -o jsonl`'s bytes), in
        chunks of whole lines, read in one snapshot."""
        ...

    def stored(self, events: Sequence[tuple[int, str]]) -> int:
        """How many of these (global position, event id) pairs are still stored."""
        ...

    def delete_selected(self, selection: Selection, limit: int) -> int:
        """Delete up to `limit` of the selected events, lowest positions first; how many."""
        ...

    def delete_exactly(self, events: Sequence[tuple[int, str]]) -> int:
        """Delete the events of these (global position, event id) pairs that are still stored;
        how many."""
        ...


def archive_admin(tx: Session) -> ArchiveAdmin | None:
    """Archive reads and deletes on the store behind `tx`, or None when its layout has none."""
    store = getattr(tx, "_store", None)
    if store is None or store.layout.name != "esctl":
        return None
    from esctl.store.esctl_layout.archive import EsctlArchiveAdmin

    return EsctlArchiveAdmin(tx, store)
