"""The Prometheus collector: each scrape opens the store afresh (so a restarted server or a lost
connection costs one failed scrape, no more), bounds every statement by a timeout, and reads:

- the head and the events per category (`esctl.read.stats`: estimated from the catalog and a
  sample on a large PostgreSQL store, so a scrape never counts 10M rows);
- each checkpoint's position, lag in events and seconds, and status (`esctl.checkpoints`, the
  same figures `checkpoints list` shows; lag counting capped as there);
- the horizon's age (PostgreSQL) and, with a `read_store`, the replica's lag.

A scrape that fails (server down, timeout, no schema) yields `esctl_up 0` and the duration only:
the HTTP endpoint still answers 200, so the monitoring system sees a down store, not a broken
exporter. Label values go through prometheus_client, which escapes them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from esctl.checkpoints import Thresholds, list_checkpoints
from esctl.checkpoints.lag import STATUS_PRECEDENCE
from esctl.config import Settings
from esctl.errors import EsctlError
from esctl.metrics.names import HELP
from esctl.read.horizon import horizon_age
from esctl.read.stats import store_stats

if TYPE_CHECKING:
    from esctl.store.base import Store

STATUSES = ("ok", *sorted(STATUS_PRECEDENCE))
DEFAULT_TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class ScrapeSettings:
    """What a scrape reads: the store (and the replica, when the profile has a read_store), the
    checkpoint thresholds, and the timeout each statement and connection gets."""

    store: Settings
    replica: Settings | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
    timeout_ms: int = DEFAULT_TIMEOUT_MS

    def bounded(self, settings: Settings) -> Settings:
        """`settings` with the scrape's timeouts (a tighter one in the profile is kept)."""
        configured = settings.statement_timeout_ms
        statement = self.timeout_ms if configured is None else min(configured, self.timeout_ms)
        connect = max(1, min(settings.connect_timeout, -(-self.timeout_ms // 1000)))
        return replace(settings, statement_timeout_ms=statement, connect_timeout=connect)


def _gauge(name: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, HELP[name], labels=labels)


class StoreCollector(Collector):
    """Reads the store on every `collect()` (every scrape); never caches a figure."""

    def __init__(
        self,
        settings: ScrapeSettings,
        *,
        on_failure: Callable[[str], None] | None = None,
        open_store: Callable[[Settings], Store] | None = None,
    ) -> None:
        self.settings = settings
        self.on_failure = on_failure
        self.last_error: str | None = None
        self._open = open_store or _open_store

    def describe(self) -> list[Metric]:
        return []  # registering must not scrape the store

    def collect(self) -> Iterator[Metric]:
        started = time.monotonic()
        previous = self.last_error
        try:
            families = self._scrape()
        except EsctlError as error:
            families, self.last_error = [], error.message
        except Exception as error:  # a driver error no adapter translated: still a failed scrape
            families, self.last_error = [], f"{type(error).__name__}: {error}"
        else:
            self.last_error = None
        # Told once per failure, not at every scrape of a store that stays down.
        if self.last_error not in (None, previous) and self.on_failure is not None:
            self.on_failure(self.last_error)
        up = _gauge("esctl_up")
        up.add_metric([], 0 if self.last_error is not None else 1)
        duration = _gauge("esctl_scrape_duration_seconds")
        duration.add_metric([], time.monotonic() - started)
        yield from families
        yield up
        yield duration

    def _scrape(self) -> list[Metric]:
        """Every family of one scrape; raises if the store cannot be read."""
        families: list[Metric] = []
        with self._open(self.settings.bounded(self.settings.store)) as store:
            store.require_schema()
            families += _event_families(store)
            if store.capabilities.has_checkpoints:
                families += _checkpoint_families(store, self.settings.thresholds)
            age = horizon_age(store)
            if age is not None:
                horizon = _gauge("esctl_horizon_age_seconds")
                horizon.add_metric([], age)
                families.append(horizon)
            if self.settings.replica is not None:
                families += self._replica_families(store)
        return families

    def _replica_families(self, primary: Store) -> list[Metric]:
        assert self.settings.replica is not None
        up = _gauge("esctl_replica_up")
        families: list[Metric] = [up]
        try:
            wal = primary.admin.node_status().wal_lsn
            with self._open(self.settings.bounded(self.settings.replica)) as replica:
                status = replica.admin.node_status(primary_lsn=wal)
        except EsctlError as error:
            up.add_metric([], 0)
            if self.on_failure is not None:
                self.on_failure(f"read_store: {error.message}")
            return families
        up.add_metric([], 1)
        if status.lag_seconds is not None or status.lag_bytes == 0:
            seconds = _gauge("esctl_replica_lag_seconds")
            seconds.add_metric([], status.lag_seconds or 0.0)
            families.append(seconds)
        if status.lag_bytes is not None:
            lag_bytes = _gauge("esctl_replica_lag_bytes")
            lag_bytes.add_metric([], status.lag_bytes)
            families.append(lag_bytes)
        return families


def _event_families(store: Store) -> list[Metric]:
    stats = store_stats(store)
    head = _gauge("esctl_head_position")
    head.add_metric([], stats.head_position)
    per_category: dict[str, int] = {}
    for row in stats.counts:
        per_category[row.category] = per_category.get(row.category, 0) + row.events
    events = _gauge("esctl_events_total", ["category"])
    for category, count in sorted(per_category.items()):
        events.add_metric([category], count)
    estimated = _gauge("esctl_events_estimated")
    estimated.add_metric([], 1 if stats.estimated else 0)
    return [head, events, estimated]


def _checkpoint_families(store: Store, thresholds: Thresholds) -> list[Metric]:
    states = sorted(list_checkpoints(store, thresholds), key=lambda s: s.subscription_id)
    label = ["subscription"]
    position = _gauge("esctl_checkpoint_position", label)
    lag = _gauge("esctl_checkpoint_lag_events", label)
    lag_estimated = _gauge("esctl_checkpoint_lag_estimated", label)
    lag_seconds = _gauge("esctl_checkpoint_lag_seconds", label)
    age = _gauge("esctl_checkpoint_age_seconds", label)
    status = _gauge("esctl_checkpoint_status", ["subscription", "status"])
    for state in states:
        name = [state.subscription_id]
        position.add_metric(name, state.last_position)
        lag.add_metric(name, state.lag)
        lag_estimated.add_metric(name, 1 if state.lag_estimated else 0)
        if state.lag_seconds is not None:  # None past the head: no pending event to age
            lag_seconds.add_metric(name, state.lag_seconds)
        if state.age_seconds is not None:
            age.add_metric(name, state.age_seconds)
        for value in STATUSES:
            status.add_metric([state.subscription_id, value], 1 if state.status == value else 0)
    return [position, lag, lag_estimated, lag_seconds, age, status]


def _open_store(settings: Settings) -> Store:
    from esctl.store import open_store

    return open_store(settings, write=False)


def registry_for(collector: StoreCollector) -> CollectorRegistry:
    """A registry holding only `collector` (no process or platform metrics of the exporter)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


def exposition(collector: StoreCollector, *, openmetrics: bool = False) -> bytes:
    """One scrape as Prometheus text (or OpenMetrics, ending in `# EOF`)."""
    registry = registry_for(collector)
    if openmetrics:
        from prometheus_client.openmetrics.exposition import generate_latest as generate

        return bytes(generate(registry))  # type: ignore[no-untyped-call]
    from prometheus_client.exposition import generate_latest

    return bytes(generate_latest(registry))
