"""The audit trail (SPEC "Lifecycle"), on both backends: `checkpoints set|delete --execute`
write one row each in the transaction of the change (a dry run or a refused change writes none),
the command line is stored with passwords redacted, and `esctl audit` lists it."""

from __future__ import annotations

import getpass
import json
import socket

from esctl.lifecycle.audit import Actor, redact_command
from tests.support.data import seed_events
from tests.support.processes import run_cli
from tests.support.stores import Target


def _audit(*flags: str) -> list[dict[str, object]]:
    result = run_cli("audit", "-o", "json", *flags)
    assert result.exit_code == 0, result.stderr
    rows: list[dict[str, object]] = json.loads(result.stdout)
    return rows


def test_executed_checkpoint_changes_are_audited_and_dry_runs_are_not(initialised: Target) -> None:
    with initialised.open() as store:
        seed_events(store, [("Order-1", "Placed", {"n": i}) for i in range(5)])
    assert run_cli("checkpoints", "set", "sub", "--to-end").exit_code == 0  # a dry run
    assert _audit() == []
    assert run_cli("checkpoints", "set", "sub", "--to-end", "--execute").exit_code == 0
    assert run_cli("checkpoints", "set", "sub", "--position", "2", "--execute").exit_code == 0
    assert run_cli("checkpoints", "delete", "sub", "--execute").exit_code == 0
    missing = run_cli("checkpoints", "delete", "sub", "--execute")
    assert missing.exit_code == 4  # refused: nothing changed, nothing audited
    rows = _audit()
    assert [(r["operation"], r["target"]) for r in rows] == [
        ("checkpoints delete", "sub"),
        ("checkpoints set", "sub"),
        ("checkpoints set", "sub"),
    ]
    assert [r["id"] for r in rows] == sorted((r["id"] for r in rows), reverse=True)
    created, moved, deleted = rows[2], rows[1], rows[0]
    assert created["counts"] == {
        "old_position": None,
        "new_position": 5,
        "events_redelivered": 0,
        "events_skipped": 5,
        "forced": False,
    }
    assert moved["counts"]["old_position"] == 5 and moved["counts"]["new_position"] == 2  # type: ignore[index]
    assert moved["counts"]["events_redelivered"] == 3  # type: ignore[index]
    assert deleted["counts"]["old_position"] == 2  # type: ignore[index]
    assert created["command"] == "esctl checkpoints set sub --to-end --execute"
    assert created["os_user"] == getpass.getuser() and created["host"] == socket.gethostname()
    assert created["manifest_sha256"] is None
    assert (created["db_user"] is None) == (initialised.backend == "sqlite")
    assert _audit("--limit", "1") == rows[:1]
    assert _audit("--since", "1h") == rows
    assert _audit("--since", "2999-01-01") == []
    table = run_cli("audit")
    assert table.exit_code == 0 and "checkpoints delete" in table.stdout


def test_audit_since_is_checked() -> None:
    result = run_cli("-s", "sqlite:///x.db", "audit", "--since", "yesterday-ish")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ")


def test_the_command_line_is_stored_without_passwords() -> None:
    secret = "Sentinel-Pa55word-q7Zx"
    words = [
        "esctl",
        "-s",
        f"postgresql://app:{secret}@db/app",
        f"--store=postgresql://app@db/app?password={secret}",
        "--store",
        f"host=db user=app password={secret} dbname=app",
        "checkpoints",
        "delete",
        "sub",
        "--execute",
    ]
    line = redact_command(words)
    assert secret not in line and "Pa55word" not in line
    assert line.endswith("checkpoints delete sub --execute")
    assert "postgresql://app:***@db/app" in line and "password=***" in line
    # a password found only in the settings (e.g. $PGPASSWORD echoed in an argument)
    echoed = Actor.current(["esctl", "--where", f"data.note={secret}"]).command
    assert secret in echoed  # not a known secret: left alone
    assert secret not in redact_command(["esctl", f"data.note={secret}"], extra=[secret])
