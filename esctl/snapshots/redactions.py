"""Snapshots that may still hold redacted values (`events redact`, esctl/lifecycle/redact.py).

A redaction's audit row names the stream's snapshot that held the event then (its version and
created_at). A snapshot still identical to one so named was written before the redaction and
never since: `snapshots verify` reports it (drift `redacted`, exit 1) and `snapshots rebuild`
rewrites it even when its state replays the same, which gives it a new created_at and ends the
mark. Comparing with the recorded snapshot, not with clocks, keeps this right whatever the
clocks of the client and the server say."""

from __future__ import annotations

from typing import TYPE_CHECKING

from esctl.snapshots.selection import snapshots_of
from esctl.store.lifecycle import audit_trail
from esctl.values import time_json

if TYPE_CHECKING:
    from esctl.store.base import Session
    from esctl.types import StreamSelection

OPERATION = "events redact"  # esctl.lifecycle.redact.OPERATION


def redaction_marks(tx: Session, selection: StreamSelection) -> dict[str, str]:
    """For each selected stream whose stored snapshot predates a redaction of one of the events
    it holds: why (the detail `snapshots verify` shows)."""
    trail = audit_trail(tx)
    if trail is None:
        return {}
    snapshots = snapshots_of(tx)
    marks: dict[str, str] = {}
    current: dict[str, tuple[int, str | None] | None] = {}
    for entry in trail.entries(operation=OPERATION):
        counts = entry.get("counts") or {}
        held = counts.get("snapshot")
        stream_id = counts.get("stream_id")
        if not isinstance(held, dict) or not isinstance(stream_id, str) or stream_id in marks:
            continue
        if selection.stream_ids and stream_id not in selection.stream_ids:
            continue
        if stream_id not in current:
            snapshot = snapshots.get(stream_id)
            current[stream_id] = (
                None if snapshot is None else (snapshot.version, time_json(snapshot.created_at))
            )
        if current[stream_id] == (held.get("version"), held.get("created_at")):
            marks[stream_id] = (
                f"older than the redaction of event {entry.get('target')} (version "
                f"{counts.get('version')}, audit id {entry['id']}): may hold the removed values"
            )
    return marks
