"""The contract fixture itself: it yields a working store of every parameter, each on a fresh
target (so contract tests never see each other's rows)."""

from __future__ import annotations

from esctl.store.base import Store
from tests.contracts.conftest import PREPARE, STORES
from tests.support.data import seed_events


def test_every_parameter_has_a_layout_to_prepare() -> None:
    layouts = {param.values[0][0] for param in STORES}
    assert layouts <= set(PREPARE), layouts - set(PREPARE)
    assert {param.values[0][1] for param in STORES} == {"sqlite", "postgresql"}


def test_store_under_test_is_fresh_and_writable(store_under_test: Store) -> None:
    with store_under_test.reading() as tx:
        assert tx.fetchval("SELECT count(*) FROM {events}") == 0
    seed_events(store_under_test, [("order-1", "Placed", {"total": 3})])
    with store_under_test.reading() as tx:
        assert tx.fetchval("SELECT count(*) FROM {events}") == 1
