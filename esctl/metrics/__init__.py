"""`esctl metrics`: the store's health as Prometheus/OpenMetrics text, once or served over HTTP.

`collector` asks the store on each scrape (a fresh connection, a statement timeout, estimates
where exact counts would scan) and reports a failed scrape as `esctl_up 0`; `serving` is the HTTP
endpoint; `names` lists every metric esctl exports (the examples' test checks against it)."""

from esctl.metrics.collector import ScrapeSettings, StoreCollector, exposition
from esctl.metrics.names import METRIC_NAMES

__all__ = ["METRIC_NAMES", "ScrapeSettings", "StoreCollector", "exposition"]
