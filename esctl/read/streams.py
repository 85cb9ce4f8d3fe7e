"""`streams list` and `streams show`: the store's streams, one page at a time, and one stream's
version, counts by type, first and last time and snapshot version."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from esctl.errors import UsageError
from esctl.store.base import Store
from esctl.types import Row
from esctl.values import StoredTime, category_of, stored_time, time_json

SORTS = ("events", "size", "last", "stream")


def listing_sample(
    store: Store, *, sort: str, exact: bool = False, exact_limit: int | None = None
) -> float | None:
    """The sample a ranked listing reads on a large PostgreSQL store (percent), or None: the id
    order never samples (a page reads its own streams), nor `exact`, nor SQLite."""
    if sort == "stream" or exact:
        return None
    from esctl.read.stats import sample_percent_for

    with store.reading() as tx:
        return sample_percent_for(tx, exact=exact, exact_limit=exact_limit)


SCALED = ("events", "data_bytes", "metadata_bytes", "bytes")


def list_streams(
    store: Store,
    *,
    category: str | None = None,
    after: str | None = None,
    limit: int | None = None,
    sort: str = "stream",
    reverse: bool = False,
    sample_percent: float | None = None,
) -> Iterator[Row]:
    """Streams with their events and bytes (data_bytes, metadata_bytes, bytes: UTF-8 bytes of
    the JSON text). In id order (`sort` "stream"), one page after `after`: keyset pagination
    over the `(stream_id, version)` index, so a page reads only its own streams' events. Ranked
    by events, size or last event time (largest first; `reverse`: smallest first), every event
    is read, or a `sample_percent` sample whose figures are scaled up and marked
    (`estimated`, `sample_percent`): `esctl.read.stats.sample_percent_for` decides."""
    if sort not in SORTS:
        raise UsageError(f"unknown sort {sort!r}", hint="--sort takes " + ", ".join(SORTS))
    if after is not None and sort != "stream":
        raise UsageError(
            f"--after pages the id order only, not --sort {sort}",
            hint="use --limit N for the top N streams",
        )
    sampled = sample_percent if sort != "stream" else None
    scale = 100.0 / sampled if sampled else 1.0
    with store.reading() as tx:
        rows = tx.log.list_streams(
            category=category,
            after=after,
            limit=limit,
            sort=sort,
            reverse=reverse,
            sample_percent=sampled,
        )
        for row in rows:
            listed = {**row, "last_event_at": stored_time(row["last_event_at"])}
            for key in SCALED:
                listed[key] = round(int(listed[key] or 0) * scale)
            if sampled:
                listed["estimated"] = True
                listed["sample_percent"] = sampled
            yield listed


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
            from esctl.lifecycle.visibility import stream_not_found

            raise stream_not_found(tx, stream_id)
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
