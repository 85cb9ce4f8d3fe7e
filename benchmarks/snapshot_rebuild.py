"""Measure `esctl snapshots rebuild --all` on PostgreSQL: streams/s, events/s and peak RSS.

A scratch schema is filled with STREAMS x EVENTS events by one INSERT … SELECT over generate_series,
then each phase runs `esctl` in a child process (so its peak RSS is the child's own):

- `rebuild` from no snapshots (every stream written),
- `rebuild` again (every stream unchanged: the read and replay cost alone),
- `verify`,
- the same rebuild on a tenth of the streams first, to show that memory does not grow with the store,
- and, as the ceiling for the read pass, a plain psycopg server-side cursor over the same ordered
  join, rows fetched and dropped.

    ESCTL_TEST_DSN=postgresql://… python benchmarks/snapshot_rebuild.py [--streams N] [--events N]

The schema is dropped afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql


def fill(conn: psycopg.Connection[Any], schema: str, streams: int, events: int) -> float:
    started = time.monotonic()
    conn.execute(
        sql.SQL(
            "INSERT INTO {}.events (stream_id, stream_type, event_type, event_data, metadata, "
            "version) SELECT 'Order-' || lpad(s::text, 6, '0'), 'Order', 'Updated', "
            "jsonb_build_object('n', v, 'status', 'step-' || v, 'items', jsonb_build_array(v, s), "
            "'customer', jsonb_build_object('id', s, 'tier', v %% 3)), '{{}}', v "
            "FROM generate_series(1, %s) AS s, generate_series(1, %s) AS v ORDER BY s, v"
        ).format(sql.Identifier(schema)),
        [streams, events],
    )
    conn.execute(sql.SQL("ANALYZE {}.events").format(sql.Identifier(schema)))
    return time.monotonic() - started


def run_esctl(env: dict[str, str], *args: str) -> tuple[float, float, int]:
    """Seconds, peak RSS in MiB, and exit code of one esctl child process (wait4 gives that
    child's own rusage)."""
    started = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-m", "esctl", "-q", *args], env=env, stdout=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.monotonic() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    return seconds, usage.ru_maxrss / 1024, child.returncode


def raw_cursor(dsn: str, schema: str) -> float:
    started = time.monotonic()
    with psycopg.connect(dsn) as conn, conn.cursor(name="bench") as cursor:
        cursor.itersize = 2000
        cursor.execute(
            sql.SQL(
                "SELECT e.global_position, e.stream_id, e.stream_type, e.version, e.event_type, "
                "e.id, e.event_data, e.metadata, e.created_at, s.version, "
                "CASE WHEN s.version = e.version THEN s.snapshot_data END "
                "FROM {}.events e LEFT JOIN {}.snapshots s ON s.stream_id = e.stream_id "
                "ORDER BY e.stream_id, e.version"
            ).format(sql.Identifier(schema), sql.Identifier(schema))
        )
        for _ in cursor:
            pass
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", default=os.environ.get("ESCTL_TEST_DSN"))
    parser.add_argument("--streams", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=100, help="events per stream")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    if not args.dsn:
        sys.exit("set ESCTL_TEST_DSN or pass --dsn")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from esctl.admin.init import init_store
    from esctl.config import Settings
    from esctl.store import open_store

    schema = f"esctl_bench_snap_{uuid.uuid4().hex[:8]}"
    small_schema = schema + "_small"
    total = args.streams * args.events
    try:
        for name, streams in ((schema, args.streams), (small_schema, max(1, args.streams // 10))):
            with open_store(Settings(store=args.dsn, schema=name), write=True) as store:
                init_store(store)
            with psycopg.connect(args.dsn, autocommit=True) as conn:
                seconds = fill(conn, name, streams, args.events)
            print(f"filled {name}: {streams:,} streams x {args.events} events in {seconds:.1f}s")

        print(f"\n{'phase':<34}{'seconds':>9}{'streams/s':>12}{'events/s':>12}{'peak RSS':>11}")

        def report(phase: str, seconds: float, streams: int, rss: float | None) -> None:
            events = streams * args.events
            shown = f"{rss:.0f} MiB" if rss is not None else "-"
            print(
                f"{phase:<34}{seconds:>9.2f}{streams / seconds:>12,.0f}"
                f"{events / seconds:>12,.0f}{shown:>11}"
            )

        small_streams = max(1, args.streams // 10)
        phases = [
            ("rebuild (tenth of the streams)", small_schema, small_streams, ["rebuild", "--all"]),
            ("rebuild (all written)", schema, args.streams, ["rebuild", "--all"]),
            ("rebuild again (all unchanged)", schema, args.streams, ["rebuild", "--all"]),
            ("verify", schema, args.streams, ["verify", "--all"]),
        ]
        timings: dict[str, float] = {}
        for phase, name, streams, command in phases:
            config = Path(f"/tmp/{name}.yaml")
            config.write_text(f"profiles:\n  b:\n    store: '{args.dsn}'\n    schema: {name}\n")
            env = {**os.environ, "ESCTL_CONFIG": str(config), "ESCTL_PROFILE": "b"}
            env.pop("ESCTL_STORE", None)
            seconds, rss, code = run_esctl(env, "snapshots", *command)
            config.unlink()
            if code != 0:
                sys.exit(f"{phase}: esctl exited {code}")
            timings[phase] = seconds
            report(phase, seconds, streams, rss)
        ceiling = raw_cursor(args.dsn, schema)
        report("raw psycopg cursor, same query", ceiling, args.streams, None)
        print(
            f"\nrebuild (all written) takes {timings['rebuild (all written)'] / ceiling:.1f}x the raw "
            f"read; {total:,} events. Peak RSS: each esctl process's own (wait4 ru_maxrss)."
        )
    finally:
        if not args.keep:
            with psycopg.connect(args.dsn, autocommit=True) as conn:
                for name in (schema, small_schema):
                    conn.execute(
                        sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name))
                    )


if __name__ == "__main__":
    main()
