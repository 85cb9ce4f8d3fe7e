"""Consumer positions on Message DB: Eventide's `Recorded` messages in `{category}:position-…`
streams, written here as a consumer writes them (plain write_message), shown by `checkpoints
list/show` with their lag; `checkpoints set` writes one the same way, and only with --execute."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.support import message_db as mdb
from tests.support.processes import run_cli

pytestmark = pytest.mark.postgres


def _head(url: str) -> int:
    rows = mdb.function_rows(url, "SELECT max(global_position) AS h FROM messages", [])
    return int(rows[0]["h"] or 0)


def test_positions_written_by_a_consumer_show_with_their_lag(message_db_url: str) -> None:
    category = f"ledger{uuid.uuid4().hex[:6]}"
    mdb.write_sql(
        message_db_url, *[(uuid.uuid4(), f"{category}-{n}", "Posted", {"n": n}) for n in range(5)]
    )
    handled = _head(message_db_url) - 2  # the consumer handled all but the last two
    name = f"{category}:position-projector"
    mdb.write_sql(message_db_url, (uuid.uuid4(), name, "Recorded", {"position": handled}))
    listed = run_cli("--store", message_db_url, "checkpoints", "list", "-o", "json")
    assert listed.exit_code == 0, listed.stderr
    mine = [c for c in json.loads(listed.stdout) if c["subscription_id"] == name]
    assert len(mine) == 1
    assert (mine[0]["last_position"], mine[0]["lag"]) == (handled, 2)
    assert mine[0]["lag_seconds"] is not None and mine[0]["lag_seconds"] >= 0
    shown = run_cli("--store", message_db_url, "checkpoints", "show", name, "-o", "json")
    assert shown.exit_code == 0, shown.stderr
    assert name in shown.stdout


def test_checkpoints_set_writes_a_recorded_message_only_with_execute(message_db_url: str) -> None:
    name = f"audit{uuid.uuid4().hex[:6]}:position-mailer"
    mdb.write_sql(message_db_url, (uuid.uuid4(), "audit-1", "Logged", {}))
    head = _head(message_db_url)
    dry = run_cli("--store", message_db_url, "checkpoints", "set", name, "--position", str(head))
    assert dry.exit_code == 0, dry.stderr
    assert mdb.function_rows(message_db_url, "SELECT * FROM get_stream_messages(%s)", [name]) == []
    done = run_cli(
        "--store", message_db_url, "checkpoints", "set", name, "--position", str(head), "--execute"
    )
    assert done.exit_code == 0, done.stderr
    last = mdb.function_rows(message_db_url, "SELECT * FROM get_last_stream_message(%s)", [name])
    assert last[0]["type"] == "Recorded"
    assert json.loads(last[0]["data"])["position"] == head
    refused = run_cli("--store", message_db_url, "checkpoints", "delete", name, "--execute")
    assert refused.exit_code == 2, refused.stderr
    bad = run_cli(
        "--store", message_db_url, "checkpoints", "set", "projector", "--to-end", "--execute"
    )
    assert bad.exit_code == 2 and ":position-" in bad.stderr
