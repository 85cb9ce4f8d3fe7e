"""The real Emmett for the emmett layout's tests: Emmett's own npm packages (pinned), installed
with npm into `.test-deps/` (gitignored, cached: a second session does not fetch them again), and
a small Node script (`emmett_client.mjs`) that appends through Emmett's own PostgreSQL event store
and runs Emmett's own processor, which checkpoints in `emt_processors`. Emmett creates its schema
itself on first use; esctl's SQL never writes a row of it.

Without node or npm the tests are skipped on a developer's machine and fail, naming what is
missing, under CI=true (they never skip there)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

EMMETT = "0.42.0"
# Exactly the versions Emmett 0.42.0 declares as peers (its pg driver: pongo's and dumbo's peer).
PACKAGES = {
    "@event-driven-io/emmett": EMMETT,
    "@event-driven-io/emmett-postgresql": EMMETT,
    "@event-driven-io/pongo": "0.16.11",
    "@event-driven-io/dumbo": "0.12.7",
    "pg": "8.16.3",
}
ROOT = Path(__file__).resolve().parents[2]
DEPS = ROOT / ".test-deps" / f"emmett-{EMMETT}"
SCRIPT = Path(__file__).with_name("emmett_client.mjs")


def _missing(what: str) -> None:
    message = f"the Emmett tests need {what}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI=true: these tests never skip)")
    pytest.skip(message)


def install() -> Path:
    """The folder holding node_modules with the pinned packages (npm install, once)."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            _missing(f"`{tool}` on PATH")
    installed = DEPS / "node_modules" / "@event-driven-io" / "emmett-postgresql" / "package.json"
    if installed.exists() and json.loads(installed.read_text())["version"] == EMMETT:
        return DEPS
    DEPS.mkdir(parents=True, exist_ok=True)
    manifest = {"name": "esctl-emmett-tests", "private": True, "dependencies": PACKAGES}
    (DEPS / "package.json").write_text(json.dumps(manifest, indent=2))
    done = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts"],
        cwd=DEPS,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        _missing(f"`npm install` of {', '.join(PACKAGES)} to work: {done.stderr.strip()[-800:]}")
    return DEPS


def node_url(url: str) -> str:
    """A connection string node-postgres reads for the same database (the test server may
    listen on a Unix socket only: its directory goes percent-encoded in the host part)."""
    import psycopg

    with psycopg.connect(url) as conn:
        info = conn.info
        user, host, port, dbname = info.user, info.host, info.port, info.dbname
        password = info.password
    auth = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
    return f"postgresql://{auth}@{quote(host, safe='')}:{port}/{quote(dbname, safe='')}"


def start(folder: Path, url: str, *args: str) -> subprocess.Popen[str]:
    """The Emmett client as a process (the script is copied next to node_modules, where Node's
    module resolution finds the packages)."""
    script = folder / SCRIPT.name
    if not script.exists() or script.read_text() != SCRIPT.read_text():
        shutil.copyfile(SCRIPT, script)
    return subprocess.Popen(
        ["node", str(script), args[0], node_url(url), *args[1:]],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str], timeout: float = 180) -> Any:
    """The JSON the client printed once it ended (the test fails with its stderr otherwise)."""
    try:
        out, err = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    if process.returncode != 0:
        pytest.fail(f"the Emmett client failed ({process.returncode}):\n{err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1])


def run(folder: Path, url: str, *args: str) -> Any:
    return finish(start(folder, url, *args))


def create_database(server_url: str, name: str) -> str:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(urlsplit(server_url)._replace(path="/" + name))


def drop_database(server_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
