"""Helpers shared by the reliability suite: a profile per test, event files, unique application
names (so a test terminates only the backends it opened), and a child's peak memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from esctl.schema import init_store
from tests.conftest import Target, write_config

pytestmark = pytest.mark.reliability


def with_app_name(url: str, name: str) -> str:
    """`url` with an application_name, so pg_stat_activity finds exactly our connections."""
    return f"{url}{'&' if '?' in url else '?'}application_name={name}"


def unique_app_name(prefix: str = "esctl-rel") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def profile_env(
    target: Target, tmp_path: Path, *, app_name: str | None = None, **profile: Any
) -> dict[str, str]:
    """Environment that points a child esctl at `target` through a config file and profile."""
    url = (
        with_app_name(target.url, app_name)
        if app_name and target.backend == "postgresql"
        else target.url
    )
    config = write_config(
        tmp_path / f"rel-{uuid.uuid4().hex[:8]}.yaml",
        {"rel": {"store": url, "schema": target.schema, **profile}},
    )
    return {"ESCTL_CONFIG": str(config), "ESCTL_PROFILE": "rel"}


def esctl_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "esctl", *args]


def run_esctl(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        esctl_command(*args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **env},
    )


def write_jsonl(path: Path, events: list[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for event in events:
            f.write(json.dumps(event) + "\n")
    return path


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


def all_events(target: Target) -> list[dict[str, Any]]:
    """Every stored event (id, stream_id, version), in position order."""
    with target.open(write=False, create=False) as store, store.reading() as session:
        return session.fetchall(
            "SELECT id, stream_id, version, event_type FROM {events} ORDER BY global_position"
        )


# Runs esctl and, at exit, writes the process's VmHWM (peak resident memory) to $ESCTL_REL_HWM.
# VmHWM belongs to the address space exec created, so unlike ru_maxrss (which a child inherits
# from the forking pytest process across exec) it measures esctl alone.
_MEASURED_MAIN = """
import atexit, os, runpy, sys

def _report() -> None:
    with open("/proc/self/status") as status:
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(os.environ["ESCTL_REL_HWM"], "w") as out:
        out.write(peak)

atexit.register(_report)
sys.argv[0] = "esctl"
runpy.run_module("esctl", run_name="__main__")
"""


def run_measured(
    esctl_args: list[str], env: dict[str, str], tmp_path: Path, timeout: float = 120
) -> tuple[int, str, str, int]:
    """Run esctl in a child: its exit code, stdout, stderr and peak RSS in bytes."""
    hwm = tmp_path / f"hwm-{uuid.uuid4().hex[:8]}"
    result = subprocess.run(
        [sys.executable, "-c", _MEASURED_MAIN, *esctl_args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **env, "ESCTL_REL_HWM": str(hwm)},
    )
    peak_kb = int(hwm.read_text())
    return result.returncode, result.stdout, result.stderr, peak_kb * 1024


@pytest.fixture
def initialised_target(target: Target) -> Iterator[Target]:
    """`target` (SQLite and PostgreSQL) with `esctl init` done."""
    with target.open() as store:
        init_store(store)
    yield target


# Figures the scenarios measure (rounds, events, lost, duplicated, peak RSS), printed at the end
# of the run for the closing note of the reliability issue.
FIGURES: dict[str, Any] = {}


def record(scenario: str, **figures: Any) -> None:
    FIGURES[scenario] = figures


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    terminalreporter.section("reliability figures")
    for scenario in sorted(FIGURES):
        values = ", ".join(f"{k} = {v}" for k, v in FIGURES[scenario].items())
        terminalreporter.write_line(f"{scenario}: {values}")
