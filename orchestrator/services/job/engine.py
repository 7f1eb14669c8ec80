"""The job state machine: create, process, verify, fail, retry, heal.

Statuses, transitions, attempts and delays follow the reference (§3 of the reference notes). Every write
is a compare-and-swap on the job's `version`, so any number of processes may run this code against the
same database and queue. Queue messages carry only the job id; the job's status decides what a message
may still do, which makes duplicate and late messages harmless.

Beyond the reference (architecture.md, "Reliability rules"):
- a job being processed carries a lease that its worker renews (lease.py); only an expired lease is
  healed, and every handler runs under its job type's timeout;
- failures are classified (core.failure): transient ones are retried with backoff within a time
  budget through a fresh delayed message, so they do not spend the queue's dead-letter receives;
- the halt covers only the blocks from the lowest failed job on (halt.py);
- verification polls adaptively within the reference's time budget (verification.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from orchestrator.core.clients.alerts import AlertClient
from orchestrator.core.clients.database import DatabaseClient
from orchestrator.core.clients.queue import QueueClient
from orchestrator.core.errors import (
    InvalidJobStatusError,
    JobAlreadyExistsError,
    JobCreationHaltedError,
    JobNotFoundError,
    LeaseLostError,
    VersionConflictError,
)
from orchestrator.core.failure import FailureClassifier, classify_core
from orchestrator.core.models.job import JobItem, JobItemUpdates, JobLease, JobStatus, JobType
from orchestrator.core.models.metadata import JobMetadata, JobSpecificMetadata
from orchestrator.core.models.queue import QueueType, encode_job_message, process_queue, verify_queue
from orchestrator.services.job import retry, sweep, verification
from orchestrator.services.job.halt import HaltScope
from orchestrator.services.job.handler import FatalJobError, JobHandler
from orchestrator.services.job.lease import Leases, timed
from orchestrator.services.job.params import PROCESSABLE, VERIFIABLE, EngineParams, RetryLater
from orchestrator.services.job.writes import JobWriter

__all__ = ["PROCESSABLE", "VERIFIABLE", "EngineParams", "JobEngine", "RetryLater"]

log = logging.getLogger("orchestrator.job")

T = TypeVar("T")
CompletionHook = Callable[[JobItem], Awaitable[None]]


def worker_run_id() -> str:
    """Who holds a lease: this process's run (host, pid and a random part, as pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


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
        classify: FailureClassifier = classify_core,
        owner: str | None = None,
    ) -> None:
        self.db = database
        self.queue = queue
        self.alerts = alerts
        self.handlers = handlers
        self.params = params
        self.on_completed = on_completed
        self.clock = clock
        self.classify = classify
        self.owner = owner or worker_run_id()
        # within half a lease, so that a retried claim still leaves its lease time to be renewed
        self.writer = JobWriter(database, classify, min(params.write_retry_seconds, params.lease_seconds / 2))
        self.leases = Leases(self.writer, clock, self.owner, params.lease_seconds, params.renew_every())
        self.halt = HaltScope(database, params.orchestrator_version, params.layer)

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
        lease: JobLease | None = None,
    ) -> JobItem:
        updates = JobItemUpdates(status=status, metadata=metadata, external_id=external_id, lease=lease)
        return await self.writer.update(job, updates)

    async def checkpoint(self, job: JobItem) -> None:
        """Persist a running job's metadata now (e.g. a sent transaction, before waiting for it).

        Serialised with the lease renewals; updates `job` in place with the new version, so the engine's
        next write still applies.
        """
        await self.leases.write_serialised(job, JobItemUpdates(metadata=job.metadata))

    async def run_timed(self, work: Awaitable[T], timeout: float) -> T:
        return await timed(work, timeout)

    async def enqueue_process(self, job: JobItem, delay_seconds: int = 0) -> None:
        await self.queue.send(process_queue(job.job_type), encode_job_message(job.id), delay_seconds)

    async def enqueue_verify(self, job: JobItem, delay_seconds: int | None = None) -> None:
        if delay_seconds is None:
            delay_seconds = self.handler(job.job_type).verification_polling_delay_seconds
        await self.queue.send(verify_queue(job.job_type), encode_job_message(job.id), delay_seconds)

    # ------------------------------------------------------------------------------------------
    # create
    async def create_job(self, job_type: JobType, internal_id: int, specific: JobSpecificMetadata) -> JobItem | None:
        """Create and enqueue a job; None (not an error) when it exists already.

        Raises JobCreationHaltedError when a Failed or VerificationTimeout job halts the blocks it covers.
        """
        if await self.db.get_job_by_internal_id_and_type(internal_id, job_type) is not None:
            log.debug("job %s/%s exists already", job_type, internal_id)
            return None
        refused = await self.halt.refuses(job_type, internal_id, specific)
        if refused is not None:
            halted_from, covered = refused
            raise JobCreationHaltedError(
                f"{job_type} job {internal_id} (blocks {covered or 'unknown'}) not created: a Failed or "
                f"VerificationTimeout job halts new work from block {halted_from} on"
            )
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
        raises RetryLater when it should be redelivered (a real, permanent-failure attempt)."""
        job = await self._processable(await self.load(job_id))
        if job is None:
            return
        handler = self.handler(job.job_type)
        delay = await handler.check_ready_to_process(job)
        if delay is not None:
            log.info("job %s not ready; asking again in %ss", job.id, delay)
            try:  # the write refreshes updated_at, so the lost-message sweep knows a message is alive
                job = await self.write(job, metadata=job.metadata)
            except VersionConflictError:
                log.info("job %s changed meanwhile; dropping this message", job.id)
                return
            await self.enqueue_process(job, delay)
            return
        original_status = job.status
        claimed = await self._claim(job)
        if claimed is None:
            return
        job = claimed
        try:
            timeout = self.params.handler_timeout(job.job_type)
            external_id = await self.leases.run(job, handler.process_job(job), timeout)
        except asyncio.CancelledError:
            # Shutdown: hand the job back so that its redelivered message can run it again.
            await asyncio.shield(self.release(job, original_status, "processing interrupted by shutdown"))
            raise
        except (LeaseLostError, VersionConflictError) as exc:
            await self.lost(job, exc)
            return
        except FatalJobError as exc:
            await self.move_job_to_failed(job, f"processing failed: {exc}")
            return
        except Exception as exc:  # noqa: BLE001 - a handler's failure of any kind is classified and retried or failed
            await retry.after_failure(self, job, original_status, exc)
            return
        await self._processed(job, external_id)

    async def _processable(self, job: JobItem) -> JobItem | None:
        """The job when a process message may act on it (healing an expired lease), else None."""
        if job.status is JobStatus.LOCKED_FOR_PROCESSING:
            if not self.leases.expired(job):
                log.info("job %s is being processed elsewhere", job.id)
                await self.look_again_at_lease_end(job)
                return None
            try:
                return await self.heal(job)
            except VersionConflictError:
                log.info("job %s changed while being healed; dropping this message", job.id)
                return None
        if job.status in (JobStatus.PENDING_VERIFICATION, JobStatus.COMPLETED):
            log.info("job %s is %s already; nothing to process", job.id, job.status)
            return None
        if job.status not in PROCESSABLE:
            log.warning("job %s is %s; a process message cannot act on it", job.id, job.status)
            return None
        return job

    async def _claim(self, job: JobItem) -> JobItem | None:
        meta = job.metadata.model_copy(deep=True)
        meta.common.process_started_at = self.now()
        meta.common.process_completed_at = None
        try:
            job = await self.write(job, JobStatus.LOCKED_FOR_PROCESSING, meta, lease=self.leases.new_lease())
        except VersionConflictError:
            log.info("job %s was claimed by another worker", job.id)
            return None
        job.metadata.common.process_attempt_no += 1
        return job

    async def _processed(self, job: JobItem, external_id: str | int) -> None:
        meta = job.metadata
        meta.common.process_completed_at = self.now()
        meta.common.transient_failure_since = None
        meta.common.transient_failure_count = 0
        first_check = verification.open_window(self, job, meta)
        try:
            job = await self.write(job, JobStatus.PENDING_VERIFICATION, meta, external_id=str(external_id))
        except VersionConflictError as exc:
            await self.lost(job, exc)
            return
        await self.enqueue_verify(job, first_check)
        log.info("job %s processed (external id %s)", job.id, external_id)

    async def look_again_at_lease_end(self, job: JobItem) -> None:
        """A process message for when the job's lease runs out. Kept, not dropped: if the holder gives up
        without writing (its database calls failed), this heals the job then, not the sweep minutes later;
        if the holder finishes, the message finds the job past processing and does nothing."""
        wait = self.leases.remaining(job) + 1
        log.info("job %s: looking at it again in %ss, when its lease ends", job.id, wait)
        await self.enqueue_process(job, wait)

    async def lost(self, job: JobItem, exc: BaseException) -> None:
        """This worker's attempt stops: the job was changed under it (or its write's fate is unknown)."""
        log.warning("job %s: this worker lost the job, stopping its attempt: %s", job.id, exc)
        await self.look_again_at_lease_end(job)

    async def heal(self, job: JobItem) -> JobItem:
        """A LockedForProcessing job whose lease expired (its worker died) goes back to Created."""
        log.warning("healing job %s %s/%s: its lease expired", job.id, job.job_type, job.internal_id)
        meta = job.metadata.model_copy(deep=True)
        meta.common.process_started_at = None
        return await self.write(job, JobStatus.CREATED, meta)

    async def release(self, job: JobItem, status: JobStatus, reason: str, transient_since: int | None = None) -> None:
        """Undo the claim after a failed attempt, keeping the attempt count and the reason."""
        meta = job.metadata.model_copy(deep=True)
        meta.common.process_retry_attempt_no += 1
        meta.common.process_started_at = None
        meta.common.process_completed_at = None
        meta.common.transient_failure_since = transient_since
        meta.common.record_failure(reason)
        try:
            await self.write(job, status, meta)
        except VersionConflictError:
            log.warning("job %s changed while it was processed; leaving it as it is", job.id)

    # ------------------------------------------------------------------------------------------
    # verify
    async def verify_job(self, job_id: uuid.UUID) -> None:
        await verification.verify_job(self, job_id)

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

    async def halted_from_block(self) -> int | None:
        """The first block no new job may cover (a Failed or VerificationTimeout job's), or None."""
        return await self.halt.halted_from_block()

    async def is_halted(self) -> bool:
        """Whether some Failed or VerificationTimeout job of this version halts new work (from its block on)."""
        return await self.halted_from_block() is not None

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
        meta.common.transient_failure_since = None
        meta.common.transient_failure_count = 0
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
        meta.common.transient_failure_since = None
        meta.common.transient_failure_count = 0
        first_check = verification.open_window(self, job, meta)
        if queue is not None:
            meta.common.verification_next_at = None  # checked at once, through the given queue
        job = await self.write(job, JobStatus.PENDING_VERIFICATION, meta)
        if queue is None:
            await self.enqueue_verify(job, first_check)
        else:
            await self.queue.send(queue, encode_job_message(job.id))
        return job

    # ------------------------------------------------------------------------------------------
    async def sweep_lost_jobs(self, limit: int = 200) -> int:
        return await sweep.sweep_lost_jobs(self, limit)
