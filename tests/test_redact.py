"""`events redact` (SPEC "Lifecycle", issue 19), on both backends, on a protected store: a dry run
changes nothing (row checksum); an executed run replaces exactly the named values and keeps every
other field of the event (and, on SQLite, every other byte of its stored text); the audit row has
the sha256 of each removed value (recomputed here) and never the value; a plain client's UPDATE
is still refused; the stream's snapshot is reported by `snapshots verify` until rebuilt."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from typing import Any

import psycopg
import pytest

from esctl.lifecycle.protection import set_protection
from esctl.lifecycle.redaction_text import redact_value, value_spans
from tests.support.processes import run_cli
from tests.support.stores import Target
from tests.test_protection import plain_client
from tests.test_stream_delete import as_json, fingerprint, ok

EVENT = "6f1c2a3e-0000-4000-8000-0000000000e1"
OTHER = "6f1c2a3e-0000-4000-8000-0000000000e2"
# As an application may have stored it: odd spacing, a duplicated key, a spelled-out number.
DATA = '{ "name" : "Ada",  "email":"ada@example.com", "n": 1.50, "tags": ["a", "b"], "card": {"pan": "4111", "exp": "12/30"}, "email": "ada@example.com" }'
METADATA = '{"ip": "10.0.0.7", "correlation_id": "c-1"}'
MARKER = {"$redacted": True}


def _sha(value: Any) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _stored(target: Target) -> dict[str, tuple[Any, ...]]:
    """Every column of every event as the store returns it (text of data and metadata)."""
    with plain_client(target) as conn:
        rows = conn.execute(
            "SELECT CAST(id AS TEXT), global_position, stream_id, stream_type, version, "
            "event_type, CAST(event_data AS TEXT), CAST(metadata AS TEXT), "
            "CAST(created_at AS TEXT), CAST(transaction_id AS TEXT) FROM events"
        ).fetchall()
    return {row[0]: tuple(row) for row in rows}


@pytest.fixture
def protected(initialised: Target) -> Target:
    mark = "?" if initialised.backend == "sqlite" else "%s"
    insert = (
        "INSERT INTO events (id, stream_id, stream_type, event_type, event_data, metadata, "
        f"version) VALUES ({mark}, {mark}, 'Customer', {mark}, {mark}, {mark}, {mark})"
    )
    with plain_client(initialised) as conn:  # the seed's plain INSERTs
        conn.execute(insert, [EVENT, "Customer-1", "Registered", DATA, METADATA, 1])
        conn.execute(insert, [OTHER, "Customer-1", "Moved", '{"city": "Oslo"}', "{}", 2])
    with initialised.open() as store:
        set_protection(store, True)
    ok("snapshots", "rebuild", "Customer-1")  # the merge reducer folds the email in
    return initialised


def test_redaction_keeps_everything_else_and_audits_only_hashes(protected: Target) -> None:
    before_rows = _stored(protected)
    before_read = {e["event_id"]: e for e in as_json("read", "--all")}
    before = fingerprint(protected)
    paths = ["--path", "data.email", "--path", "data.card.pan", "--path", "metadata.ip"]

    plan = as_json("events", "redact", EVENT, *paths, "--path", "data.nope")
    assert plan["executed"] is False and plan["audit_id"] is None
    assert (plan["stream_id"], plan["version"]) == ("Customer-1", 1)
    assert [(p["path"], p["status"]) for p in plan["paths"]] == [
        ("data.email", "redact"),
        ("data.card.pan", "redact"),
        ("metadata.ip", "redact"),
        ("data.nope", "not-found"),
    ]
    assert all(p["sha256"] is None for p in plan["paths"])  # hashes only once executed
    assert plan["paths"][1]["bytes"] == len('"4111"')
    assert plan["snapshot_stale"]["version"] == 2
    assert fingerprint(protected) == before  # the dry run changed nothing

    done = ok("events", "redact", EVENT, *paths, "--execute")
    assert "data.nope" not in done.stdout  # not asked this time
    assert "audit id" in done.stderr and "snapshots rebuild Customer-1" in done.stderr

    # Only the event's data and metadata changed, and in them only the named values.
    after_rows = _stored(protected)
    assert after_rows[OTHER] == before_rows[OTHER]
    changed = [
        i
        for i, (a, b) in enumerate(zip(before_rows[EVENT], after_rows[EVENT], strict=True))
        if a != b
    ]
    assert changed == [6, 7]  # event_data, metadata: id, position, times, xid all unchanged
    if protected.backend == "sqlite":  # the stored text itself: every other byte as it was
        expected = redact_value(redact_value(DATA, ["email"]).text, ["card", "pan"]).text
        assert after_rows[EVENT][6] == expected
        assert after_rows[EVENT][7] == redact_value(METADATA, ["ip"]).text
        assert '"n": 1.50, "tags": ["a", "b"]' in after_rows[EVENT][6]
    after_read = {e["event_id"]: e for e in as_json("read", "--all")}
    assert after_read[OTHER] == before_read[OTHER]
    want = json.loads(json.dumps(before_read[EVENT]))
    want["data"]["email"] = MARKER
    want["data"]["card"]["pan"] = MARKER
    want["metadata"]["ip"] = MARKER
    assert after_read[EVENT] == want
    assert list(after_read[EVENT]["data"]) == list(before_read[EVENT]["data"])  # key order

    # The audit row: a sha256 of each removed value, recomputed here; never a value.
    (row,) = [a for a in as_json("audit") if a["operation"] == "events redact"]
    assert row["target"] == EVENT
    assert row["counts"]["snapshot"]["version"] == 2
    copies = 2 if protected.backend == "sqlite" else 1  # jsonb keeps one of a duplicated key
    removed = copies * len('"ada@example.com"') + len('"4111"') + len('"10.0.0.7"')
    assert (row["counts"]["values"], row["counts"]["bytes"]) == (3, removed)
    assert row["counts"]["sha256"] == {
        "data.email": _sha("ada@example.com"),
        "data.card.pan": _sha("4111"),
        "metadata.ip": _sha("10.0.0.7"),
    }
    audit_text = json.dumps(row)
    for secret in ("ada@example.com", "4111", "10.0.0.7"):
        assert secret not in audit_text

    # Still protected: a plain client's UPDATE is refused, the event untouched.
    with plain_client(protected) as conn, pytest.raises((sqlite3.DatabaseError, psycopg.Error)):
        conn.execute("UPDATE events SET event_data = event_data")
    assert _stored(protected) == after_rows

    # The snapshot held the email: verify reports it (without printing it) until rebuilt.
    verify = run_cli("snapshots", "verify", "Customer-1", "-o", "json")
    assert verify.exit_code == 1
    (check,) = json.loads(verify.stdout)
    assert check["drift"] == "redacted" and check["diff"] == []
    assert "ada@example.com" not in verify.stdout + verify.stderr
    ok("snapshots", "rebuild", "Customer-1")
    assert run_cli("snapshots", "verify", "Customer-1").exit_code == 0
    snapshot = as_json("snapshots", "show", "Customer-1")
    assert snapshot["snapshot_data"]["email"] == MARKER

    # Again: a no-op with a note, no new audit row; bad requests have their exit codes.
    audits = fingerprint(protected)[0]["esctl_audit"]
    again = ok("events", "redact", EVENT, "--path", "data.email", "--execute")
    assert "already redacted" in again.stderr
    assert fingerprint(protected)[0]["esctl_audit"] == audits
    unknown = run_cli(
        "events", "redact", "6f1c2a3e-0000-4000-8000-00000000dead", "--path", "data.a"
    )
    assert unknown.exit_code == 4 and unknown.stderr.startswith("Error: event '6f1c2a3e-")
    nowhere = run_cli("events", "redact", EVENT, "--path", "data.nope", "--path", "metadata.x")
    assert nowhere.exit_code == 4 and "none of the paths" in nowhere.stderr
    malformed = run_cli("events", "redact", EVENT, "--path", "email")
    assert malformed.exit_code == 2 and "--path 'email'" in malformed.stderr
    assert run_cli("events", "redact", "not-a-uuid", "--path", "data.a").exit_code == 2
    assert _stored(protected) == after_rows


def test_value_spans_follow_the_where_path_language() -> None:
    text = '{"a": {"b": [1, {"c": 2}], "b": {"c": 3}}, "s": "x\\"y", "e": {}}'
    assert [text[i:j] for i, j in value_spans(text, ["a", "b"])] == ['[1, {"c": 2}]', '{"c": 3}']
    assert [text[i:j] for i, j in value_spans(text, ["a", "b", "c"])] == ["3"]  # no array index
    assert value_spans(text, ["s", "x"]) == [] and value_spans(text, ["e", "k"]) == []
    assert redact_value(text, ["s"]).sha256 == _sha('x"y')
    with pytest.raises(ValueError):
        value_spans('{"a": 1,}', ["a"])


def test_two_operators_redacting_at_once_audit_it_once(protected: Target) -> None:
    """Racing `--execute` runs on one event: the row lock (PostgreSQL) or the write lock (SQLite)
    lets one redact; the other then finds it already redacted and writes nothing."""
    from concurrent.futures import ThreadPoolExecutor

    from esctl.lifecycle.redact import execute_redaction

    def redact(_: int) -> bool:
        with protected.open() as store:
            return execute_redaction(store, EVENT, ["data.email"]).executed

    with ThreadPoolExecutor(4) as pool:
        executed = list(pool.map(redact, range(4)))
    assert sorted(executed) == [False, False, False, True]
    audits = [a for a in as_json("audit") if a["operation"] == "events redact"]
    assert len(audits) == 1
    assert as_json("events", "show", EVENT)["data"]["email"] == MARKER
