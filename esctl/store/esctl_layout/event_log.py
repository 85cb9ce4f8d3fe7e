"""The event log port (esctl.ports.EventLog) on esctl's tables: the read side. Queries are written
once for both engines (`%s` placeholders, `{events}`); where the engines differ (the category
expression, TABLESAMPLE, catalog estimates, the server-rendered JSON export) the engine's store
gives a primitive. Every read streams rows (a server-side cursor on PostgreSQL, `fetchmany` on
SQLite), so reading a million events keeps memory flat."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from esctl.ports import EventFilter
from esctl.store.esctl_layout.commit_order import EsctlCommitOrder
from esctl.store.esctl_layout.filters import HIDDEN, filter_sql
from esctl.store.esctl_layout.tables import EVENT_COLUMNS
from esctl.store.esctl_layout.where import condition_sql
from esctl.store.esctl_layout.writes import EsctlEventWrites
from esctl.types import RecordedEvent, Row

if TYPE_CHECKING:
    from esctl.conditions import Condition, WherePlan
    from esctl.store.base import Session

BATCH_SIZE = 5000  # rows per fetch of a streamed read

SELECT_EVENTS = "SELECT " + EVENT_COLUMNS + " FROM {events} "  # noqa: S608 - fixed columns


def _recorded(rows: Iterator[Row]) -> Iterator[RecordedEvent]:
    return (RecordedEvent.from_row(row) for row in rows)


class EsctlEventLog(EsctlCommitOrder, EsctlEventWrites):
    def __init__(self, session: Session) -> None:
        self.session = session

    # --- events ---------------------------------------------------------------------------

    @property
    def _hide(self) -> bool:
        """Whether reads leave out soft-deleted streams (all but `--include-deleted`)."""
        return not self._engine.settings.include_deleted

    def _visible(self, joiner: str = " AND ") -> str:
        return joiner + HIDDEN if self._hide else ""

    def stream_exists(self, stream_id: str) -> bool:
        return bool(
            self.session.fetchval(
                "SELECT 1 FROM {events} WHERE stream_id = %s"  # noqa: S608 - fixed fragments
                + self._visible()
                + " LIMIT 1",
                [stream_id],
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
        """A stream's events in version order (newest first with `backwards`, from
        `from_version` down), matching `conditions`, streamed."""
        query = SELECT_EVENTS + "WHERE stream_id = %s" + self._visible()
        params: list[Any] = [stream_id]
        if from_version is not None:
            query += " AND version <= %s" if backwards else " AND version >= %s"
            params.append(from_version)
        for condition in conditions:
            sql, values = condition_sql(condition, self.session.backend)
            query += " AND " + sql
            params += values
        query += " ORDER BY version DESC" if backwards else " ORDER BY version"
        if limit is not None:
            query += " LIMIT %s"
            params.append(limit)
        return _recorded(self.session.stream(query, params, batch_size=BATCH_SIZE))

    def _filter(self, where: EventFilter) -> tuple[str, list[Any]]:
        backend, bind = self.session.backend, self.session.time_param
        return filter_sql(where, backend, bind, hide_deleted=self._hide)

    def _all_query(self, where: EventFilter, limit: int | None) -> tuple[str, list[Any]]:
        condition, params = self._filter(where)
        query = "FROM {events} WHERE " + condition + " ORDER BY global_position"
        if limit is not None:
            query += " LIMIT %s"
            params.append(limit)
        return query, params

    def read_all(self, where: EventFilter, *, limit: int | None = None) -> Iterator[RecordedEvent]:
        """The global log in position order, filtered, streamed."""
        query, params = self._all_query(where, limit)
        rows = self.session.stream("SELECT " + EVENT_COLUMNS + " " + query, params, BATCH_SIZE)
        return _recorded(rows)

    def export_json_lines(
        self,
        where: EventFilter,
        *,
        limit: int | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> Iterator[bytes] | None:
        """The matching events in position order as UTF-8 JSON lines rendered by the server
        (chunks of whole lines, the bytes of `esctl.read.events.event_json_line`), or None when the
        engine leaves rendering to the caller. `warn` names each row that cannot go back
        through `esctl append` unchanged."""
        condition, params = self._filter(where)
        return self._engine.session_json_lines(self.session, condition, params, limit, warn=warn)

    def where_plan(self, where: EventFilter) -> WherePlan | None:
        """PostgreSQL's plan of `read_all(where)` (EXPLAIN, nothing read); None on SQLite."""
        if self.session.backend != "postgresql":
            return None
        from esctl.store.esctl_layout.plans import where_plan

        query, params = self._all_query(where, None)
        return where_plan(self.session, self._engine.settings.schema, where, query, params)

    def get_event(self, event_id: str) -> RecordedEvent | None:
        """One event by id (a UUID's canonical text), or None (also for an event of a
        soft-deleted stream, unless `--include-deleted`)."""
        row = self.session.fetchone(SELECT_EVENTS + "WHERE id = %s" + self._visible(), [event_id])
        return RecordedEvent.from_row(row) if row is not None else None

    # --- streams --------------------------------------------------------------------------

    def stream_ids(self, prefix: str, limit: int) -> list[str]:
        """Up to `limit` stream ids from `prefix` on, in order (shell completion): walks the
        (stream_id, version) index from the prefix; DISTINCT stops after `limit` streams."""
        rows = self.session.fetchall(
            "SELECT DISTINCT stream_id FROM {events} WHERE stream_id >= %s "
            "ORDER BY stream_id LIMIT %s",
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
        """Streams (stream_id, stream_type, version, events, last_event_at as stored, data_bytes,
        metadata_bytes, bytes) in id order, one page after `after`, or ranked by `sort`
        (events, size, last), over a sample of the log if asked: `esctl_layout.sizes`."""
        from esctl.store.esctl_layout.sizes import list_streams

        return list_streams(
            self.session,
            self._engine,
            category=category,
            after=after,
            limit=limit,
            sort=sort,
            reverse=reverse,
            sample_percent=sample_percent,
            hide_deleted=self._hide,
        )

    def stream_summary(self, stream_id: str) -> Row | None:
        """One stream's stream_type, version, events, first_at, last_at (as stored),
        counts_by_type (most frequent first) and snapshot_version; None without events."""
        summary = self.session.fetchone(
            "SELECT min(stream_type) AS stream_type, max(version) AS version, count(*) AS events, "  # noqa: S608
            "min(created_at) AS first_at, max(created_at) AS last_at FROM {events} "
            "WHERE stream_id = %s" + self._visible(),
            [stream_id],
        )
        if summary is None or not summary["events"]:
            return None
        by_type = self.session.fetchall(
            "SELECT event_type, count(*) AS n FROM {events} WHERE stream_id = %s "
            "GROUP BY event_type ORDER BY count(*) DESC, event_type",
            [stream_id],
        )
        snapshot = self.session.fetchval(
            "SELECT version FROM {snapshots} WHERE stream_id = %s", [stream_id]
        )
        return {
            **summary,
            "counts_by_type": {r["event_type"]: int(r["n"]) for r in by_type},
            "snapshot_version": int(snapshot) if snapshot is not None else None,
        }

    # --- statistics -----------------------------------------------------------------------

    def bounds(self) -> Row:
        """head (the highest position, None when empty), oldest and newest created_at (of the
        streams not soft-deleted, unless `--include-deleted`; the head is the whole log's)."""
        if not self._hide:
            row = self.session.fetchone(
                "SELECT max(global_position) AS head, min(created_at) AS oldest, "
                "max(created_at) AS newest FROM {events}"
            )
        else:
            row = self.session.fetchone(
                "SELECT (SELECT max(global_position) FROM {events}) AS head, "  # noqa: S608 - fixed fragments
                "min(created_at) AS oldest, max(created_at) AS newest FROM {events} WHERE " + HIDDEN
            )
        assert row is not None  # an aggregate always returns a row
        return row

    def count(self) -> int:
        """Every event (a full scan)."""
        query = "SELECT count(*) FROM {events}" + self._visible(" WHERE ")  # noqa: S608
        return int(self.session.fetchval(query) or 0)

    def count_streams(self) -> int:
        query = "SELECT count(DISTINCT stream_id) FROM {events}" + self._visible(" WHERE ")  # noqa: S608
        return int(self.session.fetchval(query) or 0)

    def estimated_counts(self) -> dict[str, int | None] | None:
        """Catalog estimates of `events` and `streams` (PostgreSQL), or None (SQLite, or a
        table never analysed); without the soft-deleted streams unless `--include-deleted`."""
        estimates = self._engine.estimate_counts(self.session)
        if estimates is None or not self._hide:
            return estimates
        # The catalog counts every row: take off the soft-deleted streams' events (an index
        # scan of those streams only) and the streams themselves.
        hidden = self.session.fetchone(
            "SELECT count(*) AS events, count(DISTINCT stream_id) AS streams FROM {events} "
            "WHERE stream_id IN (SELECT stream_id FROM {tombstones})"
        )
        assert hidden is not None  # an aggregate always returns a row
        events, streams = estimates.get("events"), estimates.get("streams")
        return {
            **estimates,
            "events": None if events is None else max(0, events - int(hidden["events"])),
            "streams": None if streams is None else max(0, streams - int(hidden["streams"])),
        }

    def counts_by_type(self, *, sample_percent: float | None = None) -> list[Row]:
        """(category, event_type, n) in category and type order; with `sample_percent`, counted
        over about that share of the events where the engine can sample (TABLESAMPLE)."""
        source = "{events}"
        if sample_percent is not None:
            source += self._engine.sample_clause(sample_percent)
        return self.session.fetchall(
            "SELECT "  # noqa: S608 - fixed fragments from the engine
            + self._engine.category_sql()
            + " AS category, event_type, count(*) AS n FROM "
            + source
            + self._visible(" WHERE ")
            + " GROUP BY 1, 2 ORDER BY 1, 2"
        )

    def counts_grouped(
        self, by: Sequence[str], *, sample_percent: float | None = None
    ) -> list[Row]:
        """Events counted by `by` (`esctl.ports.GroupedCounts`), in the engine's collation."""
        columns = {"category": self._engine.category_sql(), "event_type": "event_type"}
        columns["stream_id"] = "stream_id"
        chosen = ", ".join(f"{columns[d]} AS {d}" for d in by)  # fixed names, never input
        places = ", ".join(str(n) for n in range(1, len(by) + 1))
        source = "{events}"
        if sample_percent is not None:
            source += self._engine.sample_clause(sample_percent)
        return self.session.fetchall(
            f"SELECT {chosen}, count(*) AS n FROM "  # noqa: S608 - fixed fragments
            + source
            + self._visible(" WHERE ")
            + f" GROUP BY {places} ORDER BY {places}"
        )

    def sizes_by_type(self, *, sample_percent: float | None = None) -> list[Row]:
        """Bytes per (category, event_type) and each group's largest event: `esctl_layout.sizes`."""
        from esctl.store.esctl_layout.sizes import sizes_by_type

        return sizes_by_type(
            self.session, self._engine, sample_percent=sample_percent, hide_deleted=self._hide
        )

    def relation_sizes(self) -> list[Row]:
        """On-disk sizes of the events, snapshots and checkpoints tables ([] on SQLite)."""
        return self._engine.relation_sizes(self.session)
