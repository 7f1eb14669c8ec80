"""In-memory fakes of the infrastructure protocols, for fast unit tests of the services.

They keep the semantics the services rely on (CAS on version, idempotent create, delays and
visibility) and nothing else; the real implementations are tested by the contract suites.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from orchestrator.core.clients.database import (
    JOB_TYPES_BY_BLOCK_NUMBER,
    JOB_TYPES_BY_BLOCK_RANGE,
    JOB_TYPES_BY_TO_SETTLE,
)
from orchestrator.core.clients.queue import VERSION_ATTRIBUTE, Delivery
from orchestrator.core.errors import EmptyUpdateError, JobAlreadyExistsError, ObjectNotFoundError, VersionConflictError
from orchestrator.core.models.job import JobItem, JobItemUpdates, JobStatus, JobType
from orchestrator.core.models.metadata import StateUpdateMetadata
from orchestrator.core.models.queue import DLQ_QUEUES, QueueType
from orchestrator.core.version import ORCHESTRATOR_VERSION


class FakeClock:
    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


class FakeDatabase:
    """An in-memory JobRepository. It passes the job contract suite (tests/integration/contracts) like the
    real stores; a write stamps `updated_at` from `clock`, so a test shares the engine's clock with it."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.jobs: dict[uuid.UUID, JobItem] = {}
        self.writes = 0

    def _now(self) -> datetime:
        # whole seconds, as the real stores keep job timestamps
        return datetime.fromtimestamp(int(self.clock()), UTC)

    def _select(
        self,
        job_type: JobType | None = None,
        statuses: Sequence[JobStatus] = (),
        orchestrator_version: str | None = None,
        where: Callable[[JobItem], bool] = lambda _: True,
    ) -> list[JobItem]:
        """Copies of the matching jobs, ascending internal_id (then type, for a stable order)."""
        return [
            job.model_copy(deep=True)
            for job in sorted(self.jobs.values(), key=lambda j: (j.internal_id, j.job_type.value))
            if (job_type is None or job.job_type is job_type)
            and (not statuses or job.status in statuses)
            and (orchestrator_version is None or job.metadata.common.orchestrator_version == orchestrator_version)
            and where(job)
        ]

    async def create_job(self, job: JobItem) -> JobItem:
        if await self.get_job_by_internal_id_and_type(job.internal_id, job.job_type) is not None:
            raise JobAlreadyExistsError(f"{job.job_type}/{job.internal_id}")
        self.jobs[job.id] = job.model_copy(deep=True)
        return job.model_copy(deep=True)

    async def get_job_by_id(self, job_id: uuid.UUID) -> JobItem | None:
        job = self.jobs.get(job_id)
        return job.model_copy(deep=True) if job else None

    async def get_job_by_internal_id_and_type(self, internal_id: int, job_type: JobType) -> JobItem | None:
        found = self._select(job_type, where=lambda j: j.internal_id == internal_id)
        return found[0] if found else None

    async def get_jobs_by_internal_ids_and_type(self, internal_ids: Sequence[int], job_type: JobType) -> list[JobItem]:
        wanted = set(internal_ids)
        return self._select(job_type, where=lambda j: j.internal_id in wanted)

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
        new.updated_at = self._now()
        self.jobs[job.id] = new
        self.writes += 1
        return new.model_copy(deep=True)

    async def get_latest_job_by_type(
        self, job_type: JobType, orchestrator_version: str | None = None
    ) -> JobItem | None:
        found = self._select(job_type, orchestrator_version=orchestrator_version)
        return found[-1] if found else None

    async def get_latest_job_by_type_and_status(self, job_type: JobType, status: JobStatus) -> JobItem | None:
        found = self._select(job_type, [status])
        return found[-1] if found else None

    async def get_oldest_job_by_type_excluding_statuses(
        self, job_type: JobType, statuses: Sequence[JobStatus], orchestrator_version: str | None = None
    ) -> JobItem | None:
        found = self._select(
            job_type, orchestrator_version=orchestrator_version, where=lambda j: j.status not in statuses
        )
        return found[0] if found else None

    async def get_jobs_without_successor(
        self,
        job_type: JobType,
        status: JobStatus,
        successor_type: JobType,
        orchestrator_version: str | None = None,
        min_internal_id: int = 0,
        limit: int | None = None,
    ) -> list[JobItem]:
        successors = {j.internal_id for j in self.jobs.values() if j.job_type is successor_type}
        found = self._select(
            job_type,
            [status],
            orchestrator_version,
            where=lambda j: j.internal_id >= min_internal_id and j.internal_id not in successors,
        )
        return found[:limit] if limit is not None else found

    async def get_jobs_after_internal_id_by_job_type(
        self, job_type: JobType, status: JobStatus, internal_id: int, orchestrator_version: str | None = None
    ) -> list[JobItem]:
        return self._select(job_type, [status], orchestrator_version, where=lambda j: j.internal_id > internal_id)

    async def get_jobs_by_types_and_statuses(
        self,
        job_types: Sequence[JobType],
        statuses: Sequence[JobStatus],
        limit: int | None = None,
        orchestrator_version: str | None = None,
    ) -> list[JobItem]:
        found = self._select(
            statuses=statuses,
            orchestrator_version=orchestrator_version,
            where=lambda j: not job_types or j.job_type in job_types,
        )
        return found[:limit] if limit else found

    async def get_jobs_between_internal_ids(
        self, job_type: JobType, status: JobStatus, gte: int, lte: int
    ) -> list[JobItem]:
        return self._select(job_type, [status], where=lambda j: gte <= j.internal_id <= lte)

    async def get_jobs_by_status(self, status: JobStatus, limit: int | None = None) -> list[JobItem]:
        return await self.get_jobs_by_types_and_statuses([], [status], limit)

    async def get_jobs_updated_before(
        self, statuses: Sequence[JobStatus], before: datetime, limit: int
    ) -> list[JobItem]:
        found = self._select(statuses=statuses, where=lambda j: j.updated_at < before)
        return sorted(found, key=lambda j: j.updated_at)[:limit]

    async def get_jobs_without_storage_artifacts_tagged(self, limit: int) -> list[JobItem]:
        def untagged(job: JobItem) -> bool:
            specific = job.metadata.specific
            return isinstance(specific, StateUpdateMetadata) and specific.storage_artifacts_tagged_at is None

        return self._select(JobType.STATE_TRANSITION, [JobStatus.COMPLETED], where=untagged)[:limit]

    async def get_jobs_by_block_number(self, block_number: int) -> list[JobItem]:
        def names_block(job: JobItem) -> bool:
            specific = job.metadata.specific
            if job.job_type in JOB_TYPES_BY_BLOCK_NUMBER:
                return getattr(specific, "block_number", None) == block_number
            if job.job_type in JOB_TYPES_BY_TO_SETTLE and isinstance(specific, StateUpdateMetadata):
                return specific.context.to_settle == block_number
            if job.job_type in JOB_TYPES_BY_BLOCK_RANGE:
                start, end = getattr(specific, "start_block", None), getattr(specific, "end_block", None)
                return start is not None and end is not None and start <= block_number <= end
            return False

        return sorted(self._select(where=names_block), key=lambda j: (j.job_type.value, j.internal_id))


