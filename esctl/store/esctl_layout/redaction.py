"""`events redact` on esctl's `events` (esctl.store.lifecycle.EventRedactor): one event's JSON
text read (locked on PostgreSQL; SQLite's write transaction is already exclusive), and its data
and metadata written back. Only those two columns are updated: id, position, version, type,
times and the transaction id stay as they are (no trigger of esctl's touches them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from esctl.types import Row

if TYPE_CHECKING:
    from esctl.store.base import Session

_SELECT = (
    "SELECT global_position, CAST(id AS TEXT) AS event_id, stream_id, stream_type, version, "
    "event_type, CAST(event_data AS TEXT) AS data, CAST(metadata AS TEXT) AS metadata "
    "FROM {events} WHERE id = %s"
)


class EsctlEventRedactor:
    def __init__(self, session: Session) -> None:
        self.session = session

    def event(self, event_id: str, *, lock: bool = False) -> Row | None:
        locking = lock and self.session.backend == "postgresql"
        return self.session.fetchone(_SELECT + (" FOR UPDATE" if locking else ""), [event_id])

    def rewrite(self, global_position: int, data: str, metadata: str | None) -> None:
        # PostgreSQL parses the text into jsonb; SQLite keeps the text as given.
        as_json = "CAST(%s AS jsonb)" if self.session.backend == "postgresql" else "%s"
        changed = self.session.execute(
            f"UPDATE {{events}} SET event_data = {as_json}, metadata = {as_json} "  # noqa: S608 - fixed fragments
            "WHERE global_position = %s",
            [data, metadata, global_position],
        )
        if changed != 1:
            raise RuntimeError(f"the event at position {global_position} was not rewritten")
