"""`streams archive` (SPEC "Lifecycle"), on both backends: a dry run changes nothing (row counts
and a checksum of `events`, no file); an executed run writes the archive (gzip for `.gz`) and a
manifest that matches it, removes exactly the archived events with --delete, audited with the
manifest's sha256; `append` restores it to the same events; an existing file is never
overwritten, and a corrupt archive of the same selection is refused before any delete."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path
from typing import Any

from tests.support.data import seed_events, write_jsonl
from tests.support.processes import run_cli
from tests.support.stores import Target
from tests.test_stream_delete import as_json, fingerprint, ok

OLD = "2020-01-01T00:00:00Z"
KEPT_FIELDS = ("event_id", "stream_id", "stream_type", "version", "event_type", "data")
KEPT_FIELDS += ("metadata", "created_at")


def _seed(target: Target, work: Path) -> None:
    events = [
        {"stream_id": "Order-1", "type": "Placed", "data": {"n": 1, "s": "é\u2028"}},
        {"stream_id": "Order-1", "type": "Paid", "data": {"n": 2}, "metadata": {"c": "x"}},
        {"stream_id": "Order-2", "type": "Placed", "data": {"n": 3}},
        {"stream_id": "Customer-1", "type": "Joined", "data": {}},
    ]
    for event in events[:3]:
        event["created_at"] = OLD
    ok("append", str(write_jsonl(work / "in.jsonl", events)))
    seed_events_new = [("Order-1", "Shipped", {"n": 4})]
    with target.open() as store:
        seed_events(store, seed_events_new)  # a seed INSERT: created now
        with store.writing() as tx:
            tx.execute(
                "INSERT INTO {snapshots} (stream_id, stream_type, snapshot_data, version) "
                "VALUES (%s, %s, %s, %s)",
                ["Order-1", "Order", tx.json_param({"n": 2}), 2],
            )
            tx.execute(
                "INSERT INTO {checkpoints} (subscription_id, last_position) VALUES (%s, %s)",
                ["behind", 1],
            )


def _events(*args: str) -> list[dict[str, Any]]:
    return [{k: e[k] for k in KEPT_FIELDS} for e in as_json("read", *args)]


def test_dry_run_changes_nothing(initialised: Target, isolated_environment: Path) -> None:
    _seed(initialised, isolated_environment)
    before = fingerprint(initialised)
    plan = as_json("streams", "archive", "--category", "Order", "--to", "o.jsonl.gz", "--delete")
    assert plan["executed"] is False and plan["delete"] is True
    assert (plan["streams"], plan["events"], plan["snapshots"]) == (2, 4, 1)
    assert plan["checkpoints_affected"] == ["behind"]
    first = plan["streams_planned"][0]
    assert (first["stream_id"], first["first_version"], first["last_version"]) == ("Order-1", 1, 3)
    assert first["bytes"] > 0 and first["snapshot_version"] == 2
    old = as_json("streams", "archive", "Order-1", "--before", "2021-01-01", "--to", "x.jsonl")
    assert old["events"] == 2 and old["streams_planned"][0]["last_version"] == 2
    table = ok("streams", "archive", "--category", "Order", "--to", "o.jsonl.gz")
    assert "Would archive 4 events of category Order to o.jsonl.gz" in table.stdout
    assert "Dry run: nothing was changed" in table.stderr
    assert fingerprint(initialised) == before
    assert sorted(p.name for p in isolated_environment.iterdir()) == ["in.jsonl"]
    usage = run_cli("streams", "archive", "Order-1", "--category", "Order", "--to", "o.jsonl")
    assert usage.exit_code == 2 and "name streams or --category, not both" in usage.stderr
    missing = run_cli("streams", "archive", "Nope-1", "--to", "o.jsonl")
    assert missing.exit_code == 4 and "stream 'Nope-1' not found" in missing.stderr


def test_archive_delete_restore_round_trip(initialised: Target, isolated_environment: Path) -> None:
    _seed(initialised, isolated_environment)
    original = _events("--all")
    (before_counts, _) = fingerprint(initialised)
    done = as_json(
        "streams", "archive", "--category", "Order", "--to", "o.jsonl.gz", "--delete", "--execute"
    )
    assert done["executed"] is True and done["events"] == 4 and done["events_deleted"] == 4
    archive = isolated_environment / "o.jsonl.gz"
    manifest = json.loads((isolated_environment / "o.jsonl.gz.manifest.json").read_text())
    assert manifest["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert manifest["events"] == 4 and manifest["compression"] == "gzip"
    assert manifest["selection"]["category"] == "Order" and manifest["esctl_version"]
    assert [(s["stream_id"], s["events"], s["first_version"], s["last_version"]) for s in
            manifest["streams"]] == [("Order-1", 3, 1, 3), ("Order-2", 1, 1, 1)]  # fmt: skip
    lines = gzip.decompress(archive.read_bytes()).decode().split("\n")  # \u2028 is in a line
    assert lines.pop() == ""
    ordered = [json.loads(line) for line in lines]
    assert [e["event_id"] for e in ordered] == [
        e["event_id"] for e in original if e["stream_id"].startswith("Order")
    ]
    assert not list(isolated_environment.glob("*.partial"))
    counts, _ = fingerprint(initialised)
    assert counts["events"] == before_counts["events"] - 4
    assert counts["snapshots"] == before_counts["snapshots"]  # kept: it still holds the state
    assert _events("--all") == [e for e in original if e["stream_id"] == "Customer-1"]
    (audit, *_) = as_json("audit")
    assert audit["operation"] == "streams archive --delete"
    assert audit["manifest_sha256"] == manifest["sha256"]
    assert audit["counts"]["events_deleted"] == 4
    # Restore: the same events (ids, types, data, metadata, versions, times), in stream order.
    ok("append", "o.jsonl.gz")
    restored = _events("--all")
    key = lambda e: (e["stream_id"], e["version"])  # noqa: E731
    assert sorted(restored, key=key) == sorted(original, key=key)
    # A re-run verifies the archive and deletes nothing restored (new positions, same ids).
    again = as_json(
        "streams", "archive", "--category", "Order", "--to", "o.jsonl.gz", "--delete", "--execute"
    )
    assert again["resumed"] is True and again["events_deleted"] == 0 and again["remaining"] == 4
    assert len(_events("--all")) == 5


def test_existing_files_are_refused(initialised: Target, isolated_environment: Path) -> None:
    _seed(initialised, isolated_environment)
    (isolated_environment / "mine.jsonl").write_text("precious\n")
    refused = run_cli("streams", "archive", "Order-2", "--to", "mine.jsonl", "--execute")
    assert refused.exit_code == 2
    assert refused.stderr.startswith("Error: refusing to overwrite mine.jsonl: it exists and has")
    assert (isolated_environment / "mine.jsonl").read_text() == "precious\n"
    ok(
        "streams",
        "archive",
        "Order-1",
        "--before",
        OLD[:4] + "-06-01",
        "--to",
        "a.jsonl",
        "--execute",
    )
    other = run_cli("streams", "archive", "Order-2", "--to", "a.jsonl", "--delete", "--execute")
    assert other.exit_code == 2 and "the archive of another selection" in other.stderr
    before = fingerprint(initialised)
    archive = isolated_environment / "a.jsonl"
    archive.write_bytes(archive.read_bytes().replace(b"Placed", b"Plaxed"))  # same length
    args = ("streams", "archive", "Order-1", "--before", "2020-06-01T00:00:00Z", "--to", "a.jsonl")
    corrupt = run_cli(*args, "--delete", "--execute")
    assert corrupt.exit_code == 2, corrupt.stderr
    assert "it does not match its manifest: its sha256 is" in corrupt.stderr
    assert "nothing was deleted" in corrupt.stderr
    assert fingerprint(initialised) == before
    # Not gzip at all, under a .gz name: append says so (exit 6), nothing written.
    (isolated_environment / "bad.jsonl.gz").write_bytes(b"\x1f\x8bnot really")
    bad = run_cli("append", "bad.jsonl.gz")
    assert bad.exit_code == 6 and "cannot read bad.jsonl.gz: not a whole gzip file" in bad.stderr
    assert fingerprint(initialised) == before
