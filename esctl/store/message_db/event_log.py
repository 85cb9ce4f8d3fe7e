"""The event log port (esctl.ports.EventLog) on Message DB: reads and statistics on
`message_store.messages` through `messages.MESSAGES` (esctl's column names), streamed with a
server-side cursor. Versions are Message DB's positions (0 is a stream's first message); global
positions are its `global_position`. Writes are `writes.MessageDbWrites` (write_message only),
commit order `order.MessageDbOrder` (the rows' xmin)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from esctl.ports import EventFilter
from esctl.store.esctl_layout.where import condition_sql
from esctl.store.message_db.messages import MESSAGES, SELECT, filter_sql
from esctl.store.message_db.order import MessageDbOrder
from esctl.store.message_db.writes import MessageDbWrites
from esctl.types import RecordedEvent, Row

if TYPE_CHECKING:
    from esctl.conditions import Condition, WherePlan
    from esctl.store.base import Session

BATCH_SIZE = 5000
BYTES = "coalesce(octet_length(CAST(event_data AS text)), 0)"
META_BYTES = "coalesce(octet_length(CAST(metadata AS text)), 0)"
SORTS = {"events": "count(*)", "size": f"sum({BYTES} + {META_BYTES})", "last": "max(created_at)"}


def _recorded(rows: Iterator[Row]) -> Iterator[RecordedEvent]:
    return (RecordedEvent.from_row(row) for row in rows)


class MessageDbEventLog(MessageDbOrder, MessageDbWrites):
    def __init__(self, session: Session) -> None:
        self.session = session

    # --- events ---------------------------------------------------------------------------

    def stream_exists(self, stream_id: str) -> bool:
        return bool(
            self.session.fetchval(
                "SELECT 1 FROM message_store.messages WHERE stream_name = %s LIMIT 1", [stream_id]
            )
        )

    def read_stream(
        self,
        stream_id: str,
        *,
        from_version: int | None = None,
        limit: int | None = None,
        backwards: bool = False,
        conditions: tuple[Condition, ...] = (),
    ) -> Iterator[RecordedEvent]:
        query = SELECT + "WHERE stream_id = %s"
        params: list[Any] = [stream_id]
        if from_version is not None:
            query += " AND version <= %s" if backwards else " AND version >= %s"
            params.append(from_version)
        for condition in conditions:
            sql, values = condition_sql(condition, "postgresql")
            query += " AND " + sql
            params += values
        query += " ORDER BY version DESC" if backwards else " ORDER BY version"
        if limit is not None:
            query += " LIMIT %s"
            params.append(limit)
        return _recorded(self.session.stream(query, params, batch_size=BATCH_SIZE))

    def read_all(self, where: EventFilter, *, limit: int | None = None) -> Iterator[RecordedEvent]:
        condition, params = filter_sql(where, self.session.time_param)
        query = SELECT + "WHERE " + condition + " ORDER BY global_position"
        if limit is not None:
            query += " LIMIT %s"
            params.append(limit)
        return _recorded(self.session.stream(query, params, batch_size=BATCH_SIZE))

    def export_json_lines(
        self,
        where: EventFilter,
        *,
        limit: int | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> Iterator[bytes] | None:
        return None  # esctl renders each event (esctl.read.events)

    def where_plan(self, where: EventFilter) -> WherePlan | None:
        return None

    def get_event(self, event_id: str) -> RecordedEvent | None:
        row = self.session.fetchone(SELECT + "WHERE message_id = CAST(%s AS uuid)", [event_id])
        return RecordedEvent.from_row(row) if row is not None else None

    # --- streams --------------------------------------------------------------------------

    def stream_ids(self, prefix: str, limit: int) -> list[str]:
        rows = self.session.fetchall(
            "SELECT DISTINCT stream_name FROM message_store.messages WHERE stream_name >= %s "
            "ORDER BY stream_name LIMIT %s",
            [prefix, limit],
        )
        return [str(r["stream_name"]) for r in rows]

    def list_streams(
        self,
        *,
        category: str | None = None,
        after: str | None = None,
        limit: int | None = None,
        sort: str = "stream",
        reverse: bool = False,
        sample_percent: float | None = None,
    ) -> Iterator[Row]:
        """Every stream is read (no sample): Message DB's stores are counted exactly."""
        conditions: list[str] = []
        params: list[Any] = []
        if after is not None:
            conditions.append(
                "stream_id < %s" if reverse and sort == "stream" else "stream_id > %s"
            )
            params.append(after)
        if category is not None:
            conditions.append("stream_type = %s")
            params.append(category)
        where = ("WHERE " + " AND ".join(conditions)) if conditions else ""
        if sort == "stream":
            order = "stream_id" + (" DESC" if reverse else "")
        else:
            order = SORTS[sort] + (" ASC" if reverse else " DESC") + ", stream_id"
        query = (
            "SELECT stream_id, min(stream_type) AS stream_type, max(version) AS version, "  # noqa: S608 - fixed fragments
            "count(*) AS events, max(created_at) AS last_event_at, "
            f"sum({BYTES}) AS data_bytes, sum({META_BYTES}) AS metadata_bytes, "
            f"sum({BYTES} + {META_BYTES}) AS bytes FROM "
            + MESSAGES
            + " "
            + where
            + " GROUP BY stream_id ORDER BY "
            + order
        )
        if limit is not None:
            query += " LIMIT %s"
            params.append(limit)
        return self.session.stream(query, params, batch_size=1000)

    def stream_summary(self, stream_id: str) -> Row | None:
        summary = self.session.fetchone(
            "SELECT min(stream_type) AS stream_type, max(version) AS version, "
            "count(*) AS events, min(created_at) AS first_at, max(created_at) AS last_at "
            "FROM " + MESSAGES + " WHERE stream_id = %s",
            [stream_id],
        )
        if summary is None or not summary["events"]:
            return None
        by_type = self.session.fetchall(
            "SELECT type, count(*) AS n FROM message_store.messages WHERE stream_name = %s "
            "GROUP BY type ORDER BY count(*) DESC, type",
            [stream_id],
        )
        return {
            **summary,
            "counts_by_type": {r["type"]: int(r["n"]) for r in by_type},
            "snapshot_version": None,
        }

    # --- statistics -----------------------------------------------------------------------

    def bounds(self) -> Row:
        row = self.session.fetchone(
            "SELECT max(global_position) AS head, min(time AT TIME ZONE 'UTC') AS oldest, "
            "max(time AT TIME ZONE 'UTC') AS newest FROM message_store.messages"
        )
        assert row is not None  # an aggregate always returns a row
        return row

    def count(self) -> int:
        return int(self.session.fetchval("SELECT count(*) FROM message_store.messages") or 0)

    def count_streams(self) -> int:
        return int(
            self.session.fetchval("SELECT count(DISTINCT stream_name) FROM message_store.messages")
            or 0
        )

    def estimated_counts(self) -> dict[str, int | None] | None:
        row = self.session.fetchone(
            "SELECT c.reltuples::bigint AS events, s.n_distinct AS n_distinct "
            "FROM pg_catalog.pg_class c "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "LEFT JOIN pg_catalog.pg_stats s ON s.schemaname = n.nspname "
            "AND s.tablename = c.relname AND s.attname = 'stream_name' "
            "WHERE n.nspname = 'message_store' AND c.relname = 'messages'"
        )
        if row is None or row["events"] is None or int(row["events"]) < 0:
            return None
        events, distinct = int(row["events"]), row["n_distinct"]
        streams = (
            None if distinct is None else int(-distinct * events if distinct < 0 else distinct)
        )
        return {"events": events, "streams": streams}

    def _source(self, sample_percent: float | None) -> str:
        if sample_percent is None:
            return MESSAGES
        sampled = MESSAGES.replace(
            "FROM message_store.messages)",
            f"FROM message_store.messages TABLESAMPLE SYSTEM ({float(sample_percent)!r}))",
        )
        return sampled

    def counts_by_type(self, *, sample_percent: float | None = None) -> list[Row]:
        """(category, event_type, n): Message DB's category (`message_store.category`)."""
        return self.session.fetchall(
            "SELECT stream_type AS category, event_type, count(*) AS n FROM "  # noqa: S608
            + self._source(sample_percent)
            + " GROUP BY 1, 2 ORDER BY 1, 2"
        )

    def counts_grouped(
        self, by: Sequence[str], *, sample_percent: float | None = None
    ) -> list[Row]:
        """Events counted by `by` (`esctl.ports.GroupedCounts`): the tables of Message DB's
        summary views (`type_category_summary`, `type_stream_summary`, …), counted the same way."""
        columns = {"category": "stream_type", "event_type": "event_type", "stream_id": "stream_id"}
        chosen = ", ".join(f"{columns[d]} AS {d}" for d in by)  # fixed names, never input
        places = ", ".join(str(n) for n in range(1, len(by) + 1))
        return self.session.fetchall(
            f"SELECT {chosen}, count(*) AS n FROM "  # noqa: S608 - fixed fragments
            + self._source(sample_percent)
            + f" GROUP BY {places} ORDER BY {places}"
        )

    def sizes_by_type(self, *, sample_percent: float | None = None) -> list[Row]:
        sized = (
            "SELECT stream_type AS category, event_type, id, stream_id, global_position, "  # noqa: S608
            f"{BYTES} AS data_bytes, {META_BYTES} AS metadata_bytes FROM "
            + self._source(sample_percent)
        )
        ranked = (
            "SELECT category, event_type, count(*) OVER g AS events, "
            "sum(data_bytes) OVER g AS data_bytes, sum(metadata_bytes) OVER g AS metadata_bytes, "
            "id AS largest_id, stream_id AS largest_stream_id, "
            "global_position AS largest_position, data_bytes + metadata_bytes AS largest_bytes, "
            "row_number() OVER (PARTITION BY category, event_type "
            "ORDER BY data_bytes + metadata_bytes DESC, global_position) AS place "
            "FROM (" + sized + ") AS sized WINDOW g AS (PARTITION BY category, event_type)"
        )
        return self.session.fetchall(
            "SELECT category, event_type, events, data_bytes, metadata_bytes, largest_id, "  # noqa: S608
            "largest_stream_id, largest_position, largest_bytes FROM (" + ranked + ") AS ranked "
            "WHERE place = 1 ORDER BY category, event_type"
        )

    def relation_sizes(self) -> list[Row]:
        return self.session.fetchall(
            "SELECT c.relname AS table, c.reltuples::bigint AS rows_estimate, "
            "pg_relation_size(c.oid) AS table_bytes, "
            "coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0) AS toast_bytes, "
            "pg_indexes_size(c.oid) AS index_bytes, pg_total_relation_size(c.oid) AS total_bytes "
            "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'message_store' AND c.relname = 'messages'"
        )
