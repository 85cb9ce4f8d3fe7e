"""`esctl stats`: head position, totals, counts by category and type, oldest and newest event.

Exact counts scan `events`. On a large PostgreSQL store (by the catalog's row estimate) the totals
come from the catalog (`pg_class.reltuples`, `pg_stats.n_distinct`) and the category x type counts
from a TABLESAMPLE scaled up, and every such figure is labelled as an estimate."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from esctl.errors import UsageError
from esctl.store.base import Session, Store
from esctl.types import Row
from esctl.values import StoredTime, stored_time, time_json

# Above this many rows (catalog estimate) `stats` estimates instead of counting.
EXACT_LIMIT = 1_000_000
# Rows a sample should read for the category x type table.
SAMPLE_ROWS = 200_000

# `stats --by`: the tables Message DB's own summaries print (mdb-print-*-summary), on any layout:
# the dimensions of each, in its order (rows are sorted by them, in the store's collation).
GROUPINGS: dict[str, tuple[str, ...]] = {
    "category-type": ("category", "event_type"),
    "type-category": ("event_type", "category"),
    "type-stream": ("event_type", "stream_id"),
    "stream-type": ("stream_id", "event_type"),
    "category": ("category",),
    "type": ("event_type",),
    "stream": ("stream_id",),
}
DEFAULT_GROUPING = "category-type"


def percent_of(n: int, total: int) -> float:
    """`n` as a percentage of `total`, rounded half up to 2 places (as Message DB's summary
    views round it: `ROUND(count / total * 100, 2)` on numeric)."""
    if not total:
        return 0.0
    exact = Decimal(100 * n) / Decimal(total)
    return float(exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


@dataclass
class GroupCount:
    """Events of one group of a `stats --by` table: its keys (category, event_type, stream_id:
    those of the grouping), the events and their share of all."""

    keys: dict[str, str]
    events: int
    percent: float

    def to_dict(self) -> dict[str, Any]:
        return {**self.keys, "events": self.events, "percent": self.percent}


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
    by: str = DEFAULT_GROUPING
    grouped: list[GroupCount] | None = None  # `--by` other than category-type

    def to_dict(self) -> dict[str, Any]:
        counts = self.counts if self.grouped is None else self.grouped
        return {
            "head_position": self.head_position,
            "events": self.events,
            "streams": self.streams,
            "oldest_event_at": time_json(self.oldest_event_at),
            "newest_event_at": time_json(self.newest_event_at),
            "estimated": bool(self.estimated),
            "estimated_figures": self.estimated,
            "by": self.by,
            "counts": [c.to_dict() for c in counts],
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
    by: str = DEFAULT_GROUPING,
) -> StoreStats:
    """Statistics of the store; estimates on a large PostgreSQL store (more than `exact_limit`
    events, default EXACT_LIMIT) unless `exact`. `type_counts` (category, event_type, n), when
    given, are the counts by type already read (`stats --by-size`: one scan, not two). `by` (a
    key of GROUPINGS) chooses the table of counts; one by stream counts every event, so on a
    store that large it needs `exact` (exit 2 otherwise)."""
    if by not in GROUPINGS:
        raise UsageError(f"--by: {by!r} is not one of {', '.join(GROUPINGS)}")
    dimensions = GROUPINGS[by]
    limit = EXACT_LIMIT if exact_limit is None else exact_limit
    grouped_rows: list[Row] | None = None
    with store.reading() as tx:
        estimates = None if exact else tx.log.estimated_counts()
        estimate_mode = estimates is not None and (estimates["events"] or 0) > limit
        if estimate_mode and "stream_id" in dimensions:
            raise UsageError(
                f"stats --by {by} counts every event by stream (a full scan of about "
                f"{int((estimates or {}).get('events') or 0):,} events): add --exact to run it"
            )
        bounds = tx.log.bounds()
        estimated: list[str] = []
        percent = None
        if estimate_mode and estimates is not None:
            events = int(estimates["events"] or 0)
            streams = estimates["streams"]
            percent = min(100.0, max(0.01, 100.0 * SAMPLE_ROWS / max(events, 1)))
            estimated = ["events", "streams", "counts"]
        else:
            events = tx.log.count()
            streams = tx.log.count_streams()
        if by != DEFAULT_GROUPING:
            rows: list[Row] = []
            grouped_rows = _grouped(tx, by, dimensions, percent)
        elif percent is not None:
            rows = type_counts or tx.log.counts_by_type(sample_percent=percent)
        else:
            rows = tx.log.counts_by_type() if type_counts is None else type_counts
    sampled = sum(int(r["n"]) for r in (rows if grouped_rows is None else grouped_rows))
    scale = events / sampled if estimate_mode and sampled else 1.0
    counts = [
        TypeCount(
            r["category"],
            r["event_type"],
            round(int(r["n"]) * scale),
            percent_of(int(r["n"]), sampled),
        )
        for r in rows
    ]
    grouped = None
    if grouped_rows is not None:
        grouped = [
            GroupCount(
                {d: r[d] for d in dimensions},
                round(int(r["n"]) * scale),
                percent_of(int(r["n"]), sampled),
            )
            for r in grouped_rows
        ]
    return StoreStats(
        head_position=int(bounds["head"] or 0),
        events=events,
        streams=streams,
        oldest_event_at=stored_time(bounds["oldest"]),
        newest_event_at=stored_time(bounds["newest"]),
        counts=counts,
        estimated=estimated,
        by=by,
        grouped=grouped,
    )


def _grouped(
    tx: Session, by: str, dimensions: Sequence[str], sample_percent: float | None
) -> list[Row]:
    """(dimensions…, n) rows in the order of the dimensions, from the layout's `counts_grouped`
    (esctl.ports.GroupedCounts); a layout without it regroups its counts by category and type,
    and cannot count by stream (exit 2)."""
    counts_grouped = getattr(tx.log, "counts_grouped", None)
    if counts_grouped is not None:
        rows: list[Row] = counts_grouped(dimensions, sample_percent=sample_percent)
        return rows
    if "stream_id" in dimensions:
        layout = getattr(getattr(tx, "layout", None), "name", "this")
        raise UsageError(f"stats --by {by} refused: the {layout} layout cannot count by stream")
    totals: dict[tuple[str, ...], int] = {}
    for row in tx.log.counts_by_type(sample_percent=sample_percent):
        key = tuple(str(row[d]) for d in dimensions)
        totals[key] = totals.get(key, 0) + int(row["n"])
    return [
        {**dict(zip(dimensions, key, strict=True)), "n": n} for key, n in sorted(totals.items())
    ]
