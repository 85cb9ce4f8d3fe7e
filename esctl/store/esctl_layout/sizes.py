"""Where the bytes are, on esctl's tables: streams listed in id order or ranked by events, bytes
or last event time, and bytes by category x type with each group's largest event. Bytes are the
UTF-8 bytes of the JSON text of `event_data` and `metadata` (the engine's `byte_length_sql`): what
esctl reads and exports, the same measure on both engines. Either query can read a sample of the
log (the engine's TABLESAMPLE); the caller scales and labels what a sample gives."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from esctl.store.esctl_layout.filters import HIDDEN, category_condition
from esctl.types import Row

if TYPE_CHECKING:
    from esctl.store.base import Session, Store

SORTS = ("events", "size", "last", "stream")


def _lengths(engine: Store) -> tuple[str, str]:
    return engine.byte_length_sql("event_data"), engine.byte_length_sql("metadata")


def list_streams(
    session: Session,
    engine: Store,
    *,
    category: str | None,
    after: str | None,
    limit: int | None,
    sort: str,
    reverse: bool,
    sample_percent: float | None,
    hide_deleted: bool = True,
) -> Iterator[Row]:
    """Streams with their events and bytes. `sort` "stream": id order, keyset-paged after `after`
    over the `(stream_id, version)` index (a page reads only its own streams' events); any other
    sort aggregates every (sampled) event first, largest first (`reverse`: smallest first), ties
    in id order. `after` pages the id order only."""
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}")
    data, meta = _lengths(engine)
    conditions: list[str] = [HIDDEN] if hide_deleted else []
    params: list[Any] = []
    if after is not None:
        conditions.append("stream_id < %s" if reverse and sort == "stream" else "stream_id > %s")
        params.append(after)
    if category is not None:
        # A lower bound the index can start from, then the exact category test.
        condition, values = category_condition(category)
        conditions += ["stream_id >= %s", condition]
        params += [category, *values]
    where = ("WHERE " + " AND ".join(conditions)) if conditions else ""
    source = "{events}" + (engine.sample_clause(sample_percent) if sample_percent else "")
    descending = " ASC" if reverse else " DESC"
    order = {
        "stream": "stream_id" + (" DESC" if reverse else ""),
        "events": "count(*)" + descending,
        "size": f"sum({data} + {meta})" + descending,
        "last": "max(created_at)" + descending,
    }[sort]
    if sort != "stream":
        order += ", stream_id"
    query = (
        "SELECT stream_id, min(stream_type) AS stream_type, max(version) AS version, "  # noqa: S608 - fixed fragments
        "count(*) AS events, max(created_at) AS last_event_at, "
        f"sum({data}) AS data_bytes, sum({meta}) AS metadata_bytes, "
        f"sum({data} + {meta}) AS bytes FROM "
        + source
        + " "
        + where
        + " GROUP BY stream_id ORDER BY "
        + order
    )
    if limit is not None:
        query += " LIMIT %s"
        params.append(limit)
    return session.stream(query, params, batch_size=1000)


def sizes_by_type(
    session: Session, engine: Store, *, sample_percent: float | None, hide_deleted: bool = True
) -> list[Row]:
    """Per (category, event_type), in that order: events, data_bytes, metadata_bytes, and the
    largest event (largest_id, largest_stream_id, largest_position, largest_bytes; the first by
    position among equals). One pass over the (sampled) events."""
    data, meta = _lengths(engine)
    source = "{events}" + (engine.sample_clause(sample_percent) if sample_percent else "")
    sized = (
        "SELECT " + engine.category_sql() + " AS category, event_type, "  # noqa: S608
        "CAST(id AS TEXT) AS id, stream_id, global_position, "
        f"{data} AS data_bytes, {meta} AS metadata_bytes FROM "
        + source
        + (" WHERE " + HIDDEN if hide_deleted else "")
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
    return session.fetchall(
        "SELECT category, event_type, events, data_bytes, metadata_bytes, largest_id, "  # noqa: S608
        "largest_stream_id, largest_position, largest_bytes FROM (" + ranked + ") AS ranked "
        "WHERE place = 1 ORDER BY category, event_type"
    )
