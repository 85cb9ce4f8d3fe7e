"""`esctl horizon`: why live readers wait. A live reader (`tail`, a consumer) reads only the rows
of transactions below the visibility horizon, the oldest transaction id still running; so one
long transaction with an id holds every reader back, however little it wrote. This lists the
sessions that hold the horizon (or, with only a snapshot, vacuum's), oldest first, and the holes
in the recent global positions, each classed:

- `in-flight`: a transaction that writes to `events` is still running and began before the first
  event after the hole was stamped (`created_at`, the writer's transaction start), so it may hold
  the position and commit it yet; above the head, any running writer may;
- `rolled-back`: no running writer could hold it (its transaction rolled back, or the row was
  deleted): the hole stays, and costs a reader nothing.

The test is from what PostgreSQL shows without extensions: a sequence value does not say which
transaction took it. It errs towards `in-flight` (a rolled-back hole beside a long writer is
classed in-flight), never the other way on a store whose events are stamped by their writers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from esctl.store.base import Store
from esctl.types import Row, utc_time

DEFAULT_LAST = 1000
MAX_LAST = 10_000_000


@dataclass(frozen=True)
class Hole:
    first: int
    last: int
    status: str  # in-flight | rolled-back
    next_created_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "first": self.first,
            "last": self.last,
            "positions": self.last - self.first + 1,
            "status": self.status,
            "next_event_at": self.next_created_at,
        }


@dataclass
class HorizonReport:
    """The sessions holding the horizon and the holes in the last `last` positions."""

    supported: bool
    head_position: int = 0
    last: int = DEFAULT_LAST
    sessions: list[Row] = field(default_factory=list)
    holes: list[Hole] = field(default_factory=list)

    @property
    def age_seconds(self) -> float:
        """How long the oldest transaction live readers wait behind has run (0 when none)."""
        return oldest_xid_age(self.sessions)

    def to_dict(self) -> dict[str, Any]:
        return {
            "supported": self.supported,
            "head_position": self.head_position,
            "last": self.last,
            "horizon_age_seconds": round(self.age_seconds, 3),
            "sessions": self.sessions,
            "holes": [h.to_dict() for h in self.holes],
            "in_flight_positions": sum(
                h.last - h.first + 1 for h in self.holes if h.status == "in-flight"
            ),
        }


def oldest_xid_age(sessions: list[Row]) -> float:
    """The age of the oldest transaction with an id among `sessions` (0 when none)."""
    ages = [
        float(s["transaction_age_seconds"] or 0.0) for s in sessions if s.get("xid") is not None
    ]
    return max(ages, default=0.0)


def horizon_age(store: Store) -> float | None:
    """The horizon's age in seconds (PostgreSQL), None where there is none (SQLite)."""
    port = store.horizon()
    return None if port is None else oldest_xid_age(port.sessions())


def oldest_xid_session(store: Store) -> str | None:
    """`pid 123 (app, user, running 42s)`: the oldest transaction live readers wait behind."""
    port = store.horizon()
    if port is None:
        return None
    holders = [s for s in port.sessions() if s.get("xid") is not None]
    if not holders:
        return None
    oldest = max(holders, key=lambda s: float(s["transaction_age_seconds"] or 0.0))
    who = ", ".join(str(oldest[k]) for k in ("application", "user") if oldest.get(k))
    pid = f"pid {oldest['pid']}" if oldest["pid"] is not None else str(oldest["application"])
    age = float(oldest["transaction_age_seconds"] or 0.0)
    return f"{pid} ({who}, running {age:.0f}s)" if who else f"{pid} (running {age:.0f}s)"


def horizon_report(store: Store, last: int = DEFAULT_LAST) -> HorizonReport:
    """The sessions holding the horizon back and the classed holes in the last `last`
    positions; `supported` False on SQLite (writers are serialised: no horizon)."""
    port = store.horizon()
    if port is None:
        return HorizonReport(supported=False, last=last)
    sessions = [_session(row) for row in port.sessions()]
    if store.layout.name != "esctl":  # holes are read from esctl's own events table
        return HorizonReport(True, 0, last, sessions, [])
    head, gaps = port.gaps(last)
    writers = [_time(s["xact_start"]) for s in sessions if s["writes_events"]]
    starts = [w for w in writers if w is not None]
    holes = []
    for gap in gaps:
        stamped = _time(gap["next_created_at"])
        # Above the head any running writer may hold it; below, one that began before the
        # next event was stamped.
        in_flight = bool(writers) if stamped is None else any(s <= stamped for s in starts)
        holes.append(
            Hole(
                int(gap["first"]),
                int(gap["last"]),
                "in-flight" if in_flight else "rolled-back",
                stamped,
            )
        )
    return HorizonReport(True, head, last, sessions, holes)


def _session(row: Row) -> Row:
    holds = "live readers" if row["xid"] is not None else "vacuum"
    age = row["transaction_age_seconds"]
    return {
        "pid": row["pid"],
        "user": row["user"],
        "application": row["application"],
        "database": row["database"],
        "state": row["state"],
        "holds_back": holds,
        "xid": row["xid"],
        "xmin": row["xmin"],
        "transaction_age_seconds": None if age is None else round(float(age), 3),
        "xact_start": row["xact_start"],
        "query_start": row["query_start"],
        "writes_events": bool(row["writes_events"]),
        "query": _one_line(row["query"]),
    }


def _one_line(query: str | None) -> str | None:
    return None if query is None else " ".join(query.split())


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        return utc_time(value)
    except (TypeError, ValueError):  # a time no datetime holds, stored by another writer
        return None
