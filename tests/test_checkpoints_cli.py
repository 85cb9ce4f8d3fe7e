"""`esctl checkpoints` on the command line, on both backends: output, exit codes, dry runs,
read-only profiles, and two racing `--execute` processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.data import write_config
from tests.support.processes import run_cli
from tests.support.stores import Target
from tests.test_checkpoints import row, seed, set_updated_at, subscriber_saves


@pytest.fixture
def seeded(initialised: Target) -> Target:
    """20 events and four checkpoints: caught up, behind, stalled, ahead of the head."""
    with initialised.open() as store:
        seed(store, 20, transactions=False)
        subscriber_saves(store, "caught-up", 20)
        subscriber_saves(store, "behind", 2)
        subscriber_saves(store, "stuck", 17)
        subscriber_saves(store, "restored", 30)
        set_updated_at(store, "stuck", datetime.now(UTC) - timedelta(hours=2))
    return initialised


def saved(target: Target, name: str) -> dict[str, Any] | None:
    with target.open() as store:
        return row(store, name)


def test_list_as_json_for_monitoring(seeded: Target) -> None:
    result = run_cli("checkpoints", "list", "-o", "json", "--lag-threshold", "10")
    assert result.exit_code == 0, result.stderr
    listed = json.loads(result.stdout)
    assert [(c["subscription_id"], c["lag"], c["status"]) for c in listed] == [
        ("behind", 18, "lagging"),
        ("stuck", 3, "stalled"),
        ("caught-up", 0, "ok"),
        ("restored", -10, "ahead-of-head"),
    ]
    assert set(listed[0]) >= {
        "subscription_id",
        "last_position",
        "head_position",
        "lag",
        "updated_at",
        "age_seconds",
        "status",
        "lag_estimated",
    }
    assert listed[1]["age_seconds"] > 7000 and listed[0]["head_position"] == 20


def test_list_table_is_cut_with_a_note(seeded: Target) -> None:
    result = run_cli("checkpoints", "list", "--limit", "2")
    assert result.exit_code == 0
    assert "behind" in result.stdout and "restored" not in result.stdout
    assert "Showing the first 2 rows" in result.stderr


def test_list_with_no_checkpoints(initialised: Target) -> None:
    result = run_cli("checkpoints", "list")
    assert result.exit_code == 0 and result.stdout == ""
    assert "No checkpoints" in result.stderr
    assert run_cli("checkpoints", "list", "-o", "json").stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("flags", "code", "error"),
    [
        (["--fail-on", "lagging"], 1, "Error: 1 checkpoint lagging: behind\n"),
        (["--fail-on", "stalled"], 1, "Error: 1 checkpoint stalled: stuck\n"),
        (["--fail-on", "ahead-of-head"], 1, "Error: 1 checkpoint ahead-of-head: restored\n"),
        (
            ["--fail-on", "stalled", "--fail-on", "lagging"],
            1,
            "Error: 2 checkpoints lagging/stalled: behind, stuck\n",
        ),
        (["--fail-on", "lagging", "--lag-threshold", "100"], 0, ""),
        (["--fail-on", "stalled", "--stall-after", "3h"], 0, ""),
    ],
)
def test_fail_on_exit_codes(seeded: Target, flags: list[str], code: int, error: str) -> None:
    result = run_cli("checkpoints", "list", "-o", "json", "--lag-threshold", "10", *flags)
    assert result.exit_code == code
    assert result.stderr == error
    assert json.loads(result.stdout)  # the listing is printed either way


def test_bad_flags_are_usage_errors(seeded: Target) -> None:
    result = run_cli("checkpoints", "list", "--stall-after", "soon")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: --stall-after: 'soon' is not a duration\n")
    result = run_cli("checkpoints", "list", "--fail-on", "late")
    assert result.exit_code == 2
    result = run_cli("checkpoints", "set", "behind", "--to-start", "--to-end")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: give exactly one of --position, --to-start, --to-end, --to-time, --by-duration, "
        "--shift-by "
        "(got --to-start, --to-end)\n"
    )
    result = run_cli("checkpoints", "set", "behind")
    assert result.exit_code == 2
    result = run_cli("checkpoints", "set", "behind", "--to-time", "yesterday-ish")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: --to-time: 'yesterday-ish' is not a time\n")


def test_show_prints_the_row_and_pending_events(seeded: Target) -> None:
    result = run_cli("checkpoints", "show", "stuck", "-o", "json", "--pending", "2")
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    assert (shown["last_position"], shown["lag"], shown["status"]) == (17, 3, "stalled")
    assert [e["global_position"] for e in shown["pending"]] == [18, 19]
    assert set(shown["pending"][0]) == {
        "global_position",
        "stream_id",
        "stream_type",
        "version",
        "event_type",
        "event_id",
        "data",
        "metadata",
        "created_at",
    }
    table = run_cli("checkpoints", "show", "stuck")
    assert table.exit_code == 0
    assert "Next 3 pending events" in table.stdout and "Order-" in table.stdout
    jsonl = run_cli("checkpoints", "show", "stuck", "-o", "jsonl")
    (line,) = jsonl.stdout.splitlines()  # one object on one line: the row and its pending events
    shown = json.loads(line)
    assert shown["subscription_id"] == "stuck"
    assert [e["global_position"] for e in shown["pending"]] == [18, 19, 20]
    csv_out = run_cli("checkpoints", "show", "stuck", "-o", "csv")
    header, row = csv_out.stdout.splitlines()
    assert header.startswith("subscription_id,") and row.startswith("stuck,17,")


def test_show_a_missing_checkpoint_is_exit_4(seeded: Target) -> None:
    result = run_cli("checkpoints", "show", "nope")
    assert result.exit_code == 4
    assert result.stderr == (
        "Error: no checkpoint for subscription 'nope'\n"
        "Hint: `esctl checkpoints list` shows the subscriptions\n"
    )


def test_set_is_a_dry_run_without_execute(seeded: Target) -> None:
    before = saved(seeded, "behind")
    result = run_cli("checkpoints", "set", "behind", "--to-end")
    assert result.exit_code == 0
    assert result.stdout == (
        "Would move checkpoint behind: position 2 → 20 (end); 18 events will be skipped.\n"
    )
    assert result.stderr == "Dry run: nothing was changed. Add --execute to apply.\n"
    assert saved(seeded, "behind") == before
    plan = json.loads(
        run_cli("checkpoints", "set", "behind", "--shift-by", "-1", "-o", "json").stdout
    )
    assert plan == {
        "subscription_id": "behind",
        "action": "set",
        "target": "shift by -1 event",
        "old_position": 2,
        "old_transaction_id": None,
        "new_position": 1,
        "new_transaction_id": plan["new_transaction_id"],
        "events_redelivered": 1,
        "events_skipped": 0,
        "estimated": False,
        "notes": [],
        "executed": False,
    }
    assert saved(seeded, "behind") == before


def test_set_with_execute_moves_it(seeded: Target) -> None:
    result = run_cli("checkpoints", "set", "stuck", "--position", "5", "--execute")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "Moved checkpoint stuck: position 17 → 5 (position 5); 12 events will be re-delivered.\n"
    )
    assert result.stderr == ""
    assert saved(seeded, "stuck")["last_position"] == 5  # type: ignore[index]
    again = run_cli("checkpoints", "set", "stuck", "--position", "5", "--execute")
    assert again.exit_code == 0
    assert "already there: nothing to do" in again.stderr


def test_set_to_time_in_utc(seeded: Target) -> None:
    result = run_cli(
        "checkpoints", "set", "behind", "--to-time", "2000-01-01T00:00:00", "--execute"
    )
    assert result.exit_code == 0, result.stderr
    assert "(last event before 2000-01-01T00:00:00Z)" in result.stdout
    assert saved(seeded, "behind")["last_position"] == 0  # type: ignore[index]


def test_set_creates_and_delete_removes(seeded: Target) -> None:
    result = run_cli("checkpoints", "set", "new-projection", "--to-end", "--execute")
    assert result.exit_code == 0
    assert result.stdout.startswith("Created checkpoint new-projection at position 20 (end)")
    assert run_cli("checkpoints", "set", "ghost", "--shift-by", "1").exit_code == 4
    dry = run_cli("checkpoints", "delete", "new-projection")
    assert dry.exit_code == 0
    assert dry.stdout == "Would delete checkpoint new-projection (at position 20).\n"
    assert saved(seeded, "new-projection") is not None
    done = run_cli("checkpoints", "delete", "new-projection", "--execute")
    assert done.exit_code == 0 and done.stdout.startswith("Deleted checkpoint new-projection")
    assert saved(seeded, "new-projection") is None
    missing = run_cli("checkpoints", "delete", "new-projection", "--execute")
    assert missing.exit_code == 4
    assert missing.stderr.startswith("Error: no checkpoint for subscription 'new-projection'\n")


def test_read_only_profile_refuses_execute_with_exit_8(
    seeded: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(
        tmp_path / "ro.yaml",
        {"ro": {"store": seeded.url, "schema": seeded.schema, "read_only": True}},
    )
    monkeypatch.setenv("ESCTL_CONFIG", str(config))
    monkeypatch.setenv("ESCTL_PROFILE", "ro")
    for command in (["set", "behind", "--to-end"], ["delete", "behind"]):
        refused = run_cli("checkpoints", *command, "--execute")
        assert refused.exit_code == 8
        assert refused.stderr.startswith("Error: profile 'ro' is read-only: refusing to write to ")
        assert run_cli("checkpoints", *command).exit_code == 0  # a dry run writes nothing
    assert run_cli("checkpoints", "list").exit_code == 0
    assert saved(seeded, "behind")["last_position"] == 2  # type: ignore[index]


def test_a_move_made_between_plan_and_execute_is_exit_3(
    seeded: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    import esctl.checkpoints as checkpoints

    real_plan = checkpoints.plan_move

    def plan_then_someone_moves_it(*args: Any, **kwargs: Any) -> Any:
        plan = real_plan(*args, **kwargs)
        with seeded.open() as other:
            subscriber_saves(other, "behind", 9)
        return plan

    monkeypatch.setattr(checkpoints, "plan_move", plan_then_someone_moves_it)
    result = run_cli("checkpoints", "set", "behind", "--to-start", "--execute")
    assert result.exit_code == 3
    assert result.stderr == (
        "Error: checkpoint 'behind' changed concurrently: expected position 2, it is now at "
        "position 9; nothing was written\n"
        "Hint: run the command again to plan from its current position\n"
    )
    assert saved(seeded, "behind")["last_position"] == 9  # type: ignore[index]


@pytest.mark.postgres
def test_two_concurrent_execute_processes_one_wins_one_exits_3(
    pg_target: Target, tmp_path: Path
) -> None:
    """Both processes plan from position 5, then queue on the row lock a third session holds; when
    it lets go, one compare-and-set wins and the other finds the row moved."""
    import psycopg

    from esctl.admin.init import init_store

    with pg_target.open() as store:
        init_store(store)
        seed(store, 10, transactions=False)
        subscriber_saves(store, "projection", 5)
    name = f"esctl-race-{uuid.uuid4().hex[:8]}"
    url = pg_target.url + ("&" if "?" in pg_target.url else "?") + f"application_name={name}"
    config = write_config(
        tmp_path / "race.yaml", {"race": {"store": url, "schema": pg_target.schema}}
    )
    env = {**os.environ, "ESCTL_CONFIG": str(config), "ESCTL_PROFILE": "race"}
    processes: list[subprocess.Popen[str]] = []
    with (
        psycopg.connect(pg_target.url) as locker,
        psycopg.connect(pg_target.url, autocommit=True) as watcher,
    ):
        locker.execute(
            f'SELECT 1 FROM "{pg_target.schema}".subscription_checkpoints '
            "WHERE subscription_id = 'projection' FOR UPDATE"
        )
        try:
            for move in ("--to-start", "--to-end"):
                processes.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "esctl",
                            "checkpoints",
                            "set",
                            "projection",
                            move,
                            "--execute",
                        ],
                        env=env,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        text=True,
                    )
                )
            deadline = time.monotonic() + 60
            waiting = 0
            while waiting < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
                waiting = watcher.execute(  # its own session: stats are per-transaction snapshots
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
                    "AND wait_event_type = 'Lock'",
                    [name],
                ).fetchone()[0]  # type: ignore[index]
            assert waiting == 2, "both processes should be queued on the checkpoint row"
            locker.rollback()
            results = [p.communicate(timeout=60) for p in processes]
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
    codes = sorted(p.returncode for p in processes)
    assert codes == [0, 3], results
    loser = next(err for p, (_, err) in zip(processes, results, strict=True) if p.returncode == 3)
    assert loser.startswith(
        "Error: checkpoint 'projection' changed concurrently: expected position 5, "
        "it is now at position "
    )
    with pg_target.open() as store:
        assert row(store, "projection")["last_position"] in (0, 10)  # type: ignore[index]
