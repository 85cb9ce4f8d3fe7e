"""`esctl stats --by-size`: where the bytes are. Per category and per category x type: events,
data and metadata bytes, average bytes per event and the largest event (id, stream, bytes); on
PostgreSQL the table, TOAST and index sizes of the store's tables (catalog functions, no scan).

Bytes are the UTF-8 bytes of the JSON text of `event_data` and `metadata` (what esctl reads and
exports; the same measure on both engines), not the bytes as stored: PostgreSQL keeps jsonb in a
binary form, compressed when large, which the table sizes show. On a large PostgreSQL store (the
catalog's estimate above `esctl.read.stats.EXACT_LIMIT`) the figures come from a TABLESAMPLE
scaled up and say so (`estimated`, `sample_percent`); `exact` reads every event."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from esctl.read.stats import sample_percent_for
from esctl.store.base import Store
from esctl.types import Row

MEASURE = "UTF-8 bytes of the JSON text of event_data and metadata"


@dataclass
class SizeGroup:
    """The bytes of one category (event_type None) or one category x type."""

    category: str
    event_type: str | None
    events: int
    data_bytes: int
    metadata_bytes: int
    largest_id: str | None
    largest_stream_id: str | None
    largest_bytes: int

    @property
    def bytes(self) -> int:
        return self.data_bytes + self.metadata_bytes

    @property
    def avg_bytes(self) -> int:
        return round(self.bytes / self.events) if self.events else 0

    def to_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {"category": self.category}
        if self.event_type is not None:
            record["event_type"] = self.event_type
        return {
            **record,
            "events": self.events,
            "data_bytes": self.data_bytes,
            "metadata_bytes": self.metadata_bytes,
            "bytes": self.bytes,
            "avg_bytes": self.avg_bytes,
            "largest_id": self.largest_id,
            "largest_stream_id": self.largest_stream_id,
            "largest_bytes": self.largest_bytes,
        }


@dataclass
class StoreSizes:
    by_type: list[SizeGroup] = field(default_factory=list)
    tables: list[Row] = field(default_factory=list)
    sample_percent: float | None = None

    @property
    def estimated(self) -> bool:
        return self.sample_percent is not None

    @property
    def by_category(self) -> list[SizeGroup]:
        """The category totals, in category order; each one's largest event of its types."""
        totals: dict[str, SizeGroup] = {}
        for group in self.by_type:
            total = totals.setdefault(
                group.category, SizeGroup(group.category, None, 0, 0, 0, None, None, -1)
            )
            total.events += group.events
            total.data_bytes += group.data_bytes
            total.metadata_bytes += group.metadata_bytes
            if group.largest_bytes > total.largest_bytes:
                total.largest_id = group.largest_id
                total.largest_stream_id = group.largest_stream_id
                total.largest_bytes = group.largest_bytes
        return list(totals.values())

    @property
    def largest(self) -> SizeGroup | None:
        """The group holding the store's largest event (first in order among equals)."""
        return max(self.by_type, key=lambda g: g.largest_bytes, default=None)

    def type_counts(self) -> list[Row]:
        """(category, event_type, n) rows for `store_stats`, from the same scan."""
        return [
            {"category": g.category, "event_type": g.event_type, "n": g.events}
            for g in self.by_type
        ]

    def to_dict(self) -> dict[str, Any]:
        largest = self.largest
        return {
            "measure": MEASURE,
            "estimated": self.estimated,
            "sample_percent": self.sample_percent,
            "largest_event": None
            if largest is None
            else {
                "id": largest.largest_id,
                "stream_id": largest.largest_stream_id,
                "event_type": largest.event_type,
                "bytes": largest.largest_bytes,
            },
            "by_category": [g.to_dict() for g in self.by_category],
            "by_type": [g.to_dict() for g in self.by_type],
            "tables": self.tables,
        }


def store_sizes(store: Store, *, exact: bool = False, exact_limit: int | None = None) -> StoreSizes:
    """Bytes by category and type, largest events, table sizes; sampled on a large PostgreSQL
    store (more than `exact_limit` events by the catalog) unless `exact`."""
    with store.reading() as tx:
        percent = sample_percent_for(tx, exact=exact, exact_limit=exact_limit)
        rows = tx.log.sizes_by_type(sample_percent=percent)
        tables = tx.log.relation_sizes()
    scale = 100.0 / percent if percent else 1.0
    groups = [
        SizeGroup(
            category=str(r["category"]),
            event_type=str(r["event_type"]),
            events=round(int(r["events"]) * scale),
            data_bytes=round(int(r["data_bytes"] or 0) * scale),
            metadata_bytes=round(int(r["metadata_bytes"] or 0) * scale),
            largest_id=str(r["largest_id"]),
            largest_stream_id=str(r["largest_stream_id"]),
            largest_bytes=int(r["largest_bytes"] or 0),
        )
        for r in rows
    ]
    return StoreSizes(by_type=groups, tables=tables, sample_percent=percent)
