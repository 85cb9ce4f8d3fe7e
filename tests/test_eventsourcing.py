"""The `eventsourcing` layout (SPEC "Other event stores"), against the real library (PyPI
`eventsourcing`, pinned in the dev extras): a small application run by the library's own System
and runner writes the store; esctl reads it with the right types and versions, tails new events
from 4 concurrent writer threads (lost 0, duplicated 0), reports the follower's lag from its
tracking table, reads a compressed application without a crash, and refuses every write."""

from __future__ import annotations

import json
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.support import eventsourcing_app as ea
from tests.support.data import write_config
from tests.support.processes import esctl_command, run_cli


@dataclass(frozen=True)
class Library:
    url: str  # the throwaway database
    env: dict[str, str]  # the library's settings for it
    accounts: dict[uuid.UUID, int]  # account id -> events written (Opened + credits)
    customers: list[uuid.UUID]


@pytest.fixture(scope="session")
def library(pg_server_url: str) -> Iterator[Library]:
    name = f"esctl_evs_{uuid.uuid4().hex[:8]}"
    url = ea.create_database(pg_server_url, name)
    try:
        env = ea.library_env(url)
        runner = ea.run_system(env)
        try:
            bank = runner.get(ea.Bank)
            accounts = {bank.open(f"owner-{n}", credits=n): n + 1 for n in range(3)}
            customers = [bank.register("ann"), bank.register("bob")]
        finally:
            runner.stop()
        yield Library(url, env, accounts, customers)
    finally:
        ea.drop_database(pg_server_url, name)


def _profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, **extra: object) -> None:
    config = write_config(tmp_path / "esctl.yaml", {"lib": {"store": url, **extra}})
    monkeypatch.setenv("ESCTL_CONFIG", str(config))
    monkeypatch.setenv("ESCTL_PROFILE", "lib")


