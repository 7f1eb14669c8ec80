"""The job state machine: create, process, verify, fail, retry, heal.

Statuses, transitions, attempts and delays follow the reference (§3 of the reference notes). Every write
is a compare-and-swap on the job's `version`, so any number of processes may run this code against the
same database and queue. Queue messages carry only the job id; the job's status decides what a message
may still do, which makes duplicate and late messages harmless.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from orchestrator.core.clients.alerts import AlertClient
from orchestrator.core.clients.database import DatabaseClient
from orchestrator.core.clients.queue import QueueClient
from orchestrator.core.errors import (
    InvalidJobStatusError,
    JobAlreadyExistsError,
    JobNotFoundError,
    VersionConflictError,
)
from orchestrator.core.models.job import (
    HALTING_STATUSES,
    JobItem,
    JobItemUpdates,
    JobStatus,
    JobType,
    JobVerificationStatus,
)
from orchestrator.core.models.metadata import JobMetadata, JobSpecificMetadata
from orchestrator.core.models.queue import (
    QueueType,
    encode_job_message,
    process_queue,
    verify_queue,
)
from orchestrator.services.job.handler import FatalJobError, JobHandler

log = logging.getLogger("orchestrator.job")

PROCESSABLE = frozenset({JobStatus.CREATED, JobStatus.VERIFICATION_FAILED, JobStatus.PENDING_RETRY})
VERIFIABLE = frozenset({JobStatus.PENDING_VERIFICATION, JobStatus.VERIFICATION_TIMEOUT, JobStatus.VERIFICATION_FAILED})
#: Delay before asking again when a handler's readiness check reports a dependency that is down.
READINESS_REQUEUE_SECONDS = 60


class RetryLater(Exception):
    """Give the message back to its queue; it is redelivered after `delay_seconds`."""

    def __init__(self, reason: str, delay_seconds: int) -> None:
        super().__init__(reason)
        self.delay_seconds = delay_seconds


@dataclass(frozen=True)
class EngineParams:
    orchestrator_version: str
    #: per job type: a LockedForProcessing job older than this is stale and healed
    stale_lock_seconds: Mapping[JobType, int] = field(default_factory=dict)
    default_stale_lock_seconds: int = 300
    #: delay before a failed process attempt is retried (the reference waits the visibility timeout)
    retry_delay_seconds: int = 10
    #: how long a message may stay invisible; the lost-message sweep waits at least this long
    visibility_timeout_seconds: int = 360

    def stale_after(self, job_type: JobType) -> int:
        return self.stale_lock_seconds.get(job_type, self.default_stale_lock_seconds)


CompletionHook = Callable[[JobItem], Awaitable[None]]


class JobEngine:
    def __init__(
        self,
        database: DatabaseClient,
        queue: QueueClient,
        alerts: AlertClient,
        handlers: Mapping[JobType, JobHandler],
        params: EngineParams,
        on_completed: CompletionHook | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = database
        self.queue = queue
        self.alerts = alerts
        self.handlers = handlers
        self.params = params
        self.on_completed = on_completed
        self.clock = clock

    # ------------------------------------------------------------------------------------------
    # helpers
    def handler(self, job_type: JobType) -> JobHandler:
        try:
            return self.handlers[job_type]
        except KeyError:
            raise FatalJobError(f"no handler is configured for job type {job_type}") from None

    def now(self) -> int:
        return int(self.clock())

    async def load(self, job_id: uuid.UUID) -> JobItem:
        job = await self.db.get_job_by_id(job_id)
        if job is None:
            raise JobNotFoundError(f"job {job_id} not found")
        return job

    async def write(
        self,
        job: JobItem,
        status: JobStatus | None = None,
        metadata: JobMetadata | None = None,
        external_id: str | int | None = None,
    ) -> JobItem:
        return await self.db.update_job(job, JobItemUpdates(status=status, metadata=metadata, external_id=external_id))

    async def checkpoint(self, job: JobItem) -> None:
        """Persist a running job's metadata now (e.g. a sent transaction, before waiting for it).

        Updates `job` in place with the new version, so the engine's next write still applies.
        """
        stored = await self.write(job, metadata=job.metadata)
        job.version = stored.version
        job.updated_at = stored.updated_at

    async def enqueue_process(self, job: JobItem, delay_seconds: int = 0) -> None:
        await self.queue.send(process_queue(job.job_type), encode_job_message(job.id), delay_seconds)

    async def enqueue_verify(self, job: JobItem, delay_seconds: int | None = None) -> None:
        if delay_seconds is None:
            delay_seconds = self.handler(job.job_type).verification_polling_delay_seconds
        await self.queue.send(verify_queue(job.job_type), encode_job_message(job.id), delay_seconds)

    # ------------------------------------------------------------------------------------------
    # create
    async def create_job(self, job_type: JobType, internal_id: int, specific: JobSpecificMetadata) -> JobItem | None:
        """Create and enqueue a job; None (not an error) when it exists already."""
        if await self.db.get_job_by_internal_id_and_type(internal_id, job_type) is not None:
            log.debug("job %s/%s exists already", job_type, internal_id)
            return None
        metadata = JobMetadata(specific=specific)
        metadata.common.orchestrator_version = self.params.orchestrator_version
        job = JobItem(internal_id=internal_id, job_type=job_type, metadata=metadata)
        try:
            job = await self.db.create_job(job)
        except JobAlreadyExistsError:
            log.debug("job %s/%s was created concurrently", job_type, internal_id)
            return None
        await self.enqueue_process(job)
        log.info("created job %s %s/%s", job.id, job_type, internal_id)
        return job

    # ------------------------------------------------------------------------------------------
    # process
    async def process_job(self, job_id: uuid.UUID) -> None:
        """Run the job's handler once. Returns normally when the message is done with (ack);
        raises RetryLater when it should be redelivered."""
        job = await self.load(job_id)
        if job.status is JobStatus.LOCKED_FOR_PROCESSING:
            started = job.metadata.common.process_started_at
            if started is not None and self.now() - started < self.params.stale_after(job.job_type):
                log.info("job %s is being processed elsewhere; dropping duplicate message", job.id)
                return
            job = await self.heal(job)
        elif job.status in (JobStatus.PENDING_VERIFICATION, JobStatus.COMPLETED):
            log.info("job %s is %s already; nothing to process", job.id, job.status)
            return
        elif job.status not in PROCESSABLE:
            log.warning("job %s is %s; a process message cannot act on it", job.id, job.status)
            return

        handler = self.handler(job.job_type)
        delay = await handler.check_ready_to_process(job)
        if delay is not None:
            log.info("job %s not ready; asking again in %ss", job.id, delay)
            # The write refreshes updated_at, so the lost-message sweep knows a message is alive.
            job = await self.write(job, metadata=job.metadata)
            await self.enqueue_process(job, delay)
            return

        original_status = job.status
        meta = job.metadata.model_copy(deep=True)
        meta.common.process_started_at = self.now()
        meta.common.process_completed_at = None
        try:
            job = await self.write(job, JobStatus.LOCKED_FOR_PROCESSING, meta)
        except VersionConflictError:
            log.info("job %s was claimed by another worker", job_id)
            return
        job.metadata.common.process_attempt_no += 1

        try:
            external_id = await handler.process_job(job)
        except asyncio.CancelledError:
            # Shutdown: hand the job back so that its redelivered message can run it again.
            await asyncio.shield(self._release(job, original_status, "processing interrupted by shutdown"))
            raise
        except FatalJobError as exc:
            await self.move_job_to_failed(job, f"processing failed: {exc}")
            return
        except Exception as exc:
            log.warning("job %s processing failed, will retry: %s", job.id, exc)
            await self._release(job, original_status, f"processing failed: {exc}")
            raise RetryLater(str(exc), self.params.retry_delay_seconds) from exc

        meta = job.metadata
        meta.common.process_completed_at = self.now()
        job = await self.write(job, JobStatus.PENDING_VERIFICATION, meta, external_id=str(external_id))
        await self.enqueue_verify(job)
        log.info("job %s processed (external id %s)", job.id, external_id)

    async def heal(self, job: JobItem) -> JobItem:
        """A stale LockedForProcessing job (its worker died) goes back to Created."""
        log.warning("healing stale job %s %s/%s", job.id, job.job_type, job.internal_id)
        meta = job.metadata.model_copy(deep=True)
        meta.common.process_started_at = None
        return await self.write(job, JobStatus.CREATED, meta)

    async def _release(self, job: JobItem, status: JobStatus, reason: str) -> None:
        """Undo the claim after a failed attempt, keeping the attempt count and the reason."""
        meta = job.metadata.model_copy(deep=True)
        meta.common.process_retry_attempt_no += 1
        meta.common.process_started_at = None
        meta.common.process_completed_at = None
        meta.common.record_failure(reason)
        try:
            await self.write(job, status, meta)
        except VersionConflictError:
            log.warning("job %s changed while it was processed; leaving it as it is", job.id)

    # ------------------------------------------------------------------------------------------
    # verify
    async def verify_job(self, job_id: uuid.UUID) -> None:
        job = await self.load(job_id)
        if job.status is JobStatus.COMPLETED:
            return
        if job.status not in VERIFIABLE:
            log.warning("job %s is %s; a verify message cannot act on it", job.id, job.status)
            return
        handler = self.handler(job.job_type)
        last = job.metadata.common.verification_started_at
        if (
            job.status is JobStatus.PENDING_VERIFICATION
            and last is not None
            and self.now() - last < handler.verification_polling_delay_seconds / 2
        ):
            # Another verification flow is alive for this job: keep one message per job.
            log.info("job %s verified %ss ago; dropping duplicate message", job.id, self.now() - last)
            return
        meta = job.metadata.model_copy(deep=True)
        meta.common.verification_started_at = self.now()
        meta.common.verification_attempt_no += 1
        job = await self.write(job, metadata=meta)

        result = await handler.verify_job(job)
        meta = job.metadata
        if result.status is JobVerificationStatus.VERIFIED:
            meta.common.verification_completed_at = self.now()
            job = await self.write(job, JobStatus.COMPLETED, meta)
            log.info("job %s %s/%s completed", job.id, job.job_type, job.internal_id)
            if self.on_completed is not None:
                await self.on_completed(job)
        elif result.status is JobVerificationStatus.REJECTED:
            reason = result.reason or "verification rejected"
            meta.common.record_failure(reason)
            if meta.common.process_attempt_no < handler.max_process_attempts:
                job = await self.write(job, JobStatus.VERIFICATION_FAILED, meta)
                await self.enqueue_process(job)
                log.warning("job %s rejected (%s); processing again", job.id, reason)
            else:
                await self.move_job_to_failed(
                    job,
                    f"Verification rejected. Max process attempts reached: {handler.max_process_attempts}",
                )
        elif meta.common.verification_attempt_no >= handler.max_verification_attempts:
            job = await self.write(job, JobStatus.VERIFICATION_TIMEOUT, meta)
            await self.alerts.send_message(
                f"Job Verification Timeout Alert: Job ID {job.id}, Type {job.job_type}, "
                f"Internal_Id {job.internal_id}, Verification Attempts {meta.common.verification_attempt_no}"
            )
        else:
            job = await self.write(job, metadata=meta)
            await self.enqueue_verify(job)

    # ------------------------------------------------------------------------------------------
    # failure
    async def move_job_to_failed(self, job: JobItem, reason: str) -> JobItem:
        """Failed is terminal until an operator acts; retried on write conflicts so it is never lost."""
        for _ in range(5):
            if job.status is JobStatus.FAILED:
                return job
            meta = job.metadata.model_copy(deep=True)
            meta.common.record_failure(reason)
            try:
                failed = await self.write(job, JobStatus.FAILED, meta)
            except VersionConflictError:
                job = await self.load(job.id)
                continue
            await self.alerts.send_message(
                f"Job Failed Alert: Job ID {job.id}, Type {job.job_type}, "
                f"Internal_Id {job.internal_id}, Reason: {reason}"
            )
            log.error("job %s %s/%s failed: %s", job.id, job.job_type, job.internal_id, reason)
            return failed
        raise VersionConflictError(f"job {job.id} kept changing while being moved to Failed")

    async def handle_job_failure(self, job_id: uuid.UUID) -> None:
        """A message that exhausted its receives landed in the failure queue."""
        job = await self.load(job_id)
        if job.status is JobStatus.COMPLETED:
            log.warning("job %s in the failure queue is Completed; ignoring", job.id)
            return
        if job.status is JobStatus.FAILED:
            return
        await self.move_job_to_failed(job, f"Job moved to DLQ after exhausting retries (last status: {job.status})")

    async def is_halted(self) -> bool:
        """Any Failed or VerificationTimeout job of this version stops new job creation."""
        found = await self.db.get_jobs_by_types_and_statuses(
            [], sorted(HALTING_STATUSES), limit=1, orchestrator_version=self.params.orchestrator_version
        )
        return bool(found)

    # ------------------------------------------------------------------------------------------
    # operator actions
    async def queue_for_processing(self, job_id: uuid.UUID, queue: QueueType | None = None) -> JobItem:
        job = await self.load(job_id)
        await self.queue.send(queue or process_queue(job.job_type), encode_job_message(job.id))
        return job

    async def retry_job(self, job_id: uuid.UUID, queue: QueueType | None = None) -> JobItem:
        job = await self.load(job_id)
        if job.status is not JobStatus.FAILED:
            raise InvalidJobStatusError(f"only Failed jobs can be retried; job {job_id} is {job.status}")
        meta = job.metadata.model_copy(deep=True)
        meta.common.process_retry_attempt_no += 1
        meta.common.process_attempt_no = 0
        job = await self.write(job, JobStatus.PENDING_RETRY, meta)
        await self.queue.send(queue or process_queue(job.job_type), encode_job_message(job.id))
        return job

    async def reverify_job(self, job_id: uuid.UUID, queue: QueueType | None = None) -> JobItem:
        job = await self.load(job_id)
        if job.status in (JobStatus.CREATED, JobStatus.LOCKED_FOR_PROCESSING, JobStatus.PENDING_RETRY):
            raise InvalidJobStatusError(f"job {job_id} is {job.status}; it has not been processed yet")
        meta = job.metadata.model_copy(deep=True)
        meta.common.verification_attempt_no = 0
        meta.common.verification_retry_attempt_no += 1
        job = await self.write(job, JobStatus.PENDING_VERIFICATION, meta)
        if queue is None:
            await self.enqueue_verify(job)
        else:
            await self.queue.send(queue, encode_job_message(job.id))
        return job

    # ------------------------------------------------------------------------------------------
    # lost-message sweep (beyond the reference: no job depends on a message surviving)
    async def sweep_lost_jobs(self, limit: int = 200) -> int:
        """Re-enqueue jobs that have not moved for longer than any message could have been in flight.

        Duplicates are harmless: a message only acts on a job in a status it applies to, and claiming
        is a compare-and-swap.
        """
        now = self.clock()
        max_delay = max((h.verification_polling_delay_seconds for h in self.handlers.values()), default=0)
        quiet = self.params.visibility_timeout_seconds + self.params.retry_delay_seconds + max_delay
        before = datetime.fromtimestamp(now - quiet, UTC)
        candidates = await self.db.get_jobs_updated_before(
            [
                JobStatus.CREATED,
                JobStatus.PENDING_RETRY,
                JobStatus.VERIFICATION_FAILED,
                JobStatus.LOCKED_FOR_PROCESSING,
                JobStatus.PENDING_VERIFICATION,
            ],
            before,
            limit,
        )
        requeued = 0
        for job in candidates:
            if job.job_type not in self.handlers:
                continue
            if job.status is JobStatus.PENDING_VERIFICATION:
                await self.enqueue_verify(job, 0)
            elif job.status is JobStatus.LOCKED_FOR_PROCESSING:
                started = job.metadata.common.process_started_at or 0
                if now - started < self.params.stale_after(job.job_type):
                    continue
                await self.enqueue_process(job)
            else:
                await self.enqueue_process(job)
            requeued += 1
        if requeued:
            log.warning("sweep re-enqueued %d job(s) whose messages were lost", requeued)
        return requeued
