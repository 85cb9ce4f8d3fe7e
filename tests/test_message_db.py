"""The message-db layout against the real Message DB (Eventide's npm package, installed by its own
install.sh; tests/support/message_db.py): esctl reads exactly what Message DB's own functions
return, writes only through write_message, and refuses what it cannot do on it (exit 2).
Messages are written by real clients (message-db-py, plain SQL), never by esctl's own SQL."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.support import message_db as mdb
from tests.support.processes import run_cli, run_process

pytestmark = pytest.mark.postgres


def esctl(url: str, *args: str, input: str | None = None) -> Any:
    return run_cli("--store", url, *args, input=input)


def unique(category: str) -> str:
    """A category of its own (the session's database is shared by these tests)."""
    return f"{category}{uuid.uuid4().hex[:8]}"


@pytest.fixture
def seeded(message_db_url: str) -> tuple[str, str]:
    """Two streams of one category written by message-db-py, one message of another category."""
    category = unique("account")
    client = mdb.client(message_db_url)
    try:
        for n in range(3):
            client.write(f"{category}-1", "Deposited", {"amount": n}, {"by": "alice"})
        client.write(f"{category}-2", "Opened", {"n": 1})
        client.write(f"{unique('other')}-1", "Started", {"x": True})
    finally:
        client.connection_pool.closeall()
    return message_db_url, category


def _event(row: dict[str, Any]) -> dict[str, Any]:
    """A row of get_stream_messages/get_category_messages in esctl's JSON terms."""
    return {
        "global_position": row["global_position"],
        "stream_id": row["stream_name"],
        "version": row["position"],
        "event_type": row["type"],
        "event_id": row["id"],
        "data": json.loads(row["data"]) if row["data"] else None,
        "metadata": json.loads(row["metadata"]) if row["metadata"] else {},
        "created_at": row["time"].isoformat() + "Z",
    }


def _read(url: str, *args: str) -> list[dict[str, Any]]:
    result = esctl(url, "read", *args, "-o", "json")
    assert result.exit_code == 0, result.stderr
    keys = ("global_position", "stream_id", "version", "event_type", "event_id", "data")
    return [{k: e[k] for k in (*keys, "metadata", "created_at")} for e in json.loads(result.stdout)]


def test_auto_detects_message_db_and_doctor_reports_its_version(message_db_url: str) -> None:
    result = esctl(message_db_url, "doctor", "-o", "json")
    assert result.exit_code == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["layout"] == "message-db"
    assert "message_store.messages" in report["layout_reason"]
    assert report["schema"] == "message_store" and report["missing"] == []
    version = mdb.function_rows(message_db_url, "SELECT message_store_version() AS v", [])[0]["v"]
    assert (
        f"Message DB version {version} (message_store.message_store_version())" in report["notes"]
    )


def test_read_stream_is_exactly_what_get_stream_messages_returns(seeded: tuple[str, str]) -> None:
    url, category = seeded
    stream = f"{category}-1"
    own = mdb.function_rows(url, "SELECT * FROM get_stream_messages(%s)", [stream])
    assert [r["position"] for r in own] == [0, 1, 2]  # Message DB's numbering, kept
    assert _read(url, stream) == [_event(r) for r in own]
    assert _read(url, stream, "--from-version", "1") == [_event(r) for r in own[1:]]


def test_read_all_by_category_is_exactly_get_category_messages(seeded: tuple[str, str]) -> None:
    url, category = seeded
    own = mdb.function_rows(url, "SELECT * FROM get_category_messages(%s, 1, -1)", [category])
    assert len(own) == 4
    assert _read(url, "--all", "--category", category) == [_event(r) for r in own]
    deposited = _read(url, "--all", "--category", category, "--type", "Deposited")
    assert [e["event_type"] for e in deposited] == ["Deposited"] * 3
    where = _read(url, "--all", "--category", category, "--where", "data.amount>=1")
    assert [e["data"]["amount"] for e in where] == [1, 2]


def test_events_show_streams_and_stats(seeded: tuple[str, str]) -> None:
    url, category = seeded
    own = mdb.function_rows(url, "SELECT * FROM get_stream_messages(%s)", [f"{category}-1"])
    shown = esctl(url, "events", "show", own[1]["id"], "-o", "json")
    assert shown.exit_code == 0, shown.stderr
    assert json.loads(shown.stdout)["version"] == 1
    missing = esctl(url, "events", "show", str(uuid.uuid4()))
    assert missing.exit_code == 4
    streams = json.loads(esctl(url, "streams", "list", "--category", category, "-o", "json").stdout)
    assert [(s["stream_id"], s["version"], s["events"]) for s in streams] == [
        (f"{category}-1", 2, 3),
        (f"{category}-2", 0, 1),
    ]
    info = json.loads(esctl(url, "streams", "show", f"{category}-1", "-o", "json").stdout)
    assert (info["version"], info["events"], info["counts_by_type"]) == (2, 3, {"Deposited": 3})
    assert esctl(url, "streams", "show", f"{category}-9").exit_code == 4
    assert esctl(url, "read", f"{category}-9").exit_code == 4
    stats = json.loads(esctl(url, "stats", "-o", "json").stdout)
    summary = mdb.function_rows(
        url, "SELECT category, type, message_count FROM category_type_summary", []
    )
    assert {(c["category"], c["event_type"], c["events"]) for c in stats["counts"]} == {
        (r["category"], r["type"], int(r["message_count"])) for r in summary
    }
    total = mdb.function_rows(
        url, "SELECT count(*) AS n, max(global_position) AS head FROM messages", []
    )
    assert (stats["events"], stats["head_position"]) == (total[0]["n"], total[0]["head"])


def test_append_goes_through_write_message_and_reads_back(message_db_url: str) -> None:
    stream = f"{unique('order')}-1"
    lines = "".join(
        json.dumps({"stream_id": stream, "event_type": "Placed", "data": {"n": n}}) + "\n"
        for n in range(3)
    )
    appended = esctl(
        message_db_url, "append", "-", "--expected-version", "no-stream", "-o", "json", input=lines
    )
    assert appended.exit_code == 0, appended.stderr
    assert [(r["first_version"], r["last_version"]) for r in json.loads(appended.stdout)] == [
        (0, 2)
    ]
    own = mdb.function_rows(message_db_url, "SELECT * FROM get_stream_messages(%s)", [stream])
    assert [(r["position"], json.loads(r["data"])["n"]) for r in own] == [(0, 0), (1, 1), (2, 2)]
    # --expected-version is Message DB's version (the last position): 2 appends, 1 conflicts.
    more = json.dumps({"stream_id": stream, "event_type": "Paid", "data": {}}) + "\n"
    stale = esctl(message_db_url, "append", "-", "--expected-version", "1", input=more)
    assert stale.exit_code == 3
    assert "expected version 1, actual version 2" in stale.stderr
    ok = esctl(message_db_url, "append", "-", "--expected-version", "2", input=more)
    assert ok.exit_code == 0, ok.stderr
    last = mdb.function_rows(message_db_url, "SELECT * FROM get_last_stream_message(%s)", [stream])
    assert (last[0]["position"], last[0]["type"]) == (3, "Paid")
    # The stored messages again (without their versions) are recognised by their ids as already
    # stored, not written twice.
    stored = esctl(message_db_url, "read", stream, "-o", "jsonl").stdout.splitlines()
    again = "".join(
        json.dumps({k: v for k, v in json.loads(line).items() if k != "version"}) + "\n"
        for line in stored
    )
    replay = esctl(message_db_url, "append", "-", input=again)
    assert replay.exit_code == 0, replay.stderr
    assert (
        len(mdb.function_rows(message_db_url, "SELECT * FROM get_stream_messages(%s)", [stream]))
        == 4
    )


@pytest.mark.reliability
def test_eight_racing_appenders_with_one_expected_version_one_wins(
    message_db_url: str, tmp_path: Any
) -> None:
    stream = f"{unique('race')}-1"
    mdb.write_sql(message_db_url, (uuid.uuid4(), stream, "Opened", {}))

    def append(n: int) -> int:
        line = json.dumps({"stream_id": stream, "event_type": "Raced", "data": {"n": n}})
        return run_process(
            "--store", message_db_url, "append", "-", "--expected-version", "0", input=line + "\n"
        ).returncode

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(append, range(8)))
    assert sorted(codes) == [0] + [3] * 7, codes
    own = mdb.function_rows(message_db_url, "SELECT * FROM get_stream_messages(%s)", [stream])
    assert [r["position"] for r in own] == [0, 1]


def test_what_message_db_cannot_do_is_refused_in_one_line(message_db_url: str) -> None:
    for command in (
        ["snapshots", "list"],
        ["snapshots", "rebuild", "--all", "--reducer", "x"],
        ["init"],
        ["events", "redact", "6f1c2a3e-0000-4000-8000-0000000000e1", "--path", "data.x"],
    ):
        result = esctl(message_db_url, *command)
        assert result.exit_code == 2, (command, result.stdout, result.stderr)
        errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1, result.stderr
    sqlite = run_cli("--store", "sqlite:///nowhere.db", "--layout", "message-db", "read", "--all")
    assert sqlite.exit_code == 2 and "PostgreSQL" in sqlite.stderr
