"""One external service's protection: retries, circuit breaker and counters around any async call."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TypeVar

from orchestrator.clients.http.breaker import BreakerConfig, CircuitBreaker
from orchestrator.clients.http.errors import CircuitOpenError
from orchestrator.clients.http.metrics import ServiceMetrics
from orchestrator.clients.http.retry import RetryConfig, retry_with_backoff
from orchestrator.core.errors import ServiceUnavailableError

T = TypeVar("T")


class _StopRetrying(Exception):
    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def is_unavailable(error: Exception) -> bool:
    """Default rule: retry (and count against the circuit) what says the service is unavailable."""
    return isinstance(error, ServiceUnavailableError) and not isinstance(error, CircuitOpenError)


class ServiceGuard:
    """Wraps calls to one service. Only errors that `is_failure` accepts count against the circuit:
    an API error means the service is up and answering, so it does not open the circuit."""

    def __init__(
        self,
        service: str,
        *,
        retry: RetryConfig | None = None,
        breaker: BreakerConfig | None = None,
        metrics: ServiceMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service = service
        self.retry = retry or RetryConfig()
        self.metrics = metrics or ServiceMetrics(service)
        self.breaker = CircuitBreaker(service, breaker, metrics=self.metrics, clock=clock)

    async def _attempt(
        self, fn: Callable[[], Awaitable[T]], is_failure: Callable[[Exception], bool], failures: list[Exception]
    ) -> T:
        """One try through the breaker; a counted failure is appended to `failures`."""
        try:
            self.breaker.before_call()
        except CircuitOpenError:
            if failures:
                # The circuit opened during this call's retries: stop, and report the real error.
                raise _StopRetrying(failures[-1]) from None
            raise
        try:
            value = await fn()
        except asyncio.CancelledError:
            self.breaker.record_abandoned()
            raise
        except Exception as error:
            if is_failure(error):
                self.breaker.record_failure()
                failures.append(error)
            else:
                self.breaker.record_success()
            raise
        self.breaker.record_success()
        return value

    async def call(
        self,
        operation: str,
        fn: Callable[[], Awaitable[T]],
        *,
        is_failure: Callable[[Exception], bool] = is_unavailable,
        retry: RetryConfig | None = None,
    ) -> T:
        metrics = self.metrics
        metrics.calls[operation] += 1
        started = time.monotonic()

        failures: list[Exception] = []
        attempt = partial(self._attempt, fn, is_failure, failures)

        def count_retry(_attempt: int, _error: Exception, _delay: float) -> None:
            metrics.retries[operation] += 1

        try:
            value = await retry_with_backoff(
                f"{self.service} {operation}",
                attempt,
                config=retry or self.retry,
                is_retryable=lambda error: (
                    not isinstance(error, (CircuitOpenError, _StopRetrying)) and is_failure(error)
                ),
                on_retry=count_retry,
            )
        except _StopRetrying as stop:
            metrics.failures[operation] += 1
            metrics.error_kinds[type(stop.error).__name__] += 1
            raise stop.error from stop.error.__cause__  # keeps its own cause (the network error)
        except CircuitOpenError:
            metrics.rejected[operation] += 1
            metrics.failures[operation] += 1
            metrics.error_kinds["CircuitOpenError"] += 1
            raise
        except Exception as error:
            metrics.failures[operation] += 1
            metrics.error_kinds[type(error).__name__] += 1
            raise
        finally:
            metrics.observe_duration(operation, time.monotonic() - started)
        metrics.successes[operation] += 1
        return value
