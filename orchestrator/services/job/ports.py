"""What the engine's helper modules (verification, retry, sweep) use of the engine.

A protocol rather than an import of JobEngine, so that those modules and engine.py do not import
each other.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol, TypeVar

from orchestrator.core.clients.alerts import AlertClient
from orchestrator.core.clients.database import DatabaseClient
from orchestrator.core.failure import FailureClassifier
from orchestrator.core.models.job import JobItem, JobLease, JobStatus, JobType
from orchestrator.core.models.metadata import JobMetadata
from orchestrator.services.job.handler import JobHandler
from orchestrator.services.job.lease import Leases
from orchestrator.services.job.params import EngineParams

T = TypeVar("T")


class Engine(Protocol):
    db: DatabaseClient
    alerts: AlertClient
    handlers: Mapping[JobType, JobHandler]
    params: EngineParams
    clock: Callable[[], float]
    classify: FailureClassifier
    leases: Leases
    on_completed: Callable[[JobItem], Awaitable[None]] | None

    def handler(self, job_type: JobType) -> JobHandler: ...

    def now(self) -> int: ...

    async def load(self, job_id: uuid.UUID) -> JobItem: ...

    async def write(
        self,
        job: JobItem,
        status: JobStatus | None = None,
        metadata: JobMetadata | None = None,
        external_id: str | int | None = None,
        lease: JobLease | None = None,
    ) -> JobItem: ...

    async def run_timed(self, work: Awaitable[T], timeout: float) -> T: ...

    async def enqueue_process(self, job: JobItem, delay_seconds: int = 0) -> None: ...

    async def enqueue_verify(self, job: JobItem, delay_seconds: int | None = None) -> None: ...

    async def release(
        self, job: JobItem, status: JobStatus, reason: str, transient_since: int | None = None
    ) -> None: ...

    async def move_job_to_failed(self, job: JobItem, reason: str) -> JobItem: ...

    async def lost(self, job: JobItem, exc: BaseException) -> None: ...
