"""How long one `esctl metrics` scrape takes on a PostgreSQL store of N events (three checkpoints:
near the head, in the middle, at the start), with the default figures (exact counts up to
1,000,000 events, lag counted up to 100,000) and with estimates forced (as above 1M events).

    python benchmarks/metrics_scrape.py --dsn postgresql://… [--events 100000]

Runs in a schema of its own, dropped afterwards. The DSN defaults to $ESCTL_BENCH_DSN."""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from checkpoint_lag import fill

import esctl.read.stats as stats
from esctl.admin.init import init_store
from esctl.config import Settings
from esctl.metrics import ScrapeSettings, StoreCollector, exposition
from esctl.store import open_store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dsn", default=os.environ.get("ESCTL_BENCH_DSN"))
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    if not args.dsn:
        parser.error("--dsn or $ESCTL_BENCH_DSN is needed")
    settings = Settings(store=args.dsn, schema=f"esctl_bench_{uuid.uuid4().hex[:8]}")
    with open_store(settings, write=True, create=True) as store:
        init_store(store)
        fill(store, args.events)
        with store.writing() as session:  # the catalog estimate a production store has
            session.execute("ANALYZE {events}")
    try:
        collector = StoreCollector(ScrapeSettings(store=settings, timeout_ms=60_000))
        for label, limit in (("default", stats.EXACT_LIMIT), ("estimated", 0)):
            stats.EXACT_LIMIT = limit
            exposition(collector)  # warm the cache once
            began = time.perf_counter()
            text = exposition(collector).decode()
            took = time.perf_counter() - began
            assert collector.last_error is None, collector.last_error
            lines = [line for line in text.splitlines() if not line.startswith("#")]
            print(f"{args.events} events, {label}: one scrape {took:.3f} s, {len(lines)} samples")
    finally:
        with open_store(settings, write=True) as store:
            store.admin.drop_schema()


if __name__ == "__main__":
    main()
