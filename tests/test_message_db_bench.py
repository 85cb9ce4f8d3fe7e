"""`esctl bench` on a Message DB store: it runs in a throwaway database holding a copy of the
store's own Message DB schema (write_message and all), appends through write_message, reads and
tails Message DB's rows, measures write_message called per message (as psql runs them) as the baseline, changes
nothing in the store, and drops the database. Small sizes only: no timing assertions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from esctl.bench import run_bench
from esctl.bench.workload import Parameters
from esctl.config import Settings
from tests.support import message_db as mdb
from tests.support.processes import run_cli
from tests.support.stores import Target

pytestmark = pytest.mark.postgres

SMALL = Parameters(events=120, streams=5, batch_size=30, writers=2, rate=400, warmup=30)


def _databases(url: str) -> set[str]:
    rows = mdb.function_rows(url, "SELECT datname FROM pg_database", [])
    return {r["datname"] for r in rows if r["datname"].startswith("esctl_bench_")}


def _messages(url: str) -> list[Any]:
    return mdb.function_rows(url, "SELECT global_position, id FROM messages ORDER BY 1", [])


def test_bench_runs_on_a_throwaway_copy_of_the_message_db(message_db_url: str) -> None:
    before, databases = _messages(message_db_url), _databases(message_db_url)
    seen: list[str] = []

    def progress(phase: str, done: int, total: int | None) -> None:
        seen.append(phase)

    report = run_bench(
        Settings(store=message_db_url), ["append", "read", "tail"], SMALL, progress=progress
    )
    assert report.place.startswith("throwaway Message DB database esctl_bench_")
    phases = {p.phase: p for p in report.phases}
    assert list(phases) == ["append", "read", "tail", "raw write_message"]
    for name in phases:
        assert phases[name].events == SMALL.events, (name, phases[name].notes)
        assert phases[name].error_count == 0, phases[name].notes
    ratio = report.to_dict()["append_to_raw_write_message_ratio"]
    assert ratio is not None and ratio > 0
    assert report.to_dict()["append_to_raw_copy_ratio"] is None
    assert any("write_message(…) per message" in note for note in report.notes)
    assert _messages(message_db_url) == before, "the bench wrote into the store"
    assert _databases(message_db_url) == databases, "the throwaway database was left behind"


def test_bench_keep_leaves_a_working_message_db(message_db_url: str) -> None:
    """The kept database is a Message DB: its own functions read what the bench appended."""
    params = Parameters(events=20, batch_size=10, streams=2)
    report = run_bench(Settings(store=message_db_url), ["append"], params, keep=True)
    name = report.place.split()[4]
    kept = mdb.with_database(message_db_url, name)
    try:
        messages = mdb.function_rows(
            kept, "SELECT * FROM get_category_messages(%s, 1, -1)", ["Bench"]
        )
        streams = {m["stream_name"] for m in messages}
        assert len(messages) == 2 * params.events, streams  # esctl append, then the baseline
        version = mdb.function_rows(kept, "SELECT message_store_version() AS v", [])
        assert version[0]["v"]
    finally:
        mdb.drop(message_db_url, kept)


def test_cli_bench_on_message_db_and_other_layouts(message_db_url: str, pg_target: Target) -> None:
    result = run_cli(
        "--store", message_db_url, "bench", "append", "--events", "20", "--batch-size", "10",
        "-o", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert [p["phase"] for p in report["phases"]] == ["append", "raw write_message"]
    assert "esctl append / raw write_message: " in result.stderr
    refused = run_cli(
        "--store", pg_target.url, "--layout", "eventsourcing", "bench", "--events", "10"
    )
    assert refused.exit_code == 2, refused.stderr
    assert refused.stderr.startswith("Error: bench refused: the store has the eventsourcing")
