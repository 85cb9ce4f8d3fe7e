"""Every metric `esctl metrics` exports, with its help text (one place for the collector, the
docs and the test that the examples in `examples/` name only these)."""

from __future__ import annotations

HELP: dict[str, str] = {
    "esctl_up": "1 when the last scrape read the store, 0 when it failed (down, timed out).",
    "esctl_scrape_duration_seconds": "How long the scrape took.",
    "esctl_head_position": "The highest global position.",
    "esctl_events_total": "Events per category (an estimate when esctl_events_estimated is 1).",
    "esctl_events_estimated": "1 when esctl_events_total is an estimate (a large store), else 0.",
    "esctl_checkpoint_position": "The global position the subscription has handled up to.",
    "esctl_checkpoint_lag_events": "Events after the checkpoint (an estimate past the count cap).",
    "esctl_checkpoint_lag_estimated": "1 when esctl_checkpoint_lag_events is an estimate.",
    "esctl_checkpoint_lag_seconds": "How long the oldest event the subscription has not handled "
    "has waited (0 when caught up).",
    "esctl_checkpoint_age_seconds": "Time since the checkpoint last moved.",
    "esctl_checkpoint_status": "1 for the checkpoint's status (ok, lagging, stalled, rewound, "
    "ahead-of-head), 0 for the others.",
    "esctl_horizon_age_seconds": "Age of the oldest running transaction with an id: live "
    "readers wait behind it (PostgreSQL).",
    "esctl_replica_up": "1 when the read_store (replica) answered, 0 when it did not.",
    "esctl_replica_lag_seconds": "How far the read_store (replica) replays behind the primary.",
    "esctl_replica_lag_bytes": "WAL bytes the read_store (replica) is behind the primary.",
}

METRIC_NAMES: frozenset[str] = frozenset(HELP)
