"""The contract tests' store: one parameter per (layout, engine) that esctl can administer.

A contract test (tests/contracts/test_*.py) asks for `store_under_test` and runs once per
parameter, so every adapter meets the same expectations. Today there is one layout, esctl's own,
on both engines.

A new layout is one adapter package under esctl/store/ plus one entry here, e.g. for Message DB:

    def _message_db(target: Target) -> None:
        with target.open() as store:
            create_message_db_tables(store)   # its own schema, as that project ships it

    PREPARE["message_db"] = _message_db
    STORES.append(pytest.param(("message_db", "postgresql"), marks=pytest.mark.postgres,
                               id="message_db-postgresql"))

Tests that a layout cannot pass (say, snapshots on a layout without them) check
`store_under_test.capabilities` and skip, rather than listing layouts by name."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from esctl.store.base import Store
from tests.support.stores import Target, pg_schema, sqlite_target


def _esctl_layout(target: Target) -> None:
    """esctl's own tables, as `esctl init` creates them."""
    from esctl.admin.init import init_store

    with target.open() as store:
        init_store(store)


# How each layout's tables come to exist on a fresh target.
PREPARE: dict[str, Callable[[Target], None]] = {"esctl": _esctl_layout}

# (layout, engine) pairs; PostgreSQL ones carry the `postgres` marker like the `target` fixture.
STORES = [
    pytest.param(("esctl", "sqlite"), id="esctl-sqlite"),
    pytest.param(("esctl", "postgresql"), marks=pytest.mark.postgres, id="esctl-postgresql"),
]


@pytest.fixture(params=STORES)
def target_under_test(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    """A fresh target of the parameter's engine with the parameter's layout created in it."""
    layout, engine = request.param
    if engine == "sqlite":
        target = sqlite_target(tmp_path)
        PREPARE[layout](target)
        yield target
        return
    url = request.getfixturevalue("pg_server_url")
    for schema in pg_schema(url):
        target = Target("postgresql", url, schema)
        PREPARE[layout](target)
        yield target


@pytest.fixture
def store_under_test(target_under_test: Target) -> Iterator[Store]:
    """An open, writable store of each (layout, engine) parameter, closed after the test."""
    with target_under_test.open() as store:
        yield store
