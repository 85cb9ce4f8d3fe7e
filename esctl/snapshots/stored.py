"""The stored snapshots, as `snapshots list` and `show` report them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from esctl.errors import NotFound
from esctl.lifecycle.visibility import stream_not_found
from esctl.snapshots.selection import snapshots_of
from esctl.store.lifecycle import stream_admin
from esctl.types import Snapshot

if TYPE_CHECKING:
    from esctl.store.base import Session


def list_snapshots(
    tx: Session, *, stream_type: str | None = None, limit: int | None = None
) -> Iterator[Snapshot]:
    """Stored snapshots ordered by stream id, optionally of one stream type, at most `limit`,
    read in the transaction `tx`."""
    return snapshots_of(tx).all(stream_type=stream_type, limit=limit)


def show_snapshot(tx: Session, stream_id: str) -> Snapshot:
    """The stored snapshot of one stream; NotFound (exit 4) if it has none."""
    snapshots = snapshots_of(tx)
    snapshot = snapshots.get(stream_id)  # None for a soft-deleted stream, unless --include-deleted
    if snapshot is None:
        if snapshots.stream_exists(stream_id):
            raise NotFound(
                f"stream {stream_id} has no snapshot",
                hint=f"esctl snapshots rebuild {stream_id}",
            )
        admin = stream_admin(tx)
        if admin is not None and admin.tombstone(stream_id) is not None:
            raise stream_not_found(tx, stream_id)  # deleted (soft): how to see or restore it
        raise NotFound(f"no snapshot and no events for stream {stream_id}")
    return snapshot
