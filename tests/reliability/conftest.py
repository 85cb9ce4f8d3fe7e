"""Fixtures of the reliability suite. Its helpers (a profile per test, event files, unique
application names so a test terminates only the backends it opened, a child's peak memory, the
figures) live in tests/support/; the old names stay importable from here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from esctl.admin.init import init_store
from tests.support.data import all_events, write_jsonl
from tests.support.figures import FIGURES, record, report
from tests.support.processes import esctl_command, profile_env, run_esctl, run_measured
from tests.support.stores import Target, terminate_backends, unique_app_name, with_app_name

__all__ = [
    "FIGURES",
    "all_events",
    "esctl_command",
    "profile_env",
    "record",
    "run_esctl",
    "run_measured",
    "terminate_backends",
    "unique_app_name",
    "with_app_name",
    "write_jsonl",
]

pytestmark = pytest.mark.reliability


@pytest.fixture
def initialised_target(target: Target) -> Iterator[Target]:
    """`target` (SQLite and PostgreSQL) with `esctl init` done."""
    with target.open() as store:
        init_store(store)
    yield target


def pytest_terminal_summary(terminalreporter: Any) -> None:
    report(terminalreporter)
