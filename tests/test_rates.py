"""Rates between two samples at explicit times (esctl.operate.rates): no clock, no sleep."""

from __future__ import annotations

from esctl.operate.rates import CheckpointSample, appended_rates, consumed_rates, per_second


def test_consumed_is_lag_before_plus_appended_minus_lag_after() -> None:
    before = {"a": CheckpointSample(100), "b": CheckpointSample(0), "gone": CheckpointSample(5)}
    after = {"a": CheckpointSample(40), "b": CheckpointSample(20), "new": CheckpointSample(7)}
    rates = consumed_rates(before, after, appended=20, seconds=4.0)
    assert rates == {"a": 20.0, "b": 0.0, "new": None}  # (100+20-40)/4, (0+20-20)/4


def test_a_rewound_checkpoint_consumes_a_negative_rate() -> None:
    rates = consumed_rates({"a": CheckpointSample(0)}, {"a": CheckpointSample(50)}, 0, 10.0)
    assert rates == {"a": -5.0}


def test_no_time_passed_gives_no_rate() -> None:
    assert per_second(10, 0.0) is None
    assert per_second(10, -1.0) is None  # the clock stepped back
    assert consumed_rates({"a": CheckpointSample(1)}, {"a": CheckpointSample(0)}, 0, 0) == {
        "a": None
    }


def test_appended_per_category_counts_a_new_category_from_zero() -> None:
    rates = appended_rates({"Order": 10, "Gone": 3}, {"Order": 30, "Invoice": 4}, 2.0)
    assert rates == {"Order": 10.0, "Invoice": 2.0}
