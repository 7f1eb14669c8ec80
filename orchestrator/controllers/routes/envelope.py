"""The reference's response envelope, its error mapping, and `x-trace-id` handling.

Every answer is `{"success": bool, "data": ..., "message": ...}`; every error is a JSON body with a
4xx status (5xx only for a real fault, logged as one line with the trace id, never a traceback in
the body).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from orchestrator.core.errors import (
    InvalidJobStatusError,
    NotFoundError,
    OrchestratorError,
    ServiceUnavailableError,
)
from orchestrator.core.telemetry import Telemetry, new_trace_id, trace_scope
from orchestrator.services.operations import QueueFullError

log = logging.getLogger("orchestrator.http")

_TRACE_ID = re.compile(r"^[0-9a-fA-F]{32}$")
NOT_FOUND = "The requested resource was not found"

#: spans (`http_request`) and metrics of the process
TELEMETRY: web.AppKey[Telemetry] = web.AppKey("telemetry")
#: the request's trace id, for handlers and the audit log
TRACE_ID: web.RequestKey[str] = web.RequestKey("trace_id", str)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def envelope(data: Any = None, message: str | None = None, status: int = 200, success: bool = True) -> web.Response:
    body: dict[str, Any] = {"success": success}
    if data is not None:
        body["data"] = data
    if message is not None:
        body["message"] = message
    return web.json_response(body, status=status)


def error(status: int, message: str) -> web.Response:
    return envelope(message=message, status=status, success=False)


def trace_id_of(request: web.Request) -> str:
    """The caller's `x-trace-id` when it is 32 hex characters, else a fresh one."""
    raw = request.headers.get("x-trace-id", "")
    return raw.lower() if _TRACE_ID.match(raw) else new_trace_id()


def mapped_error(exc: Exception) -> web.Response | None:
    """The answer for an error a handler may raise on purpose; None for a fault."""
    if isinstance(exc, ApiError):
        return error(exc.status, exc.message)
    if isinstance(exc, web.HTTPException):
        response = error(exc.status, NOT_FOUND if exc.status == 404 else exc.reason)
        if "Allow" in exc.headers:  # a 405 names the methods that are allowed (RFC 9110)
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    if isinstance(exc, NotFoundError):
        return error(404, str(exc))
    if isinstance(exc, InvalidJobStatusError):
        return error(409, f"Invalid status: {exc}")
    if isinstance(exc, QueueFullError):
        return error(429, f"Priority queue is full: {exc}")
    if isinstance(exc, ServiceUnavailableError):
        return error(503, f"Service unavailable: {exc}")
    if isinstance(exc, OrchestratorError):
        return error(400, f"Processing error: {exc}")
    return None


@web.middleware
async def errors_and_trace(request: web.Request, handler: Handler) -> web.StreamResponse:
    arrived = getattr(request.protocol, "request_arrived", None)
    if arrived is not None:  # the header deadline of a guarded connection is over
        arrived()
    trace = trace_id_of(request)
    request[TRACE_ID] = trace
    telemetry = request.app.get(TELEMETRY)
    fields = {"method": request.method, "path": request.path}
    span = telemetry.span("http_request", fields, trace) if telemetry is not None else trace_scope(trace)
    with span:
        try:
            response = await handler(request)
        except Exception as exc:  # noqa: BLE001 - last resort: every error becomes an envelope; faults are logged
            mapped = mapped_error(exc)
            if mapped is None:
                log.error("request %s %s failed (trace %s): %s: %s", request.method, request.path, trace,
                          type(exc).__name__, exc)  # fmt: skip
                mapped = error(500, f"Internal error (trace id {trace})")
            response = mapped
    response.headers["x-trace-id"] = trace
    return response
