"""What a read of a missing stream says: "not found", or, for a soft-deleted stream, that it is
deleted and how to see or restore it."""

from __future__ import annotations

from esctl.errors import NotFound
from esctl.store.base import Session
from esctl.store.lifecycle import stream_admin
from esctl.values import stored_time, time_json


def stream_not_found(tx: Session, stream_id: str) -> NotFound:
    """The NotFound (exit 4) for `stream_id`, read inside `tx`."""
    admin = stream_admin(tx)
    tomb = admin.tombstone(stream_id) if admin is not None else None
    if tomb is not None:
        when = time_json(stored_time(tomb["deleted_at"]))
        return NotFound(
            f"stream {stream_id!r} is deleted (soft, at {when})",
            hint=f"--include-deleted shows it; `esctl streams undelete {stream_id} --execute` "
            "restores it",
        )
    return NotFound(
        f"stream {stream_id!r} not found",
        hint="`esctl streams list` shows the streams in the store",
    )
