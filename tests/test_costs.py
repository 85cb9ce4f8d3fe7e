"""Costs that must not grow with the store (issue 21; figures: benchmarks/costs_at_scale.py).
No timings here: the plans and the promises a command's help makes."""

from __future__ import annotations

import pytest

from esctl.admin.init import init_store
from esctl.ports import EventFilter
from esctl.store.esctl_layout.filters import filter_sql
from tests.support.processes import run_cli
from tests.support.stores import Target


@pytest.mark.postgres
def test_a_category_read_is_served_by_its_index(pg_target: Target) -> None:
    # Without idx_events_category, `read --all --category C --limit N` for a rare C scanned the
    # whole log (19 s at 10M events, 2.7 s at 1M). The filter must stay the indexed expression.
    with pg_target.open() as store:
        init_store(store)
        condition, params = filter_sql(EventFilter(category="Order"), "postgresql")
        with store.reading() as session:
            session.execute("SET LOCAL enable_seqscan = off")  # an empty table: ask what can serve
            plan = session.fetchall(
                "EXPLAIN SELECT global_position FROM {events} WHERE "
                + condition
                + " AND global_position >= %s ORDER BY global_position LIMIT 100",
                [*params, 1],
            )
    assert "idx_events_category" in "\n".join(str(row) for row in plan), plan


@pytest.mark.parametrize(
    ("command", "promise"),
    [
        (["stats"], "estimates"),
        (["checkpoints", "list"], "estimated"),
        (["streams", "list"], "--exact"),
    ],
)
def test_commands_that_would_scan_say_so_and_take_exact(command: list[str], promise: str) -> None:
    text = " ".join(run_cli(*command, "--help").stdout.split())
    assert "--exact" in text and promise in text, text
