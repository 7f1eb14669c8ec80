"""Who may call what, and the browser-borne attacks a local admin API must refuse.

- Admin and job-mutating routes need `ADMIN_ENABLED` *and* a bearer token (several may be
  configured, for rotation): 401 without one, 403 with a wrong one, compared in constant time.
- Read-only routes are open unless `API_TOKEN_REQUIRED` is set.
- A mutating request with a body must be JSON (a cross-site form cannot send that without a CORS
  preflight we never answer), a foreign `Origin` is refused, and the `Host` header must be one of
  the configured names (DNS rebinding: a hostile name resolving to 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Middleware

from orchestrator.controllers.routes.envelope import ApiError, Handler
from orchestrator.controllers.routes.table import Access

log = logging.getLogger("orchestrator.http.security")

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ANONYMOUS = "anonymous"
#: a request body (at most 64 KiB) must arrive within this many seconds
BODY_READ_TIMEOUT = 10.0


def token_id(token: str) -> str:
    """A stable, non-secret label for a token (the audit log's "who")."""
    return "token-" + hashlib.sha256(token.encode()).hexdigest()[:10]


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_NAMES or host.startswith("127.")


@dataclass(frozen=True)
class SecurityConfig:
    admin_enabled: bool = False
    tokens: tuple[str, ...] = ()
    token_required_for_reads: bool = False
    #: Host names the server answers to; empty: any (only when not bound to loopback)
    allowed_hosts: tuple[str, ...] = ()
    #: extra origins (scheme://host[:port]) allowed to send mutating requests
    allowed_origins: tuple[str, ...] = ()


def allowed_hosts_for(bind_host: str, configured: tuple[str, ...]) -> tuple[str, ...]:
    """Bound to loopback: loopback names and the configured ones; elsewhere: the configured ones (or any)."""
    return (*LOOPBACK_NAMES, *configured) if is_loopback(bind_host) else configured


def _token_of(request: web.Request) -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise ApiError(401, "Authorization must be 'Bearer <token>'")
    return value.strip()


def authenticate(request: web.Request, config: SecurityConfig) -> str | None:
    """The caller's token id; None without a token; 403 for a token that matches none."""
    token = _token_of(request)
    if token is None:
        return None
    presented = token.encode()
    matched: str | None = None
    for candidate in config.tokens:  # no early exit: the time does not tell which one matched
        if hmac.compare_digest(presented, candidate.encode()):
            matched = candidate
    if matched is None:
        log.warning("rejected a wrong token for %s %s", request.method, request.path)
        raise ApiError(403, "Invalid token")
    return token_id(matched)


def authorize(request: web.Request, access: Access, config: SecurityConfig) -> str:
    """The actor for the audit log, or ApiError 401/403."""
    if access is Access.OPEN:
        return ANONYMOUS
    if access is Access.ADMIN and not config.admin_enabled:
        raise ApiError(403, "Admin API is disabled (MADARA_ORCHESTRATOR_ADMIN_ENABLED)")
    if access is Access.READ and not config.token_required_for_reads:
        return ANONYMOUS
    actor = authenticate(request, config)
    if actor is None:
        raise ApiError(401, "A bearer token is required (Authorization: Bearer <token>)")
    return actor


def _hostname(host_header: str) -> str:
    return (urlsplit("//" + host_header).hostname or "").lower()


def _same_origin(origin: str, request: web.Request, config: SecurityConfig) -> bool:
    if origin in config.allowed_origins:
        return True
    parts = urlsplit(origin)
    return parts.netloc.lower() == (request.host or "").lower()


async def _check_body(request: web.Request) -> None:
    if not request.body_exists:
        return
    content_type = request.content_type
    if content_type != "application/json":
        raise ApiError(415, f"A request body must be application/json, not {content_type!r}")
    try:
        body = await asyncio.wait_for(request.read(), BODY_READ_TIMEOUT)  # over client_max_size: aiohttp's 413
    except TimeoutError:
        raise ApiError(408, f"The request body did not arrive within {BODY_READ_TIMEOUT:g} s") from None
    if body.strip():
        try:
            json.loads(body)
        except (ValueError, RecursionError):
            raise ApiError(400, "The request body is not valid JSON") from None


def guard(config: SecurityConfig) -> Middleware:
    """Host, Origin and body checks that apply before any route runs."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if config.allowed_hosts and _hostname(request.host or "") not in config.allowed_hosts:
            raise ApiError(421, "This server does not answer to that Host name")
        if request.method not in SAFE_METHODS:
            origin = request.headers.get("Origin")
            if origin is not None and not _same_origin(origin, request, config):
                raise ApiError(403, f"Cross-origin request from {origin} refused")
            await _check_body(request)
        return await handler(request)

    return middleware
