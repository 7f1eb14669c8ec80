"""An aiohttp client for one JSON/multipart HTTP API, with retries, a circuit breaker and counters."""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from orchestrator.clients.http.breaker import BreakerConfig
from orchestrator.clients.http.classify import is_retryable_reply
from orchestrator.clients.http.errors import HttpApiError, HttpUnavailableError, InvalidResponseError
from orchestrator.clients.http.guard import ServiceGuard
from orchestrator.clients.http.metrics import ServiceMetrics
from orchestrator.clients.http.retry import RetryConfig

logger = logging.getLogger("orchestrator.clients.http")


@dataclass(frozen=True)
class FilePart:
    """A file field of a multipart form."""

    data: bytes
    filename: str
    content_type: str = "application/octet-stream"


FormFields = Sequence[tuple[str, "str | FilePart"]]


@dataclass(frozen=True)
class HttpReply:
    service: str
    operation: str
    status: int
    body: bytes
    url: str

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError as error:
            raise InvalidResponseError(self.service, self.operation, f"body is not JSON ({error})") from None


def _form(fields: FormFields) -> aiohttp.FormData:
    # A FormData can be sent only once, so every attempt builds a fresh one.
    form = aiohttp.FormData(quote_fields=False)
    for name, value in fields:
        if isinstance(value, FilePart):
            form.add_field(name, value.data, filename=value.filename, content_type=value.content_type)
        else:
            form.add_field(name, value)
    return form


class HttpService:
    """Requests to one base URL. Network errors and infrastructure replies are retried with backoff and
    count against the circuit; API errors (e.g. a JSON 4xx) raise HttpApiError at once."""

    def __init__(
        self,
        service: str,
        base_url: str,
        *,
        default_params: Mapping[str, str] | None = None,
        default_headers: Mapping[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        retry: RetryConfig | None = None,
        breaker: BreakerConfig | None = None,
        request_timeout: float = 120.0,
        retry_all_5xx: bool = False,
        metrics: ServiceMetrics | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"{service}: base URL must start with http:// or https://, got {base_url!r}")
        self.service = service
        self.base_url = base_url.rstrip("/")
        self.default_params = dict(default_params or {})
        self.default_headers = dict(default_headers or {})
        self.retry_all_5xx = retry_all_5xx
        self.guard = ServiceGuard(service, retry=retry, breaker=breaker, metrics=metrics)
        self._ssl = ssl_context
        self._timeout = aiohttp.ClientTimeout(total=request_timeout)
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None

    @property
    def metrics(self) -> ServiceMetrics:
        return self.guard.metrics

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def _get_session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is not None and self._session_loop is not loop:
            # A session cannot outlive its event loop (e.g. two asyncio.run calls): start a new one.
            self._session = None
        if self._session is None or self._session.closed:
            self._session_loop = loop
            connector = aiohttp.TCPConnector(ssl=self._ssl if self._ssl is not None else True)
            self._session = aiohttp.ClientSession(timeout=self._timeout, connector=connector)
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def request(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        form: FormFields | None = None,
        pass_statuses: frozenset[int] = frozenset(),
        retry: RetryConfig | None = None,
    ) -> HttpReply:
        """Send a request and return a 2xx reply, or a reply whose status is in `pass_statuses` and that
        is not an infrastructure reply (e.g. an API's JSON 404 meaning "none")."""
        url = self.url(path)
        query = {**self.default_params, **(params or {})}
        all_headers = {**self.default_headers, **(headers or {})}

        async def attempt() -> HttpReply:
            session = self._get_session()
            data = _form(form) if form is not None else None
            try:
                async with session.request(
                    method, url, params=query, headers=all_headers, json=json_body, data=data
                ) as response:
                    body = await response.read()
                    status = response.status
            except (TimeoutError, aiohttp.ClientError, ssl.SSLError, OSError) as error:
                detail = f"{type(error).__name__}: {error}".rstrip(": ")
                raise HttpUnavailableError(self.service, operation, detail) from error
            reply = HttpReply(self.service, operation, status, body, url)
            if 200 <= status < 300:
                return reply
            text = reply.text
            if is_retryable_reply(status, text, retry_all_5xx=self.retry_all_5xx):
                raise HttpUnavailableError(self.service, operation, _short(text), status)
            if status in pass_statuses:
                return reply
            logger.debug("%s %s -> %s %s", self.service, operation, status, _short(text))
            raise HttpApiError(self.service, operation, status, text, url)

        return await self.guard.call(operation, attempt, retry=retry)


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"
