"""Checkpoint plans (`checkpoints set NAME… | --all | --match GLOB`, `--export`, `--from-file`) on
both backends and on Message DB: many moves in one transaction (all or none), leases that refuse
the whole plan, a plan exported, applied exactly, and refused once a checkpoint moved since."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from esctl.checkpoints import leases
from tests.support.processes import run_cli
from tests.support.stores import Target
from tests.test_checkpoints import row, seed, subscriber_saves

NAMES = ("a-1", "a-2", "b-1")


@pytest.fixture
def three(initialised: Target) -> Target:
    """10 events and three checkpoints at position 5."""
    with initialised.open() as store:
        seed(store, 10, transactions=False)
        for name in NAMES:
            subscriber_saves(store, name, 5)
    return initialised


def positions(target: Target) -> dict[str, int | None]:
    with target.open() as store:
        rows = {name: row(store, name) for name in NAMES}
    return {name: (r["last_position"] if r else None) for name, r in rows.items()}


def test_a_plan_of_many_is_one_transaction(three: Target, monkeypatch: pytest.MonkeyPatch) -> None:
    dry = run_cli("checkpoints", "set", "a-1", "b-1", "--to-start", "-o", "json")
    assert dry.exit_code == 0, dry.stderr
    planned = json.loads(dry.stdout)
    assert [(p["subscription_id"], p["new_position"], p["executed"]) for p in planned] == [
        ("a-1", 0, False),
        ("b-1", 0, False),
    ]
    assert planned[0]["events_redelivered"] == 5
    assert "Dry run: nothing was changed (2 checkpoints would move)" in dry.stderr
    assert positions(three) == {"a-1": 5, "a-2": 5, "b-1": 5}

    matched = run_cli("checkpoints", "set", "--match", "a-*", "--to-end", "--execute")
    assert matched.exit_code == 0, matched.stderr
    assert "Moved 2 checkpoints in one transaction." in matched.stderr
    assert positions(three) == {"a-1": 10, "a-2": 10, "b-1": 5}
    audit = json.loads(run_cli("audit", "-o", "json").stdout)
    assert sorted(a["target"] for a in audit[:2]) == ["a-1", "a-2"]
    assert all(a["counts"]["plan_size"] == 2 for a in audit[:2])

    nothing = run_cli("checkpoints", "set", "--match", "z*", "--to-end", "--execute")
    assert (nothing.exit_code, nothing.stderr.splitlines()[0]) == (
        4,
        "Error: no checkpoint matches 'z*'",
    )

    # A concurrent move of the last checkpoint of the plan between planning and writing: the
    # moves of a-1 and a-2, already made in the transaction, are rolled back with it.
    import esctl.checkpoints.plans as plans

    real = plans.plan_moves

    def plan_then_b1_moves(*args: Any, **kwargs: Any) -> Any:
        made = real(*args, **kwargs)
        with three.open() as other:
            subscriber_saves(other, "b-1", 9)
        return made

    monkeypatch.setattr(plans, "plan_moves", plan_then_b1_moves)
    raced = run_cli("checkpoints", "set", "--all", "--to-start", "--execute")
    assert raced.exit_code == 3, raced.stderr
    assert raced.stderr.startswith(
        "Error: checkpoint 'b-1' changed concurrently: expected position 5, it is now at "
        "position 9; nothing was written\n"
    )
    assert positions(three) == {"a-1": 10, "a-2": 10, "b-1": 9}


def test_a_leased_checkpoint_refuses_the_whole_plan(three: Target) -> None:
    with three.open() as store:
        lease = leases.acquire(store, "a-2")
    try:
        refused = run_cli("checkpoints", "set", "--all", "--to-start", "--execute")
        assert refused.exit_code == 3, refused.stderr
        assert refused.stderr.startswith("Error: checkpoint 'a-2' is held by a running consumer")
        assert positions(three) == {"a-1": 5, "a-2": 5, "b-1": 5}
        dry = run_cli("checkpoints", "set", "--all", "--to-start")
        assert "Note: a-2: a running consumer holds it" in dry.stderr
        forced = run_cli("checkpoints", "set", "--all", "--to-start", "--execute", "--force")
        assert forced.exit_code == 0, forced.stderr
        assert positions(three) == {"a-1": 0, "a-2": 0, "b-1": 0}
    finally:
        with three.open() as store:
            leases.release(store, lease)


@pytest.mark.parametrize("suffix", ["json", "csv"])
def test_export_apply_then_refuse_a_stale_plan(three: Target, tmp_path: Path, suffix: str) -> None:
    plan = tmp_path / f"plan.{suffix}"
    exported = run_cli("checkpoints", "set", "--all", "--shift-by", "-2", "--export", str(plan))
    assert exported.exit_code == 0, exported.stderr
    assert f"Plan of 3 checkpoints written to {plan}." in exported.stderr
    assert positions(three) == {"a-1": 5, "a-2": 5, "b-1": 5}, "an export moved checkpoints"
    text = plan.read_text()
    if suffix == "json":
        rows = json.loads(text)
        assert [(r["subscription_id"], r["stored_position"], r["new_position"]) for r in rows] == [
            (name, 5, 3) for name in NAMES
        ]
        assert all(r["planned_at"].endswith("Z") for r in rows)
    else:
        assert text.splitlines()[0].startswith("subscription_id,action,target,current_position,")
        assert text.splitlines()[1].startswith("a-1,set,shift by -2 events,5,")

    dry = run_cli("checkpoints", "set", "--from-file", str(plan), "-o", "json")
    assert dry.exit_code == 0, dry.stderr
    assert [p["events_redelivered"] for p in json.loads(dry.stdout)] == [2, 2, 2]
    assert positions(three) == {"a-1": 5, "a-2": 5, "b-1": 5}, "a dry run moved checkpoints"
    applied = run_cli("checkpoints", "set", "--from-file", str(plan), "--execute")
    assert applied.exit_code == 0, applied.stderr
    assert positions(three) == {"a-1": 3, "a-2": 3, "b-1": 3}
    again = run_cli("checkpoints", "set", "--from-file", str(plan), "--execute")
    assert again.exit_code == 3, "an applied plan applied twice"

    second = tmp_path / f"second.{suffix}"
    made = run_cli("checkpoints", "set", "--all", "--to-end", "--export", str(second))
    assert made.exit_code == 0, made.stderr
    moved = run_cli("checkpoints", "set", "b-1", "--to-start", "--execute")
    assert moved.exit_code == 0, moved.stderr
    stale = run_cli("checkpoints", "set", "--from-file", str(second), "--execute")
    assert stale.exit_code == 3, stale.stderr
    assert stale.stderr == (
        f"Error: {second}: the plan is stale: 1 checkpoint changed since it was made ('b-1' "
        "moved from position 3 to 0); nothing was changed\n"
        "Hint: make a new plan (checkpoints set … --export FILE) and apply that\n"
    )
    assert stale.stdout == ""
    assert positions(three) == {"a-1": 3, "a-2": 3, "b-1": 0}


def _plan_row(**changes: Any) -> dict[str, Any]:
    return {
        "subscription_id": "a-1",
        "action": "set",
        "target": "end",
        "new_position": 10,
        "new_transaction_id": None,
        "stored_position": 5,
        "stored_transaction_id": None,
        "planned_at": "2026-01-01T00:00:00Z",
        **changes,
    }


HOSTILE = {
    "bad.json": ('[{"subscription_id": ', "not valid JSON (line 1, column 22"),
    "object.json": ('{"a-1": 3}', "a JSON plan is an array of objects"),
    "empty.json": ("[]", "the plan is empty"),
    "ghost.json": (
        json.dumps([_plan_row(subscription_id="ghost")]),
        "unknown checkpoint 'ghost'",
    ),
    "negative.json": (
        json.dumps([_plan_row(new_position=-1)]),
        "item 1: field new_position: -1 is not an integer ≥ 0",
    ),
    "twice.json": (json.dumps([_plan_row(), _plan_row()]), "item 2: checkpoint 'a-1' twice"),
    "delete.json": (json.dumps([_plan_row(action="delete")]), "field action: 'delete'"),
    "past.json": (json.dumps([_plan_row(new_position=99)]), "position 99 is past the head"),
    "when.json": (json.dumps([_plan_row(planned_at="yesterday")]), "field planned_at"),
    "short.csv": ("subscription_id,action\na-1,set\n", "line 1: the header lacks new_position"),
    "plan.txt": ("", "must end in .csv or .json"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_plan_file_is_a_usage_error(three: Target, tmp_path: Path, name: str) -> None:
    content, error = HOSTILE[name]
    path = tmp_path / name
    path.write_text(content)
    result = run_cli("checkpoints", "set", "--from-file", str(path), "--execute")
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith("Error: "), result.stderr
    assert error in result.stderr.splitlines()[0], result.stderr
    assert result.stdout == ""
    assert positions(three) == {"a-1": 5, "a-2": 5, "b-1": 5}


def test_from_file_takes_no_other_selection_or_target(three: Target, tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps([_plan_row()]))
    for extra in (["a-1"], ["--all"], ["--to-end"], ["--export", str(tmp_path / "x.csv")]):
        result = run_cli("checkpoints", "set", "--from-file", str(path), *extra)
        assert result.exit_code == 2, extra
        assert result.stderr.startswith("Error: --from-file takes no "), result.stderr


@pytest.mark.postgres
def test_a_plan_on_message_db_positions(message_db_url: str, tmp_path: Path) -> None:
    """Position streams moved in one plan (each a Recorded message written through
    write_message), exported, applied, and refused once a consumer recorded a new position."""
    from tests.support import message_db as mdb

    category = f"plan{uuid.uuid4().hex[:6]}"
    mdb.write_sql(
        message_db_url, *[(uuid.uuid4(), f"{category}-{n}", "Posted", {}) for n in range(4)]
    )
    # The end of the log (position streams are not part of it, as consumers do not read them).
    head = mdb.function_rows(message_db_url, "SELECT max(global_position) AS h FROM messages", [])
    end = int(head[0]["h"])
    names = [f"{category}:position-{consumer}" for consumer in ("one", "two")]
    mdb.write_sql(message_db_url, *[(uuid.uuid4(), n, "Recorded", {"position": 1}) for n in names])
    store = ["--store", message_db_url]
    plan = tmp_path / "plan.json"
    exported = run_cli(
        *store, "checkpoints", "set", "--match", f"{category}:*", "--to-end", "--export", str(plan)
    )
    assert exported.exit_code == 0, exported.stderr
    assert [r["subscription_id"] for r in json.loads(plan.read_text())] == names
    applied = run_cli(*store, "checkpoints", "set", "--from-file", str(plan), "--execute")
    assert applied.exit_code == 0, applied.stderr

    def recorded(name: str) -> int:
        last = mdb.function_rows(
            message_db_url, "SELECT * FROM get_last_stream_message(%s)", [name]
        )
        return int(json.loads(last[0]["data"])["position"])

    assert [recorded(n) for n in names] == [end] * 2
    again = tmp_path / "again.json"
    made = run_cli(
        *store, "checkpoints", "set", names[0], names[1], "--to-start", "--export", str(again)
    )
    assert made.exit_code == 0, made.stderr
    mdb.write_sql(message_db_url, (uuid.uuid4(), names[1], "Recorded", {"position": 2}))
    stale = run_cli(*store, "checkpoints", "set", "--from-file", str(again), "--execute")
    assert stale.exit_code == 3, stale.stderr
    assert f"'{names[1]}' moved from position {end} to 2" in stale.stderr
    assert [recorded(n) for n in names] == [end, 2]


def test_an_export_that_cannot_be_written_moves_nothing(three: Target, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "plan.json"
    result = run_cli(
        "checkpoints", "set", "--all", "--to-end", "--export", str(missing), "--execute"
    )
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith(f"Error: --export: cannot write '{missing}': ")
    wrong = run_cli("checkpoints", "set", "a-1", "--to-end", "--export", "plan.yaml", "--execute")
    assert (wrong.exit_code, "must end in .csv or .json" in wrong.stderr) == (2, True)
    assert positions(three) == {"a-1": 5, "a-2": 5, "b-1": 5}
    assert not list(tmp_path.glob("**/.esctl-plan-*")), "a temporary plan file was left behind"
