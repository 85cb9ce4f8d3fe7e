"""Soft delete is visible everywhere (issue 19), on both backends: checkpoint lag and pending
events (`checkpoints list/show`), `snapshots rebuild/verify/list/show`, `events show` and
PostgreSQL's catalog estimates leave soft-deleted streams out unless --include-deleted; and
`init --protect --dry-run` prints the trigger SQL it would run without installing it."""

from __future__ import annotations

import json

from esctl.lifecycle.protection import is_protected
from tests.support.data import seed_events
from tests.support.processes import run_cli
from tests.support.stores import Target
from tests.test_protection import plain_client
from tests.test_stream_delete import as_json, ok


def test_deleted_streams_leave_lag_rebuilds_show_and_estimates(initialised: Target) -> None:
    with initialised.open() as store:
        seed_events(store, [("Gone-1", "Added", {"n": i}) for i in range(3)])
        seed_events(store, [("Kept-1", "Added", {"n": i}) for i in range(2)])
    gone_id = next(e["event_id"] for e in as_json("read", "Gone-1"))
    with plain_client(initialised) as conn:  # the deleted stream holds the oldest events
        conn.execute(
            "UPDATE events SET created_at = '2001-02-03T04:05:06Z' WHERE stream_id = 'Gone-1'"
        )
    ok("checkpoints", "set", "sub", "--to-start", "--execute")
    ok("streams", "delete", "Gone-1", "--execute")

    stats = as_json("stats")
    assert stats["head_position"] == 5 and not stats["oldest_event_at"].startswith("2001")
    assert as_json("stats", "--include-deleted")["oldest_event_at"].startswith("2001-02-03")

    (listed,) = as_json("checkpoints", "list")
    assert listed["lag"] == 2
    assert as_json("checkpoints", "list", "--include-deleted")[0]["lag"] == 5
    shown = as_json("checkpoints", "show", "sub")
    assert shown["lag"] == 2 and {e["stream_id"] for e in shown["pending"]} == {"Kept-1"}
    everything = as_json("checkpoints", "show", "sub", "--include-deleted")
    assert [e["stream_id"] for e in everything["pending"]] == ["Gone-1"] * 3 + ["Kept-1"] * 2

    rebuilt = as_json("snapshots", "rebuild", "--all")
    assert [o["stream_id"] for o in rebuilt] == ["Kept-1"]
    assert as_json("snapshots", "show", "Kept-1")["version"] == 2
    assert run_cli("snapshots", "show", "Gone-1").exit_code == 4  # never rebuilt
    assert ok("snapshots", "verify", "--all")  # the deleted stream has no snapshot: not drift
    named = run_cli("snapshots", "rebuild", "Gone-1")
    assert named.exit_code == 4
    again = as_json("snapshots", "rebuild", "--all", "--include-deleted")
    assert sorted((o["stream_id"], o["status"]) for o in again) == [
        ("Gone-1", "rebuilt"),
        ("Kept-1", "unchanged"),
    ]
    # The deleted stream's snapshot now exists: listings and show hide it, as reads do.
    assert [s["stream_id"] for s in as_json("snapshots", "list")] == ["Kept-1"]
    assert [s["stream_id"] for s in as_json("snapshots", "list", "--include-deleted")] == [
        "Gone-1",
        "Kept-1",
    ]
    shown_gone = run_cli("snapshots", "show", "Gone-1")
    assert shown_gone.exit_code == 4
    assert "Error: stream 'Gone-1' is deleted (soft, at " in shown_gone.stderr
    assert "--include-deleted shows it" in shown_gone.stderr
    assert as_json("snapshots", "show", "Gone-1", "--include-deleted")["version"] == 3

    hidden = run_cli("events", "show", gone_id)
    assert hidden.exit_code == 4
    assert f"Error: event '{gone_id}' is in stream 'Gone-1', which is deleted (soft)" in (
        hidden.stderr
    )
    assert as_json("events", "show", gone_id, "--include-deleted")["stream_id"] == "Gone-1"

    if initialised.backend == "postgresql":
        with plain_client(initialised) as conn:
            conn.execute("ANALYZE events")
    with initialised.open() as store, store.reading() as tx:
        hiding = tx.log.estimated_counts()
    with initialised.open(include_deleted=True) as store, store.reading() as tx:
        showing = tx.log.estimated_counts()
    if initialised.backend == "sqlite":
        assert hiding is None and showing is None  # SQLite has no catalog estimates
        return
    assert showing is not None and hiding is not None
    assert showing["events"] == 5 and hiding["events"] == 2
    assert showing["streams"] is not None and hiding["streams"] == showing["streams"] - 1


def test_init_protect_dry_run_prints_the_triggers_and_installs_nothing(
    initialised: Target,
) -> None:
    dry = run_cli("init", "--protect", "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert "CREATE TRIGGER" in dry.stdout and "esctl_protect_events" in dry.stdout
    assert "events are protected" in dry.stdout  # the refusal the trigger raises
    assert "would be turned on" in dry.stderr and "Dry run: nothing was changed" in dry.stderr
    planned = json.loads(run_cli("init", "--protect", "--dry-run", "-o", "json").stdout)
    assert planned["statements"] == []  # the schema is current
    assert any("CREATE TRIGGER" in s for s in planned["protection_statements"])
    if initialised.backend == "postgresql":
        assert f'"{initialised.schema}".' in " ".join(planned["protection_statements"])
    with initialised.open() as store:
        assert is_protected(store) is False
    assert as_json("audit") == []
    ok("init", "--protect")
    stays = json.loads(run_cli("init", "--protect", "--dry-run", "-o", "json").stdout)
    assert stays["protection_statements"] == []
    off = json.loads(run_cli("init", "--unprotect", "--dry-run", "-o", "json").stdout)
    assert any(s.startswith("DROP TRIGGER") for s in off["protection_statements"])
    with initialised.open() as store:
        assert is_protected(store) is True
