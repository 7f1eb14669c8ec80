"""In-memory fakes of the infrastructure protocols, for fast unit tests of the services.

They keep the semantics the services rely on (CAS on version, idempotent create, delays and
visibility) and nothing else; the real implementations are tested by the contract suites.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from orchestrator.core.clients.queue import Delivery
from orchestrator.core.errors import EmptyUpdateError, JobAlreadyExistsError, VersionConflictError
from orchestrator.core.models.job import JobItem, JobItemUpdates, JobStatus, JobType, utc_now
from orchestrator.core.models.queue import QueueType


class FakeClock:
    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


class FakeDatabase:
    def __init__(self) -> None:
        self.jobs: dict[uuid.UUID, JobItem] = {}
        self.writes = 0

    async def create_job(self, job: JobItem) -> JobItem:
        for other in self.jobs.values():
            if other.job_type == job.job_type and other.internal_id == job.internal_id:
                raise JobAlreadyExistsError(f"{job.job_type}/{job.internal_id}")
        self.jobs[job.id] = job.model_copy(deep=True)
        return job.model_copy(deep=True)

    async def get_job_by_id(self, job_id: uuid.UUID) -> JobItem | None:
        job = self.jobs.get(job_id)
        return job.model_copy(deep=True) if job else None

    async def get_job_by_internal_id_and_type(self, internal_id: int, job_type: JobType) -> JobItem | None:
        for job in self.jobs.values():
            if job.job_type == job_type and job.internal_id == internal_id:
                return job.model_copy(deep=True)
        return None

    async def update_job(self, job: JobItem, updates: JobItemUpdates) -> JobItem:
        if updates.is_empty():
            raise EmptyUpdateError("no fields to update")
        stored = self.jobs.get(job.id)
        if stored is None or stored.version != job.version:
            raise VersionConflictError(f"job {job.id} version {job.version} is outdated")
        new = stored.model_copy(deep=True)
        if updates.status is not None:
            new.status = updates.status
        if updates.metadata is not None:
            new.metadata = updates.metadata.model_copy(deep=True)
        if updates.external_id is not None:
            new.external_id = updates.external_id
        new.lease = updates.lease_after(stored.lease)
        new.version += 1
        new.updated_at = utc_now()
        self.jobs[job.id] = new
        self.writes += 1
        return new.model_copy(deep=True)

    async def get_jobs_by_types_and_statuses(
        self,
        job_types: Sequence[JobType],
        statuses: Sequence[JobStatus],
        limit: int | None = None,
        orchestrator_version: str | None = None,
    ) -> list[JobItem]:
        found = [
            j.model_copy(deep=True)
            for j in sorted(self.jobs.values(), key=lambda j: j.internal_id)
            if (not job_types or j.job_type in job_types)
            and (not statuses or j.status in statuses)
            and (orchestrator_version is None or j.metadata.common.orchestrator_version == orchestrator_version)
        ]
        return found[:limit] if limit else found

    async def get_jobs_by_status(self, status: JobStatus, limit: int | None = None) -> list[JobItem]:
        return await self.get_jobs_by_types_and_statuses([], [status], limit)

    async def get_jobs_updated_before(
        self, statuses: Sequence[JobStatus], before: datetime, limit: int
    ) -> list[JobItem]:
        found = [j for j in self.jobs.values() if j.status in statuses and j.updated_at < before]
        return [j.model_copy(deep=True) for j in found[:limit]]


@dataclass
class _Message:
    queue: QueueType
    body: str
    visible_at: float
    receive_count: int = 0
    receipt: str = ""
    message_id: str = field(default_factory=lambda: uuid.uuid4().hex)


class FakeQueue:
    """SQS-like: delays, visibility timeout, receive counts; time comes from the injected clock."""

    def __init__(self, clock: FakeClock | None = None, visibility_timeout: int = 360) -> None:
        self.clock = clock or FakeClock()
        self.visibility_timeout = visibility_timeout
        self.messages: list[_Message] = []
        self.sent: list[tuple[QueueType, str, int]] = []
        self._receipts = itertools.count()

    async def send(self, queue: QueueType, body: str, delay_seconds: int = 0) -> None:
        self.sent.append((queue, body, delay_seconds))
        self.messages.append(_Message(queue, body, self.clock() + delay_seconds))

    async def receive(
        self, queue: QueueType, wait_seconds: float = 0, visibility_timeout: int | None = None
    ) -> Delivery | None:
        now = self.clock()
        for m in self.messages:
            if m.queue == queue and m.visible_at <= now:
                m.receive_count += 1
                m.visible_at = now + (visibility_timeout or self.visibility_timeout)
                m.receipt = f"r{next(self._receipts)}"
                return Delivery(queue, m.body, m.receipt, m.message_id, m.receive_count)
        return None

    async def ack(self, delivery: Delivery) -> None:
        self.messages = [m for m in self.messages if m.receipt != delivery.receipt]

    async def nack(self, delivery: Delivery, delay_seconds: int = 0) -> None:
        for m in self.messages:
            if m.receipt == delivery.receipt:
                m.visible_at = self.clock() + delay_seconds

    async def extend(self, delivery: Delivery, visibility_timeout: int) -> None:
        await self.nack(delivery, visibility_timeout)

    async def approximate_count(self, queue: QueueType) -> int:
        return sum(1 for m in self.messages if m.queue == queue and m.visible_at <= self.clock())

    def pending(self, queue: QueueType) -> list[_Message]:
        return [m for m in self.messages if m.queue == queue]


class FakeAlerts:
    def __init__(self) -> None:
        self.messages: list[str] = []

    async def send_message(self, message: str) -> None:
        self.messages.append(message)

    async def health_check(self) -> None:
        return None
