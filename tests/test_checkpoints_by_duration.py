"""`checkpoints set --by-duration D` (Kafka's reset-offsets --by-duration): back to D ago, so
every event created since then is delivered again; a dry run unless --execute."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from esctl.admin.init import init_store
from tests.support.data import seed_events
from tests.support.processes import run_cli
from tests.support.stores import Target
from tests.test_checkpoints_tail import _set_times


def _store_with_old_and_new_events(target: Target) -> list[str]:
    """Six events: three created 3 hours ago, three 10 minutes ago; their ids in order."""
    with target.open() as store:
        init_store(store)
        seed_events(store, [(f"Order-{i % 2}", "Placed", {"i": i}) for i in range(6)])
    now = datetime.now(UTC)
    old, new = now - timedelta(hours=3), now - timedelta(minutes=10)
    return _set_times(target, [old] * 3 + [new] * 3)


def test_by_duration_redelivers_exactly_the_events_of_that_window(initialised: Target) -> None:
    ids = _store_with_old_and_new_events(initialised)
    assert run_cli("checkpoints", "set", "proj", "--to-end", "--execute").exit_code == 0

    plan = run_cli("checkpoints", "set", "proj", "--by-duration", "1h", "-o", "json")
    assert plan.exit_code == 0, plan.stderr
    shown = json.loads(run_cli("checkpoints", "show", "proj", "-o", "json").stdout)
    assert shown["last_position"] == 6, "a dry run moved the checkpoint"

    moved = run_cli("checkpoints", "set", "proj", "--by-duration", "1h", "--execute")
    assert moved.exit_code == 0, moved.stderr
    assert "3 events will be re-delivered" in moved.stdout, moved.stdout
    tailed = run_cli(
        "tail", "--all", "--checkpoint", "proj", "--idle-timeout", "0.5", "-o", "jsonl"
    )
    assert tailed.exit_code == 0, tailed.stderr
    delivered = [json.loads(line)["event_id"] for line in tailed.stdout.splitlines()]
    assert delivered == ids[3:]

    # A window wider than the store re-delivers everything.
    wide = run_cli("checkpoints", "set", "proj", "--by-duration", "1d", "--execute")
    assert wide.exit_code == 0, wide.stderr
    assert (
        json.loads(run_cli("checkpoints", "show", "proj", "-o", "json").stdout)["last_position"]
        == 0
    )


def test_by_duration_takes_only_a_duration(initialised: Target) -> None:
    _store_with_old_and_new_events(initialised)
    for bad in ("2026-01-01T00:00:00Z", "90", "soon", "-1h"):
        result = run_cli("checkpoints", "set", "proj", "--by-duration", bad, "--execute")
        assert result.exit_code == 2, (bad, result.stdout, result.stderr)
        assert result.stderr.startswith(f"Error: --by-duration: {bad!r} is not a duration"), (
            result.stderr
        )
    both = run_cli("checkpoints", "set", "proj", "--by-duration", "1h", "--to-end")
    assert both.exit_code == 2
    assert "(got --to-end, --by-duration)" in both.stderr
    assert run_cli("checkpoints", "show", "proj").exit_code == 4, "a refused move wrote"
