"""Which tables of the Python `eventsourcing` library a schema holds, and which one esctl
administers. Its PostgreSQL recorder names them by the application (`<app>_events`: stored events
with `notification_id`; `<app>_snapshots`: the same without it; `<app>_tracking`: a follower's
positions, `application_name` and `notification_id` per upstream application). `tables:` in the
profile names the events table (and narrows the tracking tables); without it the only non-empty
events table is used, and several non-empty ones are an error that lists them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from esctl.errors import SchemaMissing, UsageError

if TYPE_CHECKING:
    from esctl.store.base import Session

# Tables with the stored-events columns and a notification_id: application recorders' tables.
EVENTS_TABLES = (
    "SELECT c.relname AS name, c.reltuples AS estimate FROM pg_catalog.pg_class c "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND "
    "(SELECT count(*) FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND "
    "a.attnum > 0 AND NOT a.attisdropped AND a.attname IN ('originator_id', "
    "'originator_version', 'topic', 'state', 'notification_id')) = 5 ORDER BY c.relname"
)
TRACKING_TABLES = (
    "SELECT c.relname AS name FROM pg_catalog.pg_class c "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND "
    "(SELECT count(*) FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND "
    "a.attnum > 0 AND NOT a.attisdropped AND a.attname IN ('application_name', "
    "'notification_id')) = 2 AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a WHERE "
    "a.attrelid = c.oid AND a.attname = 'originator_id') ORDER BY c.relname"
)


def quote(schema: str, table: str) -> str:
    """The schema-qualified, quoted identifier (no braces or percent signs survive unquoted)."""

    def one(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    return f"{one(schema)}.{one(table)}"


def application_of(table: str) -> str:
    """The application a table belongs to, by the recorder's naming (`orders_events` -> orders)."""
    for suffix in ("_events", "_tracking"):
        if table.endswith(suffix) and len(table) > len(suffix):
            return table[: -len(suffix)]
    return table


@dataclass(frozen=True)
class Tables:
    schema: str
    events: str  # the administered stored-events table
    tracking: tuple[str, ...]  # the tracking tables shown by `checkpoints`
    all_events: tuple[str, ...]  # every stored-events table in the schema
    reason: str  # why this events table (for doctor)

    @property
    def events_sql(self) -> str:
        return quote(self.schema, self.events)

    def events_of(self, application: str) -> str | None:
        """The events table of an upstream application named in a tracking row."""
        wanted = f"{application.lower()}_events"
        return wanted if wanted in self.all_events else None


def events_tables(session: Session, schema: str) -> list[str]:
    return [str(r["name"]) for r in session.fetchall(EVENTS_TABLES, [schema])]


def resolve(session: Session, schema: str, events: str | None, tracking: tuple[str, ...]) -> Tables:
    """The tables to administer; UsageError when the choice is ambiguous or names a table that
    is not there, SchemaMissing when the schema holds no stored-events table."""
    found = events_tables(session, schema)
    trackers = [str(r["name"]) for r in session.fetchall(TRACKING_TABLES, [schema])]
    if tracking:
        missing = [t for t in tracking if t not in trackers]
        if missing:
            raise UsageError(
                f"tables.tracking names {', '.join(missing)}, not a tracking table in schema "
                f"{schema}",
                hint=f"tracking tables there: {', '.join(trackers) or 'none'}",
            )
        trackers = list(tracking)
    if events is not None:
        if events not in found:
            raise UsageError(
                f"tables.events names {events!r}, not a stored-events table in schema {schema}",
                hint=f"stored-events tables there: {', '.join(found) or 'none'}",
            )
        return Tables(schema, events, tuple(trackers), tuple(found), f"tables.events: {events}")
    if not found:
        raise SchemaMissing(
            f"schema {schema} holds no eventsourcing stored-events table",
            hint="set schema: to the application's POSTGRES_SCHEMA (default public)",
        )
    non_empty = [
        name
        for name in found
        if session.fetchval(f"SELECT EXISTS (SELECT 1 FROM {quote(schema, name)})")  # noqa: S608 - quoted identifier
    ]
    if len(found) == 1 or len(non_empty) <= 1:
        chosen = non_empty[0] if non_empty else found[0]
        why = "the only" if len(found) == 1 else "the only non-empty"
        return Tables(schema, chosen, tuple(trackers), tuple(found), f"{why} stored-events table")
    raise UsageError(
        f"schema {schema} holds {len(non_empty)} non-empty stored-events tables: "
        f"{', '.join(non_empty)}",
        hint=f"name the one to administer in the profile: tables: {{events: {non_empty[0]}}}",
    )
