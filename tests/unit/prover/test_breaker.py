import logging

import pytest

from orchestrator.clients.http import (
    BreakerConfig,
    BreakerState,
    CircuitBreaker,
    CircuitOpenError,
    HttpUnavailableError,
    RetryConfig,
    ServiceGuard,
)
from orchestrator.core.errors import ServiceUnavailableError


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make(threshold: int = 3, reset: float = 10.0) -> tuple[CircuitBreaker, Clock]:
    clock = Clock()
    return CircuitBreaker("svc", BreakerConfig(threshold, reset), clock=clock), clock


def test_opens_after_consecutive_failures_and_refuses_calls() -> None:
    breaker, _ = make(threshold=3)
    for _ in range(2):
        breaker.before_call()
        breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
    breaker.before_call()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert breaker.metrics.breaker_state == "open"
    assert breaker.metrics.breaker_opened_total == 1
    with pytest.raises(CircuitOpenError, match="svc is considered down") as caught:
        breaker.before_call()
    assert isinstance(caught.value, ServiceUnavailableError)
    assert caught.value.retry_in == pytest.approx(10.0)


def test_a_success_resets_the_failure_count() -> None:
    breaker, _ = make(threshold=2)
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED


def test_half_open_lets_one_probe_through_and_success_closes() -> None:
    breaker, clock = make(threshold=1, reset=10)
    breaker.record_failure()
    clock.now += 9.9
    with pytest.raises(CircuitOpenError):
        breaker.before_call()
    clock.now += 0.2
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.before_call()  # the probe
    with pytest.raises(CircuitOpenError):
        breaker.before_call()  # a second caller while the probe is out
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.metrics.breaker_state == "closed"
    breaker.before_call()


def test_failed_probe_opens_again_for_a_full_cool_down() -> None:
    breaker, clock = make(threshold=1, reset=10)
    breaker.record_failure()
    clock.now += 10
    breaker.before_call()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert breaker.metrics.breaker_opened_total == 2
    clock.now += 5
    with pytest.raises(CircuitOpenError):
        breaker.before_call()


def test_abandoned_probe_frees_the_slot() -> None:
    breaker, _ = make(threshold=1, reset=0)
    breaker.record_failure()
    breaker.before_call()
    breaker.record_abandoned()
    breaker.before_call()


def test_state_changes_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    breaker, clock = make(threshold=1, reset=1)
    with caplog.at_level(logging.INFO, logger="orchestrator.clients.http.breaker"):
        breaker.record_failure()
        clock.now += 1
        breaker.before_call()
        breaker.record_success()
    messages = [r.getMessage() for r in caplog.records]
    assert any("svc closed -> open" in m for m in messages)
    assert any("open -> half_open" in m for m in messages)
    assert any("half_open -> closed" in m for m in messages)


async def test_guard_counts_calls_retries_and_rejections() -> None:
    clock = Clock()
    guard = ServiceGuard("svc", retry=RetryConfig(base_delay=0, timeout=0), breaker=BreakerConfig(2, 30), clock=clock)

    async def down() -> None:
        raise HttpUnavailableError("svc", "op", "connection refused")

    async def up() -> str:
        return "fine"

    for _ in range(2):
        with pytest.raises(HttpUnavailableError):
            await guard.call("op", down)
    with pytest.raises(CircuitOpenError):
        await guard.call("op", up)
    clock.now += 30
    assert await guard.call("op", up) == "fine"
    snapshot = guard.metrics.snapshot()
    assert snapshot["calls"] == {"op": 4}
    assert snapshot["failures"] == {"op": 3}
    assert snapshot["rejected"] == {"op": 1}
    assert snapshot["successes"] == {"op": 1}
    assert snapshot["breaker_state"] == "closed"
    assert snapshot["breaker_opened_total"] == 1


async def test_api_errors_do_not_open_the_circuit() -> None:
    guard = ServiceGuard("svc", retry=RetryConfig(0, 0), breaker=BreakerConfig(1, 30))

    async def rejected() -> None:
        raise ValueError("bad request")

    for _ in range(3):
        with pytest.raises(ValueError, match="bad request"):
            await guard.call("op", rejected)
    assert guard.breaker.state is BreakerState.CLOSED


async def test_circuit_opening_during_retries_reports_the_real_error() -> None:
    guard = ServiceGuard("svc", retry=RetryConfig(0, 10), breaker=BreakerConfig(3, 30))
    attempts = {"n": 0}

    async def down() -> None:
        attempts["n"] += 1
        raise HttpUnavailableError("svc", "op", "connection refused")

    with pytest.raises(HttpUnavailableError, match="connection refused"):
        await guard.call("op", down)
    assert attempts["n"] == 3  # the circuit stopped the retries
    assert guard.breaker.state is BreakerState.OPEN
    assert guard.metrics.rejected["op"] == 0
