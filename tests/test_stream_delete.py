"""`streams delete [--hard]` and `streams undelete` (SPEC "Lifecycle"), on both backends: a dry
run changes nothing (row counts and a checksum of `events`), an executed run changes exactly the
plan, soft-deleted streams are hidden from reads, listings, stats and tail unless
--include-deleted and refuse esctl appends (exit 3), a seed INSERT into one corrupts nothing,
audit rows match, and a protected store refuses a plain client's DELETE while `--hard` works."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from typing import Any

import pytest

from esctl.lifecycle.protection import set_protection
from tests.support.data import seed_events, write_jsonl
from tests.support.processes import run_cli
from tests.support.stores import Target
from tests.test_protection import plain_client


def fingerprint(target: Target) -> tuple[dict[str, int], str]:
    """Row counts of esctl's tables that a delete may touch, and a sha256 of every event row."""
    counts = {}
    digest = hashlib.sha256()
    with plain_client(target) as conn:
        for table in ("events", "snapshots", "esctl_stream_tombstones", "esctl_audit"):
            counts[table] = int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        rows = conn.execute(
            "SELECT global_position, id, stream_id, version, event_type, "
            "CAST(event_data AS TEXT), CAST(metadata AS TEXT) FROM events ORDER BY global_position"
        ).fetchall()
    for row in rows:
        digest.update(repr(tuple(str(v) for v in row)).encode())
    return counts, digest.hexdigest()


def stream_rows(target: Target, stream_id: str) -> list[tuple[Any, ...]]:
    with plain_client(target) as conn:
        return list(
            conn.execute(
                "SELECT version FROM events WHERE stream_id = "
                + ("?" if target.backend == "sqlite" else "%s")
                + " ORDER BY version",
                [stream_id],
            ).fetchall()
        )


def ok(*args: str) -> Any:
    result = run_cli(*args)
    assert result.exit_code == 0, (args, result.stdout, result.stderr)
    return result


def as_json(*args: str) -> Any:
    return json.loads(ok(*args, "-o", "json").stdout)


@pytest.fixture
def seeded(initialised: Target) -> Target:
    with initialised.open() as store:
        seed_events(store, [("Order-1", "Placed", {"n": i}) for i in range(5)])
        seed_events(store, [("Order-2", "Placed", {"n": 1}), ("Customer-1", "Joined", {})])
        with store.writing() as tx:
            tx.execute(
                "INSERT INTO {snapshots} (stream_id, stream_type, snapshot_data, version) "
                "VALUES (%s, %s, %s, %s)",
                ["Order-1", "Order", tx.json_param({"n": 4}), 5],
            )
            tx.execute(
                "INSERT INTO {checkpoints} (subscription_id, last_position) VALUES (%s, %s)",
                ["behind", 2],
            )
    return initialised


def test_dry_runs_change_nothing_and_print_the_plan(seeded: Target) -> None:
    before = fingerprint(seeded)
    plan = as_json("streams", "delete", "Order-1", "--hard")
    assert plan["executed"] is False and plan["events"] == 5 and plan["snapshots"] == 1
    (stream,) = plan["streams_planned"]
    assert (stream["first_version"], stream["last_version"]) == (1, 5)
    assert (stream["first_position"], stream["last_position"]) == (1, 5)
    assert stream["snapshot_version"] == 5 and stream["checkpoints_affected"] == ["behind"]
    assert stream["bytes"] > 0
    table = ok("streams", "delete", "Order-1", "Order-2")
    assert "Would soft-delete 2 streams (6 events)" in table.stdout
    assert "Dry run: nothing was changed" in table.stderr
    assert fingerprint(seeded) == before
    missing = run_cli("streams", "delete", "Nope-1")
    assert missing.exit_code == 4 and missing.stderr.startswith("Error: stream 'Nope-1' not found")
    assert run_cli("streams", "undelete", "Order-1").exit_code == 4
    assert fingerprint(seeded) == before


