"""The record ports: checkpoints, leases, snapshots and schema administration (see
`esctl.ports`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from esctl.capabilities import Capabilities as Capabilities
from esctl.capabilities import require as require
from esctl.types import Cursor, Migration, NodeStatus
from esctl.types import SchemaReport as SchemaReport
from esctl.values import StoredTime

if TYPE_CHECKING:  # the records of checkpoints, leases and snapshots
    from esctl.types import LeaseHolder, ReplayRow, Snapshot, StoredCheckpoint, StreamSelection


# --- Checkpoints, leases, snapshots ---------------------------------------------------------------


class Checkpoints(Protocol):
    """Subscription checkpoints (consumer positions), inside one transaction. Writes stamp
    `updated_at` with the store's clock. Cursors compared by the compare-and-set methods are the
    pairs as stored (`StoredCheckpoint.stored`: transaction id 0 is a NULL one). `recent_moves`:
    the last positions esctl gave a checkpoint and when, newest first (none if it never did)."""

    def now(self) -> datetime:
        """The store's clock (ages are measured against it, as the seed's subscriber writes it)."""
        ...

    def get(self, name: str) -> StoredCheckpoint | None: ...

    def all(self) -> list[StoredCheckpoint]: ...  # every checkpoint, by name

    def names(self, prefix: str = "", limit: int | None = None) -> list[str]:
        """Names starting with `prefix`, in order, at most `limit` (a bounded index walk)."""
        ...

    def save(self, name: str, cursor: Cursor) -> None:
        """Store `cursor` under `name` whatever was there (created if absent)."""
        ...

    def create_if_absent(self, name: str, cursor: Cursor) -> bool:
        """Create `name` at `cursor`; False (nothing written) if it exists already."""
        ...

    def compare_and_set(self, name: str, expected: Cursor, new: Cursor) -> bool:
        """Move `name` from exactly `expected` to `new`; False (nothing written) if it holds
        something else or is gone."""
        ...

    def holds(self, name: str, expected: Cursor) -> bool:
        """Whether `name` still holds exactly `expected`."""
        ...

    def delete(self, name: str, expected: Cursor | None = None) -> bool:
        """Delete `name` (only if it holds exactly `expected`, when given); whether it was."""
        ...

    def recent_moves(self, name: str, limit: int = 2) -> list[tuple[int, StoredTime]]: ...


class Leases(Protocol):
    """Consumer leases (who runs `tail --checkpoint NAME` now), inside one transaction. Whether a
    holder is still alive is the feature's call (`esctl.checkpoints.leases.is_live`); the port stores."""

    def now(self) -> datetime: ...

    def holder(self, name: str) -> LeaseHolder | None:
        """The stored holder of `name`'s lease, live or not."""
        ...

    def holders(self) -> list[LeaseHolder]:
        """Every stored lease."""
        ...

    def acquire(self, holder: LeaseHolder, *, replacing: str | None = None) -> bool:
        """Store `holder` as the lease of `holder.subscription_id`: where there is none
        (`replacing` None), or over the lease whose token is `replacing`. False if it was not."""
        ...

    def renew(self, name: str, token: str, expires_at: datetime) -> bool:
        """Extend the lease that still has `token`; False if it was lost."""
        ...

    def release(self, name: str, token: str) -> bool:
        """Delete the lease if it still has `token`."""
        ...


class Snapshots(Protocol):
    """Stored snapshots, and the events a replay folds into them, inside one transaction."""

    def all(
        self, *, stream_type: str | None = None, limit: int | None = None
    ) -> Iterator[Snapshot]:
        """Stored snapshots by stream id, of one stream type if given, at most `limit`
        (streamed)."""
        ...

    def get(self, stream_id: str) -> Snapshot | None: ...

    def stream_exists(self, stream_id: str) -> bool:
        """Whether the stream has any event."""
        ...

    def streams_with_events(self, selection: StreamSelection) -> set[str]:
        """The selected streams that have events."""
        ...

    def count_streams(self, selection: StreamSelection) -> int:
        """How many streams with events the selection covers."""
        ...

    def replay_rows(self, selection: StreamSelection) -> Iterator[ReplayRow]:
        """Every event of the selected streams by (stream id, version), each with its stream's
        stored snapshot, in one streamed pass (memory stays flat)."""
        ...

    def without_events(self, stream_type: str | None = None) -> Iterator[Snapshot]:
        """Stored snapshots (of one stream type if given) whose stream has no events."""
        ...

    def upsert_if_newer(
        self, stream_id: str, stream_type: str, version: int, state: Any, created_at: datetime
    ) -> bool:
        """Store a snapshot unless a newer one is there (one above the stream's last event does
        not count as newer); whether it was written."""
        ...


class SchemaAdmin(Protocol):
    """The layout's schema: migrations, inspection, repairs, the server behind it."""

    def server_version(self) -> str: ...

    def schema_version(self) -> int | None:
        """The version recorded by `init`, or None when the store was never initialised."""
        ...

    def migrations(self) -> list[Migration]: ...

    def pending_migrations(self) -> list[Migration]: ...

    def render_migration(self, migration: Migration) -> list[str]:
        """The SQL of a migration as it would run (`init --dry-run`)."""
        ...

    def repairs(self) -> list[str]:
        """The SQL `init` would run on a current schema (an index to rebuild)."""
        ...

    def check_init_privileges(self, *, alters: bool) -> None:
        """Raise PermissionDenied naming what `init` lacks."""
        ...

    def apply_migrations(self, pending: list[Migration]) -> list[str]:
        """Apply `pending`, then repair what a current schema can still lack; the repairs."""
        ...

    def inspect(self) -> SchemaReport: ...

    def doctor_facts(self) -> dict[str, Any]:
        """role, database, path, sizes: what `doctor` shows beyond the schema."""
        ...

    def node_status(self, primary_lsn: str | None = None) -> NodeStatus: ...

    def drop_schema(self) -> None:
        """Drop the store's schema and everything in it (PostgreSQL; bench's throwaway ones)."""
        ...
