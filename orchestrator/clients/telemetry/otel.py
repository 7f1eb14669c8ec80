"""OTLP export (HTTP) of the same metrics, the spans and the log records, when
`MADARA_ORCHESTRATOR_OTEL_COLLECTOR_ENDPOINT` is set (§11.1).

Resources are the reference's: `{name}_meter_service`, `{name}_trace_service`, `{name}_logs_service`;
meter `crates.orchestrator.opentelemetry`; metrics are pushed every 5 s. A span's trace id is the
orchestrator's trace id (`x-trace-id`, a job run's correlation id), so a trace found in the collector
is the one in the logs and the HTTP answer.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

METER_NAME = "crates.orchestrator.opentelemetry"
EXPORT_INTERVAL_MS = 5000


def _resource(service: str) -> Resource:
    return Resource.create({"service.name": service})


class OtelExport:
    def __init__(self, endpoint: str, service_name: str = "orchestrator") -> None:
        base = endpoint.rstrip("/")
        reader = PeriodicExportingMetricReader(
            OTLPMetricExporter(endpoint=f"{base}/v1/metrics"), export_interval_millis=EXPORT_INTERVAL_MS
        )
        self.meter_provider = MeterProvider(
            resource=_resource(f"{service_name}_meter_service"), metric_readers=[reader]
        )
        self.tracer_provider = TracerProvider(resource=_resource(f"{service_name}_trace_service"))
        self.tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{base}/v1/traces")))
        self.logger_provider = LoggerProvider(resource=_resource(f"{service_name}_logs_service"))
        self.logger_provider.add_log_record_processor(
            BatchLogRecordProcessor(OTLPLogExporter(endpoint=f"{base}/v1/logs"))
        )
        self.log_handler = LoggingHandler(logger_provider=self.logger_provider)
        self.tracer = self.tracer_provider.get_tracer(f"{service_name}_subscriber")
        self.meter = self.meter_provider.get_meter(METER_NAME)
        self._instruments: dict[tuple[str, str], Any] = {}
        logging.getLogger("orchestrator").addHandler(self.log_handler)

    def _instrument(self, kind: str, name: str) -> Any:
        key = (kind, name)
        if key not in self._instruments:
            factory = {"counter": self.meter.create_counter, "gauge": self.meter.create_gauge}.get(
                kind, self.meter.create_histogram
            )
            self._instruments[key] = factory(name)
        return self._instruments[key]

    def count(self, name: str, labels: Mapping[str, str], amount: float) -> None:
        self._instrument("counter", name).add(amount, dict(labels))

    def gauge(self, name: str, labels: Mapping[str, str], value: float) -> None:
        self._instrument("gauge", name).set(value, dict(labels))

    def observe(self, name: str, labels: Mapping[str, str], value: float) -> None:
        self._instrument("histogram", name).record(value, dict(labels))

    @contextmanager
    def span(self, name: str, attributes: Mapping[str, str | int], trace_id: str) -> Iterator[None]:
        """A span whose trace id is `trace_id` (32 hex): its parent is a remote context with that id."""
        parent = SpanContext(
            trace_id=int(trace_id, 16),
            span_id=int.from_bytes(secrets.token_bytes(8), "big") or 1,
            is_remote=True,
            trace_flags=TraceFlags(TraceFlags.SAMPLED),
        )
        context = trace.set_span_in_context(NonRecordingSpan(parent))
        with self.tracer.start_as_current_span(name, context=context, attributes=dict(attributes)):
            yield

    def flush(self) -> None:
        self.tracer_provider.force_flush()
        self.meter_provider.force_flush()
        self.logger_provider.force_flush()

    def shutdown(self) -> None:
        logging.getLogger("orchestrator").removeHandler(self.log_handler)
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()
        self.logger_provider.shutdown()
