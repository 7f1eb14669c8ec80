"""The process's telemetry: Prometheus always (scraped at `/metrics`), OTLP too when configured.

Metrics describe the process, so there is one `ProcessTelemetry` per process (`process_telemetry()`);
tests that need isolation build their own.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

from orchestrator.clients.telemetry.prometheus import PrometheusMetrics
from orchestrator.core.telemetry import trace_scope

if TYPE_CHECKING:
    from orchestrator.clients.telemetry.otel import OtelExport

log = logging.getLogger("orchestrator.telemetry")


class ProcessTelemetry:
    """Implements `core.telemetry.Telemetry`."""

    def __init__(self, prometheus: PrometheusMetrics | None = None) -> None:
        self.prometheus = prometheus or PrometheusMetrics()
        self.otel: OtelExport | None = None

    def start_otlp(self, endpoint: str | None, service_name: str) -> None:
        """Also export over OTLP HTTP to `endpoint`; without one, log that telemetry export is off."""
        if not endpoint:
            log.info("OTLP export disabled (MADARA_ORCHESTRATOR_OTEL_COLLECTOR_ENDPOINT is not set)")
            return
        if self.otel is None:
            # Imported only when exporting: the OpenTelemetry SDK and exporters are resident memory otherwise.
            from orchestrator.clients.telemetry.otel import OtelExport  # noqa: PLC0415

            self.otel = OtelExport(endpoint, service_name)
            log.info("exporting metrics, traces and logs over OTLP HTTP to %s", endpoint)

    def stop_otlp(self) -> None:
        if self.otel is not None:
            self.otel.shutdown()
            self.otel = None

    def count(self, name: str, labels: Mapping[str, str], amount: float = 1.0) -> None:
        self.prometheus.count(name, labels, amount)
        if self.otel is not None:
            self.otel.count(name, labels, amount)

    def gauge(self, name: str, labels: Mapping[str, str], value: float) -> None:
        self.prometheus.gauge(name, labels, value)
        if self.otel is not None:
            self.otel.gauge(name, labels, value)

    def observe(self, name: str, labels: Mapping[str, str], value: float) -> None:
        self.prometheus.observe(name, labels, value)
        if self.otel is not None:
            self.otel.observe(name, labels, value)

    @contextmanager
    def span(self, name: str, attributes: Mapping[str, str | int], trace_id: str | None = None) -> Iterator[str]:
        with trace_scope(trace_id) as value:
            if self.otel is None:
                yield value
                return
            attrs = {**attributes, "trace_id": value, "correlation_id": value}
            with self.otel.span(name, attrs, value):
                yield value


@functools.cache
def process_telemetry() -> ProcessTelemetry:
    """The process's one ProcessTelemetry, made on first use."""
    return ProcessTelemetry()
