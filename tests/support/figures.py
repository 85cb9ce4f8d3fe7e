"""Figures the reliability scenarios measure (rounds, events, lost, duplicated, peak RSS), printed
at the end of the run (by tests/reliability/conftest.py) for the reliability issue's closing note."""

from __future__ import annotations

from typing import Any

FIGURES: dict[str, Any] = {}


def record(scenario: str, **figures: Any) -> None:
    FIGURES[scenario] = figures


def report(terminalreporter: Any) -> None:
    """The `reliability figures` section of pytest's summary, when a scenario recorded any."""
    if not FIGURES:
        return
    terminalreporter.section("reliability figures")
    for scenario in sorted(FIGURES):
        values = ", ".join(f"{k} = {v}" for k, v in FIGURES[scenario].items())
        terminalreporter.write_line(f"{scenario}: {values}")
