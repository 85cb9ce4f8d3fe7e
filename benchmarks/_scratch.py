"""A throwaway PostgreSQL schema for one benchmark run, with esctl's schema, dropped afterwards."""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import yaml

from esctl.admin.init import init_store
from esctl.config import Settings
from esctl.store import open_store


def server_url() -> str:
    url = os.environ.get("ESCTL_TEST_DSN") or os.environ.get("ESCTL_BENCH_DSN")
    if not url:
        sys.exit("set ESCTL_BENCH_DSN (or ESCTL_TEST_DSN) to a PostgreSQL server URL")
    return url


@contextmanager
def scratch_schema(prefix: str) -> Iterator[tuple[str, str, dict[str, str]]]:
    """(server url, schema, env for an esctl subprocess pointed at it)."""
    url = server_url()
    schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with open_store(Settings(store=url, schema=schema), write=True, create=True) as store:
        init_store(store)
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "bench.yaml"
        config.write_text(yaml.safe_dump({"profiles": {"bench": {"store": url, "schema": schema}}}))
        config.chmod(0o600)  # it holds the server URL, password included
        env = {**os.environ, "ESCTL_CONFIG": str(config), "ESCTL_PROFILE": "bench"}
        try:
            yield url, schema, env
        finally:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
