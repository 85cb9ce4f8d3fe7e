"""The emmett layout (SPEC "Other event stores") against the real Emmett: its npm packages
(pinned, tests/support/emmett.py) append through Emmett's own PostgreSQL event store into a
throwaway database, and Emmett's own processor checkpoints in `emt_processors`. esctl reads what
Emmett's readStream returns (types, versions, data, ids), appends through Emmett's own
emt_append_to_stream so that Emmett reads the result back identically and goes on appending by
its expected version, reports the processor's lag, hides archived messages unless
--include-archived, and refuses what it cannot do exactly as Emmett does (exit 2, one line). The concurrent tail is tests/test_emmett_tail.py."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.support import emmett
from tests.support.processes import run_cli, run_process

pytestmark = pytest.mark.postgres

# What Emmett's read adds to the stored metadata of a message it returns.
READ_METADATA = {"messageId", "streamName", "streamPosition", "globalPosition"}


@dataclass(frozen=True)
class Seeded:
    url: str
    folder: Path
    prefix: str
    streams: dict[str, list[dict[str, Any]]]  # as Emmett's readStream returned them
    processor: str
    handled: list[int]  # global positions the processor handled
    pending: int  # messages appended after it stopped


@pytest.fixture(scope="module")
def seeded(pg_server_url: str) -> Iterator[Seeded]:
    folder = emmett.install()
    name = f"esctl_emt_{uuid.uuid4().hex[:8]}"
    url = emmett.create_database(pg_server_url, name)
    try:
        prefix = "shop_"
        out = emmett.run(folder, url, "seed", prefix)
        yield Seeded(
            url, folder, prefix, out["streams"], out["processor"], out["handled"], out["pending"]
        )
    finally:
        emmett.drop_database(pg_server_url, name)


def esctl(url: str, *args: str) -> Any:
    return run_cli("--store", url, *args)


def _json(url: str, *args: str) -> Any:
    result = esctl(url, *args, "-o", "json")
    assert result.exit_code == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def _stored_metadata(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message["metadata"].items() if k not in READ_METADATA}


def test_auto_detects_emmett_and_doctor_checks_its_schema(seeded: Seeded) -> None:
    report = _json(seeded.url, "doctor")
    assert report["layout"] == "emmett"
    assert "emt_messages and emt_processors" in report["layout_reason"]
    assert report["missing"] == [], report
    notes = "\n".join(report["notes"])
    assert "emt_messages: list-partitioned" in notes
    assert "emt:postgresql:eventstore:initial" in notes  # Emmett's own migration, recorded
    assert f"Emmett processors (status): {seeded.processor} (stopped)" in notes


def test_read_stream_is_what_emmetts_read_stream_returns(seeded: Seeded) -> None:
    assert len(seeded.streams) == 3
    for stream, messages in seeded.streams.items():
        events = _json(seeded.url, "read", stream)
        assert [e["version"] for e in events] == list(range(1, len(messages) + 1))
        assert [(e["event_type"], e["data"], e["metadata"]) for e in events] == [
            (m["type"], m["data"], _stored_metadata(m)) for m in messages
        ]
        assert [(e["event_id"], e["global_position"]) for e in events] == [
            (m["metadata"]["messageId"], m["metadata"]["globalPosition"]) for m in messages
        ]
        assert {e["stream_type"] for e in events} == {stream.split("-")[0]}
    cart = f"{seeded.prefix}cart-1"
    assert _json(seeded.url, "read", cart, "--from-version", "2")[0]["event_type"] == (
        "ProductItemAdded"
    )
    backwards = _json(seeded.url, "read", cart, "--backwards", "--limit", "1")
    assert backwards[0]["event_type"] == "ShoppingCartConfirmed"
    assert esctl(seeded.url, "read", f"{seeded.prefix}cart-9").exit_code == 4


def test_read_all_with_filters_and_events_show(seeded: Seeded) -> None:
    everything = _json(seeded.url, "read", "--all")
    expected = sorted(m["metadata"]["globalPosition"] for ms in seeded.streams.values() for m in ms)
    assert [e["global_position"] for e in everything] == expected
    carts = _json(seeded.url, "read", "--all", "--category", f"{seeded.prefix}cart")
    assert len(carts) == len(everything) - 1
    added = _json(
        seeded.url, "read", "--all", "--type", "ProductItemAdded", "--where", "data.quantity>=2"
    )
    assert sorted(e["data"]["productId"] for e in added) == ["hat", "late-2", "late-3", "shoes"]
    first = seeded.streams[f"{seeded.prefix}cart-1"][0]
    shown = _json(seeded.url, "events", "show", first["metadata"]["messageId"])
    assert (shown["stream_id"], shown["version"], shown["metadata"]) == (
        f"{seeded.prefix}cart-1",
        1,
        {"correlation_id": "c-1"},
    )
    assert esctl(seeded.url, "events", "show", str(uuid.uuid4())).exit_code == 4


def test_streams_and_stats(seeded: Seeded) -> None:
    listed = _json(seeded.url, "streams", "list")
    assert [(s["stream_id"], s["version"], s["events"]) for s in listed] == [
        (stream, len(ms), len(ms)) for stream, ms in sorted(seeded.streams.items())
    ]
    info = _json(seeded.url, "streams", "show", f"{seeded.prefix}cart-1")
    assert (info["version"], info["events"], info["counts_by_type"]) == (
        3,
        3,
        {"ProductItemAdded": 2, "ShoppingCartConfirmed": 1},
    )
    stats = _json(seeded.url, "stats")
    total = sum(len(ms) for ms in seeded.streams.values())
    assert (stats["events"], stats["streams"]) == (total, 3)
    assert stats["head_position"] == max(
        m["metadata"]["globalPosition"] for ms in seeded.streams.values() for m in ms
    )
    counts = {(c["category"], c["event_type"]): c["events"] for c in stats["counts"]}
    assert counts[(f"{seeded.prefix}cart", "ProductItemAdded")] == 6
    by_stream = _json(seeded.url, "stats", "--by", "stream-type")
    assert by_stream["by"] == "stream-type"
    assert {(c["stream_id"], c["event_type"]): c["events"] for c in by_stream["counts"]}[
        (f"{seeded.prefix}cart-1", "ProductItemAdded")
    ] == 2


def test_checkpoints_report_the_processors_lag(seeded: Seeded) -> None:
    listed = _json(seeded.url, "checkpoints", "list")
    assert [c["subscription_id"] for c in listed] == [seeded.processor]
    (reactor,) = listed
    assert reactor["last_position"] == max(seeded.handled)
    assert reactor["lag"] == seeded.pending
    assert reactor["status"] in ("ok", "lagging")
    assert reactor["lag_seconds"] is not None and reactor["lag_seconds"] >= 0
    with psycopg.connect(seeded.url) as conn:
        row = conn.execute(
            "SELECT last_processed_checkpoint FROM emt_processors WHERE processor_id = %s",
            [seeded.processor],
        ).fetchone()
    assert row is not None and int(row[0]) == reactor["last_position"]
    shown = _json(seeded.url, "checkpoints", "show", seeded.processor)
    pending = [e["data"]["productId"] for e in shown["pending"]]
    assert pending == ["late-1", "late-2", "late-3"]
    assert esctl(seeded.url, "checkpoints", "show", "nobody").exit_code == 4


def test_append_goes_through_emmetts_function_and_emmett_reads_it_back(seeded: Seeded) -> None:
    stream = f"invoice{uuid.uuid4().hex[:6]}-1"
    ids = [str(uuid.uuid4()) for _ in range(3)]
    lines = "".join(
        json.dumps(
            {
                "id": ids[n],
                "stream_id": stream,
                "type": f"Step{n}",
                "data": {"n": n},
                "metadata": {"by": "esctl", "n": n},
            }
        )
        + "\n"
        for n in range(3)
    )
    appended = run_cli(
        "--store",
        seeded.url,
        "append",
        "-",
        "--expected-version",
        "no-stream",
        "-o",
        "json",
        input=lines,
    )
    assert appended.exit_code == 0, appended.stderr
    assert [(r["first_version"], r["last_version"]) for r in json.loads(appended.stdout)] == [
        (1, 3)
    ]
    own = emmett.run(seeded.folder, seeded.url, "read", stream)
    assert [(m["type"], m["data"], _stored_metadata(m)) for m in own] == [
        (f"Step{n}", {"n": n}, {"by": "esctl", "n": n}) for n in range(3)
    ]
    assert [(m["metadata"]["messageId"], m["metadata"]["streamPosition"]) for m in own] == [
        (ids[n], n + 1) for n in range(3)
    ]
    with psycopg.connect(seeded.url) as conn:
        streams = conn.execute(
            "SELECT stream_position, stream_type, partition FROM emt_streams WHERE stream_id = %s",
            [stream],
        ).fetchall()
        kinds = conn.execute(
            "SELECT DISTINCT message_kind, message_schema_version FROM emt_messages "
            "WHERE stream_id = %s",
            [stream],
        ).fetchall()
    assert streams == [(3, stream.split("-")[0], "emt:default")]
    assert kinds == [("E", "1")]
    # Emmett's own append goes on from where esctl left the stream, by its expected version.
    assert emmett.run(seeded.folder, seeded.url, "append", stream, "3") == {"next": 4}
    more = json.dumps({"stream_id": stream, "type": "Late", "data": {}}) + "\n"
    stale = run_cli("--store", seeded.url, "append", "-", "--expected-version", "3", input=more)
    assert stale.exit_code == 3 and "expected version 3, actual version 4" in stale.stderr
    # The same events again (same ids) are recognised as stored, not appended twice.
    again = run_cli("--store", seeded.url, "append", "-", input=lines)
    assert again.exit_code == 0, again.stderr
    assert "3 were already stored" in again.stderr
    assert len(emmett.run(seeded.folder, seeded.url, "read", stream)) == 4


@pytest.mark.reliability
def test_eight_racing_appenders_with_one_expected_version_one_wins(seeded: Seeded) -> None:
    stream = f"race{uuid.uuid4().hex[:6]}-1"
    assert emmett.run(seeded.folder, seeded.url, "append", stream, "0") == {"next": 1}

    def append(n: int) -> int:
        line = json.dumps({"stream_id": stream, "event_type": "Raced", "data": {"n": n}}) + "\n"
        return run_process(
            "--store", seeded.url, "append", "-", "--expected-version", "1", input=line
        ).returncode

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(append, range(8)))
    assert sorted(codes) == [0] + [3] * 7, codes
    own = emmett.run(seeded.folder, seeded.url, "read", stream)
    assert [m["metadata"]["streamPosition"] for m in own] == [1, 2]


def test_what_esctl_cannot_do_as_emmett_does_is_refused_in_one_line(seeded: Seeded) -> None:
    commands = (
        (["checkpoints", "set", seeded.processor, "--to-start", "--execute"], "checkpoints"),
        (["checkpoints", "delete", seeded.processor, "--execute"], "checkpoints"),
        (["tail", "--all", "--checkpoint", "mine", "--max", "1"], "checkpoints"),
        (["snapshots", "list"], "snapshots"),
        (["snapshots", "rebuild", "--all", "--reducer", "merge"], "snapshots"),
        (["init"], "init refused"),
    )
    for command, reason in commands:
        result = run_cli("--store", seeded.url, *command)
        assert result.exit_code == 2, (command, result.stdout, result.stderr)
        errors = [e for e in result.stderr.splitlines() if e.startswith("Error:")]
        assert len(errors) == 1 and reason in errors[0], (command, result.stderr)
    with psycopg.connect(seeded.url) as conn:
        row = conn.execute("SELECT last_processed_checkpoint FROM emt_processors").fetchone()
    assert row is not None and int(row[0]) == max(seeded.handled)  # nothing was moved
    sqlite = run_cli("--store", "sqlite:///nowhere.db", "--layout", "emmett", "read", "--all")
    assert sqlite.exit_code == 2 and "PostgreSQL" in sqlite.stderr


def test_archived_messages_are_hidden_unless_include_archived(seeded: Seeded) -> None:
    category = f"old{uuid.uuid4().hex[:6]}"
    stream = f"{category}-0"
    ids = emmett.run(seeded.folder, seeded.url, "write", category, "2")["ids"]
    # Emmett 0.42 has no archiving call of its own: the flag is set as its schema defines it
    # (rows move to the `_archived` partitions), and Emmett's own reader then skips them.
    with psycopg.connect(seeded.url) as conn:
        conn.execute("UPDATE emt_messages SET is_archived = TRUE WHERE stream_id = %s", [stream])
        conn.execute("UPDATE emt_streams SET is_archived = TRUE WHERE stream_id = %s", [stream])
    assert emmett.run(seeded.folder, seeded.url, "read", stream) == []
    assert esctl(seeded.url, "read", stream).exit_code == 4
    hidden = _json(seeded.url, "read", "--all")
    assert not {e["event_id"] for e in hidden} & set(ids)
    shown = _json(seeded.url, "--include-archived", "read", stream)
    assert [e["event_id"] for e in shown] == ids
    after = _json(seeded.url, "read", "--all", "--include-archived")  # after the command too
    assert set(ids) <= {e["event_id"] for e in after}
    stats = _json(seeded.url, "stats")
    archived_stats = _json(seeded.url, "stats", "--include-archived")
    assert archived_stats["events"] == stats["events"] + 2


def test_emmetts_processor_goes_on_over_what_esctl_appended(seeded: Seeded) -> None:
    stream = f"ledger{uuid.uuid4().hex[:6]}-1"
    lines = "".join(
        json.dumps({"stream_id": stream, "type": "Booked", "data": {"n": n}}) + "\n"
        for n in range(2)
    )
    appended = run_cli("--store", seeded.url, "append", "-", "-o", "json", input=lines)
    assert appended.exit_code == 0, appended.stderr
    (result,) = json.loads(appended.stdout)
    handled = emmett.run(seeded.folder, seeded.url, "process", seeded.processor)["handled"]
    assert {result["first_position"], result["last_position"]} <= set(handled)
    (reactor,) = _json(seeded.url, "checkpoints", "list")
    assert (reactor["lag"], reactor["lag_seconds"], reactor["status"]) == (0, 0, "ok")
    assert reactor["last_position"] == max(handled) == reactor["head_position"]


def test_without_node_under_ci_the_tests_fail_naming_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no node, no npm
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="the Emmett tests need `node` on PATH"):
        emmett.install()
