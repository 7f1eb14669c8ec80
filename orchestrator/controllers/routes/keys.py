"""The application's shared objects, typed (aiohttp AppKeys)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from orchestrator.controllers.routes.security import SecurityConfig
from orchestrator.services.operations import OperationsService

OPS: web.AppKey[OperationsService] = web.AppKey("operations", OperationsService)
SECURITY: web.AppKey[SecurityConfig] = web.AppKey("security", SecurityConfig)
#: snapshots of every external-service client: counters and circuit-breaker state
SERVICE_METRICS: web.AppKey[Callable[[], list[dict[str, Any]]]] = web.AppKey("service_metrics")
#: the Prometheus exposition of this process (text, content type)
EXPOSITION: web.AppKey[Callable[[], tuple[bytes, str]]] = web.AppKey("exposition")
