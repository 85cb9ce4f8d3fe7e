"""The write side of the event log (esctl.ports.EventWrites) on esctl's `events` table.

The append pipeline (`esctl.append`) decides versions and idempotency; this adapter answers its
questions (the current version of streams, which event ids are stored) and writes its rows through
the engine's bulk path (COPY on PostgreSQL, `executemany` on SQLite). Queries are written once for
both engines (`%s` placeholders, `{events}`), sent in chunks so a statement's parameters stay
within every engine's limits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from esctl.errors import ConcurrencyError
from esctl.store.esctl_layout.tables import EVENT_COLUMNS
from esctl.types import NewEventRow, RecordedEvent

if TYPE_CHECKING:
    from esctl.store.base import Session, Store

# Parameters per lookup statement: far below SQLite's 32766 and PostgreSQL's 65535.
LOOKUP_CHUNK = 500


class EsctlEventWrites:
    """`tx.log`'s write verbs, inside the caller's transaction (`self.session`)."""

    session: Session

    @property
    def _engine(self) -> Store:
        """The store behind the session: its bulk insert and its own-transaction positions differ
        per engine."""
        store: Store = self.session._store  # type: ignore[attr-defined]
        return store

    def head(self) -> int:
        """The highest global position this transaction sees (0 for an empty store)."""
        return int(self.session.fetchval("SELECT coalesce(max(global_position), 0) FROM {events}"))

    def append_mark(self) -> int:
        """The `since` of `appended_positions`, taken before appending: the head on SQLite; 0 on
        PostgreSQL, whose rows carry their transaction's id (no query, no round trip)."""
        return self._engine.append_mark(self.session)

    def stream_versions(self, stream_ids: Sequence[str]) -> dict[str, int]:
        """The highest stored version of each stream that has events (absent: no events); a
        soft-deleted stream among them is a conflict (exit 3). One statement per chunk: the
        versions and the tombstones are asked together (one round trip)."""
        found: dict[str, int] = {}
        for start in range(0, len(stream_ids), LOOKUP_CHUNK):
            part = stream_ids[start : start + LOOKUP_CHUNK]
            # One max() per stream, which both engines answer from the end of the
            # (stream_id, version) index; `max … GROUP BY` would read every event of the streams.
            # The ids as rows v(column1): one array parameter on PostgreSQL, so the statement
            # text is the same for any count and the server prepares it once a session.
            values, params = self._engine.text_rows(part)
            rows = self.session.fetchall(
                "SELECT v.column1 AS stream_id, (SELECT max(version) FROM {events} "  # noqa: S608 - placeholders only
                "WHERE stream_id = v.column1) AS version, EXISTS (SELECT 1 FROM {tombstones} t "
                f"WHERE t.stream_id = v.column1) AS deleted FROM {values}",
                params,
            )
            deleted = sorted(r["stream_id"] for r in rows if r["deleted"])
            if deleted:
                raise _deleted(deleted[0])
            found.update(
                (r["stream_id"], int(r["version"])) for r in rows if r["version"] is not None
            )
        return found

    def stored_by_id(self, event_ids: Sequence[str]) -> dict[str, RecordedEvent]:
        """The stored events among `event_ids`, by id (ids not stored are absent)."""
        found: dict[str, RecordedEvent] = {}
        for start in range(0, len(event_ids), LOOKUP_CHUNK):
            part = event_ids[start : start + LOOKUP_CHUNK]
            placeholders = ", ".join(["%s"] * len(part))
            rows = self.session.fetchall(
                f"SELECT {EVENT_COLUMNS} FROM {{events}} "  # noqa: S608 - placeholders only
                f"WHERE id IN ({placeholders})",
                part,
            )
            for row in rows:
                record = RecordedEvent.from_row(row)
                found[record.event_id] = record
        return found

    def append(self, rows: Iterable[NewEventRow]) -> None:
        """Insert new events, versions assigned by the caller, streamed in bulk (memory stays flat;
        nothing is visible before COMMIT). A row's `created_at` of None means now. A unique
        violation (event id, or stream and version) raises Conflict (exit 3); the caller diagnoses
        it."""
        self._engine.insert_events(self.session, rows)

    def appended_positions(
        self, since: int, versions: Mapping[str, tuple[int, int]] | None = None
    ) -> dict[str, tuple[int, int]]:
        """First and last global position, per stream, of the events this transaction appended;
        `since` is `append_mark()` taken before appending."""
        return self._engine.appended_positions(self.session, since, versions)


def _deleted(stream_id: str) -> ConcurrencyError:
    """An append to a soft-deleted stream is a conflict (exit 3) until it is undeleted."""
    return ConcurrencyError(
        f"stream {stream_id!r} is deleted (`esctl streams delete`): "
        "appending to it is refused; nothing was written",
        hint=f"`esctl streams undelete {stream_id} --execute` restores it first",
    )
