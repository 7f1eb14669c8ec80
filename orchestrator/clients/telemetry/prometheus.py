"""The reference's metrics (§11.4) as Prometheus families, plus the external services' counters and
circuit-breaker states read from the clients at scrape time.

Names and label keys are the reference's; counters get Prometheus's `_total` suffix, as the
reference's OTLP → Prometheus path gives them. No label ever carries a job id (bounded cardinality).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

JOB = "operation_job_type"
OP = "operation_type"

#: name -> (help, label keys)
COUNTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "successful_job_operations": ("Job operations (create/process/verify) that succeeded", (JOB, OP)),
    "failed_job_operations": ("Job operations (process/verify) that failed", (JOB, OP)),
    "failed_jobs": ("Jobs moved to Failed", (JOB,)),
    "job_state_transitions": ("Job status changes", (JOB, "from_state", "to_state")),
    "job_retry_count": ("Job retries", (JOB, "retry_reason")),
    "job_timeout_count": ("Verification timeouts", (JOB,)),
    "orphaned_jobs": ("Stale LockedForProcessing jobs detected", (JOB,)),
    "healed_jobs": ("Stale jobs healed back to Created", (JOB,)),
    "batch_creation": ("Batches created", ("batch_type",)),
}
GAUGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "block_state": ("Last block (or batch) number reached, per job type and operation", (JOB, OP)),
    "verification_time": ("Time from process end to verification success (ms)", (JOB,)),
    "jobs_response_time": ("Duration of the last process run (s)", (JOB, OP)),
    "job_e2e_latency": ("Created to Completed (s)", (JOB,)),
    "job_queue_wait_time": ("Created to processing start (s)", (JOB,)),
    "proof_generation_time": ("Proving and aggregation durations (s)", (JOB,)),
    "settlement_time": ("State-transition duration (s)", (JOB,)),
    "job_queue_depth": ("Messages waiting in a queue", ("queue",)),
    "aggregator_batching_batch_number": ("Current aggregator batch index", ()),
    "snos_batching_batch_number": ("Current SNOS batch index", ()),
}
HISTOGRAMS: dict[str, tuple[str, tuple[str, ...], tuple[float, ...]]] = {
    "snos_job_processing_time": ("SNOS run time (s)", (), (1, 5, 15, 60, 300, 900, 3600)),
}

_BREAKER_STATES = ("closed", "half_open", "open")
#: the reference's per-prover names (§11.4) for the API counters of these services: name -> snapshot key
_PROVER_NAMES = {
    "atlantic": {"atlantic_api_calls": "calls", "atlantic_api_errors": "failures", "atlantic_api_retries": "retries"},
    "sharp": {"sharp_api_calls": "calls", "sharp_retries": "retries"},
}


class _ServiceCollector(Collector):
    """The clients' counters and breaker states, as read at scrape time."""

    def __init__(self, snapshots: list[dict[str, Any]]) -> None:
        self.snapshots = snapshots

    def collect(self) -> Iterator[Metric]:
        snapshots = self.snapshots
        state = GaugeMetricFamily(
            "circuit_breaker_state", "1 for the breaker's current state", labels=["service", "state"]
        )
        opened = CounterMetricFamily("circuit_breaker_opened", "Times a breaker opened", labels=["service"])
        calls = CounterMetricFamily(
            "external_api_calls", "Calls to an external service", labels=["service", "operation"]
        )
        errors = CounterMetricFamily("external_api_errors", "Calls that failed", labels=["service", "operation"])
        retries = CounterMetricFamily("external_api_retries", "Extra attempts", labels=["service", "operation"])
        prover: dict[str, CounterMetricFamily] = {}
        for snap in snapshots:
            service = str(snap["service"])
            for name in _BREAKER_STATES:
                state.add_metric([service, name], 1.0 if snap.get("breaker_state") == name else 0.0)
            opened.add_metric([service], float(snap.get("breaker_opened_total", 0)))
            for family, key in ((calls, "calls"), (errors, "failures"), (retries, "retries")):
                for operation, value in dict(snap.get(key, {})).items():
                    family.add_metric([service, operation], float(value))
            for name, key in _PROVER_NAMES.get(service, {}).items():
                help_text = f"{service} API {key}"
                family = prover.setdefault(name, CounterMetricFamily(name, help_text, labels=["operation"]))
                for operation, value in dict(snap.get(key, {})).items():
                    family.add_metric([operation], float(value))
        yield from (state, opened, calls, errors, retries, *prover.values())


class PrometheusMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self._counters = {n: Counter(n, h, labels, registry=self.registry) for n, (h, labels) in COUNTERS.items()}
        self._gauges = {n: Gauge(n, h, labels, registry=self.registry) for n, (h, labels) in GAUGES.items()}
        self._histograms = {
            n: Histogram(n, h, labels, buckets=b, registry=self.registry) for n, (h, labels, b) in HISTOGRAMS.items()
        }

    @staticmethod
    def _child(family: Any, labels: Mapping[str, str]) -> Any:
        return family.labels(**labels) if labels else family

    def count(self, name: str, labels: Mapping[str, str], amount: float = 1.0) -> None:
        self._child(self._counters[name], labels).inc(amount)

    def gauge(self, name: str, labels: Mapping[str, str], value: float) -> None:
        self._child(self._gauges[name], labels).set(value)

    def observe(self, name: str, labels: Mapping[str, str], value: float) -> None:
        self._child(self._histograms[name], labels).observe(value)

    def exposition(self, services: list[dict[str, Any]] | None = None) -> tuple[bytes, str]:
        """The process's metrics, plus the given service snapshots (the caller's clients: the process-wide
        registry keeps no reference to them)."""
        body = generate_latest(self.registry)
        if services:
            scrape = CollectorRegistry(auto_describe=False)
            scrape.register(_ServiceCollector(services))
            body += generate_latest(scrape)
        return body, CONTENT_TYPE_LATEST
