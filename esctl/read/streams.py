"""`streams list` and `streams show`: the store's streams, one page at a time, and one stream's
version, counts by type, first and last time and snapshot version."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from esctl.errors import NotFound
from esctl.store.base import Store
from esctl.types import Row
from esctl.values import StoredTime, category_of, stored_time, time_json


def list_streams(
    store: Store, *, category: str | None = None, after: str | None = None, limit: int | None = None
) -> Iterator[Row]:
    """Streams in id order, one page after `after`: keyset pagination over the
    `(stream_id, version)` index, so a page reads only its own streams' events."""
    with store.reading() as tx:
        for row in tx.log.list_streams(category=category, after=after, limit=limit):
            yield {**row, "last_event_at": stored_time(row["last_event_at"])}


@dataclass
class StreamInfo:
    """What `streams show` prints."""

    stream_id: str
    stream_type: str
    version: int
    events: int
    first_event_at: StoredTime
    last_event_at: StoredTime
    counts_by_type: dict[str, int] = field(default_factory=dict)
    snapshot_version: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "stream_id": self.stream_id,
            "stream_type": self.stream_type,
            "category": category_of(self.stream_id),
            "version": self.version,
            "events": self.events,
            "first_event_at": time_json(self.first_event_at),
            "last_event_at": time_json(self.last_event_at),
            "counts_by_type": self.counts_by_type,
            "snapshot_version": self.snapshot_version,
        }


def show_stream(store: Store, stream_id: str) -> StreamInfo:
    """Version, counts by type, first and last time and snapshot version of one stream."""
    with store.reading() as tx:
        summary = tx.log.stream_summary(stream_id)
    if summary is None:
        raise NotFound(
            f"stream {stream_id!r} not found",
            hint="`esctl streams list` shows the streams in the store",
        )
    return StreamInfo(
        stream_id=stream_id,
        stream_type=summary["stream_type"],
        version=int(summary["version"]),
        events=int(summary["events"]),
        first_event_at=stored_time(summary["first_at"]),
        last_event_at=stored_time(summary["last_at"]),
        counts_by_type=summary["counts_by_type"],
        snapshot_version=summary["snapshot_version"],
    )