def test_soft_delete_hides_refuses_appends_and_undelete_restores(
    seeded: Target, tmp_path: Any
) -> None:
    before_counts, before_sum = fingerprint(seeded)
    done = as_json("streams", "delete", "Order-1", "--execute")
    assert done["executed"] is True
    counts, checksum = fingerprint(seeded)
    assert checksum == before_sum  # no event changed
    assert counts == {
        **before_counts,
        "esctl_stream_tombstones": 1,
        "esctl_audit": before_counts["esctl_audit"] + 1,
    }
    assert [s["stream_id"] for s in as_json("streams", "list")] == ["Customer-1", "Order-2"]
    listed = as_json("streams", "list", "--include-deleted")
    assert [s["stream_id"] for s in listed] == ["Customer-1", "Order-1", "Order-2"]
    hidden = run_cli("read", "Order-1")
    assert hidden.exit_code == 4
    assert hidden.stderr.startswith("Error: stream 'Order-1' is deleted (soft, at ")
    assert "Hint: --include-deleted shows it; `esctl streams undelete Order-1" in hidden.stderr
    assert len(as_json("read", "Order-1", "--include-deleted")) == 5
    assert [e["stream_id"] for e in as_json("read", "--all")] == ["Order-2", "Customer-1"]
    assert len(as_json("read", "--all", "--include-deleted")) == 7
    shown = run_cli("streams", "show", "Order-1")
    assert shown.exit_code == 4 and "is deleted (soft, at " in shown.stderr
    assert as_json("streams", "show", "Order-1", "--include-deleted")["events"] == 5
    stats = as_json("stats")
    assert (stats["events"], stats["streams"]) == (2, 2)
    assert as_json("stats", "--include-deleted")["events"] == 7
    tail = ["tail", "--all", "--from-start", "--idle-timeout", "0.3", "-o", "jsonl"]
    followed = [json.loads(line) for line in ok(*tail).stdout.splitlines()]
    assert [e["stream_id"] for e in followed] == ["Order-2", "Customer-1"]
    assert len(ok(*tail, "--include-deleted").stdout.splitlines()) == 7
    again = run_cli("streams", "delete", "Order-1", "--execute")
    assert again.exit_code == 2 and "already deleted" in again.stderr
    events = write_jsonl(
        tmp_path / "more.jsonl", [{"stream_id": "Order-1", "event_type": "Paid", "data": {}}]
    )
    refused = run_cli("append", str(events))
    assert refused.exit_code == 3
    assert "stream 'Order-1' is deleted" in refused.stderr
    assert "Hint: `esctl streams undelete Order-1 --execute`" in refused.stderr
    # The seed's plain INSERT is not esctl's: stored after the last version, hidden, no harm.
    with seeded.open() as store:
        seed_events(store, [("Order-1", "Paid", {})])
    assert [v[0] for v in stream_rows(seeded, "Order-1")] == [1, 2, 3, 4, 5, 6]
    assert run_cli("read", "Order-1").exit_code == 4
    ok("streams", "undelete", "Order-1", "--execute")
    assert [e["version"] for e in as_json("read", "Order-1")] == [1, 2, 3, 4, 5, 6]
    ok("append", str(events))
    assert as_json("streams", "show", "Order-1")["version"] == 7
    audit = as_json("audit")
    assert [(a["operation"], a["target"]) for a in audit] == [
        ("streams undelete", "Order-1"),
        ("streams delete", "Order-1"),
    ]
    assert audit[1]["counts"] == {"streams": 1, "events": 5, "bytes": done["bytes"], "snapshots": 1}


def test_hard_delete_removes_exactly_the_plan_on_a_protected_store(seeded: Target) -> None:
    with seeded.open() as store:
        set_protection(store, True)
    import psycopg

    with plain_client(seeded) as conn, pytest.raises((sqlite3.DatabaseError, psycopg.Error)):
        conn.execute("DELETE FROM events WHERE stream_id = 'Order-1'")
    before, _ = fingerprint(seeded)
    others = stream_rows(seeded, "Order-2") + stream_rows(seeded, "Customer-1")
    plan = as_json("streams", "delete", "Order-1", "--hard", "--execute", "--batch-size", "2")
    assert plan["executed"] is True and plan["events"] == 5
    after, _ = fingerprint(seeded)
    assert after == {
        "events": before["events"] - 5,
        "snapshots": before["snapshots"] - 1,
        "esctl_stream_tombstones": 0,
        "esctl_audit": before["esctl_audit"] + 1,
    }
    assert stream_rows(seeded, "Order-1") == []
    assert stream_rows(seeded, "Order-2") + stream_rows(seeded, "Customer-1") == others
    (row, protect) = as_json("audit")
    assert row["operation"] == "streams delete --hard" and row["target"] == "Order-1"
    assert row["counts"]["events"] == 5 and row["counts"]["events_deleted"] == 5
    assert protect["operation"] == "init --protect"
    assert run_cli("streams", "delete", "Order-1", "--hard").exit_code == 4  # gone for good
    with plain_client(seeded) as conn, pytest.raises((sqlite3.DatabaseError, psycopg.Error)):
        conn.execute("UPDATE events SET event_type = 'X'")


def test_truncate_needs_a_snapshot_keeps_the_last_event_and_removes_exactly_the_plan(
    seeded: Target,
) -> None:
    with seeded.open() as store, store.writing() as tx:  # a snapshot at version 2 only
        tx.execute("UPDATE {snapshots} SET version = 2 WHERE stream_id = %s", ["Order-1"])
    before = fingerprint(seeded)
    refused = run_cli("streams", "truncate", "Order-1", "--before-version", "5")
    assert refused.exit_code == 2
    assert "it has a snapshot at version 2" in refused.stderr
    whole = run_cli("streams", "truncate", "Order-1", "--before-version", "6", "--force")
    assert whole.exit_code == 2 and "the last event must stay" in whole.stderr
    missing = run_cli("streams", "truncate", "Nope-1", "--before-version", "2")
    assert missing.exit_code == 4
    plan = as_json("streams", "truncate", "Order-1", "--before-version", "3")
    assert plan["executed"] is False and plan["events"] == 2
    assert (plan["stream"]["first_version"], plan["stream"]["last_version"]) == (1, 2)
    assert fingerprint(seeded) == before
    done = as_json(
        "streams",
        "truncate",
        "Order-1",
        "--before-version",
        "5",
        "--force",
        "--execute",
        "--batch-size",
        "3",
    )
    assert done["executed"] is True and done["events"] == 4
    assert [v[0] for v in stream_rows(seeded, "Order-1")] == [5]
    counts, _ = fingerprint(seeded)
    assert counts["events"] == before[0]["events"] - 4
    (row,) = as_json("audit")
    assert row["operation"] == "streams truncate" and row["target"] == "Order-1"
    assert row["counts"] == {
        "events": 4,
        "bytes": done["bytes"],
        "before_version": 5,
        "forced": True,
        "events_deleted": 4,
    }
    again = as_json(
        "streams", "truncate", "Order-1", "--before-version", "5", "--force", "--execute"
    )
    assert again["events"] == 0 and again["executed"] is False  # a re-run: nothing left to do
    assert len(as_json("audit")) == 1
