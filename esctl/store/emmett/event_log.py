"""The event log port (esctl.ports.EventLog) on Emmett's `emt_messages`: reads and statistics
through `messages.MESSAGES` (esctl's column names), streamed with a server-side cursor, and the
commit order `(transaction_id, global_position)` that Emmett's own processors read in (the
Message DB adapter's `MessageDbOrder`, on Emmett's stored xid8 instead of a row's xmin).

Versions are Emmett's stream positions (1 is a stream's first message). Archived messages are
left out unless `--include-archived`; the log a processor follows (`partition`) holds only Emmett's
default partition, the one its consumer reads. Writes are
`writes.EmmettWrites` (through Emmett's emt_append_to_stream only)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from esctl.ports import EventFilter
from esctl.store.emmett.messages import COLUMNS, MESSAGES, base_condition, filter_sql
from esctl.store.emmett.writes import EmmettWrites
from esctl.store.esctl_layout.where import condition_sql
from esctl.store.message_db.order import MessageDbOrder
from esctl.types import RecordedEvent, Row

if TYPE_CHECKING:
    from esctl.conditions import Condition, WherePlan
    from esctl.store.base import Session

BATCH_SIZE = 5000
BYTES = "coalesce(octet_length(CAST(event_data AS text)), 0)"
META_BYTES = "coalesce(octet_length(CAST(metadata AS text)), 0)"
SORTS = {"events": "count(*)", "size": f"sum({BYTES} + {META_BYTES})", "last": "max(created_at)"}
SELECT = "SELECT " + COLUMNS + " FROM " + MESSAGES + " "  # noqa: S608 - fixed fragments


def _recorded(rows: Iterator[Row]) -> Iterator[RecordedEvent]:
    return (RecordedEvent.from_row(row) for row in rows)


class EmmettEventLog(MessageDbOrder, EmmettWrites):
    ordered = MESSAGES
    columns = COLUMNS

    def __init__(
        self,
        session: Session,
        *,
        schema: str = "public",
        include_archived: bool = False,
        partition: str | None = None,
    ) -> None:
        self.session = session
        self.schema = schema
        self.base = base_condition(include_archived=include_archived)
        if partition is not None:
            # An expression, not a parameter: the commit-order queries take the base as SQL.
            self.base += " AND partition = " + _literal(partition)

    def _where(self, extra: str = "") -> str:
        return "WHERE " + self.base + (" AND " + extra if extra else "")

    # --- events ---------------------------------------------------------------------------

    def stream_exists(self, stream_id: str) -> bool:
        query = "SELECT 1 FROM " + MESSAGES + " " + self._where("stream_id = %s") + " LIMIT 1"  # noqa: S608 - fixed fragments
        return bool(self.session.fetchval(query, [stream_id]))

    def read_stream(
        self,
        stream_id: str,
        *,
        from_version: int | None = None,
        limit: int | None = None,
        backwards: bool = False,
        conditions: tuple[Condition, ...] = (),
    ) -> Iterator[RecordedEvent]:
        query = SELECT + self._where("stream_id = %s")
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
        condition, params = filter_sql(where, self.base, self.session.time_param)
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
        row = self.session.fetchone(SELECT + self._where("id = %s") + " LIMIT 1", [event_id])
        return RecordedEvent.from_row(row) if row is not None else None

    # --- streams --------------------------------------------------------------------------

    def stream_ids(self, prefix: str, limit: int) -> list[str]:
        rows = self.session.fetchall(
            "SELECT DISTINCT stream_id FROM "  # noqa: S608 - fixed fragments
            + MESSAGES
            + " "
            + self._where("stream_id >= %s")
            + " ORDER BY stream_id LIMIT %s",
            [prefix, limit],
        )
        return [str(r["stream_id"]) for r in rows]

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
        """Every stream is read (no sample): counted exactly."""
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
            + self._where(" AND ".join(conditions))
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
            "FROM " + MESSAGES + " " + self._where("stream_id = %s"),
            [stream_id],
        )
        if summary is None or not summary["events"]:
            return None
        by_type = self.session.fetchall(
            "SELECT event_type, count(*) AS n FROM "  # noqa: S608 - fixed fragments
            + MESSAGES
            + " "
            + self._where("stream_id = %s")
            + " GROUP BY event_type ORDER BY count(*) DESC, event_type",
            [stream_id],
        )
        return {
            **summary,
            "counts_by_type": {r["event_type"]: int(r["n"]) for r in by_type},
            "snapshot_version": None,
        }

    # --- statistics -----------------------------------------------------------------------

    def bounds(self) -> Row:
        row = self.session.fetchone(
            "SELECT max(global_position) AS head, min(created_at) AS oldest, "  # noqa: S608
            "max(created_at) AS newest FROM " + MESSAGES + " " + self._where()
        )
        assert row is not None  # an aggregate always returns a row
        return row

    def count(self) -> int:
        query = "SELECT count(*) FROM " + MESSAGES + " " + self._where()  # noqa: S608
        return int(self.session.fetchval(query) or 0)

    def count_streams(self) -> int:
        query = "SELECT count(DISTINCT stream_id) FROM " + MESSAGES + " " + self._where()  # noqa: S608
        return int(self.session.fetchval(query) or 0)

    def estimated_counts(self) -> dict[str, int | None] | None:
        return None  # a partitioned table's estimates are its partitions': counted exactly

    def counts_by_type(self, *, sample_percent: float | None = None) -> list[Row]:
        """(category, event_type, n)."""
        return self.session.fetchall(
            "SELECT stream_type AS category, event_type, count(*) AS n FROM "  # noqa: S608
            + MESSAGES
            + " "
            + self._where()
            + " GROUP BY 1, 2 ORDER BY 1, 2"
        )

    def counts_grouped(
        self, by: Sequence[str], *, sample_percent: float | None = None
    ) -> list[Row]:
        """Events counted by `by` (`esctl.ports.GroupedCounts`); counted exactly (the estimates
        of a partitioned table are its partitions')."""
        columns = {"category": "stream_type", "event_type": "event_type", "stream_id": "stream_id"}
        chosen = ", ".join(f"{columns[d]} AS {d}" for d in by)  # fixed names, never input
        places = ", ".join(str(n) for n in range(1, len(by) + 1))
        return self.session.fetchall(
            f"SELECT {chosen}, count(*) AS n FROM "  # noqa: S608 - fixed fragments
            + MESSAGES
            + " "
            + self._where()
            + f" GROUP BY {places} ORDER BY {places}"
        )

    def sizes_by_type(self, *, sample_percent: float | None = None) -> list[Row]:
        sized = (
            "SELECT stream_type AS category, event_type, id, stream_id, global_position, "  # noqa: S608
            f"{BYTES} AS data_bytes, {META_BYTES} AS metadata_bytes FROM "
            + MESSAGES
            + " "
            + self._where()
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
        from esctl.store.emmett.catalog import relation_sizes

        return relation_sizes(self.session, self.schema)


def _literal(text: str) -> str:
    """A partition name (stored by Emmett's processors: any text) as a SQL expression of hex
    digits only, so no quote, `{`, `}` or `%` of it reaches the engine's templates."""
    return "convert_from(decode('" + text.encode().hex() + "', 'hex'), 'UTF8')"
