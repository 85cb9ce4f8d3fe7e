"""The visibility horizon's forensics (`esctl horizon`, the horizon age of `metrics`): what a
PostgreSQL engine answers; SQLite has none (its writers are serialised, nothing is ever in flight
behind a reader). `Store.horizon()` gives this port, or None."""

from __future__ import annotations

from typing import Protocol

from esctl.types import Row


class Horizon(Protocol):
    def sessions(self) -> list[Row]:
        """Every other session (and prepared transaction) with a transaction id or a snapshot:
        pid, user, application, database, state, xid, xmin, xact_start, query_start,
        transaction_age_seconds, query (cut), writes_events (holds a write lock on `events`);
        oldest first."""
        ...

    def gaps(self, last: int) -> tuple[int, list[Row]]:
        """The head and the missing positions among the last `last` ones up to the head, and
        above it up to the sequence's last value: ranges (first, last, next_created_at: when the
        first event after the range was stamped, None above the head), in order."""
        ...