@dataclass
class _Message:
    queue: QueueType
    body: str
    visible_at: float
    attributes: dict[str, str]
    receive_count: int = 0
    receipt: str = ""
    in_flight: bool = False
    message_id: str = field(default_factory=lambda: uuid.uuid4().hex)


class FakeQueueStore:
    """The messages of one in-memory queue service; the clients made on one store share them."""

    def __init__(self) -> None:
        self.messages: list[_Message] = []
        self.sent: list[tuple[QueueType, str, int]] = []
        self.receipts = itertools.count()


class FakeQueue:
    """SQS-like (the QueueClient contract suite runs on it): delays, visibility timeouts, receive counts,
    version attributes, long polling and, with `max_receive_count`, the redrive of DLQ_QUEUES messages to
    job_handle_failure. Delays and visibility run on the injected clock (the engine's in unit tests); a
    long poll waits in real time, as SQS's does."""

    POLL_SECONDS = 0.02

    def __init__(
        self,
        clock: Callable[[], float] | None = None,
        visibility_timeout: int = 360,
        *,
        visibility_timeouts: Mapping[QueueType, int] | None = None,
        orchestrator_version: str = ORCHESTRATOR_VERSION,
        max_receive_count: int | None = None,
        store: FakeQueueStore | None = None,
    ) -> None:
        self.clock = clock or FakeClock()
        self.visibility_timeout = visibility_timeout
        self.visibility_timeouts = dict(visibility_timeouts or {})
        self.version = orchestrator_version
        self.max_receive_count = max_receive_count
        self.store = store or FakeQueueStore()

    @property
    def messages(self) -> list[_Message]:
        return self.store.messages

    @property
    def sent(self) -> list[tuple[QueueType, str, int]]:
        return self.store.sent

    async def setup(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def health_check(self) -> None:
        return None

    async def send(self, queue: QueueType, body: str, delay_seconds: int = 0) -> None:
        self.sent.append((queue, body, delay_seconds))
        attributes = {VERSION_ATTRIBUTE: self.version}
        self.messages.append(_Message(queue, body, self.clock() + delay_seconds, attributes))

    def _ours(self, message: _Message) -> bool:
        return message.attributes.get(VERSION_ATTRIBUTE, self.version) == self.version

    def _take(self, queue: QueueType, visibility_timeout: int | None) -> Delivery | None:
        now = self.clock()
        for m in self.messages:
            if m.queue != queue or m.visible_at > now or not self._ours(m):
                continue
            limit = self.max_receive_count
            if limit is not None and queue in DLQ_QUEUES and m.receive_count >= limit:
                # SQS redrive: the receive that would exceed the limit moves the message instead.
                m.queue, m.receive_count, m.in_flight = QueueType.JOB_HANDLE_FAILURE, 0, False
                continue
            visibility = self.visibility_timeouts.get(queue, self.visibility_timeout)
            m.receive_count += 1
            m.visible_at = now + (visibility if visibility_timeout is None else visibility_timeout)
            m.receipt = f"r{next(self.store.receipts)}"
            m.in_flight = True
            return Delivery(queue, m.body, m.receipt, m.message_id, m.receive_count, dict(m.attributes))
        return None

    async def receive(
        self, queue: QueueType, wait_seconds: float = 0, visibility_timeout: int | None = None
    ) -> Delivery | None:
        deadline = time.monotonic() + wait_seconds
        while (delivery := self._take(queue, visibility_timeout)) is None:
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(min(self.POLL_SECONDS, max(0.0, deadline - time.monotonic())))
        return delivery

    def _current(self, delivery: Delivery) -> _Message | None:
        """The message this delivery still controls (a stale receipt controls nothing)."""
        return next((m for m in self.messages if m.receipt == delivery.receipt and m.in_flight), None)

    async def ack(self, delivery: Delivery) -> None:
        if (m := self._current(delivery)) is not None:
            self.messages.remove(m)

    async def nack(self, delivery: Delivery, delay_seconds: int = 0) -> None:
        if (m := self._current(delivery)) is not None:
            m.visible_at, m.in_flight = self.clock() + delay_seconds, False

    async def extend(self, delivery: Delivery, visibility_timeout: int) -> None:
        if (m := self._current(delivery)) is not None:
            m.visible_at = self.clock() + visibility_timeout

    def _in_flight(self, m: _Message) -> bool:
        return m.in_flight and m.visible_at > self.clock()

    async def approximate_count(self, queue: QueueType) -> int:
        """Visible and delayed messages, as SQS's ApproximateNumberOfMessages(+Delayed)."""
        return sum(1 for m in self.messages if m.queue == queue and not self._in_flight(m))

    async def in_flight_count(self, queue: QueueType) -> int:
        return sum(1 for m in self.messages if m.queue == queue and self._in_flight(m))

    def pending(self, queue: QueueType) -> list[_Message]:
        return [m for m in self.messages if m.queue == queue]


class FakeStorage:
    """An in-memory StorageClient (the storage contract suite runs on it); `fail_puts` makes puts raise."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.tags: dict[str, dict[str, str]] = {}
        self.fail_puts: Exception | None = None

    async def setup(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def health_check(self) -> None:
        return None

    async def put(self, key: str, data: bytes) -> None:
        if self.fail_puts is not None:
            raise self.fail_puts
        self.objects[key] = bytes(data)
        self.tags.pop(key, None)  # a new object has no tags, as on S3

    async def get(self, key: str) -> bytes:
        try:
            return self.objects[key]
        except KeyError:
            raise ObjectNotFoundError(key) from None

    async def exists(self, key: str) -> bool:
        return key in self.objects

    async def delete(self, key: str) -> None:
        self.objects.pop(key, None)
        self.tags.pop(key, None)

    async def list(self, prefix: str = "") -> list[str]:
        return sorted(key for key in self.objects if key.startswith(prefix))

    async def tag(self, key: str, tags: dict[str, str]) -> None:
        await self.get(key)
        self.tags[key] = dict(tags)

    async def get_tags(self, key: str) -> dict[str, str]:
        await self.get(key)
        return dict(self.tags.get(key, {}))


class FakeAlerts:
    def __init__(self) -> None:
        self.messages: list[str] = []

    async def send_message(self, message: str) -> None:
        self.messages.append(message)

    async def health_check(self) -> None:
        return None
