# ruff: noqa: S608 - SQL here names only the benchmark's own generated schema
"""Commit-to-print latency of `esctl tail --all -o jsonl` while a writer commits events at a fixed
rate (default ~1,000 events/s, one event per transaction, the seed's plain INSERT).

Latency is measured from the writer's commit returning to the tail's line arriving on our side of
the pipe, same clock. Goal: p99 < 50 ms with NOTIFY. PostgreSQL from $ESCTL_BENCH_DSN or
$ESCTL_TEST_DSN; a throwaway schema is created and dropped.

    .venv/bin/python benchmarks/tail_latency.py [--rate 1000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _scratch import scratch_schema


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    total = int(args.rate * args.seconds)
    with scratch_schema("esctl_bench_tail") as (url, schema, env):
        tail = subprocess.Popen(
            [sys.executable, "-m", "esctl", "tail", "--all", "-o", "jsonl"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            bufsize=1,
        )
        assert tail.stdout is not None and tail.stderr is not None
        assert tail.stderr.readline().startswith("Following")
        received: dict[str, float] = {}
        duplicates = 0

        def read() -> None:
            nonlocal duplicates
            assert tail.stdout is not None
            for line in tail.stdout:
                now = time.time()
                event_id = json.loads(line)["event_id"]
                if event_id in received:
                    duplicates += 1
                received[event_id] = now

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        committed: dict[str, float] = {}
        insert = (
            f'INSERT INTO "{schema}".events (id, stream_id, stream_type, event_type, '
            "event_data, metadata, version, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
        )
        with psycopg.connect(url) as conn:
            start = time.perf_counter()
            for i in range(total):
                delay = start + i / args.rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                event_id = str(uuid.uuid4())
                conn.execute(
                    insert,
                    [
                        event_id,
                        f"Bench-{i % 100}",
                        "Bench",
                        "Ticked",
                        json.dumps({"i": i}),
                        "{}",
                        i // 100 + 1,
                        datetime.now(UTC),
                    ],
                )
                conn.commit()
                committed[event_id] = time.time()
            elapsed = time.perf_counter() - start
        deadline = time.monotonic() + 30
        while len(received) < total and time.monotonic() < deadline:
            time.sleep(0.05)
        tail.send_signal(signal.SIGTERM)
        tail.wait(timeout=30)
        latencies = [
            (received[k] - committed[k]) * 1000 for k in committed if k in received
        ]
        missing = total - len(latencies)
        print(f"wrote {total:,} events in {elapsed:.1f}s ({total / elapsed:,.0f} events/s)")
        print(f"tail printed {len(received):,}; missing {missing}, duplicates {duplicates}")
        print(
            f"commit-to-print latency ms: p50 {statistics.median(latencies):.1f}  "
            f"p95 {percentile(latencies, 95):.1f}  p99 {percentile(latencies, 99):.1f}  "
            f"max {max(latencies):.1f}"
        )


if __name__ == "__main__":
    main()
