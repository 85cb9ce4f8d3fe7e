"""The data of `esctl top`, one `TopSnapshot` per frame: head, events appended per category
over 1 and 5 minutes (from a ring buffer of samples), each checkpoint's lag and status (the
logic of `checkpoints list`), the horizon age (PostgreSQL) and the replica lag."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise

from esctl.checkpoints import CheckpointState, Thresholds, list_checkpoints
from esctl.operate.rates import appended_rates
from esctl.operate.watch import sample_stats
from esctl.read.horizon import horizon_age
from esctl.store.base import Store

WINDOWS = (60.0, 300.0)  # the 1 m and 5 m rates


@dataclass(frozen=True)
class CategoryRates:
    category: str
    events: int
    per_second_1m: float | None
    per_second_5m: float | None
    history: list[float]  # events/s between consecutive samples, oldest first (a sparkline)


@dataclass(frozen=True)
class TopSnapshot:
    sampled_at: datetime
    head_position: int
    estimated: bool
    categories: list[CategoryRates]
    checkpoints: list[CheckpointState]
    horizon_age: float | None
    replica_lag: float | None = None


@dataclass
class TopCollector:
    """Samples the store each frame and keeps the last 5 minutes of samples."""

    store: Store
    thresholds: Thresholds = field(default_factory=Thresholds)
    replica_lag: Callable[[], float | None] | None = None
    capacity: int = 301
    _samples: deque[tuple[datetime, dict[str, int]]] = field(default_factory=deque)

    def add(self, at: datetime, counts: dict[str, int]) -> None:
        """Keep a sample (for tests: samples with explicit times)."""
        self._samples.append((at, counts))
        while len(self._samples) > self.capacity or (
            (at - self._samples[0][0]).total_seconds() > WINDOWS[-1] + 1 and len(self._samples) > 2
        ):
            self._samples.popleft()

    def rates(self, category: str, window: float) -> float | None:
        """Events/s of `category` over the last `window` seconds of samples."""
        if len(self._samples) < 2:
            return None
        newest_at, newest = self._samples[-1]
        oldest = next(
            (s for s in self._samples if (newest_at - s[0]).total_seconds() <= window),
            self._samples[-1],
        )
        seconds = (newest_at - oldest[0]).total_seconds()
        return appended_rates(oldest[1], newest, seconds).get(category)

    def history(self, category: str) -> list[float]:
        samples = list(self._samples)
        out = []
        for (t0, c0), (t1, c1) in pairwise(samples):
            rate = appended_rates(c0, c1, (t1 - t0).total_seconds()).get(category)
            out.append(rate or 0.0)
        return out

    def snapshot(self) -> TopSnapshot:
        frame = sample_stats(self.store, None)
        counts = frame.by_category()
        self.add(datetime.now(UTC), counts)
        categories = [
            CategoryRates(
                c, n, self.rates(c, WINDOWS[0]), self.rates(c, WINDOWS[1]), self.history(c)
            )
            for c, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        ]
        checkpoints = (
            list_checkpoints(self.store, self.thresholds)
            if self.store.capabilities.has_checkpoints
            else []
        )
        return TopSnapshot(
            sampled_at=frame.sampled_at,
            head_position=frame.stats.head_position,
            estimated=bool(frame.stats.estimated),
            categories=categories,
            checkpoints=checkpoints,
            horizon_age=horizon_age(self.store),
            replica_lag=self.replica_lag() if self.replica_lag else None,
        )
