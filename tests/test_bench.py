"""`esctl bench` on both backends: results are consistent, the isolated place is removed, the
user's tables are untouched, read-only profiles refuse, and two reports compare. Small sizes only:
no timing assertions (speed is measured by `esctl bench` itself and benchmarks/)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from esctl.bench import BenchReport, run_bench
from esctl.bench.isolation import drop_schema
from esctl.bench.stats import Latency, PhaseResult, classify_error, percentile
from esctl.bench.workload import Parameters, Workload
from esctl.errors import ConcurrencyError, StoreUnavailable
from tests.support.data import seed_events, write_config
from tests.support.processes import run_cli
from tests.support.stores import Target

SMALL = Parameters(events=240, streams=7, batch_size=40, writers=2, rate=400, warmup=40)


def user_tables(target: Target) -> dict[str, Any]:
    """What the user's store holds: its events and (PostgreSQL) the tables of its schema."""
    with target.open(write=False) as store, store.reading() as session:
        events = session.fetchall("SELECT id, stream_id, version FROM {events} ORDER BY id")
        tables: list[Any] = []
        if target.backend == "postgresql":
            tables = session.fetchall(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                "ORDER BY table_name",
                [target.schema],
            )
    return {"events": events, "tables": tables}


def bench_place_exists(target: Target, report: BenchReport) -> bool:
    if target.backend == "sqlite":
        path = Path(report.place.removeprefix("temporary file "))
        return path.exists() or path.parent.exists()
    schema = report.place.removeprefix("throwaway schema ")
    with target.open(write=False) as store, store.reading() as session:
        return bool(session.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema]))


def assert_sane(result: PhaseResult, events: int) -> None:
    latency = result.latency
    assert result.events == events, result
    assert result.seconds > 0
    assert result.error_count == 0, result.notes
    assert latency.samples > 0
    assert 0 < latency.p50 <= latency.p95 <= latency.p99 <= latency.p99_9 <= latency.max
    assert result.events_per_second > 0 and result.mb_per_second > 0


def test_bench_all_counts_match_and_the_place_is_removed(store: Any, target: Target) -> None:
    seed_events(store, [("Order-1", "Placed", {"n": 1}), ("Order-1", "Paid", {"n": 2})])
    before = user_tables(target)

    report = run_bench(target.settings(), ["append", "read", "tail"], SMALL)

    phases = {p.phase: p for p in report.phases}
    assert_sane(phases["append"], SMALL.events)
    assert phases["append"].writers == 2
    assert phases["append"].latency.samples == SMALL.events // SMALL.batch_size
    assert_sane(phases["read"], SMALL.events)  # warm-up events are read but not counted
    assert_sane(phases["tail"], SMALL.events)
    assert phases["tail"].latency.samples == SMALL.events
    if target.backend == "postgresql":
        assert_sane(phases["raw COPY"], SMALL.events)
        assert report.copy_ratio is not None and report.copy_ratio > 0
        assert report.server_version[0].isdigit()
    else:
        assert "raw COPY" not in phases and report.copy_ratio is None
        assert report.server_version.startswith("SQLite")
    assert not bench_place_exists(target, report)
    assert user_tables(target) == before


def test_keep_leaves_the_bench_place(target: Target) -> None:
    params = Parameters(events=20, batch_size=10, streams=3)
    report = run_bench(target.settings(), ["append"], params, keep=True)
    try:
        assert report.kept and bench_place_exists(target, report)
    finally:
        if target.backend == "postgresql":
            schema = report.place.removeprefix("throwaway schema ")
            drop_schema(target.settings(schema=schema))
        else:
            import shutil

            shutil.rmtree(Path(report.place.removeprefix("temporary file ")).parent)
    assert not bench_place_exists(target, report)


