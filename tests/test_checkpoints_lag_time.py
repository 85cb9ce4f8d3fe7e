"""Checkpoint lag in time (`lag_seconds`) and the statuses `stalled` and `rewound`, on both
backends: events written with known created_at, checkpoints moved by esctl and by another writer."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta

from esctl.checkpoints import Thresholds, list_checkpoints, show_checkpoint, transaction
from esctl.store.base import Store
from tests.support.processes import run_cli
from tests.support.stores import Target
from tests.test_checkpoints import set_updated_at, subscriber_saves


def _write_aged(store: Store, ages: list[timedelta]) -> list[int]:
    """One event per age, created that long ago (oldest first); their positions."""
    now = datetime.now(UTC)
    cast = "CAST(%s AS jsonb)" if store.backend == "postgresql" else "%s"
    positions = []
    for n, aged in enumerate(ages):
        with store.writing() as session:
            session.execute(
                "INSERT INTO {events} (id, stream_id, stream_type, event_type, event_data, "
                f"version, created_at) VALUES (%s, %s, 'Order', 'Placed', {cast}, %s, %s)",
                [
                    str(uuid.uuid4()),
                    "Order-1",
                    json.dumps({"n": n}),
                    n + 1,
                    session.time_param(now - aged),
                ],
            )
            positions.append(int(session.fetchval("SELECT max(global_position) FROM {events}")))
    return positions


def _esctl_saves(store: Store, name: str, position: int) -> None:
    """A save through esctl's checkpoints port (as `tail --checkpoint` does), at the cursor
    `checkpoints set --to-position` gives that position."""
    with store.writing() as tx:
        transaction.checkpoints(tx).save(name, transaction.log(tx).cursor_before(position))


def _states(store: Store, **thresholds: float) -> dict[str, object]:
    return {s.subscription_id: s for s in list_checkpoints(store, Thresholds(**thresholds))}


def test_lag_seconds_is_the_age_of_the_oldest_pending_event(store: Store) -> None:
    positions = _write_aged(store, [timedelta(hours=3), timedelta(hours=2), timedelta(hours=1)])
    subscriber_saves(store, "behind-two", positions[0])
    subscriber_saves(store, "caught-up", positions[-1])
    subscriber_saves(store, "from-zero", 0)
    subscriber_saves(store, "restored", positions[-1] + 5)
    states = {s.subscription_id: s for s in list_checkpoints(store)}
    behind = states["behind-two"]
    assert behind.lag == 2
    assert behind.lag_seconds is not None and 7140 <= behind.lag_seconds < 7800
    from_zero = states["from-zero"].lag_seconds
    assert from_zero is not None and 10740 <= from_zero < 11400
    assert states["caught-up"].lag_seconds == 0
    assert states["restored"].lag_seconds is None  # ahead of the head: no pending event
    assert states["restored"].to_dict()["lag_seconds"] is None
    state, pending = show_checkpoint(store, "behind-two")
    assert state.lag_seconds == behind.lag_seconds or (state.lag_seconds or 0) >= 7140
    assert [e.global_position for e in pending] == positions[1:]


def test_stalled_needs_pending_events_and_no_move_for_stall_after(store: Store) -> None:
    positions = _write_aged(store, [timedelta(minutes=30), timedelta(minutes=20)])
    subscriber_saves(store, "stuck", positions[0])
    subscriber_saves(store, "idle", positions[-1])
    subscriber_saves(store, "moving", positions[0])
    for name in ("stuck", "idle"):
        set_updated_at(store, name, datetime.now(UTC) - timedelta(minutes=10))
    states = _states(store, stale_after=300)
    assert states["stuck"].status == "stalled"  # type: ignore[attr-defined]
    assert states["idle"].status == "ok"  # type: ignore[attr-defined]  # nothing pending
    assert states["moving"].status == "ok"  # type: ignore[attr-defined]  # just moved
    assert _states(store, stale_after=3600)["stuck"].status == "ok"  # type: ignore[attr-defined]


def test_rewound_is_a_recent_backward_move_esctl_recorded(store: Store) -> None:
    positions = _write_aged(store, [timedelta(minutes=m) for m in (5, 4, 3, 2, 1)])
    _esctl_saves(store, "rewound", positions[3])
    _esctl_saves(store, "rewound", positions[1])
    _esctl_saves(store, "recovered", positions[3])
    _esctl_saves(store, "recovered", positions[0])
    _esctl_saves(store, "recovered", positions[2])  # moved forward again since
    _esctl_saves(store, "forward", positions[1])
    _esctl_saves(store, "forward", positions[4])
    _esctl_saves(store, "overwritten", positions[3])
    _esctl_saves(store, "overwritten", positions[0])
    subscriber_saves(store, "overwritten", positions[2])  # another program wrote the row since
    subscriber_saves(store, "no-history", positions[0])
    states = _states(store, stale_after=300)
    status = {name: s.status for name, s in states.items()}  # type: ignore[attr-defined]
    assert status == {
        "rewound": "rewound",
        "recovered": "ok",
        "forward": "ok",
        "overwritten": "ok",
        "no-history": "ok",
    }
    # A rewind older than --stall-after is history, not a status.
    with store.writing() as session:
        session.execute(
            "UPDATE {checkpoint_history} SET moved_at = %s WHERE subscription_id = %s",
            [session.time_param(datetime.now(UTC) - timedelta(hours=1)), "rewound"],
        )
    assert _states(store, stale_after=300)["rewound"].status == "ok"  # type: ignore[attr-defined]


def test_history_is_pruned_and_repeated_saves_are_one_move(store: Store) -> None:
    positions = _write_aged(store, [timedelta(minutes=1)] * 3)
    for _ in range(5):
        _esctl_saves(store, "steady", positions[2])
    for n in range(30):
        _esctl_saves(store, "busy", positions[n % 3])
    with store.reading() as session:
        steady = session.fetchval(
            "SELECT count(*) FROM {checkpoint_history} WHERE subscription_id = 'steady'"
        )
        busy = session.fetchval(
            "SELECT count(*) FROM {checkpoint_history} WHERE subscription_id = 'busy'"
        )
    assert (int(steady), int(busy)) == (1, 10)
    with store.writing() as tx:
        assert transaction.checkpoints(tx).delete("busy")
    with store.reading() as tx:
        assert transaction.checkpoints(tx).recent_moves("busy") == []


def test_cli_lag_seconds_and_fail_on_rewound(initialised: Target) -> None:
    with initialised.open() as store:
        positions = _write_aged(store, [timedelta(minutes=10), timedelta(minutes=5)])
        _esctl_saves(store, "projection", positions[1])
        _esctl_saves(store, "projection", positions[0])
    listing = run_cli("checkpoints", "list", "-o", "json", "--fail-on", "rewound")
    assert listing.exit_code == 1
    assert listing.stderr == "Error: 1 checkpoint rewound: projection\n"
    (record,) = json.loads(listing.stdout)
    assert record["status"] == "rewound" and record["lag"] == 1
    assert 240 <= record["lag_seconds"] < 900
    assert run_cli("checkpoints", "list", "--fail-on", "stalled").exit_code == 0
    table = run_cli("checkpoints", "show", "projection")
    assert table.exit_code == 0
    lag_time = re.search(r"^lag_seconds +(\S+)", table.stdout, re.MULTILINE)
    assert "rewound" in table.stdout and lag_time is not None
    assert re.fullmatch(r"[45]m\d\ds", lag_time.group(1)), lag_time.group(1)  # humanised
    bad = run_cli("checkpoints", "list", "--stall-after", "later")
    assert bad.exit_code == 2 and bad.stderr.startswith("Error: --stall-after: 'later' ")


def test_doctor_expects_the_history_table_and_init_puts_it_back(initialised: Target) -> None:
    with initialised.open() as store, store.writing() as session:
        session.execute("DROP TABLE {checkpoint_history}")
        session.execute("DELETE FROM {esctl_schema} WHERE version >= 4")  # 4 and the later ones
    broken = run_cli("doctor", "-o", "json")
    assert broken.exit_code != 0
    assert any("esctl_checkpoint_history" in m for m in json.loads(broken.stdout)["missing"])
    assert run_cli("init").exit_code == 0  # migration 4 again: the table back
    assert run_cli("doctor").exit_code == 0
    with initialised.open() as store:
        _write_aged(store, [timedelta(minutes=1)])
        _esctl_saves(store, "after-upgrade", 1)
        with store.reading() as tx:
            assert [p for p, _ in transaction.checkpoints(tx).recent_moves("after-upgrade")] == [1]
