"""Checkpoint moves and tail together: a moved checkpoint is where tail resumes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from esctl.admin.init import init_store
from tests.support.data import seed_events
from tests.support.processes import run_cli
from tests.support.stores import Target


def _set_times(target: Target, times: list[datetime]) -> list[str]:
    """Give the events, in position order, these creation times; their ids in that order."""
    with target.open() as store, store.writing() as session:
        rows = session.fetchall("SELECT id, global_position FROM {events} ORDER BY global_position")
        for row, when in zip(rows, times, strict=True):
            session.execute(
                "UPDATE {events} SET created_at = %s WHERE global_position = %s",
                [session.time_param(when), row["global_position"]],
            )
        return [str(row["id"]) for row in rows]


def test_tail_after_set_to_time_delivers_exactly_the_later_events(initialised: Target) -> None:
    with initialised.open() as store:
        init_store(store)
        seed_events(store, [(f"Order-{i % 2}", "Placed", {"i": i}) for i in range(6)])
    early = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    late = datetime(2026, 1, 1, 11, 0, tzinfo=UTC)
    ids = _set_times(initialised, [early] * 3 + [late] * 3)

    plan = run_cli("checkpoints", "set", "projection", "--to-time", "2026-01-01T10:30:00Z")
    assert plan.exit_code == 0, plan.stderr
    assert run_cli("checkpoints", "show", "projection").exit_code == 4, "a dry run wrote"
    moved = run_cli(
        "checkpoints", "set", "projection", "--to-time", "2026-01-01T10:30:00Z", "--execute"
    )
    assert moved.exit_code == 0, moved.stderr

    tailed = run_cli(
        "tail",
        "--all",
        "--checkpoint",
        "projection",
        "--max",
        "10",
        "--idle-timeout",
        "1",
        "-o",
        "jsonl",
    )
    assert tailed.exit_code == 0, tailed.stderr
    delivered = [json.loads(line)["event_id"] for line in tailed.stdout.splitlines()]
    assert delivered == ids[3:]

    again = run_cli(
        "tail", "--all", "--checkpoint", "projection", "--idle-timeout", "0.5", "-o", "jsonl"
    )
    assert again.exit_code == 0 and again.stdout == "", "tail saved its checkpoint at the end"
