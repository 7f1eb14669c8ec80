"""The HTTP API (aiohttp), assembled from route tables.

Every route is declared once (`table.Route`); from that one declaration come its aiohttp route(s)
(also under `/api/v1`), its access rule, its audit record, and its part of `/openapi.json`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

from orchestrator.clients.telemetry import ProcessTelemetry, process_telemetry
from orchestrator.controllers.routes.envelope import TELEMETRY, TRACE_ID, errors_and_trace, mapped_error
from orchestrator.controllers.routes.health import health, ready, register_health
from orchestrator.controllers.routes.keys import OPS, SECURITY, SERVICE_METRICS
from orchestrator.controllers.routes.openapi import build_openapi, render_docs
from orchestrator.controllers.routes.operations import ROUTES as OPERATION_ROUTES
from orchestrator.controllers.routes.security import SecurityConfig, authorize, guard
from orchestrator.controllers.routes.status_page import ROUTES as STATUS_ROUTES
from orchestrator.controllers.routes.table import Access, NoParams, Route, RouteHandler, bind
from orchestrator.core.clients.lock import LockClient
from orchestrator.core.models.audit import AuditEntry
from orchestrator.core.version import ORCHESTRATOR_VERSION
from orchestrator.services.job.engine import JobEngine
from orchestrator.services.operations import OperationsService

log = logging.getLogger("orchestrator.http")

#: request bodies above this are answered 413 (no route needs more than a small JSON object)
MAX_BODY_BYTES = 64 * 1024
_SPEC: web.AppKey[dict[str, Any]] = web.AppKey("openapi", dict)
PROMETHEUS: web.AppKey[ProcessTelemetry] = web.AppKey("prometheus", ProcessTelemetry)


async def metrics(request: web.Request, p: NoParams) -> web.Response:
    """Prometheus text: the job metrics, queue depths, and the external services' counters and breakers."""
    telemetry = request.app[PROMETHEUS]
    for queue, depth in (await request.app[OPS].queue_depths()).items():
        telemetry.gauge("job_queue_depth", {"queue": queue.value}, depth)
    body, content_type = telemetry.prometheus.exposition(request.app[SERVICE_METRICS]())
    return web.Response(body=body, headers={"Content-Type": content_type})


async def openapi_json(request: web.Request, p: NoParams) -> web.Response:
    return web.json_response(request.app[_SPEC])


async def docs(request: web.Request, p: NoParams) -> web.Response:
    return web.Response(text=render_docs(request.app[_SPEC]), content_type="text/html")


def _served_by(handler: Callable[[web.Request], Awaitable[web.Response]]) -> RouteHandler:
    """A route that `health.py` registers itself; the table documents it with its real handler."""

    async def handle(request: web.Request, p: NoParams) -> web.Response:
        return await handler(request)

    return handle


BASE_ROUTES: list[Route] = [
    Route("GET", "/metrics", metrics, "Prometheus metrics (text exposition format)", Access.READ,
          content_type="text/plain", tag="ops"),
    # health.py registers these at the root; the table adds their /api/v1 form and documents both.
    Route("GET", "/health", _served_by(health), "Liveness: are the process's loops running? (JSON)",
          Access.OPEN, content_type="application/json", errors=(503,), tag="ops", external=True),
    Route("GET", "/ready", _served_by(ready), "Readiness: are the database, queue and storage reachable?",
          Access.OPEN, content_type="application/json", errors=(503,), tag="ops", external=True),
    Route("GET", "/openapi.json", openapi_json, "This API's OpenAPI 3.1 document", Access.OPEN,
          content_type="application/json", tag="ops", prefixes=("",)),
    Route("GET", "/docs", docs, "This API's documentation page", Access.OPEN, content_type="text/html", tag="ops",
          prefixes=("",)),
]  # fmt: skip


