"""`esctl bench --compare old.json new.json`: the change of every figure between two runs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from esctl.errors import InvalidInput

# Figures compared, and whether a higher value is better.
FIGURES: tuple[tuple[str, bool], ...] = (
    ("events", True),
    ("seconds", False),
    ("events_per_second", True),
    ("mb_per_second", True),
    ("latency_ms.p50", False),
    ("latency_ms.p95", False),
    ("latency_ms.p99", False),
    ("latency_ms.p99_9", False),
    ("latency_ms.max", False),
    ("errors.conflict", False),
    ("errors.timeout", False),
    ("errors.other", False),
)


@dataclass(frozen=True)
class Change:
    phase: str
    figure: str
    old: float | None
    new: float | None
    higher_is_better: bool

    @property
    def change_percent(self) -> float | None:
        if self.old is None or self.new is None or self.old == 0:
            return None
        return (self.new - self.old) / abs(self.old) * 100.0

    @property
    def verdict(self) -> str:
        change = self.change_percent
        if change is None or abs(change) < 1e-9:
            return "same" if self.old == self.new else ""
        return "better" if (change > 0) == self.higher_is_better else "worse"

    def to_dict(self) -> dict[str, Any]:
        change = self.change_percent
        return {
            "phase": self.phase,
            "figure": self.figure,
            "old": self.old,
            "new": self.new,
            "change_percent": round(change, 2) if change is not None else None,
            "verdict": self.verdict,
        }


def load_report(path: str) -> dict[str, Any]:
    """A report written by `esctl bench -o json`."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as error:
        raise InvalidInput(f"cannot read {path}: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise InvalidInput(f"{path}: not JSON (line {error.lineno}: {error.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("phases"), list):
        raise InvalidInput(
            f"{path}: not an `esctl bench -o json` report (no phases)",
            hint="write one with `esctl bench -o json > run.json`",
        )
    return data


def _figure(phase: dict[str, Any], path: str) -> float | None:
    value: Any = phase
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return float(value) if isinstance(value, int | float) else None


def compare_reports(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """Every figure of every phase present in either run, old beside new."""
    old_phases = {p["phase"]: p for p in old["phases"]}
    new_phases = {p["phase"]: p for p in new["phases"]}
    names = list(old_phases) + [n for n in new_phases if n not in old_phases]
    changes = []
    for name in names:
        for figure, higher in FIGURES:
            changes.append(
                Change(
                    name,
                    figure,
                    _figure(old_phases.get(name, {}), figure),
                    _figure(new_phases.get(name, {}), figure),
                    higher,
                )
            )
    ratio = ("append_to_raw_copy_ratio", True)
    if old.get(ratio[0]) is not None or new.get(ratio[0]) is not None:
        changes.append(Change("append", ratio[0], old.get(ratio[0]), new.get(ratio[0]), True))
    return changes


def differing_parameters(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Parameters, backend or version that differ: the comparison may not be like for like."""
    found = []
    for key in ("backend", "server_version", "esctl_version"):
        if old.get(key) != new.get(key):
            found.append(f"{key}: {old.get(key)} → {new.get(key)}")
    old_params, new_params = old.get("parameters", {}), new.get("parameters", {})
    for key in sorted(set(old_params) | set(new_params)):
        if old_params.get(key) != new_params.get(key):
            found.append(f"{key}: {old_params.get(key)} → {new_params.get(key)}")
    return found
