"""Which table layout a store holds: the one place `layout: auto` is decided.

Only esctl's own layout exists today, so `auto` is esctl's without a query (no round trip at
open). A second layout adds its name to `LAYOUTS` and a test here (its tables, looked up in the
catalog) that runs only when more than one layout could match; `doctor` will report the
detection and its reason (SPEC: "Other event stores")."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from esctl.errors import UsageError

if TYPE_CHECKING:
    from esctl.store.base import Store
    from esctl.store.layout import Layout


def _esctl(store: Store) -> Layout:
    from esctl.store.esctl_layout import EsctlLayout

    return EsctlLayout(store)


def _eventsourcing(store: Store) -> Layout:
    from esctl.store.eventsourcing_layout import EventsourcingLayout

    return EventsourcingLayout(store)


# Each layout by its name in `layout:` / `--layout`.
LAYOUTS: dict[str, Callable[[Store], Layout]] = {"esctl": _esctl, "eventsourcing": _eventsourcing}


def _detect_eventsourcing(store: Store) -> tuple[Layout, str] | None:
    """The eventsourcing library's stored-events tables in the configured schema, when esctl's
    own `events` table is not there (one catalog query; unreachable: None, the command says so)."""
    from esctl.errors import EsctlError
    from esctl.store.eventsourcing_layout.tables import events_tables

    schema = store.settings.schema
    try:
        with store.reading() as session:
            if (
                session.fetchval("SELECT to_regclass(CAST(%s AS text))", [f'"{schema}".events'])
                is not None
            ):
                return None
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
    detected = _detect_eventsourcing(store) if store.backend == "postgresql" else None
    if detected is not None:
        return detected
    return _esctl(store), "auto: esctl's own, the only layout this esctl knows"
