"""Running esctl: in-process through Typer's runner (fast, stdout and stderr apart), or as a real
child process for kills, races, signals, exit codes and memory."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from esctl.cli.app import app
from tests.support.data import write_config
from tests.support.stores import Target, with_app_name


def run_cli(*args: str, input: str | None = None) -> Result:
    """Run esctl in-process, stdout and stderr kept apart."""
    return CliRunner().invoke(app, list(args), input=input, catch_exceptions=False)


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
