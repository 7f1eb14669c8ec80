"""Transient or permanent: the port through which the engine asks what kind of failure it saw.

The engine (services) must not import client libraries, so the knowledge of which library error is
transient lives in `clients/` (`orchestrator.clients.failures.classify_failure`) and is injected; the
core only knows its own markers.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from typing import Protocol

from orchestrator.core.errors import TransientError


class FailureKind(StrEnum):
    TRANSIENT = "transient"
    PERMANENT = "permanent"


class FailureClassifier(Protocol):
    def __call__(self, exc: BaseException) -> FailureKind: ...


def causes(exc: BaseException, limit: int = 10) -> Iterator[BaseException]:
    """The exception and the ones it was explicitly raised from (`raise … from exc`).

    The implicit context is not followed: an error raised while handling a timeout is not a timeout.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < limit:
        seen.add(id(current))
        yield current
        current = current.__cause__


def classify_core(exc: BaseException) -> FailureKind:
    """The classification that needs no client library: core markers and the standard library's
    network and timeout errors are transient; everything else is permanent."""
    for item in causes(exc):
        if isinstance(item, TransientError | TimeoutError | ConnectionError):
            return FailureKind.TRANSIENT
    return FailureKind.PERMANENT