def test_cli_bench_json_has_what_a_comparison_needs(initialised: Target, tmp_path: Path) -> None:
    result = run_cli(
        "bench",
        "append",
        "--events",
        "60",
        "--batch-size",
        "20",
        "--streams",
        "4",
        "--payload-bytes",
        "100",
        "--seed",
        "7",
        "-o",
        "json",
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["backend"] == initialised.backend
    assert report["esctl_version"] and report["server_version"]
    assert report["parameters"]["events"] == 60 and report["parameters"]["seed"] == 7
    append = report["phases"][0]
    assert append["phase"] == "append" and append["events"] == 60
    assert set(append["errors"]) == {"conflict", "timeout", "other"}
    assert set(append["latency_ms"]) == {"samples", "p50", "p95", "p99", "p99_9", "max"}
    # mb_per_second is rounded to 3 decimals: at a tiny rate that is more than 1% of it.
    assert append["mb_per_second"] == pytest.approx(
        60 * 100 / 1_000_000 / append["seconds"], rel=0.01, abs=0.0006
    )
    if initialised.backend == "postgresql":
        assert [p["phase"] for p in report["phases"]] == ["append", "raw COPY"]
        assert report["append_to_raw_copy_ratio"] > 0

    old = tmp_path / "old.json"
    old.write_text(result.stdout)
    new = json.loads(result.stdout)
    new["phases"][0]["events_per_second"] = append["events_per_second"] * 2
    new["parameters"]["writers"] = 4
    (tmp_path / "new.json").write_text(json.dumps(new))
    compared = run_cli("bench", "--compare", str(old), str(tmp_path / "new.json"), "-o", "json")
    assert compared.exit_code == 0, compared.stderr
    changes = {(c["phase"], c["figure"]): c for c in json.loads(compared.stdout)["changes"]}
    rate = changes[("append", "events_per_second")]
    assert rate["change_percent"] == pytest.approx(100.0) and rate["verdict"] == "better"
    assert changes[("append", "latency_ms.p50")]["verdict"] == "same"
    assert "the runs differ in writers: 1 → 4" in compared.stderr
    table = run_cli("bench", "--compare", str(old), str(tmp_path / "new.json"))
    assert table.exit_code == 0 and "+100.0%" in table.stdout


def test_cli_bench_table(initialised: Target) -> None:
    result = run_cli("bench", "read", "--events", "30", "--batch-size", "10")
    assert result.exit_code == 0, result.stderr
    assert re.search(r"read\s.*\s30\s", result.stdout)
    assert "append" not in result.stdout  # `bench read` loads its events without reporting it
    assert "removed" in result.stderr


def test_read_only_profile_refuses_bench_with_exit_8(
    target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(
        tmp_path / "ro.yaml",
        {"ro": {"store": target.url, "schema": target.schema, "read_only": True}},
    )
    result = run_cli("-c", str(config), "-p", "ro", "bench", "--events", "10")
    assert result.exit_code == 8
    assert result.stderr.splitlines()[0] == (
        "Error: profile 'ro' is read-only: bench writes (to a throwaway schema or file), "
        "refusing to run"
    )


def test_compare_rejects_a_file_that_is_not_a_report(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"hello": 1}')
    result = run_cli("bench", "--compare", str(bad), str(bad))
    assert result.exit_code == 6
    assert result.stderr.splitlines()[0] == (
        f"Error: {bad}: not an `esctl bench -o json` report (no phases)"
    )
    missing = run_cli("bench", "--compare", str(tmp_path / "nope.json"), str(bad))
    assert missing.exit_code == 6
    assert missing.stderr.startswith(f"Error: cannot read {tmp_path / 'nope.json'}")


def test_bad_parameters_are_usage_errors(initialised: Target) -> None:
    result = run_cli("bench", "--events", "0")
    assert result.exit_code == 2


# --- the pieces --------------------------------------------------------------------------------


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 1001)]
    assert percentile(values, 50) == 500.0
    assert percentile(values, 99.9) == 999.0
    assert percentile([], 50) == 0.0
    latency = Latency.of([0.003, 0.001, 0.002])
    assert (latency.p50, latency.max, latency.samples) == (2.0, 3.0, 3)


def test_errors_are_classified_by_cause() -> None:
    assert classify_error(ConcurrencyError("expected version 3")) == "conflict"
    assert classify_error(StoreUnavailable("the statement was cancelled (timeout)")) == "timeout"
    assert classify_error(ValueError("boom")) == "other"


def test_workload_is_deterministic_and_sized(tmp_path: Path) -> None:
    params = Parameters(events=50, batch_size=20, writers=2, streams=4, payload_bytes=300)
    (tmp_path / "a").mkdir()
    first = [b for _, b in Workload(params, tmp_path / "a").writer_batches()]
    (tmp_path / "b").mkdir()
    second = [b for _, b in Workload(params, tmp_path / "b").writer_batches()]
    assert [b.events for b in first] == [20, 20, 10]
    assert [b.path.read_text() for b in first] == [b.path.read_text() for b in second]
    lines = [json.loads(line) for b in first for line in b.path.read_text().splitlines()]
    assert all(len(json.dumps(e["data"], separators=(",", ":"))) == 300 for e in lines)
    # each writer owns its streams: batches 0 and 2 are writer 0's, batch 1 writer 1's
    writer0 = {e["stream_id"] for e in lines[:20] + lines[40:]}
    writer1 = {e["stream_id"] for e in lines[20:40]}
    assert writer0.isdisjoint(writer1)
