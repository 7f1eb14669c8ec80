"""The telemetry port: what services record, without knowing Prometheus or OpenTelemetry.

Metric names and label keys are the reference's (§11.4), so its Grafana rules work unchanged. The
trace id of the current HTTP request, job run or trigger run lives in a context variable, so log
lines and spans started below it carry it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from typing import Protocol

#: 32 lowercase hex characters, as the reference's `x-trace-id`
current_trace_id: ContextVar[str | None] = ContextVar("current_trace_id", default=None)


def new_trace_id() -> str:
    return uuid.uuid4().hex


@contextmanager
def trace_scope(trace_id: str | None = None) -> Iterator[str]:
    """Run the block under `trace_id` (a fresh one when None)."""
    value = trace_id or new_trace_id()
    token = current_trace_id.set(value)
    try:
        yield value
    finally:
        current_trace_id.reset(token)


class Telemetry(Protocol):
    def count(self, name: str, labels: Mapping[str, str], amount: float = 1.0) -> None:
        """Add to the counter `name` (a name from §11.4)."""

    def gauge(self, name: str, labels: Mapping[str, str], value: float) -> None:
        """Set the gauge `name`."""

    def observe(self, name: str, labels: Mapping[str, str], value: float) -> None:
        """Record one value of the histogram `name`."""

    def span(
        self, name: str, attributes: Mapping[str, str | int], trace_id: str | None = None
    ) -> AbstractContextManager[str]:
        """A trace span (`job_processing`, `worker_trigger`, `http_request`) under `trace_id` (fresh when
        None); the block runs with that id as `current_trace_id` and receives it."""


class NoTelemetry:
    """Records nothing; the default where no telemetry is configured."""

    def count(self, name: str, labels: Mapping[str, str], amount: float = 1.0) -> None:
        return None

    def gauge(self, name: str, labels: Mapping[str, str], value: float) -> None:
        return None

    def observe(self, name: str, labels: Mapping[str, str], value: float) -> None:
        return None

    @contextmanager
    def span(self, name: str, attributes: Mapping[str, str | int], trace_id: str | None = None) -> Iterator[str]:
        with trace_scope(trace_id) as value:
            yield value
