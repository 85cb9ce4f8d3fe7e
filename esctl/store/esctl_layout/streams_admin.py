"""Soft and hard deletes of streams on esctl's tables (esctl.store.lifecycle.StreamAdmin):
tombstones in `esctl_stream_tombstones` (schema migration 5), the facts a plan shows, and the
bounded batches a hard delete removes events in. Reads hide a tombstoned stream with
`HIDDEN` (filters.py) unless the settings say `include_deleted`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from esctl.types import Row

if TYPE_CHECKING:
    from esctl.store.base import Session, Store


_NO_LIMIT = 2**63 - 1  # a version bound no stream reaches


class EsctlStreamAdmin:
    def __init__(self, session: Session, engine: Store) -> None:
        self.session = session
        self.engine = engine

    def facts(self, stream_id: str, below_version: int | None = None) -> Row:
        """events, first/last version, first/last position, bytes (0 and None when empty), of
        the stream's events below `below_version` if given."""
        data = self.engine.byte_length_sql("event_data")
        meta = self.engine.byte_length_sql("metadata")
        row = self.session.fetchone(
            "SELECT count(*) AS events, min(version) AS first_version, "  # noqa: S608 - fixed fragments
            "max(version) AS last_version, min(global_position) AS first_position, "
            f"max(global_position) AS last_position, sum({data} + {meta}) AS bytes "
            "FROM {events} WHERE stream_id = %s AND version < %s",
            [stream_id, below_version if below_version is not None else _NO_LIMIT],
        )
        assert row is not None
        return {**row, "events": int(row["events"] or 0), "bytes": int(row["bytes"] or 0)}

    def snapshot_version(self, stream_id: str) -> int | None:
        value = self.session.fetchval(
            "SELECT version FROM {snapshots} WHERE stream_id = %s", [stream_id]
        )
        return None if value is None else int(value)

    def tombstone(self, stream_id: str) -> Row | None:
        return self.session.fetchone(
            "SELECT stream_id, deleted_at, version, audit_id FROM {tombstones} "
            "WHERE stream_id = %s",
            [stream_id],
        )

    def deleted(self, stream_ids: list[str]) -> set[str]:
        if not stream_ids:
            return set()
        marks = ", ".join(["%s"] * len(stream_ids))
        rows = self.session.fetchall(
            "SELECT stream_id FROM {tombstones} WHERE stream_id IN (" + marks + ")",  # noqa: S608
            stream_ids,
        )
        return {str(r["stream_id"]) for r in rows}

    def deleted_stream_of(self, event_id: str) -> str | None:
        """The soft-deleted stream that holds the event `event_id`, if one does."""
        value = self.session.fetchval(
            "SELECT e.stream_id FROM {events} e JOIN {tombstones} t ON t.stream_id = e.stream_id "
            "WHERE e.id = %s",
            [event_id],
        )
        return None if value is None else str(value)

    def add_tombstone(self, stream_id: str, version: int, audit_id: int) -> bool:
        if self.tombstone(stream_id) is not None:
            return False
        self.session.execute(
            "INSERT INTO {tombstones} (stream_id, version, audit_id) VALUES (%s, %s, %s)",
            [stream_id, version, audit_id],
        )
        return True

    def remove_tombstone(self, stream_id: str) -> bool:
        return (
            self.session.execute("DELETE FROM {tombstones} WHERE stream_id = %s", [stream_id]) > 0
        )

    def delete_events(self, stream_id: str, limit: int, below_version: int | None = None) -> int:
        """Delete up to `limit` of the stream's events (below `below_version` if given), lowest
        versions first; how many."""
        below = below_version if below_version is not None else _NO_LIMIT
        return self.session.execute(
            "DELETE FROM {events} WHERE global_position IN (SELECT global_position FROM {events} "
            "WHERE stream_id = %s AND version < %s ORDER BY version LIMIT %s)",
            [stream_id, below, limit],
        )

    def delete_snapshot(self, stream_id: str) -> bool:
        return self.session.execute("DELETE FROM {snapshots} WHERE stream_id = %s", [stream_id]) > 0

    def touch_audit(self, audit_id: int, counts: Any) -> None:
        """Update the audit row's counts (a batch's progress): on PostgreSQL this also makes it
        a row of this transaction, which the protection trigger asks for."""
        self.session.execute(
            "UPDATE {audit} SET counts = %s WHERE id = %s",
            [self.session.json_param(counts), audit_id],
        )
