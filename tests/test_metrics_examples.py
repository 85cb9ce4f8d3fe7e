"""examples/grafana-dashboard.json and examples/prometheus-alerts.yml parse, and every metric
they name is one `esctl metrics` exports (a renamed metric would break them silently)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from esctl.metrics import METRIC_NAMES

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
METRIC = re.compile(r"\besctl_[a-z_]+\b")


def _named(expressions: list[str]) -> set[str]:
    return {name for expression in expressions for name in METRIC.findall(expression)}


def test_the_grafana_dashboard_uses_only_exported_metrics() -> None:
    dashboard = json.loads((EXAMPLES / "grafana-dashboard.json").read_text(encoding="utf-8"))
    assert dashboard["panels"] and dashboard["title"]
    expressions = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    expressions += [v["definition"] for v in dashboard["templating"]["list"] if "definition" in v]
    named = _named(expressions)
    assert named - METRIC_NAMES == set()
    assert {"esctl_checkpoint_lag_seconds", "esctl_horizon_age_seconds", "esctl_up"} <= named
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_the_alert_rules_use_only_exported_metrics() -> None:
    rules = yaml.safe_load((EXAMPLES / "prometheus-alerts.yml").read_text(encoding="utf-8"))
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert all({"alert", "expr", "annotations"} <= set(rule) for rule in alerts)
    named = _named([rule["expr"] for rule in alerts])
    assert named - METRIC_NAMES == set()
    expressions = " ".join(rule["expr"] for rule in alerts)
    for wanted in (
        "esctl_checkpoint_lag_seconds",
        'status="stalled"',
        "esctl_horizon_age_seconds",
        "esctl_up",
    ):
        assert wanted in expressions
