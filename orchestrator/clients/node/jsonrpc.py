"""A small JSON-RPC 2.0 client over aiohttp: single calls and batch arrays, one timeout per request.

Errors: a node that cannot be reached, times out, or answers HTTP 429/5xx raises
`ServiceUnavailableError` (retrying may help); a JSON-RPC error object raises `JsonRpcError`
carrying its code; anything that is not a JSON-RPC answer raises `L2NodeError`.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from orchestrator.clients.http import NO_RETRY, BreakerConfig, ServiceGuard, ServiceMetrics
from orchestrator.core.errors import ServiceUnavailableError
from orchestrator.core.madara.node import L2NodeError
from orchestrator.core.redact import redact_url, scrub

_UNAVAILABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class JsonRpcError(L2NodeError):
    """The node returned a JSON-RPC error object."""

    def __init__(self, method: str, code: int | None, message: str, data: Any = None) -> None:
        detail = f": {data}" if data not in (None, "", {}) else ""
        super().__init__(f"{method} failed: JSON-RPC error {code}: {message}{detail}", code=code)
        self.method = method
        self.rpc_message = message
        self.data = data


@dataclass(frozen=True)
class RpcCall:
    method: str
    params: list[Any] | dict[str, Any]


def _check_status(url: str, status: int, body: str) -> None:
    if status in _UNAVAILABLE_STATUSES:
        raise ServiceUnavailableError(f"{redact_url(url)} answered HTTP {status}: {body[:200]}")
    if status >= 400:
        raise L2NodeError(f"{redact_url(url)} answered HTTP {status}: {body[:200]}", code=status)


class JsonRpcClient:
    """Every request goes through a circuit breaker: a node that keeps failing is not hammered, calls
    fail fast until the cool-down lets a probe through. Retries stay with the callers (no retry here)."""

    def __init__(
        self,
        url: str,
        *,
        timeout_seconds: float,
        session: aiohttp.ClientSession | None = None,
        breaker: BreakerConfig | None = None,
        service_name: str = "l2-node",
    ) -> None:
        self.url = url
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session = session
        self._owns_session = session is None
        self._ids = itertools.count(1)
        self.guard = ServiceGuard(service_name, retry=NO_RETRY, breaker=breaker)

    @property
    def metrics(self) -> ServiceMetrics:
        return self.guard.metrics

    def _client(self) -> aiohttp.ClientSession:
        # Created lazily: a ClientSession must be made inside the running event loop.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
            self._owns_session = True
        return self._session

    async def close(self) -> None:
        if self._owns_session and self._session is not None and not self._session.closed:
            await self._session.close()

    async def get_json(self, url: str) -> Any:
        """GET a JSON document (the feeder gateway shares the session, timeout and circuit)."""
        return await self.guard.call("GET", lambda: self._get_json(url))

    async def _get_json(self, url: str) -> Any:
        try:
            async with self._client().get(url, timeout=self._timeout) as response:
                body = await response.text()
                _check_status(url, response.status, body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ServiceUnavailableError(f"{redact_url(url)}: {type(exc).__name__}: {scrub(str(exc), url)}") from exc
        return _parse_json(url, body)

    async def _post(self, payload: Any, what: str) -> Any:
        operation = what.rsplit(" ", 1)[-1] if what.startswith("batch of") else what
        return await self.guard.call(operation, lambda: self._post_once(payload, what))

    async def _post_once(self, payload: Any, what: str) -> Any:
        try:
            async with self._client().post(self.url, json=payload, timeout=self._timeout) as response:
                body = await response.text()
                _check_status(self.url, response.status, body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            detail = f"{type(exc).__name__}: {scrub(str(exc), self.url)}"
            kind = "timed out" if isinstance(exc, TimeoutError) else detail
            raise ServiceUnavailableError(f"{what} at {redact_url(self.url)}: {kind}") from exc
        return _parse_json(self.url, body)

    async def call(self, method: str, params: list[Any] | dict[str, Any] | None = None) -> Any:
        request_id = next(self._ids)
        payload = {"jsonrpc": "2.0", "method": method, "params": params or [], "id": request_id}
        answer = await self._post(payload, method)
        return _result(method, answer)

    async def batch(self, calls: Sequence[RpcCall]) -> list[Any | JsonRpcError]:
        """One HTTP request for all calls; per call, its result or its `JsonRpcError`, in order."""
        if not calls:
            return []
        ids = [next(self._ids) for _ in calls]
        payload = [
            {"jsonrpc": "2.0", "method": c.method, "params": c.params, "id": i} for c, i in zip(calls, ids, strict=True)
        ]
        what = f"batch of {len(calls)} {calls[0].method}"
        answer = await self._post(payload, what)
        if not isinstance(answer, list):
            if isinstance(answer, dict) and "error" in answer:
                _result(what, answer)  # raises the batch-level error
            raise L2NodeError(f"{what}: expected a JSON array, got {type(answer).__name__}")
        by_id = {item.get("id"): item for item in answer if isinstance(item, dict)}
        results: list[Any | JsonRpcError] = []
        for call, request_id in zip(calls, ids, strict=True):
            item = by_id.get(request_id)
            if item is None:
                raise L2NodeError(f"{what}: no answer for request id {request_id} ({call.method})")
            try:
                results.append(_result(call.method, item))
            except JsonRpcError as exc:
                results.append(exc)
        return results


def _parse_json(url: str, body: str) -> Any:
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise L2NodeError(f"{redact_url(url)} answered with invalid JSON: {body[:200]!r}") from exc


def _result(method: str, answer: Any) -> Any:
    if not isinstance(answer, dict):
        raise L2NodeError(f"{method}: not a JSON-RPC answer: {str(answer)[:200]}")
    error = answer.get("error")
    if error is not None:
        if isinstance(error, dict):
            code = error.get("code")
            raise JsonRpcError(
                method, code if isinstance(code, int) else None, str(error.get("message")), error.get("data")
            )
        raise JsonRpcError(method, None, str(error))
    if "result" not in answer:
        raise L2NodeError(f"{method}: the answer has neither result nor error")
    return answer["result"]
