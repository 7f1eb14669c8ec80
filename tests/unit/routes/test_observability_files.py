"""The Grafana dashboard and the alert rules only use metrics this process exposes (a renamed metric
would silently blank a panel or mute an alert)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from orchestrator.clients.telemetry.prometheus import COUNTERS, GAUGES, PrometheusMetrics

OBS = Path(__file__).resolve().parents[3] / "infra" / "observability"
#: PromQL words that are not metric names
_PROMQL = {
    "sum", "max", "min", "avg", "by", "rate", "increase", "changes", "or", "and", "up", "on", "without",
    "max_over_time", "count",
}  # fmt: skip


def exposed_names() -> set[str]:
    metrics = PrometheusMetrics(CollectorRegistry())
    services = [{"service": "atlantic", "calls": {"a": 1}, "failures": {"a": 1}, "retries": {"a": 1}}]
    names = set()
    for family in text_string_to_metric_families(metrics.exposition(services)[0].decode()):
        names.update(s.name for s in family.samples)
        names.add(family.name)
    # labelled families show no sample until first set: take their names from the spec
    names.update(f"{n}_total" for n in COUNTERS)
    names.update(GAUGES)
    return names


def metrics_in(expr: str) -> set[str]:
    without_labels = re.sub(r"\{[^}]*\}", "", expr)
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_labels)
    without_groupings = re.sub(r"\b(by|without)\s*\([^)]*\)", "", without_ranges)
    words = set(re.findall(r"[a-zA-Z_][a-zA-Z0-9_]*", without_groupings))
    return {w for w in words if w not in _PROMQL}


def test_dashboard_panels_query_exposed_metrics() -> None:
    dashboard = json.loads((OBS / "grafana" / "dashboards" / "orchestrator.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(exprs) >= 15
    unknown = {m for e in exprs for m in metrics_in(e)} - exposed_names()
    assert not unknown, f"dashboard queries metrics nobody exposes: {sorted(unknown)}"


def test_alert_rules_use_exposed_metrics() -> None:
    rules = yaml.safe_load((OBS / "alerts.yml").read_text())["groups"][0]["rules"]
    titles = {r["annotations"]["title"] for r in rules}
    assert {"High Job Failure Rate", "No Block Progress", "Queue Depth Building Up"} <= titles
    unknown = {m for r in rules for m in metrics_in(r["expr"])} - exposed_names() - {"up"}
    assert not unknown, f"alert rules use metrics nobody exposes: {sorted(unknown)}"
