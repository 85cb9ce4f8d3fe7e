# ruff: noqa: S608 - SQL here names only the benchmark's own generated schema
"""`esctl read --all -o jsonl` of N events (default 1,000,000) against psql's COPY of the same rows.

Reports events/s of each, esctl's ratio to COPY (goal: within 2x), esctl's peak RSS (goal:
< 150 MB), and the plans of tail's live queries on the large table. PostgreSQL from
$ESCTL_BENCH_DSN or $ESCTL_TEST_DSN; a throwaway schema is created and dropped.

    .venv/bin/python benchmarks/read_vs_copy.py [--events N] [--rounds R] [--baseline DIR]

--baseline DIR also measures the esctl package in DIR (a checkout of another commit, run with
PYTHONPATH=DIR), alternating with this one, so a change is judged by a ratio from one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _scratch import scratch_schema

COLUMNS = (
    "global_position, stream_id, stream_type, version, event_type, id, event_data, metadata, "
    "created_at"
)


def timed_child(args: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Seconds and peak RSS (KiB) of a child process writing to /dev/null. It runs in the temporary
    directory: `python -m esctl` puts its working directory first on sys.path, so from a checkout
    the checkout's esctl would shadow a --baseline on PYTHONPATH."""
    with open(os.devnull, "w") as devnull:
        start = time.perf_counter()
        process = subprocess.Popen(args, stdout=devnull, env=env, cwd=tempfile.gettempdir())
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
    if status != 0:
        sys.exit(f"{args[0]} failed with status {status}")
    return elapsed, usage.ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=1, help="alternating runs of each command")
    parser.add_argument("--baseline", type=Path, help="a checkout of another esctl to compare")
    options = parser.parse_args()
    n = options.events
    with scratch_schema("esctl_bench_read") as (url, schema, env):
        with psycopg.connect(url, autocommit=True) as conn:
            start = time.perf_counter()
            conn.execute(
                f'INSERT INTO "{schema}".events (stream_id, stream_type, event_type, event_data, '
                "metadata, version) SELECT 'Order-' || (g / 10), 'Order', "
                "(ARRAY['OrderPlaced','OrderPaid','OrderShipped'])[1 + g %% 3], "
                "jsonb_build_object('order_id', g / 10, 'amount', g %% 997, "
                "'note', repeat('x', 40)), jsonb_build_object('correlation_id', md5(g::text)), "
                "g %% 10 + 1 FROM generate_series(0, %s - 1) g",
                [n],
            )
            conn.execute(f'ANALYZE "{schema}".events')
            print(f"loaded {n:,} events in {time.perf_counter() - start:.1f}s")
            for label, query in [
                (
                    "live query (cursor, horizon)",
                    f'SELECT {COLUMNS} FROM "{schema}".events WHERE transaction_id < '
                    "pg_snapshot_xmin(pg_current_snapshot()) AND (transaction_id, global_position)"
                    " > ('5', 10) ORDER BY transaction_id, global_position LIMIT 500",
                ),
                (
                    "live head",
                    f'SELECT transaction_id, global_position FROM "{schema}".events WHERE '
                    "transaction_id < pg_snapshot_xmin(pg_current_snapshot()) "
                    "ORDER BY transaction_id DESC, global_position DESC LIMIT 1",
                ),
                (
                    "streams list page",
                    f'SELECT stream_id, count(*) FROM "{schema}".events WHERE stream_id > '
                    "'Order-5' GROUP BY stream_id ORDER BY stream_id LIMIT 101",
                ),
            ]:
                plan = conn.execute("EXPLAIN " + query).fetchall()  # type: ignore[call-overload]
                print(f"plan of {label}:")
                for (line,) in plan[:4]:
                    print(f"    {line}")
        esctl = [sys.executable, "-m", "esctl", "read", "--all", "-o", "jsonl"]
        copy = [
            "psql",
            url,
            "-X",
            "-q",
            "-c",
            f'COPY (SELECT {COLUMNS} FROM "{schema}".events ORDER BY global_position) TO STDOUT',
        ]
        runs: dict[str, list[tuple[float, int]]] = {"psql COPY": [], "esctl jsonl": []}
        baseline_env = None
        if options.baseline is not None:
            runs["baseline jsonl"] = []
            baseline_env = {**env, "PYTHONPATH": str(options.baseline.resolve())}
        for _ in range(options.rounds):
            runs["psql COPY"].append(timed_child(copy, env))
            runs["esctl jsonl"].append(timed_child(esctl, env))
            if baseline_env is not None:
                runs["baseline jsonl"].append(timed_child(esctl, baseline_env))
        median = {label: statistics.median(s for s, _ in times) for label, times in runs.items()}
        for label, times in runs.items():
            seconds, rss = median[label], max(r for _, r in times)
            print(
                f"{label:<15}: {n / seconds:>10,.0f} events/s  ({seconds:.2f}s median of "
                f"{len(times)})  peak RSS {rss / 1024:.0f} MB"
            )
        print(f"esctl / COPY time ratio: {median['esctl jsonl'] / median['psql COPY']:.2f}x")
        if "baseline jsonl" in median:
            ratio = median["esctl jsonl"] / median["baseline jsonl"]
            print(f"esctl / baseline time ratio: {ratio:.2f}x")


if __name__ == "__main__":
    main()
