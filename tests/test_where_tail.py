"""`tail --where` on PostgreSQL under concurrent writers: exactly the matching events, none lost,
none repeated, checked on the whole output of a tail that ended by itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from esctl.admin.init import init_store
from esctl.read.events import read_all
from esctl.store.base import Store
from tests.support.stores import Target
from tests.test_tail_postgres import TailProcess, run_writers, tail_config

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_store(pg_target: Target) -> Store:
    store = pg_target.open()
    init_store(store)
    return store


def test_tail_where_under_concurrent_writers_delivers_exactly_the_matches(
    pg_store: Store, pg_target: Target, tmp_path: Path
) -> None:
    tail = TailProcess(
        tail_config(pg_target, tmp_path),
        "--all",
        "--where",
        "data.v>=6",
        "--where",
        "data.v!=9",
        "--idle-timeout",
        "4",
    )
    written = run_writers(pg_target, threads=8, transactions=6, per_transaction=2, tag="w")
    assert len(written) == 8 * 12
    code, err = tail.finish()
    assert code == 0, err
    # The expected events are chosen in Python from everything stored, not by the store's query.
    expected = [e.event_id for e in read_all(pg_store) if e.data["v"] >= 6 and e.data["v"] != 9]
    assert len(expected) == 8 * 6
    assert len(tail.ids) == len(set(tail.ids)), "an event was delivered twice"
    assert sorted(tail.ids) == sorted(expected), "missing or extra events"
    assert err.rstrip().endswith(f"{len(expected)} events.")
