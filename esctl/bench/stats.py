"""Figures of one bench phase: counts, rate, throughput, latency percentiles and errors by cause."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

PERCENTILES = (("p50", 50.0), ("p95", 95.0), ("p99", 99.0), ("p99_9", 99.9))
ERROR_CAUSES = ("conflict", "timeout", "other")


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of already sorted values (0.0 when there are none)."""
    if not sorted_values:
        return 0.0
    # rounded first: 99.9 / 100 * 1000 is 999.0000000000001 in floating point
    rank = max(1, math.ceil(round(pct / 100.0 * len(sorted_values), 9)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass
class Latency:
    """Latency percentiles in milliseconds, and how many samples they summarise."""

    samples: int = 0
    p50: float = 0.0
    p95: float = 0.0
    p99: float = 0.0
    p99_9: float = 0.0
    max: float = 0.0

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Latency:
        ordered = sorted(seconds)
        figures = {name: percentile(ordered, pct) * 1000.0 for name, pct in PERCENTILES}
        return cls(len(ordered), max=(ordered[-1] * 1000.0 if ordered else 0.0), **figures)

    def to_dict(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "p50": round(self.p50, 3),
            "p95": round(self.p95, 3),
            "p99": round(self.p99, 3),
            "p99_9": round(self.p99_9, 3),
            "max": round(self.max, 3),
        }


@dataclass
class PhaseResult:
    """What one phase measured (warm-up excluded)."""

    phase: str
    events: int
    seconds: float
    payload_bytes: int
    latency: Latency
    latency_of: str  # what one latency sample is: "batch", "page", "event"
    writers: int = 1
    errors: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ERROR_CAUSES, 0))
    notes: list[str] = field(default_factory=list)

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    @property
    def mb_per_second(self) -> float:
        return self.payload_bytes / 1_000_000 / self.seconds if self.seconds > 0 else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "writers": self.writers,
            "events": self.events,
            "seconds": round(self.seconds, 4),
            "events_per_second": round(self.events_per_second, 1),
            "mb_per_second": round(self.mb_per_second, 3),
            "latency_of": self.latency_of,
            "latency_ms": self.latency.to_dict(),
            "errors": dict(self.errors),
            "notes": list(self.notes),
        }


def classify_error(error: BaseException) -> str:
    """The cause an append error counts under: conflict, timeout or other."""
    from esctl.errors import ConcurrencyError, Conflict, StoreUnavailable

    if isinstance(error, ConcurrencyError | Conflict):
        return "conflict"
    if isinstance(error, StoreUnavailable) and any(
        word in str(error).lower() for word in ("timeout", "cancel", "locked", "lock")
    ):
        return "timeout"
    return "other"
