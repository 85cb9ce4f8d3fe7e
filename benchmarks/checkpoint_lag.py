"""How long `checkpoints list` takes to count lag, capped (the default) and exact (`--exact`).

Runs in a throwaway place (PostgreSQL: a schema of its own, dropped afterwards; SQLite: a temporary
file) and prints, per backend, seconds for each operation and the capped/exact ratio.

    python benchmarks/checkpoint_lag.py [--events 300000] [--dsn postgresql://…]

The DSN defaults to $ESCTL_BENCH_DSN, then $ESCTL_TEST_DSN; without one only SQLite runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from esctl.admin.init import init_store
from esctl.checkpoints import (
    MoveTarget,
    Thresholds,
    list_checkpoints,
    plan_move,
    show_checkpoint,
)
from esctl.config import Settings
from esctl.store import open_store
from esctl.store.base import Store

BATCH = 10_000


def fill(store: Store, events: int) -> None:
    """`events` events in batches of BATCH, one transaction each, plus three checkpoints."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    written = 0
    while written < events:
        n = min(BATCH, events - written)
        with store.writing() as session:
            session.executemany(
                "INSERT INTO {events} (id, stream_id, stream_type, event_type, event_data, "
                "metadata, version, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    [
                        str(uuid.uuid4()),
                        f"Order-{(written + i) // 10}",
                        "Order",
                        "Placed",
                        session.json_param({"n": written + i}),
                        session.json_param({}),
                        (written + i) % 10 + 1,
                        session.time_param(start + timedelta(seconds=written + i)),
                    ]
                    for i in range(n)
                ],
            )
        written += n
    with store.writing() as session:
        for name, position in (
            ("near-head", events - 10),
            ("middle", events // 2),
            ("at-start", 0),
        ):
            session.execute(
                "INSERT INTO {checkpoints} (subscription_id, last_position) VALUES (%s, %s)",
                [name, position],
            )


def timed(label: str, results: dict[str, float], action: Callable[[], Any]) -> Any:
    began = time.perf_counter()
    value = action()
    results[label] = time.perf_counter() - began
    return value


@contextmanager
def sqlite_store() -> Iterator[Store]:
    with (
        tempfile.TemporaryDirectory() as folder,
        open_store(
            Settings(store=f"sqlite:///{folder}/bench.db"), write=True, create=True
        ) as store,
    ):
        yield store


@contextmanager
def postgres_store(dsn: str) -> Iterator[Store]:
    import psycopg

    schema = f"esctl_bench_ckpt_{uuid.uuid4().hex[:10]}"
    try:
        with open_store(Settings(store=dsn, schema=schema), write=True, create=True) as store:
            yield store
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def run(store: Store, events: int) -> None:
    init_store(store)
    results: dict[str, float] = {}
    timed("fill", results, lambda: fill(store, events))
    capped = timed("list (cap 100k)", results, lambda: list_checkpoints(store))
    exact = timed(
        "list --exact", results, lambda: list_checkpoints(store, Thresholds(count_cap=None))
    )
    timed("show near-head", results, lambda: show_checkpoint(store, "near-head"))
    timed(
        "set --to-time (plan)",
        results,
        lambda: plan_move(
            store,
            "middle",
            MoveTarget(
                "time", time=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=events // 4)
            ),
        ),
    )
    timed(
        "set --shift-by -1000 (plan)",
        results,
        lambda: plan_move(store, "near-head", MoveTarget("shift", shift=-1000)),
    )
    print(f"\n{store.backend}, {events:,} events")
    for label, seconds in results.items():
        print(f"  {label:<30} {seconds:8.3f} s")
    print(
        f"  ratio list capped / exact        {results['list (cap 100k)'] / results['list --exact']:8.2f}"
    )
    for c, e in zip(capped, exact, strict=True):
        flag = " (estimated)" if c.lag_estimated else ""
        print(f"  {c.subscription_id:<12} lag capped {c.lag:>9,}{flag:<12} exact {e.lag:>9,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument(
        "--dsn", default=os.environ.get("ESCTL_BENCH_DSN") or os.environ.get("ESCTL_TEST_DSN")
    )
    args = parser.parse_args()
    with sqlite_store() as store:
        run(store, args.events)
    if args.dsn:
        with postgres_store(args.dsn) as store:
            run(store, args.events)
    else:
        print("\nno --dsn / $ESCTL_BENCH_DSN: PostgreSQL skipped")


if __name__ == "__main__":
    main()
