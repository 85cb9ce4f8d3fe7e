"""The frames of `checkpoints list --watch` and `stats --watch`: each frame is a sample of the
store plus the rates since the frame before (computed by `esctl.operate.rates`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from esctl.checkpoints import CheckpointState, Thresholds, list_checkpoints, transaction
from esctl.operate.rates import CheckpointSample, appended_rates, consumed_rates
from esctl.read.stats import StoreStats, store_stats
from esctl.store.base import Store
from esctl.types import Cursor

# Counting more events than this between two frames is not worth it: the rate is a floor then.
APPENDED_COUNT_CAP = 1_000_000


@dataclass
class CheckpointFrame:
    """One frame of `checkpoints list --watch`."""

    sampled_at: datetime
    head: Cursor | None
    appended: int  # events committed since the frame before (0 on the first)
    states: list[CheckpointState]
    rates: dict[str, float | None] = field(default_factory=dict)

    def rows(self) -> list[dict[str, Any]]:
        return [
            {**s.to_dict(), "consumed_per_second": _rounded(self.rates.get(s.subscription_id))}
            for s in self.states
        ]

    def to_dict(self) -> dict[str, Any]:
        return {"sampled_at": self.sampled_at, "checkpoints": self.rows()}


def sample_checkpoints(
    store: Store, thresholds: Thresholds, previous: CheckpointFrame | None
) -> CheckpointFrame:
    """The checkpoints now, with the events/s each consumed since `previous`."""
    states = list_checkpoints(store, thresholds)
    with store.reading() as tx:
        log = transaction.log(tx)
        now = datetime.now(UTC)  # this machine's clock: SQLite's has whole seconds only
        head = log.nth_after(0, descending=True)
        appended = 0
        if previous is not None and head is not None and head != previous.head:
            appended, _ = log.count_after(previous.head, head, cap=APPENDED_COUNT_CAP)
    frame = CheckpointFrame(now, head, appended, states)
    if previous is not None:
        seconds = (now - previous.sampled_at).total_seconds()
        frame.rates = consumed_rates(_samples(previous.states), _samples(states), appended, seconds)
    return frame


def _samples(states: list[CheckpointState]) -> dict[str, CheckpointSample]:
    return {s.subscription_id: CheckpointSample(s.lag, s.lag_estimated) for s in states}


@dataclass
class StatsFrame:
    """One frame of `stats --watch`: the stats and the events/s appended per category."""

    sampled_at: datetime
    stats: StoreStats
    rates: dict[str, float | None] = field(default_factory=dict)

    def by_category(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for c in self.stats.counts:
            counts[c.category] += c.events
        return dict(counts)

    def category_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "category": category,
                "events": n,
                "appended_per_second": _rounded(self.rates.get(category)),
            }
            for category, n in sorted(self.by_category().items())
        ]

    def to_dict(self) -> dict[str, Any]:
        record = self.stats.to_dict()
        return {"sampled_at": self.sampled_at, **record, "categories": self.category_rows()}


def sample_stats(store: Store, previous: StatsFrame | None, *, exact: bool = False) -> StatsFrame:
    """The stats now, with the events/s appended per category since `previous`."""
    stats = store_stats(store, exact=exact)
    frame = StatsFrame(datetime.now(UTC), stats)
    if previous is not None:
        seconds = (frame.sampled_at - previous.sampled_at).total_seconds()
        frame.rates = appended_rates(previous.by_category(), frame.by_category(), seconds)
    return frame


def _rounded(rate: float | None) -> float | None:
    return None if rate is None else round(rate, 3)
