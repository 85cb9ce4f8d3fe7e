"""A corpus of odd rows, inserted by plain SQL (psycopg / sqlite3, never esctl): every value the
seed schema can hold. Every read command in every output format must read each of them (exit 0,
valid JSON holding the row, no traceback), and say on stderr which rows cannot go back through
`esctl append` unchanged (a warning naming the global position)."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.processes import run_cli
from tests.support.stores import Target

pytestmark = pytest.mark.reliability

SEED_SCHEMA = Path(__file__).parent.parent / "seed_schema.sql"
BIG = 10 * 1024 * 1024
FORMATS = ("table", "json", "jsonl", "csv")
csv.field_size_limit(4 * BIG)


@dataclass
class Odd:
    """One odd row: its stream, the SQL text of its columns (None: SQL NULL; "DEFAULT": omitted)
    and whether esctl must warn that it does not round-trip."""

    stream_id: str
    data: str = '{"n": 1}'
    metadata: str | None = "{}"
    created_at: str | None = "2026-01-01 00:00:00+00"
    event_type: str = "Odd"
    warns: bool = False
    id: str = ""
    position: int = 0


def corpus(backend: str) -> list[Odd]:
    rows = [
        Odd("Plain-1"),
        Odd("NullMeta-1", metadata=None),
        Odd("Year1-1", created_at="0001-01-01 00:00:00+00"),
        Odd("Y9999-1", created_at="9999-12-31 23:59:59.999999+00"),
        Odd("ArrayData-1", data="[1, 2]", warns=True),
        Odd("StringData-1", data='"text"', warns=True),
        Odd("NumberData-1", data="42", warns=True),
        Odd("JsonNullData-1", data="null", warns=True),
        Odd("ArrayMeta-1", metadata="[]", warns=True),
        Odd("JsonNullMeta-1", metadata="null", warns=True),
        Odd(
            "Numbers-1",
            data='{"big": 1.5e300, "d": 0.1000000000000000000001, "i": 12345678901234567890, "z": -0}',
        ),
        Odd(
            "Uni-\\u0000-\u202eRTL-\U0001f389-e\u0301",
            event_type="\u0645\u0631\u062d\u0628\u0627-\U0001f389",
            data='{"rtl": "\u05e9\u05dc\u05d5\u05dd", "emoji": "\U0001f468\u200d\U0001f469", '
            '"combining": "e\u0301", "escape": "\\\\u0000", "ctl": "\\u0001\\t"}',
        ),
        Odd("Big-1", data='{"blob": "' + "x" * BIG + '"}'),
        Odd("-lead-1"),
    ]
    if backend == "postgresql":
        rows += [
            Odd("NullTime-1", created_at=None, warns=True),  # NOT NULL in esctl's SQLite table
            Odd("Infinity-1", created_at="infinity", warns=True),
            Odd("MinusInfinity-1", created_at="-infinity", warns=True),
            Odd("BC-1", created_at="0044-03-15 10:00:00.5+00 BC", warns=True),
            Odd("Year10k-1", created_at="10000-01-01 00:00:00+00", warns=True),
        ]
    else:
        rows += [
            Odd("OldYear1-1", created_at="1-01-01T00:00:00.000Z"),  # older esctl wrote this
            Odd("SqliteNow-1", created_at="2026-12-01 21:12:44"),  # CURRENT_TIMESTAMP's form
            Odd("Yesterday-1", created_at="yesterday", warns=True),
            Odd("Epoch-1", created_at="1700000000", warns=True),
            Odd("BCText-1", created_at="-0043-03-15T10:00:00Z", warns=True),
            Odd("NotJson-1", data="not json {", warns=True),
            Odd("NaN-1", data='{"a": NaN}', warns=True),
            Odd("Pretty-1", data='{\n  "a": 1,\n  "b": [\n    2\n  ]\n}'),
            Odd("Surrogate-1", data='{"s": "\\ud800"}', warns=True),
            Odd("Nul-\x00-1", warns=True),
            Odd("NulData-1", data='{"s": "a\\u0000b"}', warns=True),
            Odd("RawControl-1", data='{"s": "a\x01b"}', warns=True),
        ]
    return rows


def _insert_postgres(target: Target, rows: list[Odd]) -> None:
    import psycopg

    with psycopg.connect(target.url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{target.schema}"')
        conn.execute(f'SET search_path TO "{target.schema}"')
        conn.execute(SEED_SCHEMA.read_text())
        for row in rows:
            row.id = str(uuid.uuid4())
            conn.execute(
                "INSERT INTO events (id, stream_id, stream_type, event_type, event_data, metadata, "
                "version, created_at) VALUES (%s, %s, split_part(%s, '-', 1), %s, "
                "CAST(%s AS jsonb), CAST(%s AS jsonb), 1, CAST(%s AS timestamptz))",
                [
                    row.id,
                    row.stream_id,
                    row.stream_id,
                    row.event_type,
                    row.data,
                    row.metadata,
                    row.created_at,
                ],
            )
        conn.execute(
            "INSERT INTO snapshots (stream_id, stream_type, snapshot_data, version, created_at) "
            "VALUES ('Plain-1', 'Plain', '[1]', 1, 'infinity'), "
            "('NullMeta-1', 'NullMeta', 'null', 1, NULL), ('Year1-1', 'Year1', '{}', 1, "
            "'0044-01-01 00:00:00+00 BC')"
        )
        conn.execute(
            "INSERT INTO subscription_checkpoints (subscription_id, last_position) "
            "VALUES ('resume', 0), ('listed', 0)"
        )
        for row in rows:
            row.position = conn.execute(
                "SELECT global_position FROM events WHERE id = %s", [row.id]
            ).fetchone()[0]  # type: ignore[index]
    result = run_cli("init")
    assert result.exit_code == 0, result.stderr


def _insert_sqlite(target: Target, rows: list[Odd]) -> None:
    result = run_cli("init")
    assert result.exit_code == 0, result.stderr
    path = target.url.removeprefix("sqlite:///")
    conn = sqlite3.connect(path, isolation_level=None)
    for row in rows:
        row.id = str(uuid.uuid4())
        cursor = conn.execute(
            "INSERT INTO events (id, stream_id, stream_type, event_type, event_data, metadata, "
            "version, created_at) VALUES (?, ?, ?, ?, ?, ?, 1, ?)",
            [
                row.id,
                row.stream_id,
                row.stream_id.split("-")[0],
                row.event_type,
                row.data,
                row.metadata,
                row.created_at,
            ],
        )
        row.position = int(cursor.lastrowid or 0)
    # A stream id holding bytes that are not UTF-8, and data stored as a BLOB.
    cursor = conn.execute(
        "INSERT INTO events (id, stream_id, stream_type, event_type, event_data, metadata, version) "
        "VALUES (?, CAST(x'4261642dff' AS TEXT), 'Bad', 'Odd', x'7b7d', '{}', 1)",
        [str(uuid.uuid4())],
    )
    bad = Odd("Bad-\ufffd", data="{}", id="", position=int(cursor.lastrowid or 0))
    bad.id = conn.execute(
        "SELECT id FROM events WHERE global_position = ?", [bad.position]
    ).fetchone()[0]
    rows.append(bad)
    conn.execute(
        "INSERT INTO snapshots (stream_id, stream_type, snapshot_data, version, created_at) "
        "VALUES ('Plain-1', 'Plain', '[1]', 1, 'infinity'), "
        "('NullMeta-1', 'NullMeta', 'not json', 1, NULL), ('Year1-1', 'Year1', '{}', 1, "
        "'1-01-01T00:00:00.000Z')"
    )
    conn.execute(
        "INSERT INTO subscription_checkpoints (subscription_id, last_position) "
        "VALUES ('resume', 0), ('listed', 0)"
    )
    conn.close()


@pytest.fixture
def odd_store(use_target: Target) -> list[Odd]:
    rows = corpus(use_target.backend)
    if use_target.backend == "postgresql":
        _insert_postgres(use_target, rows)
    else:
        _insert_sqlite(use_target, rows)
    return rows


def _check(args: list[str], fmt: str, expect: list[Odd], failures: list[str]) -> str:
    """Run one command in one format; record what is wrong; return its stdout."""
    result = run_cli("-o", fmt, *args)
    label = f"{' '.join(args)} -o {fmt}"
    if result.exit_code != 0:
        failures.append(f"{label}: exit {result.exit_code}: {result.stderr[-500:]}")
        return ""
    for stream in (result.stdout, result.stderr):
        if "Traceback" in stream or "unexpected" in stream:
            failures.append(f"{label}: {stream[-500:]}")
    out = result.stdout
    try:
        if fmt == "json" and args[0] != "tail":  # tail writes one object a line in json too
            text = json.dumps(json.loads(out))
        elif fmt in ("json", "jsonl"):
            lines = out.splitlines()
            text = json.dumps([json.loads(line) for line in lines])
        elif fmt == "csv":
            records = list(csv.reader(io.StringIO(out)))
            # Event listings in CSV have no event_id column: name the rows by position.
            text = json.dumps(records)
            if records and records[0][0] == "global_position":
                text += " ".join(f"position={r[0]}" for r in records[1:])
        else:
            text = out
    except (ValueError, csv.Error) as exc:
        failures.append(f"{label}: not valid {fmt}: {exc}: {out[:300]!r}")
        return out
    if fmt != "table":
        for row in expect:
            if row.id not in text and f"position={row.position}" not in text:
                failures.append(f"{label}: event {row.id} ({row.stream_id!r}) missing")
    elif not out.strip():
        failures.append(f"{label}: no table")
    return out


def test_every_read_command_reads_every_odd_row(odd_store: list[Odd]) -> None:
    rows = odd_store
    small = [r for r in rows if not r.stream_id.startswith("Big")]
    failures: list[str] = []
    for fmt in FORMATS:
        _check(["read", "--all"], fmt, rows, failures)
        _check(["streams", "list"], fmt, [], failures)
        _check(["stats"], fmt, [], failures)
        _check(["snapshots", "list"], fmt, [], failures)
        _check(["checkpoints", "list"], fmt, [], failures)
        _check(["checkpoints", "show", "listed"], fmt, [], failures)
        _check(["tail", "--all", "--from-start", "--idle-timeout", "0.5"], fmt, rows, failures)
        for stream in ("Plain-1", "NullMeta-1", "Year1-1"):
            _check(["snapshots", "show", stream], fmt, [], failures)
        for row in small + [r for r in rows if r not in small]:
            if row.stream_id.startswith("Bad-"):
                continue  # its stored id is not UTF-8: no argument names it
            _check(["read", "--", row.stream_id], fmt, [row], failures)
            _check(["events", "show", row.id], fmt, [row], failures)
            _check(["streams", "show", "--", row.stream_id], fmt, [], failures)
    assert not failures, "\n".join(failures)


def test_odd_rows_are_named_on_stderr_and_json_is_the_same_everywhere(
    odd_store: list[Odd],
) -> None:
    rows = odd_store
    exported = run_cli("read", "--all", "-o", "jsonl")
    assert exported.exit_code == 0, exported.stderr
    lines = exported.stdout.splitlines()
    assert len(lines) == len(rows)
    assert "\\N" not in lines
    by_id = {json.loads(line)["event_id"]: line for line in lines}
    assert sorted(by_id) == sorted(r.id for r in rows)
    for row in rows:
        named = f"global position {row.position}:" in exported.stderr
        assert named == row.warns, (row.stream_id, exported.stderr)
    # The same bytes from every reader (the COPY fast path on PostgreSQL included).
    tail = run_cli("tail", "--all", "--from-start", "--idle-timeout", "0.5", "-o", "jsonl")
    assert tail.exit_code == 0, tail.stderr
    assert tail.stdout.splitlines() == lines
    for row in rows:
        if row.stream_id.startswith("Bad-"):
            continue
        single = run_cli("-o", "jsonl", "read", "--", row.stream_id)
        assert single.exit_code == 0, single.stderr
        assert single.stdout.splitlines() == [by_id[row.id]]
        shown = run_cli("events", "show", row.id, "-o", "jsonl")
        assert shown.stdout.splitlines() == [by_id[row.id]]
        assert (f"global position {row.position}:" in single.stderr) == row.warns


def test_a_checkpointed_tail_resumes_over_odd_rows(odd_store: list[Odd]) -> None:
    rows = odd_store
    first = run_cli(
        "tail", "--all", "--checkpoint", "resume", "--idle-timeout", "0.5", "-o", "jsonl"
    )
    assert first.exit_code == 0, first.stderr
    delivered = [json.loads(line)["event_id"] for line in first.stdout.splitlines()]
    assert sorted(delivered) == sorted(r.id for r in rows)
    again = run_cli(
        "tail", "--all", "--checkpoint", "resume", "--idle-timeout", "0.5", "-o", "jsonl"
    )
    assert again.exit_code == 0, again.stderr
    assert again.stdout == ""


def test_an_export_of_odd_rows_is_refused_by_append_naming_each_line(
    odd_store: list[Odd], tmp_path: Path
) -> None:
    rows = odd_store
    exported = run_cli("read", "--all", "-o", "jsonl")
    assert exported.exit_code == 0, exported.stderr
    # A NULL time and JSON null metadata go in, as the time of the append and {} (and warn).
    accepted = ("NullTime-", "JsonNullMeta-")
    refused = [r for r in rows if r.warns and not r.stream_id.startswith(accepted)]
    export = tmp_path / "export.jsonl"
    export.write_text(exported.stdout)
    fresh = tmp_path / "fresh.db"
    result = run_cli("-s", f"sqlite:///{fresh}", "init")
    assert result.exit_code == 0, result.stderr
    result = run_cli("-s", f"sqlite:///{fresh}", "append", str(export))
    assert result.exit_code == 6, result.stderr
    for line_number, line in enumerate(exported.stdout.splitlines(), start=1):
        event_id = json.loads(line)["event_id"]
        if any(r.id == event_id for r in refused):
            assert f"export.jsonl:{line_number}: " in result.stderr, (line_number, result.stderr)
    # Without the refused lines, the rest goes in, and a second run finds them all stored.
    kept = [
        line
        for line in exported.stdout.splitlines()
        if json.loads(line)["event_id"] not in {r.id for r in refused}
    ]
    export.write_text("\n".join(kept) + "\n")
    for _ in range(2):
        result = run_cli("-s", f"sqlite:///{fresh}", "append", str(export))
        assert result.exit_code == 0, result.stderr
    again = run_cli("-s", f"sqlite:///{fresh}", "read", "--all", "-o", "jsonl")
    assert len(again.stdout.splitlines()) == len(kept)
