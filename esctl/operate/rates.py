"""Rates from two samples taken at explicit times: no clock is read here, so tests feed samples
with the times they choose and assert exact rates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class CheckpointSample:
    """What one frame knew of a checkpoint: its lag (events), whether that is an estimate."""

    lag: int
    estimated: bool = False


def per_second(delta: float, seconds: float) -> float | None:
    """`delta` over `seconds`; None when no time passed (the first frame, or a clock step)."""
    if seconds <= 0:
        return None
    return delta / seconds


def consumed_rates(
    before: Mapping[str, CheckpointSample],
    after: Mapping[str, CheckpointSample],
    appended: int,
    seconds: float,
) -> dict[str, float | None]:
    """Events/s each checkpoint consumed between two frames `seconds` apart, `appended` events
    having been committed between them: (lag before + appended - lag after) / seconds. Lag is
    counted, not taken from positions, so gaps in the global position never show as progress.
    A checkpoint absent from `before` (new) has None; a rewound one a negative rate."""
    rates: dict[str, float | None] = {}
    for name, now in after.items():
        then = before.get(name)
        rates[name] = None if then is None else per_second(then.lag + appended - now.lag, seconds)
    return rates


def appended_rates(
    before: Mapping[str, int], after: Mapping[str, int], seconds: float
) -> dict[str, float | None]:
    """Events/s appended per key (category) from two counts `seconds` apart; a key new since
    `before` counts from 0 (its first events arrived in between)."""
    return {key: per_second(count - before.get(key, 0), seconds) for key, count in after.items()}
