"""Which table layout a store holds: the one place `layout: auto` is decided.

A SQLite store is esctl's without a query. On PostgreSQL one catalog query looks for esctl's
`events` in the configured schema (esctl's, first), for Message DB's `message_store.messages`
with its `write_message` function and for Emmett's `emt_messages` and `emt_processors` in the
configured schema, then (a second query) for the eventsourcing library's
stored-events tables; `doctor` reports the detection and its reason (SPEC: "Other
event stores"). A store that cannot be reached is taken as esctl's (the command then reports it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from esctl.errors import UsageError

if TYPE_CHECKING:
    from esctl.store.base import Store
    from esctl.store.layout import Layout
    from esctl.types import Row


def _esctl(store: Store) -> Layout:
    from esctl.store.esctl_layout import EsctlLayout

    return EsctlLayout(store)


def _eventsourcing(store: Store) -> Layout:
    from esctl.store.eventsourcing_layout import EventsourcingLayout

    return EventsourcingLayout(store)


def _emmett(store: Store) -> Layout:
    from esctl.store.emmett import EmmettLayout

    return EmmettLayout(store)


def _message_db(store: Store) -> Layout:
    from esctl.store.message_db import MessageDbLayout

    return MessageDbLayout(store)


# Each layout by its name in `layout:` / `--layout`.
LAYOUTS: dict[str, Callable[[Store], Layout]] = {
    "esctl": _esctl,
    "message-db": _message_db,
    "emmett": _emmett,
    "eventsourcing": _eventsourcing,
}

CATALOG = (
    "SELECT to_regclass(CAST(%s AS text)) IS NOT NULL AS esctl, "
    "to_regclass('message_store.messages') IS NOT NULL AS messages, "
    "EXISTS (SELECT 1 FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n "
    "ON n.oid = p.pronamespace WHERE n.nspname = 'message_store' "
    "AND p.proname = 'write_message') AS write_message, "
    "to_regclass(CAST(%s AS text)) IS NOT NULL AS emt_messages, "
    "to_regclass(CAST(%s AS text)) IS NOT NULL AS emt_processors"
)


def _catalog(store: Store) -> Row | None:
    """Which products' tables the store holds (one query), or None when it cannot be asked."""
    from esctl.errors import EsctlError

    schema = store.settings.schema
    try:
        with store.reading() as session:
            return session.fetchone(
                CATALOG,
                [f'"{schema}".events', f'"{schema}".emt_messages', f'"{schema}".emt_processors'],
            )
    except EsctlError:
        return None  # unreachable or unreadable: the command says so


def _detect_postgres(store: Store, found: Row) -> tuple[Layout, str] | None:
    if found["messages"]:
        functions = "with" if found["write_message"] else "without"
        return _message_db(store), (
            f"auto: message_store.messages {functions} message_store.write_message found, "
            f"no esctl events table in schema {store.settings.schema}"
        )
    if found["emt_messages"]:
        processors = "and emt_processors" if found["emt_processors"] else "without emt_processors"
        return _emmett(store), (
            f"auto: Emmett's emt_messages {processors} in schema {store.settings.schema}, "
            "no esctl events table"
        )
    return None


def _detect_eventsourcing(store: Store) -> tuple[Layout, str] | None:
    """The eventsourcing library's stored-events tables in the configured schema (asked only
    when esctl's own `events` table is not there; unreachable: None, the command says so)."""
    from esctl.errors import EsctlError
    from esctl.store.eventsourcing_layout.tables import events_tables

    schema = store.settings.schema
    try:
        with store.reading() as session:
            found = events_tables(session, schema)
    except EsctlError:
        return None
    if not found:
        return None
    return _eventsourcing(store), (
        f"auto: eventsourcing stored-events table(s) {', '.join(found)} (originator_id, "
        f"originator_version, topic, state, notification_id) in schema {schema}, no esctl events"
    )


def detect_layout(store: Store, requested: str = "auto") -> tuple[Layout, str]:
    """The layout of `store` and why it was chosen (for doctor)."""
    if requested != "auto":
        build = LAYOUTS.get(requested)
        if build is None:
            known = ", ".join(["auto", *LAYOUTS])
            raise UsageError(
                f"layout {requested!r} is not supported by this esctl yet",
                hint=f"this esctl administers the layouts {known}",
            )
        return build(store), f"layout {requested} as configured"
    if store.backend == "postgresql":
        # One catalog query for a store of esctl's own layout (the common case): the others'
        # tables are looked for only when esctl's `events` table is not there.
        found = _catalog(store)
        if found is not None and not found["esctl"]:
            detected = _detect_postgres(store, found) or _detect_eventsourcing(store)
            if detected is not None:
                return detected
    return _esctl(store), "auto: esctl's own (no other layout's tables found)"