def _audit_result(response: web.StreamResponse) -> str:
    """A short outcome for the audit log: the message, or a summary of the data."""
    if not isinstance(response, web.Response) or response.text is None:
        return ""
    try:
        body = json.loads(response.text)
    except ValueError:
        return ""
    data = body.get("data") or {}
    if "success_count" in data:
        return f"{data['success_count']} ok, {data['failed_count']} failed"
    if "snos_batches_closed" in data:
        return f"closed {data['snos_batches_closed']} SNOS, {data['aggregator_batches_closed']} aggregator batches"
    return str(body.get("message", ""))[:300]


async def _record(request: web.Request, route: Route, actor: str, status: int, result: str) -> None:
    entry = AuditEntry(
        actor=actor,
        action=f"{request.method} {route.path}",
        target=request.match_info.get("id") or (request.query_string or None),
        status=status,
        result=result,
        trace_id=request.get(TRACE_ID),
    )
    try:
        await request.app[OPS].record(entry)
    except Exception as exc:  # noqa: BLE001 - losing an audit line must not change the answer; it is logged
        log.error("audit log write failed for %s by %s: %s", entry.action, actor, exc)
    log.info("admin %s by %s -> %s %s", entry.action, actor, status, result)


def _handler(route: Route) -> Callable[[web.Request], Any]:
    audited = route.access is Access.ADMIN and (route.method == "POST" or route.deprecated)

    async def handle(request: web.Request) -> web.StreamResponse:
        actor = authorize(request, route.access, request.app[SECURITY])
        if not audited:
            return await route.handler(request, bind(route.params, request))
        try:
            response = await route.handler(request, bind(route.params, request))
        except Exception as exc:
            answer = mapped_error(exc)
            status = answer.status if answer is not None else 500
            await _record(request, route, actor, status, _audit_result(answer) if answer else type(exc).__name__)
            raise
        await _record(request, route, actor, response.status, _audit_result(response))
        return response

    handle.__name__ = route.handler.__name__
    return handle


def _register(app: web.Application, routes: Sequence[Route]) -> None:
    for route in routes:
        handler = _handler(route)
        for prefix in route.prefixes:
            if route.external and not prefix:
                continue  # registered at the root by its own module
            if route.method == "GET":
                # HEAD never runs a deprecated GET action (HEAD must be safe).
                app.router.add_get(prefix + route.path, handler, allow_head=not route.deprecated)
            else:
                app.router.add_route(route.method, prefix + route.path, handler)


def openapi_document(extra_routes: Sequence[Route] = ()) -> dict[str, Any]:
    return build_openapi(
        [*BASE_ROUTES, *OPERATION_ROUTES, *STATUS_ROUTES, *extra_routes], "orchestrator", ORCHESTRATOR_VERSION
    )


def create_app(
    engine: JobEngine,
    admin_enabled: bool = False,
    max_priority_queue_size: int = 20,
    service_metrics: Callable[[], list[dict[str, Any]]] = list,
    batching_lock: LockClient | None = None,
    *,
    operations: OperationsService | None = None,
    security: SecurityConfig | None = None,
    extra_routes: Sequence[Route] = (),
    telemetry: ProcessTelemetry | None = None,
) -> web.Application:
    app = web.Application(middlewares=[errors_and_trace], client_max_size=MAX_BODY_BYTES)
    security = security or SecurityConfig(admin_enabled=admin_enabled)
    app.middlewares.append(guard(security))
    app[OPS] = operations or OperationsService(engine, max_priority_queue_size, lock=batching_lock)
    app[SECURITY] = security
    app[SERVICE_METRICS] = service_metrics
    app[PROMETHEUS] = app[TELEMETRY] = telemetry or process_telemetry()
    routes = [*BASE_ROUTES, *OPERATION_ROUTES, *STATUS_ROUTES, *extra_routes]
    app[_SPEC] = openapi_document(extra_routes)
    _register(app, routes)
    register_health(app)  # /health and /ready: their sources are attached by `orchestrator run`
    return app
