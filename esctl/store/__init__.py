"""Event stores: one interface (`base.Store`), one module per backend, chosen from the URL here."""

from __future__ import annotations

from esctl.config import Settings
from esctl.store.base import Session, Store
from esctl.urls import parse_store_url

__all__ = ["Session", "Store", "open_store"]


def open_store(settings: Settings, *, write: bool = False, create: bool = False) -> Store:
    """Open the configured store. `write=False` gives read-only transactions only (SQLite: mode=ro);
    `create=True` lets `init` create a SQLite file that does not exist yet."""
    location = parse_store_url(settings.store)
    store: Store
    if location.backend == "sqlite":
        from esctl.store.sqlite import SQLiteStore

        store = SQLiteStore(location, settings, write=write, create=create)
    else:
        from esctl.store.postgres import PostgresStore

        store = PostgresStore(location, settings, write=write, create=create)
    store.layout  # noqa: B018 - a layout this esctl cannot administer is refused here, up front
    return store