@pytest.fixture
def bank_profile(library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Library:
    _profile(tmp_path, monkeypatch, library.url, tables={"events": "bank_events"})
    return library


def _jsonl(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_several_non_empty_events_tables_without_tables_are_an_error_that_lists_them(
    library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _profile(tmp_path, monkeypatch, library.url)
    result = run_cli("read", "--all")
    assert result.exit_code == 2, result.stderr
    first = result.stderr.splitlines()[0]
    assert first == (
        "Error: schema public holds 2 non-empty stored-events tables: bank_events, counters_events"
    )
    _profile(tmp_path, monkeypatch, library.url, tables={"events": "nope_events"})
    missing = run_cli("read", "--all")
    assert missing.exit_code == 2 and "'nope_events', not a stored-events table" in missing.stderr


def test_doctor_reports_the_detected_layout_and_why(bank_profile: Library) -> None:
    result = run_cli("doctor", "-o", "json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["layout"] == "eventsourcing"
    assert "bank_events" in report["layout_reason"] and "counters_events" in report["layout_reason"]
    assert "eventsourcing events table: bank_events (tables.events: bank_events)" in report["notes"]
    assert "tracking tables: counters_tracking" in report["notes"]


def test_read_gives_the_librarys_streams_versions_types_and_positions(
    bank_profile: Library,
) -> None:
    events = _jsonl(run_cli("read", "--all", "-o", "jsonl").stdout)
    assert len(events) == sum(bank_profile.accounts.values()) + len(bank_profile.customers)
    with psycopg.connect(bank_profile.url) as conn:
        rows = conn.execute(
            "SELECT notification_id, originator_id::text, originator_version, topic "
            "FROM bank_events ORDER BY notification_id"
        ).fetchall()
    assert [(e["global_position"], e["stream_id"], e["version"]) for e in events] == [
        (r[0], r[1], r[2]) for r in rows
    ]
    assert {e["event_type"] for e in events} == {
        "Account.Opened",
        "Account.Credited",
        "Customer.Registered",
    }
    account, written = max(bank_profile.accounts.items(), key=lambda item: item[1])
    stream = _jsonl(run_cli("read", str(account), "-o", "jsonl").stdout)
    assert [e["version"] for e in stream] == list(range(1, written + 1))
    assert stream[0]["event_type"] == "Account.Opened" and stream[0]["stream_type"] == "Account"
    assert stream[0]["data"]["owner"] == f"owner-{written - 1}"  # type: ignore[index]
    assert stream[0]["created_at"] is not None  # the event's own timestamp
    shown = json.loads(run_cli("events", "show", f"{account}:2", "-o", "json").stdout)
    assert shown["event_type"] == "Account.Credited" and shown["data"]["amount"] == 1
    absent = run_cli("read", str(uuid.uuid4()))
    assert absent.exit_code == 4, absent.stderr
    assert run_cli("events", "show", "not-an-event").exit_code == 4


def test_streams_and_stats(bank_profile: Library) -> None:
    streams = _jsonl(run_cli("streams", "list", "-o", "jsonl").stdout)
    assert {s["stream_id"] for s in streams} == {
        *map(str, bank_profile.accounts),
        *map(str, bank_profile.customers),
    }
    account, written = next(iter(bank_profile.accounts.items()))
    shown = json.loads(run_cli("streams", "show", str(account), "-o", "json").stdout)
    assert shown["version"] == written and shown["stream_type"] == "Account"
    stats = json.loads(run_cli("stats", "--exact", "-o", "json").stdout)
    assert stats["events"] == sum(bank_profile.accounts.values()) + len(bank_profile.customers)
    assert stats["streams"] == len(bank_profile.accounts) + len(bank_profile.customers)
    by_stream = json.loads(run_cli("stats", "--by", "stream", "--exact", "-o", "json").stdout)
    assert {c["stream_id"] for c in by_stream["counts"]} == {s["stream_id"] for s in streams}
    assert sum(c["events"] for c in by_stream["counts"]) == stats["events"]


def test_checkpoints_list_the_followers_tracking_and_its_lag_in_events(
    bank_profile: Library,
) -> None:
    listed = json.loads(run_cli("checkpoints", "list", "-o", "json").stdout)
    (follower,) = listed
    assert follower["subscription_id"] == "counters/Bank"
    with psycopg.connect(bank_profile.url) as conn:
        tracked = conn.execute(
            "SELECT notification_id FROM counters_tracking WHERE application_name = 'Bank'"
        ).fetchone()
        head = conn.execute("SELECT max(notification_id) FROM bank_events").fetchone()
    assert tracked is not None and head is not None
    assert follower["last_position"] == tracked[0]
    assert follower["lag"] == head[0] - tracked[0]
    shown = json.loads(run_cli("checkpoints", "show", "counters/Bank", "-o", "json").stdout)
    assert shown["subscription_id"] == "counters/Bank"
    assert len(shown["pending"]) == shown["lag"]
    assert run_cli("checkpoints", "show", "nobody/Bank").exit_code == 4


@pytest.mark.parametrize(
    "command",
    [
        ["append", "-"],
        ["snapshots", "rebuild", "--all"],
        ["checkpoints", "set", "counters/Bank", "--to-start"],
        ["checkpoints", "set", "--all", "--to-start", "--export", "plan.json"],
        ["checkpoints", "delete", "counters/Bank", "--execute"],
        ["streams", "archive", "--category", "Bank", "--to", "bank.jsonl", "--delete"],
        ["tail", "--checkpoint", "counters/Bank", "--max", "1"],
        ["init"],
    ],
)
def test_writes_are_refused_with_exit_2_and_one_line(
    bank_profile: Library, command: list[str]
) -> None:
    before = json.loads(run_cli("stats", "--exact", "-o", "json").stdout)["events"]
    result = run_cli(*command, input='{"stream_id": "A-1", "event_type": "X"}\n')
    assert result.exit_code == 2, (command, result.stderr)
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "refused" in errors[0], result.stderr
    assert result.stdout == ""
    assert json.loads(run_cli("stats", "--exact", "-o", "json").stdout)["events"] == before


def test_a_compressed_application_is_read_with_null_data_and_one_warning(
    library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with psycopg.connect(library.url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS zipped")
    env = {
        **library.env,
        "POSTGRES_SCHEMA": "zipped",
        "COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor",
    }
    bank = ea.Bank(env=env)
    account = bank.open("zed", credits=2)
    bank.register("zoe")
    _profile(tmp_path, monkeypatch, library.url, schema="zipped")
    result = run_cli("read", "--all", "-o", "jsonl")
    assert result.exit_code == 0, result.stderr
    events = _jsonl(result.stdout)
    assert [e["stream_id"] for e in events[:3]] == [str(account)] * 3
    assert all(e["data"] is None for e in events)
    assert all(e["metadata"]["state_bytes"] > 0 for e in events)  # type: ignore[index]
    assert result.stderr.count("COMPRESSOR_TOPIC") == 1, result.stderr
    assert [e["event_type"] for e in events] == [
        "Account.Opened",
        "Account.Credited",
        "Account.Credited",
        "Customer.Registered",
    ]


WRITERS, ACCOUNTS_EACH, CREDITS = 4, 15, 3


def test_tail_loses_and_repeats_nothing_under_four_concurrent_library_writers(
    library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The library's writers serialise inserts with LOCK TABLE … IN EXCLUSIVE MODE held to
    commit, so notification order is commit order: tail, reading after its last id, gets every
    event exactly once while 4 threads append through the library."""
    with psycopg.connect(library.url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS tailed")
    env = {**library.env, "POSTGRES_SCHEMA": "tailed"}
    ea.Bank(env=env).register("first")  # creates the tables before tail starts
    _profile(tmp_path, monkeypatch, library.url, schema="tailed")
    import os

    expected = 1 + WRITERS * ACCOUNTS_EACH * (1 + CREDITS)
    tail = subprocess.Popen(
        esctl_command(
            "tail",
            "--all",
            "--from-start",
            "-o",
            "jsonl",
            "--max",
            str(expected),
            "--idle-timeout",
            "60",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    errors: list[BaseException] = []

    # One application per writer, made here: their start-up DDL (CREATE … IF NOT EXISTS, CREATE
    # OR REPLACE FUNCTION) is not safe to run concurrently.
    banks = [ea.Bank(env=env) for _ in range(WRITERS)]

    def write(bank: ea.Bank) -> None:
        try:
            for n in range(ACCOUNTS_EACH):
                bank.open(f"w-{n}", credits=CREDITS)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(bank,)) for bank in banks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out, err = tail.communicate(timeout=120)
    assert not errors, errors
    assert tail.returncode == 0, err
    seen = [e["global_position"] for e in _jsonl(out)]
    with psycopg.connect(library.url) as conn:
        stored = [r[0] for r in conn.execute("SELECT notification_id FROM tailed.bank_events")]
    assert len(stored) == expected
    lost = set(stored) - set(seen)
    duplicated = len(seen) - len(set(seen))
    assert (len(lost), duplicated) == (0, 0)
    assert seen == sorted(seen)  # notification order is the order tail delivered


@pytest.mark.parametrize(
    ("tables", "message"),
    [
        ("bank_events", "tables must map events and tracking to table names"),
        ({"events": ["a", "b"]}, "tables: events must be one table name"),
        ({"tracking": "counters_tracking"}, "tables: tracking must be a list of table names"),
        ({"views": "x"}, "tables must map events and tracking to table names"),
        ({"events": "x" * 64}, "PostgreSQL identifiers are at most 63 bytes"),
    ],
)
def test_a_bad_tables_setting_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tables: object, message: str
) -> None:
    _profile(tmp_path, monkeypatch, "postgresql://nowhere.invalid/db", tables=tables)
    result = run_cli("stats")
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr.splitlines()[0], result.stderr


def test_tables_tracking_narrows_and_a_missing_one_is_named(
    library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _profile(
        tmp_path,
        monkeypatch,
        library.url,
        tables={"events": "bank_events", "tracking": ["counters_tracking", "gone_tracking"]},
    )
    result = run_cli("checkpoints", "list")
    assert result.exit_code == 2
    assert "tables.tracking names gone_tracking" in result.stderr


def test_filters_work_on_the_decoded_state_and_hostile_ids_do_not_crash(
    bank_profile: Library, tmp_path: Path
) -> None:
    credited = _jsonl(run_cli("read", "--all", "-t", "Account.Credited", "-o", "jsonl").stdout)
    assert len(credited) == sum(bank_profile.accounts.values()) - len(bank_profile.accounts)
    assert {e["event_type"] for e in credited} == {"Account.Credited"}
    ann = _jsonl(run_cli("read", "--all", "--where", "data.name=ann", "-o", "jsonl").stdout)
    assert [e["stream_id"] for e in ann] == [str(bank_profile.customers[0])]
    for hostile in ("Order-1", "'; DROP TABLE bank_events; --", "x" * 500):
        result = run_cli("read", hostile)
        assert result.exit_code == 4, (hostile, result.stderr)
        assert run_cli("events", "show", f"{hostile}:1").exit_code == 4
    assert run_cli("stats", "--exact", "-o", "json").exit_code == 0  # the table is still there
    sqlite = run_cli(
        "--store", f"sqlite:///{tmp_path / 'x.db'}", "--layout", "eventsourcing", "stats"
    )
    assert sqlite.exit_code == 2 and "PostgreSQL only" in sqlite.stderr
