"""`esctl stats`: head position, totals, counts by category and type, oldest and newest event.

Exact counts scan `events`. On a large PostgreSQL store (by the catalog's row estimate) the totals
come from the catalog (`pg_class.reltuples`, `pg_stats.n_distinct`) and the category x type counts
from a TABLESAMPLE scaled up, and every such figure is labelled as an estimate."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from esctl.store.base import Session, Store
from esctl.types import Row
from esctl.values import StoredTime, stored_time, time_json

# Above this many rows (catalog estimate) `stats` estimates instead of counting.
EXACT_LIMIT = 1_000_000
# Rows a sample should read for the category x type table.
SAMPLE_ROWS = 200_000


@dataclass
class TypeCount:
    category: str
    event_type: str
    events: int
    percent: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "event_type": self.event_type,
            "events": self.events,
            "percent": round(self.percent, 2),
        }


@dataclass
class StoreStats:
    """What `stats` reports. `estimated` names the figures that are estimates."""

    head_position: int
    events: int
    streams: int | None
    oldest_event_at: StoredTime
    newest_event_at: StoredTime
    counts: list[TypeCount] = field(default_factory=list)
    estimated: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "head_position": self.head_position,
            "events": self.events,
            "streams": self.streams,
            "oldest_event_at": time_json(self.oldest_event_at),
            "newest_event_at": time_json(self.newest_event_at),
            "estimated": bool(self.estimated),
            "estimated_figures": self.estimated,
            "counts": [c.to_dict() for c in self.counts],
        }


def sample_percent_for(
    tx: Session, *, exact: bool = False, exact_limit: int | None = None
) -> float | None:
    """The share of the log to sample (percent, about SAMPLE_ROWS rows) when the catalog
    estimates more than `exact_limit` (default EXACT_LIMIT) events and not `exact`; None: read
    every event (always on SQLite, which has no estimates)."""
    if exact:
        return None
    estimates = tx.log.estimated_counts()
    events = int((estimates or {}).get("events") or 0)
    if events <= (EXACT_LIMIT if exact_limit is None else exact_limit):
        return None
    return min(100.0, max(0.01, 100.0 * SAMPLE_ROWS / events))


def store_stats(
    store: Store,
    *,
    exact: bool = False,
    exact_limit: int | None = None,
    type_counts: list[Row] | None = None,
) -> StoreStats:
    """Statistics of the store; estimates on a large PostgreSQL store (more than `exact_limit`
    events, default EXACT_LIMIT) unless `exact`. `type_counts` (category, event_type, n), when
    given, are the counts by type already read (`stats --by-size`: one scan, not two)."""
    limit = EXACT_LIMIT if exact_limit is None else exact_limit
    with store.reading() as tx:
        estimates = None if exact else tx.log.estimated_counts()
        estimate_mode = estimates is not None and (estimates["events"] or 0) > limit
        bounds = tx.log.bounds()
        estimated: list[str] = []
        if estimate_mode and estimates is not None:
            events = int(estimates["events"] or 0)
            streams = estimates["streams"]
            percent = min(100.0, max(0.01, 100.0 * SAMPLE_ROWS / max(events, 1)))
            rows = type_counts or tx.log.counts_by_type(sample_percent=percent)
            estimated = ["events", "streams", "counts"]
        else:
            events = tx.log.count()
            streams = tx.log.count_streams()
            rows = tx.log.counts_by_type() if type_counts is None else type_counts
    sampled = sum(int(r["n"]) for r in rows)
    scale = events / sampled if estimate_mode and sampled else 1.0
    counts = [
        TypeCount(
            r["category"],
            r["event_type"],
            round(int(r["n"]) * scale),
            100.0 * int(r["n"]) / sampled if sampled else 0.0,
        )
        for r in rows
    ]
    return StoreStats(
        head_position=int(bounds["head"] or 0),
        events=events,
        streams=streams,
        oldest_event_at=stored_time(bounds["oldest"]),
        newest_event_at=stored_time(bounds["newest"]),
        counts=counts,
        estimated=estimated,
    )
