"""Errors raised by the shared HTTP helpers, as subclasses of the core errors callers already handle."""

from __future__ import annotations

from orchestrator.core.errors import OrchestratorError, ServiceUnavailableError


class HttpUnavailableError(ServiceUnavailableError):
    """A network error or an infrastructure reply (5xx, gateway page): worth retrying later."""

    def __init__(self, service: str, operation: str, detail: str, status: int | None = None) -> None:
        self.service = service
        self.operation = operation
        self.status = status
        where = f"status {status}" if status is not None else "no response"
        super().__init__(f"{service} {operation} failed ({where}): {detail}")


class HttpApiError(OrchestratorError):
    """The service answered with an API error (e.g. a JSON 4xx): retrying the same request will not help."""

    def __init__(self, service: str, operation: str, status: int, body: str, url: str = "") -> None:
        self.service = service
        self.operation = operation
        self.status = status
        self.body = body
        self.url = url
        super().__init__(f"{service} {operation} was rejected with status {status}: {_clip(body)}")


class InvalidResponseError(OrchestratorError):
    """A successful reply whose body is not what the API documents (bad JSON, missing field)."""

    def __init__(self, service: str, operation: str, detail: str) -> None:
        self.service = service
        self.operation = operation
        super().__init__(f"{service} {operation} returned an unexpected reply: {detail}")


class CircuitOpenError(ServiceUnavailableError):
    """The circuit breaker of a service is open: the call was refused without contacting it."""

    def __init__(self, service: str, retry_in: float) -> None:
        self.service = service
        self.retry_in = retry_in
        super().__init__(
            f"{service} is considered down after repeated failures; calls are refused for another {retry_in:.1f} s"
        )


def _clip(text: str, limit: int = 300) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + "…"
