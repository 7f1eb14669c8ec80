"""Shared HTTP helpers for clients: response classifier, retries with backoff, circuit breaker, counters."""

from orchestrator.clients.http.breaker import BreakerConfig, BreakerState, CircuitBreaker
from orchestrator.clients.http.classify import is_infrastructure_error, is_retryable_reply
from orchestrator.clients.http.errors import (
    CircuitOpenError,
    HttpApiError,
    HttpUnavailableError,
    InvalidResponseError,
)
from orchestrator.clients.http.guard import ServiceGuard, is_unavailable
from orchestrator.clients.http.metrics import ServiceMetrics
from orchestrator.clients.http.retry import NO_RETRY, RetryConfig, retry_with_backoff
from orchestrator.clients.http.service import FilePart, HttpReply, HttpService

__all__ = [
    "NO_RETRY",
    "BreakerConfig",
    "BreakerState",
    "CircuitBreaker",
    "CircuitOpenError",
    "FilePart",
    "HttpApiError",
    "HttpReply",
    "HttpService",
    "HttpUnavailableError",
    "InvalidResponseError",
    "RetryConfig",
    "ServiceGuard",
    "ServiceMetrics",
    "is_infrastructure_error",
    "is_retryable_reply",
    "is_unavailable",
    "retry_with_backoff",
]
