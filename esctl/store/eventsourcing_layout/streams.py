"""Streams and per-type figures of an `eventsourcing` stored-events table: `streams list`,
`streams show`, `stats`. The state's bytes are the data size (metadata is esctl's own, 0)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from esctl.store.eventsourcing_layout.decode import CLASS_SQL, aggregate_of, stream_condition
from esctl.types import Row
from esctl.values import category_of

if TYPE_CHECKING:
    from esctl.store.base import Session
    from esctl.store.eventsourcing_layout.event_log import EventsourcingEventLog

ORDER = {
    "stream": "stream_id",
    "events": "events DESC, stream_id",
    "size": "bytes DESC, stream_id",
    "last": "last_position DESC, stream_id",
}


def list_streams(
    session: Session,
    table: str,
    *,
    category: str | None,
    after: str | None,
    limit: int | None,
    sort: str,
    reverse: bool,
) -> Iterator[Row]:
    clauses: list[str] = ["TRUE"]
    params: list[Any] = []
    if after is not None and sort == "stream":
        clauses.append("CAST(originator_id AS text) > %s")
        params.append(after)
    order = ORDER.get(sort, ORDER["stream"])
    if reverse and sort != "stream":
        order = order.replace(" DESC", " ASC")
    query = (
        "SELECT CAST(originator_id AS text) AS stream_id, min(topic) AS topic, "  # noqa: S608
        "max(originator_version) AS version, count(*) AS events, "
        "max(notification_id) AS last_position, sum(coalesce(octet_length(state), 0)) AS bytes "
        f"FROM {table} WHERE {' AND '.join(clauses)} GROUP BY originator_id ORDER BY {order}"
    )
    if limit is not None and category is None:
        query += " LIMIT %s"
        params.append(limit)
    shown = 0
    for row in session.stream(query, params):
        if category is not None and category_of(row["stream_id"]) != category:
            continue
        if limit is not None and shown >= limit:
            return
        shown += 1
        size = int(row["bytes"] or 0)
        yield {
            "stream_id": row["stream_id"],
            "stream_type": aggregate_of(row["topic"]),
            "version": int(row["version"]),
            "events": int(row["events"]),
            "last_event_at": None,
            "data_bytes": size,
            "metadata_bytes": 0,
            "bytes": size,
        }


def stream_summary(log: EventsourcingEventLog, stream_id: str) -> Row | None:
    where, params = stream_condition(stream_id)
    summary = log.session.fetchone(
        "SELECT min(topic) AS topic, max(originator_version) AS version, count(*) AS events "  # noqa: S608
        f"FROM {log.table} WHERE {where}",
        params,
    )
    if summary is None or not summary["events"]:
        return None
    by_type = log.session.fetchall(
        f"SELECT {CLASS_SQL} AS event_type, count(*) AS n FROM {log.table} WHERE {where} "  # noqa: S608
        "GROUP BY 1 ORDER BY count(*) DESC, 1",
        params,
    )
    first = next(log.read_stream(stream_id, limit=1), None)
    last = next(log.read_stream(stream_id, limit=1, backwards=True), None)
    return {
        "stream_type": aggregate_of(summary["topic"]),
        "version": int(summary["version"]),
        "events": int(summary["events"]),
        "first_at": first.created_at if first else None,
        "last_at": last.created_at if last else None,
        "counts_by_type": {r["event_type"]: int(r["n"]) for r in by_type},
        "snapshot_version": None,
    }


def counts_by_type(session: Session, table: str) -> list[Row]:
    """(category, event_type, n): the category of an aggregate's events is its class."""
    rows = session.fetchall(
        f"SELECT topic, count(*) AS n FROM {table} GROUP BY topic ORDER BY topic"  # noqa: S608
    )
    return _by_type(rows, lambda r: {"n": int(r["n"])})


def counts_grouped(session: Session, table: str, by: Sequence[str]) -> list[Row]:
    """Events counted by `by` (`esctl.ports.GroupedCounts`): aggregate (category) and event
    class come from the topic, so the groups are formed, and sorted, here."""
    from esctl.store.eventsourcing_layout.decode import class_of

    rows = session.fetchall(
        f"SELECT CAST(originator_id AS text) AS stream_id, topic, count(*) AS n FROM {table} "  # noqa: S608
        "GROUP BY 1, 2"
    )
    totals: dict[tuple[str, ...], int] = {}
    for row in rows:
        keys = {
            "stream_id": str(row["stream_id"]),
            "category": aggregate_of(row["topic"]),
            "event_type": class_of(row["topic"]),
        }
        group = tuple(keys[d] for d in by)
        totals[group] = totals.get(group, 0) + int(row["n"])
    return [{**dict(zip(by, group, strict=True)), "n": n} for group, n in sorted(totals.items())]


def sizes_by_type(session: Session, table: str) -> list[Row]:
    rows = session.fetchall(
        "SELECT topic, count(*) AS events, sum(coalesce(octet_length(state), 0)) AS data_bytes, "  # noqa: S608
        "max(coalesce(octet_length(state), 0)) AS largest_bytes "
        f"FROM {table} GROUP BY topic ORDER BY topic"
    )
    return _by_type(
        rows,
        lambda r: {
            "events": int(r["events"]),
            "data_bytes": int(r["data_bytes"] or 0),
            "metadata_bytes": 0,
            "largest_id": None,
            "largest_stream_id": None,
            "largest_position": None,
            "largest_bytes": int(r["largest_bytes"] or 0),
        },
    )


def _by_type(rows: list[Row], figures: Any) -> list[Row]:
    from esctl.store.eventsourcing_layout.decode import class_of

    out = [
        {"category": aggregate_of(r["topic"]), "event_type": class_of(r["topic"]), **figures(r)}
        for r in rows
    ]
    return sorted(out, key=lambda r: (r["category"], r["event_type"]))
