"""A circuit breaker per external service, so a dead prover or RPC is not hammered.

closed --N consecutive failures--> open --cool-down--> half-open --probe ok--> closed
                                     ^                     |
                                     +----probe fails------+
While open every call is refused at once; half-open lets a single probe through.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from orchestrator.clients.http.errors import CircuitOpenError
from orchestrator.clients.http.metrics import ServiceMetrics

logger = logging.getLogger("orchestrator.clients.http.breaker")


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerConfig:
    failure_threshold: int = 5  # consecutive failures that open the circuit
    reset_timeout: float = 30.0  # seconds the circuit stays open before a probe

    def __post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if self.reset_timeout < 0:
            raise ValueError("reset_timeout must not be negative")


class CircuitBreaker:
    """Single-event-loop breaker: no locks needed, state changes happen between awaits."""

    def __init__(
        self,
        service: str,
        config: BreakerConfig | None = None,
        *,
        metrics: ServiceMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service = service
        self.config = config or BreakerConfig()
        self.metrics = metrics or ServiceMetrics(service)
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._consecutive_failures = 0
        self._opened_at = 0.0
        self._probe_in_flight = False

    @property
    def state(self) -> BreakerState:
        # Report half-open as soon as the cool-down is over, even before a call arrives.
        if self._state is BreakerState.OPEN and self._cooldown_left() <= 0:
            return BreakerState.HALF_OPEN
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._consecutive_failures

    def _cooldown_left(self) -> float:
        return self._opened_at + self.config.reset_timeout - self._clock()

    def _move(self, new: BreakerState, reason: str) -> None:
        if new is self._state:
            return
        old, self._state = self._state, new
        self.metrics.breaker_state = new.value
        if new is BreakerState.OPEN:
            self.metrics.breaker_opened_total += 1
            logger.warning(
                "circuit of %s %s -> %s (%s); refusing calls for %.1f s",
                self.service, old.value, new.value, reason, self.config.reset_timeout,
            )  # fmt: skip
        else:
            logger.info("circuit of %s %s -> %s (%s)", self.service, old.value, new.value, reason)

    def before_call(self) -> None:
        """Raise CircuitOpenError if the call must not go out; otherwise let it through."""
        if self._state is BreakerState.OPEN:
            left = self._cooldown_left()
            if left > 0:
                raise CircuitOpenError(self.service, left)
            self._move(BreakerState.HALF_OPEN, "cool-down over")
        if self._state is BreakerState.HALF_OPEN:
            if self._probe_in_flight:
                raise CircuitOpenError(self.service, 0.0)
            self._probe_in_flight = True

    def record_success(self) -> None:
        self._probe_in_flight = False
        self._consecutive_failures = 0
        if self._state is not BreakerState.CLOSED:
            self._move(BreakerState.CLOSED, "probe succeeded")

    def record_failure(self) -> None:
        self._probe_in_flight = False
        self._consecutive_failures += 1
        if self._state is BreakerState.HALF_OPEN:
            self._opened_at = self._clock()
            self._move(BreakerState.OPEN, "probe failed")
        elif self._state is BreakerState.CLOSED and self._consecutive_failures >= self.config.failure_threshold:
            self._opened_at = self._clock()
            self._move(BreakerState.OPEN, f"{self._consecutive_failures} consecutive failures")

    def record_abandoned(self) -> None:
        """The call was cancelled before an outcome: free the probe slot without a verdict."""
        self._probe_in_flight = False
