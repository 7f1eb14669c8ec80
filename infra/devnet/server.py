"""The small aiohttp server base of the devnet's stand-in services (and of the tests' doubles).

A server counts the requests it receives (`calls`, keyed by "METHOD /route") and can be told to
answer the next requests with a fault (`faults.fail_next(...)`), so tests can check retries,
no-retries and idempotency against the same server the devnet runs.
"""

from __future__ import annotations

import ssl
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum

from aiohttp import web

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Fault(StrEnum):
    UNAVAILABLE = "503"  # 503 with a plain text body
    HTML = "html"  # a 502 gateway HTML page
    GATEWAY_TIMEOUT = "504"  # 504 with the nginx text
    NGINX_404 = "nginx404"  # the character-map JSON that nginx was seen to send
    JSON_400 = "json400"  # a genuine API error
    JSON_500 = "json500"  # an API error with a 5xx status and a JSON body
    DROP = "drop"  # the connection is closed without a reply


def fault_response(kind: Fault) -> web.StreamResponse:
    match kind:
        case Fault.UNAVAILABLE:
            return web.Response(status=503, text="503 Service Unavailable")
        case Fault.HTML:
            page = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
            return web.Response(status=502, text=page, content_type="text/html")
        case Fault.GATEWAY_TIMEOUT:
            return web.Response(status=504, text="504 Gateway Timeout")
        case Fault.NGINX_404:
            return web.json_response({"0": "4", "1": "0", "2": "4"}, status=404)
        case Fault.JSON_400:
            return web.json_response({"message": "injected bad request", "code": "BAD_REQUEST"}, status=400)
        case Fault.JSON_500:
            return web.json_response({"message": "injected internal error"}, status=500)
    raise ValueError(f"no canned response for {kind}")


@dataclass
class Faults:
    """A queue of faults; each request takes the first one whose route filter matches it."""

    pending: list[tuple[str | None, Fault]] = field(default_factory=list)
    served: Counter[str] = field(default_factory=Counter)

    def fail_next(self, count: int, kind: Fault | str, route: str | None = None) -> None:
        """The next `count` requests (whose "METHOD /route" contains `route`, if given) get `kind`."""
        self.pending.extend([(route, Fault(kind))] * count)

    def clear(self) -> None:
        self.pending.clear()

    def take(self, route: str) -> Fault | None:
        for position, (wanted, kind) in enumerate(self.pending):
            if wanted is None or wanted in route:
                del self.pending[position]
                self.served[kind.value] += 1
                return kind
        return None


def route_key(request: web.Request) -> str:
    resource = request.match_info.route.resource
    path = resource.canonical if resource is not None else request.path
    return f"{request.method} {path}"


class DoubleServer:
    """Runs an aiohttp app on a free loopback port, optionally over TLS."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.calls: Counter[str] = Counter()
        self.faults = Faults()
        self._ssl = ssl_context
        self._runner: web.AppRunner | None = None
        self.port = 0

    def routes(self) -> list[web.RouteDef]:
        raise NotImplementedError

    @property
    def prefix(self) -> str:
        return ""

    @property
    def url(self) -> str:
        scheme = "https" if self._ssl is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}{self.prefix}"

    @web.middleware
    async def _middleware(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        key = route_key(request)
        self.calls[key] += 1
        fault = self.faults.take(key)
        if fault is Fault.DROP:
            if request.transport is not None:
                request.transport.close()
            raise ConnectionResetError("fault injected: connection dropped")
        if fault is not None:
            return fault_response(fault)
        return await handler(request)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=256 * 1024**2)
        app.add_routes(self.routes())
        return app

    async def start(self) -> DoubleServer:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self._ssl)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
