"""Counters and circuit state of one external service, for logs now and a /metrics endpoint later."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ServiceMetrics:
    """Plain counters owned by one client instance; `snapshot()` gives a JSON-ready copy."""

    service: str
    calls: Counter[str] = field(default_factory=Counter)  # by operation
    successes: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)  # calls that ended in an error
    error_kinds: Counter[str] = field(default_factory=Counter)  # by error class name
    retries: Counter[str] = field(default_factory=Counter)  # extra attempts, by operation
    rejected: Counter[str] = field(default_factory=Counter)  # refused by the open circuit
    events: Counter[str] = field(default_factory=Counter)  # client-specific, e.g. idempotency hits
    breaker_state: str = "closed"
    breaker_opened_total: int = 0
    seconds_total: dict[str, float] = field(default_factory=dict)  # time spent per operation

    def observe_duration(self, operation: str, seconds: float) -> None:
        self.seconds_total[operation] = self.seconds_total.get(operation, 0.0) + seconds

    def snapshot(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "breaker_state": self.breaker_state,
            "breaker_opened_total": self.breaker_opened_total,
            "calls": dict(self.calls),
            "successes": dict(self.successes),
            "failures": dict(self.failures),
            "error_kinds": dict(self.error_kinds),
            "retries": dict(self.retries),
            "rejected": dict(self.rejected),
            "events": dict(self.events),
            "seconds_total": dict(self.seconds_total),
        }
