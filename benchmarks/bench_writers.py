"""Benchmark: `esctl bench`'s append writers as processes versus threads.

`esctl append` parses and validates JSON in Python, so writer threads may serialise on the GIL.
This runs the append phase twice with the same workload — once with N writer processes (what
`esctl bench --writers N` uses), once with N threads — and prints events/s of each and the ratio.

    python benchmarks/bench_writers.py --store postgresql://… [--events 20000 --writers 4]
"""

from __future__ import annotations

import argparse
import os

from esctl.bench import run_bench
from esctl.bench.workload import Parameters
from esctl.config import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", default=os.environ.get("ESCTL_BENCH_DSN", "sqlite:///bench.db"))
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=200)
    args = parser.parse_args()
    params = Parameters(
        events=args.events, writers=args.writers, batch_size=args.batch_size, warmup=1000
    )
    settings = Settings(store=args.store)
    rates = {}
    for mode in ("process", "thread"):
        report = run_bench(settings, ["append"], params, writer_mode=mode)
        append = report.phase("append")
        assert append is not None
        rates[mode] = append.events_per_second
        print(
            f"{mode:>7}: {append.events:,} events in {append.seconds:.2f} s = "
            f"{append.events_per_second:,.0f} events/s, p99 {append.latency.p99:.1f} ms "
            f"({report.backend} {report.server_version})"
        )
    print(f"processes / threads: {rates['process'] / rates['thread']:.2f}")


if __name__ == "__main__":
    main()
