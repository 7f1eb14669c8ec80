"""Serving the API: built from settings, bound to loopback by default, and robust to slow or
malformed clients (a header deadline, a connection cap, malformed HTTP answered as JSON and logged as
one line, not a traceback per connection).

aiohttp has no header-read timeout nor a connection cap, so the connection handler is a small
subclass of its `RequestHandler`; it relies on `Server._kwargs`, kept stable across aiohttp 3.x.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from orchestrator.bootstrap import Container
from orchestrator.config import Settings
from orchestrator.controllers.routes.app import create_app
from orchestrator.controllers.routes.security import SecurityConfig, allowed_hosts_for
from orchestrator.core.models.queue import LAYER_QUEUES
from orchestrator.services.operations import OperationsService

log = logging.getLogger("orchestrator.http.server")


@dataclass
class ConnectionLimits:
    #: a connection must deliver a complete request head within this many seconds
    header_timeout: float = 10.0
    #: idle seconds between requests on a kept-alive connection
    keepalive_timeout: float = 15.0
    max_connections: int = 256
    open_connections: int = 0


_OVERLOADED = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
    b'Content-Length: 58\r\n\r\n{"success": false, "message": "Too many open connections"}'
)


class GuardedRequestHandler(RequestHandler):
    def __init__(self, manager: web.Server, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._limits = limits
        self._deadline: asyncio.TimerHandle | None = None
        self._counted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if self._limits.open_connections >= self._limits.max_connections:
            if isinstance(transport, asyncio.WriteTransport):
                transport.write(_OVERLOADED)
            transport.close()
            return
        self._limits.open_connections += 1
        self._counted = True
        self._deadline = asyncio.get_running_loop().call_later(self._limits.header_timeout, self._too_slow)

    def request_arrived(self) -> None:
        """A complete request head arrived: the header deadline is over (keep-alive takes over)."""
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        log.info("closing a connection that sent no complete request within %ss", self._limits.header_timeout)
        self.force_close()
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: BaseException | None) -> None:
        self.request_arrived()
        if self._counted:
            self._limits.open_connections -= 1
            self._counted = False
        super().connection_lost(exc)

    def handle_error(
        self, request: BaseRequest, status: int = 500, exc: BaseException | None = None, message: str | None = None
    ) -> web.StreamResponse:
        """Malformed HTTP: one log line and the JSON envelope, never a traceback."""
        reason = message or (f"{type(exc).__name__}: {exc}" if exc is not None else "bad request")
        first_line = str(reason).splitlines()[0][:200] if reason else ""
        log.warning("malformed request from %s answered %s: %s", request.remote, status, first_line)
        body = {"success": False, "message": "Malformed HTTP request" if status < 500 else "Internal error"}
        response = web.Response(status=status, text=json.dumps(body), content_type="application/json")
        response.force_close()
        return response


class GuardedAppRunner(web.AppRunner):
    """An AppRunner whose connections are `GuardedRequestHandler`s sharing one `ConnectionLimits`."""

    def __init__(self, app: web.Application, limits: ConnectionLimits | None = None, **kwargs: Any) -> None:
        self.limits = limits or ConnectionLimits()
        super().__init__(app, keepalive_timeout=self.limits.keepalive_timeout, **kwargs)

    @property
    def server(self) -> Any:
        base = super().server
        if base is None:
            return None
        limits = self.limits

        def factory() -> GuardedRequestHandler:
            return GuardedRequestHandler(base, limits, loop=base._loop, **base._kwargs)

        return factory


def security_from(
    bind_host: str,
    admin_enabled: bool,
    tokens: tuple[str, ...],
    reads_need_token: bool,
    extra_hosts: tuple[str, ...],
) -> SecurityConfig:
    return SecurityConfig(
        admin_enabled=admin_enabled,
        tokens=tokens,
        token_required_for_reads=reads_need_token,
        allowed_hosts=allowed_hosts_for(bind_host, extra_hosts),
    )


def build_api(container: Container, settings: Settings) -> web.Application:
    """The API of `orchestrator run`: operations over the container's engine, security from settings."""
    server = settings.server
    operations = OperationsService(
        container.engine,
        settings.service.max_priority_queue_size,
        queues=LAYER_QUEUES[settings.general.layer],
        lock=container.infra.lock,
    )
    security = security_from(
        server.host, server.admin_enabled, server.admin_tokens(), server.api_token_required, server.host_names()
    )
    return create_app(
        container.engine,
        server.admin_enabled,
        settings.service.max_priority_queue_size,
        service_metrics=container.service_metrics,
        operations=operations,
        security=security,
    )


def quiet_resource_errors(loop: asyncio.AbstractEventLoop) -> None:
    """Out of file descriptors, asyncio's accept loop reports every retry with a traceback; one line
    each is enough (the connection cap keeps the API itself below the limit)."""
    previous = loop.get_exception_handler()

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, OSError) and "out of system resource" in str(context.get("message", "")):
            log.warning("%s: %s", context["message"], exc.strerror or exc)
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handle)
