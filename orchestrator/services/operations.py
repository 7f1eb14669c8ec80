"""Operator actions and read models: what the HTTP API (and any other entrypoint) calls.

The routes never reach through the engine into the database, queue or alerts; they call this
service, which checks a request against the job's state *before* writing anything (a request that
cannot succeed changes nothing), and raises the errors below, which the API maps to status codes.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from orchestrator.core.clients.database import AggregatorBatchQuery, SnosBatchQuery
from orchestrator.core.clients.lock import LockClient
from orchestrator.core.errors import InvalidJobStatusError, NotFoundError, OrchestratorError
from orchestrator.core.models.audit import AuditEntry
from orchestrator.core.models.batch import AggregatorBatch, SnosBatch
from orchestrator.core.models.job import JobItem, JobStatus, JobType
from orchestrator.core.models.metadata import StateUpdateMetadata
from orchestrator.core.models.queue import QueueType, encode_job_message, process_queue, verify_queue
from orchestrator.services.block.close_open import close_open_batches
from orchestrator.services.block.worker_lock import LockBusyError
from orchestrator.services.job.engine import JobEngine

log = logging.getLogger("orchestrator.operations")


class InvalidStateError(InvalidJobStatusError):
    """The request is valid but the job (or the process) is not in a state that allows it (409)."""


class QueueFullError(OrchestratorError):
    """The priority queue holds its maximum; try again later (429)."""


@dataclass(frozen=True)
class BulkResult:
    successful: list[uuid.UUID] = field(default_factory=list)
    failed: list[uuid.UUID] = field(default_factory=list)


@dataclass(frozen=True)
class SettlementStatus:
    """Everything known about how far one block got towards L1."""

    block_number: int
    snos_batch: SnosBatch | None
    aggregator_batch: AggregatorBatch | None
    block_jobs: list[JobItem]
    aggregator_proof_jobs: list[JobItem]


BATCH_STAGES = (JobType.SNOS_RUN, JobType.PROOF_CREATION, JobType.PROOF_REGISTRATION, JobType.DATA_SUBMISSION)


def _settles_batch(job: JobItem, index: int) -> bool:
    specific = job.metadata.specific
    if not isinstance(specific, StateUpdateMetadata):
        return False
    return specific.context.type == "Batch" and specific.context.to_settle == index


class OperationsService:
    def __init__(
        self,
        engine: JobEngine,
        max_priority_queue_size: int = 20,
        queues: Sequence[QueueType] = tuple(QueueType),
        lock: LockClient | None = None,
    ) -> None:
        self._engine = engine
        self._db = engine.db
        self._queue = engine.queue
        self.max_priority_queue_size = max_priority_queue_size
        self.queues = tuple(queues)
        self._lock = lock

    # --- single-job actions ---------------------------------------------------------------------
    async def _job_with_handler(self, job_id: uuid.UUID) -> JobItem:
        job = await self._engine.load(job_id)
        if job.job_type not in self._engine.handlers:
            raise InvalidStateError(f"no handler is configured for job type {job.job_type} in this process")
        return job

    async def _priority(self, queue: QueueType) -> QueueType:
        if await self._queue.approximate_count(queue) >= self.max_priority_queue_size:
            raise QueueFullError(f"the {queue} holds {self.max_priority_queue_size} messages; try again later")
        return queue

    async def process(self, job_id: uuid.UUID, priority: bool = False) -> JobItem:
        """Enqueue the job for processing; its status is not changed."""
        job = await self._job_with_handler(job_id)
        queue = await self._priority(QueueType.PRIORITY_PROCESSING_QUEUE) if priority else None
        return await self._engine.queue_for_processing(job.id, queue)

    async def retry(self, job_id: uuid.UUID, priority: bool = False) -> JobItem:
        """Failed -> PendingRetry with a fresh attempt budget, then enqueue."""
        job = await self._job_with_handler(job_id)
        if job.status is not JobStatus.FAILED:
            raise InvalidStateError(f"only Failed jobs can be retried; job {job_id} is {job.status}")
        queue = await self._priority(QueueType.PRIORITY_PROCESSING_QUEUE) if priority else None
        return await self._engine.retry_job(job.id, queue)

    async def reverify(self, job_id: uuid.UUID, priority: bool = False) -> JobItem:
        """Reset the verification counters, PendingVerification, enqueue for verification."""
        job = await self._job_with_handler(job_id)
        if job.status in (JobStatus.CREATED, JobStatus.LOCKED_FOR_PROCESSING, JobStatus.PENDING_RETRY):
            raise InvalidStateError(f"job {job_id} is {job.status}; it has not been processed yet")
        queue = await self._priority(QueueType.PRIORITY_VERIFICATION_QUEUE) if priority else None
        return await self._engine.reverify_job(job.id, queue)

    # --- bulk actions ---------------------------------------------------------------------------
    async def _bulk(
        self, status: JobStatus, job_types: Sequence[JobType], action: Callable[[JobItem], Awaitable[object]]
    ) -> BulkResult:
        result = BulkResult()
        for job in await self._db.get_jobs_by_types_and_statuses(job_types, [status]):
            try:
                await action(job)
                result.successful.append(job.id)
            except Exception as exc:  # noqa: BLE001 - one bad job must not stop the rest; it is reported
                log.warning("admin action on job %s failed: %s", job.id, exc)
                result.failed.append(job.id)
        return result

    async def retry_failed(self, job_types: Sequence[JobType] = ()) -> BulkResult:
        return await self._bulk(JobStatus.FAILED, job_types, lambda j: self.retry(j.id))

    async def reverify_timed_out(self, job_types: Sequence[JobType] = ()) -> BulkResult:
        return await self._bulk(JobStatus.VERIFICATION_TIMEOUT, job_types, lambda j: self.reverify(j.id))

    async def requeue_pending_verification(self, job_types: Sequence[JobType] = ()) -> BulkResult:
        """Re-send with no delay; a duplicate message is harmless (the engine drops it)."""

        async def send(job: JobItem) -> None:
            await self._queue.send(verify_queue(job.job_type), encode_job_message(job.id), 0)

        return await self._bulk(JobStatus.PENDING_VERIFICATION, job_types, send)

    async def requeue_created(self, job_types: Sequence[JobType] = ()) -> BulkResult:
        async def send(job: JobItem) -> None:
            await self._queue.send(process_queue(job.job_type), encode_job_message(job.id), 0)

        return await self._bulk(JobStatus.CREATED, job_types, send)

    async def close_open_batches(self) -> tuple[int, int]:
        """Under both batching locks, so a batching run cannot save its Open batch back over it."""
        if self._lock is None:
            raise InvalidStateError("closing batches needs the batching lock, which this process does not have")
        try:
            closed = await close_open_batches(self._db, self._lock)
        except LockBusyError as exc:
            raise InvalidStateError(f"a batching run holds its lock; try again: {exc}") from None
        return closed.snos, closed.aggregator

    # --- queries --------------------------------------------------------------------------------
    async def job(self, job_id: uuid.UUID) -> JobItem:
        return await self._engine.load(job_id)

    async def jobs_by_status(self, status: JobStatus, limit: int = 1000) -> list[JobItem]:
        return await self._db.get_jobs_by_status(status, limit=limit)

    async def jobs_for_block(self, block: int) -> list[JobItem]:
        return await self._db.get_jobs_by_block_number(block)

    async def batch_for_block(self, block: int) -> AggregatorBatch:
        batch = await self._db.get_aggregator_batch_for_block(block)
        if batch is None:
            raise NotFoundError(f"no aggregator batch contains block {block}")
        return batch

    async def snos_batches(self, query: SnosBatchQuery) -> list[SnosBatch]:
        return await self._db.get_snos_batches(query)

    async def aggregator_batches(self, query: AggregatorBatchQuery) -> list[AggregatorBatch]:
        return await self._db.get_aggregator_batches(query)

    async def _snos_batch_for_block(self, block: int) -> SnosBatch | None:
        lookup = await self._db.get_block_batch_lookup(block)
        if lookup is None or lookup.snos_batch_index is None:
            return None
        found = await self._db.get_snos_batches(SnosBatchQuery(indexes=[lookup.snos_batch_index], limit=1))
        return found[0] if found else None

    async def settlement_status(self, block: int) -> SettlementStatus:
        """NotFoundError when no batch holds the block and no job names it."""
        snos = await self._snos_batch_for_block(block)
        aggregator = await self._db.get_aggregator_batch_for_block(block)
        jobs = await self._db.get_jobs_by_block_number(block)
        proof_jobs: list[JobItem] = []
        known = {j.id for j in jobs}
        if snos is not None:
            # A SNOS batch's proving, registration and DA jobs carry its index (and name only its first block).
            for job_type in BATCH_STAGES:
                found = await self._db.get_jobs_by_internal_ids_and_type([snos.index], job_type)
                jobs.extend(j for j in found if j.id not in known)
            known = {j.id for j in jobs}
        if aggregator is not None:
            proof_jobs = await self._db.get_jobs_by_internal_ids_and_type([aggregator.index], JobType.AGGREGATOR)
            # On L2 a state transition settles a whole aggregator batch: its internal id is the batch index.
            settling = await self._db.get_jobs_by_internal_ids_and_type([aggregator.index], JobType.STATE_TRANSITION)
            jobs.extend(j for j in settling if j.id not in known and _settles_batch(j, aggregator.index))
        if snos is None and aggregator is None and not jobs:
            raise NotFoundError(f"block {block} is in no batch and no job")
        return SettlementStatus(block, snos, aggregator, jobs, proof_jobs)

    async def last_settled_block(self) -> int | None:
        """The highest block a Completed state transition settled, or None."""
        job = await self._db.get_latest_job_by_type_and_status(JobType.STATE_TRANSITION, JobStatus.COMPLETED)
        if job is None or not isinstance(job.metadata.specific, StateUpdateMetadata):
            return None
        context = job.metadata.specific.context
        if context.type == "Block":
            return context.to_settle
        batches = await self._db.get_aggregator_batches(AggregatorBatchQuery(indexes=[context.to_settle], limit=1))
        return batches[0].end_block if batches else None

    async def recent_blocks(self, count: int) -> list[SettlementStatus]:
        """The settlement status of the newest `count` blocks that are in a batch, newest first."""
        newest = [
            b.end_block
            for b in (await self._db.get_latest_snos_batch(), await self._db.get_latest_aggregator_batch())
            if b
        ]
        if not newest:
            return []
        top = max(newest)
        found: list[SettlementStatus] = []
        for block in range(top, max(-1, top - count), -1):
            try:
                found.append(await self.settlement_status(block))
            except NotFoundError:
                continue
        return found

    async def queue_depths(self) -> dict[QueueType, int]:
        return {q: await self._queue.approximate_count(q) for q in self.queues}

    # --- audit log ------------------------------------------------------------------------------
    async def record(self, entry: AuditEntry) -> None:
        await self._db.add_audit_entry(entry)

    async def audit_entries(self, limit: int, actor: str | None = None) -> list[AuditEntry]:
        return await self._db.get_audit_entries(limit, actor)
