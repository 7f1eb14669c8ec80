"""OTLP export: a collector stand-in (an aiohttp server speaking OTLP/HTTP protobuf) receives the
span of a job run with the trace id its log lines carried, and the span of an HTTP request with the
caller's `x-trace-id`; JSON logs carry the trace id too."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from prometheus_client import CollectorRegistry

from orchestrator.bootstrap import Container
from orchestrator.clients.telemetry import ProcessTelemetry
from orchestrator.clients.telemetry.prometheus import PrometheusMetrics
from orchestrator.controllers.cli.logs import JsonFormatter
from orchestrator.controllers.routes.app import create_app
from orchestrator.core.models.job import JobItem, JobType
from orchestrator.core.telemetry import current_trace_id
from orchestrator.services.observability import traced_handlers
from tests.e2e.counting_orchestrator import CountingHandler
from tests.unit.routes.conftest import new_job


@dataclass
class Collector:
    spans: list[tuple[str, str, dict[str, str], str]] = field(default_factory=list)  # name, trace, attrs, service
    metric_names: set[str] = field(default_factory=set)
    log_traces: list[tuple[str, str]] = field(default_factory=list)  # (body, trace id) of each log record
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def traces(self, request: web.Request) -> web.Response:
        message = ExportTraceServiceRequest.FromString(await request.read())
        for resource_spans in message.resource_spans:
            service = next(a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name")
            for scope in resource_spans.scope_spans:
                for span in scope.spans:
                    attrs = {a.key: a.value.string_value or str(a.value.int_value) for a in span.attributes}
                    self.spans.append((span.name, span.trace_id.hex(), attrs, service))
        self.arrived.set()
        return web.Response(content_type="application/x-protobuf")

    async def metrics(self, request: web.Request) -> web.Response:
        message = ExportMetricsServiceRequest.FromString(await request.read())
        for rm in message.resource_metrics:
            for sm in rm.scope_metrics:
                self.metric_names.update(m.name for m in sm.metrics)
        return web.Response(content_type="application/x-protobuf")

    async def logs(self, request: web.Request) -> web.Response:
        message = ExportLogsServiceRequest.FromString(await request.read())
        for rl in message.resource_logs:
            for sl in rl.scope_logs:
                self.log_traces.extend((r.body.string_value, r.trace_id.hex()) for r in sl.log_records)
        return web.Response(content_type="application/x-protobuf")


@pytest.fixture
async def collector() -> AsyncIterator[tuple[Collector, str]]:
    sink = Collector()
    app = web.Application()
    app.router.add_post("/v1/traces", sink.traces)
    app.router.add_post("/v1/metrics", sink.metrics)
    app.router.add_post("/v1/logs", sink.logs)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield sink, f"http://127.0.0.1:{server.port}"
    await server.close()


class _RecordingHandler(CountingHandler):
    """Remembers the trace id its run saw (what its log lines carry)."""

    seen: list[str | None] = []

    async def process_job(self, job: JobItem) -> str | int:
        self.seen.append(current_trace_id.get())
        logging.getLogger("orchestrator.test").warning("processing %s", job.id)
        return await super().process_job(job)


async def test_job_run_and_http_request_spans_arrive_with_their_trace_ids(
    collector: tuple[Collector, str], container: Container, tmp_path: object
) -> None:
    sink, endpoint = collector
    telemetry = ProcessTelemetry(PrometheusMetrics(CollectorRegistry()))
    telemetry.start_otlp(endpoint, "orchestrator")
    try:
        handler = _RecordingHandler(str(container.settings.general.data_dir / "effects"))
        handler.seen = []
        traced = traced_handlers({JobType.SNOS_RUN: handler}, telemetry)[JobType.SNOS_RUN]
        job = await new_job(container, internal_id=11)
        await traced.process_job(job)
        (run_trace,) = handler.seen
        assert run_trace is not None and len(run_trace) == 32
        telemetry.count("failed_jobs", {"operation_job_type": "SnosRun"})

        client = TestClient(TestServer(create_app(container.engine, telemetry=telemetry)))
        await client.start_server()
        try:
            r = await client.get("/jobs", params={"status": "Failed"}, headers={"x-trace-id": "ef" * 16})
            assert r.status == 200
        finally:
            await client.close()
        assert telemetry.otel is not None
        await asyncio.to_thread(telemetry.otel.flush)
        await asyncio.wait_for(sink.arrived.wait(), 10)
    finally:
        await asyncio.to_thread(telemetry.stop_otlp)

    job_spans = [s for s in sink.spans if s[0] == "job_processing"]
    assert len(job_spans) == 1
    _, trace_id, attrs, service = job_spans[0]
    assert trace_id == run_trace and service == "orchestrator_trace_service"
    assert attrs["job_id"] == str(job.id) and attrs["job_type"] == "SnosRun" and attrs["span_type"] == "Job"
    assert attrs["queue"] == "snos_job_processing" and attrs["correlation_id"] == run_trace
    assert (attrs["block_start"], attrs["block_end"]) == ("11", "12")
    http_spans = [s for s in sink.spans if s[0] == "http_request"]
    assert [(s[1], s[2]["path"]) for s in http_spans] == [("ef" * 16, "/jobs")]
    assert "failed_jobs" in sink.metric_names
    assert (f"processing {job.id}", run_trace) in sink.log_traces, "the run's log line carries its trace id"


def test_json_logs_carry_the_trace_id() -> None:
    record = logging.LogRecord("orchestrator.x", logging.INFO, __file__, 1, "hello", None, None)
    token = current_trace_id.set("ab" * 16)
    try:
        line = json.loads(JsonFormatter().format(record))
    finally:
        current_trace_id.reset(token)
    assert line["trace_id"] == "ab" * 16 and line["message"] == "hello"
    assert "trace_id" not in json.loads(JsonFormatter().format(record))
