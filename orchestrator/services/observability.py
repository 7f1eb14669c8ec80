"""What the pipeline's events mean as metrics and spans, recorded through the `Telemetry` port.

- Every job write goes through the database, so a decorator of `DatabaseClient` sees every status
  change (whoever made it: engine, consumer, operator) and records the reference's job metrics
  from it: operations, transitions, failures, retries, heals, verification time, e2e latency, block
  state. Batches are counted as they are created.
- One span per job run (`job_processing`, around the handler's process or verify) and per trigger
  run (`worker_trigger`), with the reference's field names (§11.3); their trace id is the one the
  run's log lines carry.
Labels never carry a job id.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, cast

from orchestrator.core.clients.database import DatabaseClient
from orchestrator.core.models.batch import AggregatorBatch, SnosBatch
from orchestrator.core.models.job import JobItem, JobItemUpdates, JobStatus, JobType
from orchestrator.core.models.queue import WorkerTrigger, process_queue, verify_queue
from orchestrator.core.telemetry import Telemetry
from orchestrator.services.job.handler import JobHandler, Verification
from orchestrator.services.job.triggers import TriggerFn

log = logging.getLogger("orchestrator.telemetry")
#: a batch first seen by an upsert counts as created when it was written this recently after its creation
FRESH_BATCH_SECONDS = 30
S = JobStatus
JOB = "operation_job_type"
OP = "operation_type"


def _job(job: JobItem) -> dict[str, str]:
    return {JOB: job.job_type.value}


class JobMetrics:
    """Turns one stored status change into the reference's metrics."""

    def __init__(self, telemetry: Telemetry) -> None:
        self.t = telemetry

    def created(self, job: JobItem) -> None:
        self.t.count("successful_job_operations", {**_job(job), OP: "create_job"})
        self.t.gauge("block_state", {**_job(job), OP: "create_job"}, job.internal_id)

    def changed(self, before: JobItem, after: JobItem) -> None:
        if after.status is before.status:
            return
        labels = _job(after)
        self.t.count(
            "job_state_transitions", {**labels, "from_state": before.status.value, "to_state": after.status.value}
        )
        common = after.metadata.common
        if after.status is S.LOCKED_FOR_PROCESSING and before.status is S.CREATED and common.process_started_at:
            self.t.gauge(
                "job_queue_wait_time", labels, max(0.0, common.process_started_at - after.created_at.timestamp())
            )
        elif after.status is S.PENDING_VERIFICATION and before.status is S.LOCKED_FOR_PROCESSING:
            self._processed(after)
        elif after.status is S.COMPLETED:
            self._completed(after)
        elif after.status is S.FAILED:
            operation = "process_job" if before.status is S.LOCKED_FOR_PROCESSING else "verify_job"
            self.t.count("failed_jobs", labels)
            self.t.count("failed_job_operations", {**labels, OP: operation})
        elif after.status is S.VERIFICATION_TIMEOUT:
            self.t.count("job_timeout_count", labels)
            self.t.count("failed_job_operations", {**labels, OP: "verify_job"})
        elif after.status is S.VERIFICATION_FAILED:
            self.t.count("job_retry_count", {**labels, "retry_reason": "verification_rejected"})
        elif before.status is S.FAILED:
            self.t.count("job_retry_count", {**labels, "retry_reason": "manual_retry"})
        elif before.status is S.LOCKED_FOR_PROCESSING:
            self._unlocked(before, after)

    def _processed(self, job: JobItem) -> None:
        labels, c = _job(job), job.metadata.common
        self.t.count("successful_job_operations", {**labels, OP: "process_job"})
        self.t.gauge("block_state", {**labels, OP: "process_job"}, job.internal_id)
        if c.process_started_at and c.process_completed_at:
            seconds = c.process_completed_at - c.process_started_at
            self.t.gauge("jobs_response_time", {**labels, OP: "process_job"}, seconds)
            if job.job_type is JobType.SNOS_RUN:
                self.t.observe("snos_job_processing_time", {}, seconds)

    def _completed(self, job: JobItem) -> None:
        labels, c = _job(job), job.metadata.common
        self.t.count("successful_job_operations", {**labels, OP: "verify_job"})
        self.t.gauge("block_state", {**labels, OP: "verify_job"}, job.internal_id)
        done = c.verification_completed_at or time.time()
        self.t.gauge("job_e2e_latency", labels, max(0.0, done - job.created_at.timestamp()))
        if c.process_completed_at:
            self.t.gauge("verification_time", labels, max(0.0, done - c.process_completed_at) * 1000)
        if c.process_started_at:
            took = max(0.0, done - c.process_started_at)
            if job.job_type is JobType.STATE_TRANSITION:
                self.t.gauge("settlement_time", labels, took)
            elif job.job_type in (JobType.PROOF_CREATION, JobType.AGGREGATOR):
                self.t.gauge("proof_generation_time", labels, took)

    def _unlocked(self, before: JobItem, after: JobItem) -> None:
        """Released after a failed attempt (the retry count grew), or healed (its worker died)."""
        labels = _job(after)
        if after.metadata.common.process_retry_attempt_no > before.metadata.common.process_retry_attempt_no:
            self.t.count("job_retry_count", {**labels, "retry_reason": "processing_failed"})
            self.t.count("failed_job_operations", {**labels, OP: "process_job"})
        else:
            self.t.count("orphaned_jobs", labels)
            self.t.count("healed_jobs", labels)


class _InstrumentedDatabase:
    """Delegates every call; observes job creation, job writes and batch creation."""

    def __init__(self, inner: DatabaseClient, telemetry: Telemetry) -> None:
        self._inner = inner
        self._metrics = JobMetrics(telemetry)
        self._telemetry = telemetry
        self._latest: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def _record(self, record: Callable[[], None]) -> None:
        """Metrics never fail a write that succeeded: a recording error is logged, not raised."""
        try:
            record()
        except Exception as exc:  # noqa: BLE001 -- a metrics bug of any kind must not stop the pipeline
            log.warning("recording metrics failed: %s: %s", type(exc).__name__, exc)

    async def create_job(self, job: JobItem) -> JobItem:
        created = await self._inner.create_job(job)
        self._record(lambda: self._metrics.created(created))
        return created

    async def update_job(self, job: JobItem, updates: JobItemUpdates) -> JobItem:
        stored = await self._inner.update_job(job, updates)
        self._record(lambda: self._metrics.changed(job, stored))
        return stored

    def _created_batch(self, kind: str, index: int) -> None:
        self._telemetry.count("batch_creation", {"batch_type": kind})
        self._latest[kind] = max(self._latest.get(kind, -1), index)
        self._telemetry.gauge(f"{kind}_batching_batch_number", {}, self._latest[kind])

    def _batch(self, kind: str, batch: SnosBatch | AggregatorBatch) -> None:
        """An upsert is a creation when its index is past the newest this process has seen, or, for the
        first one it sees, when the batch was created moments ago (not grown after a restart)."""
        if batch.index <= self._latest.get(kind, -1):
            return
        fresh = (batch.updated_at - batch.created_at).total_seconds() < FRESH_BATCH_SECONDS
        if kind in self._latest or fresh:
            self._telemetry.count("batch_creation", {"batch_type": kind})
        self._latest[kind] = batch.index
        self._telemetry.gauge(f"{kind}_batching_batch_number", {}, batch.index)

    async def create_snos_batch(self, batch: SnosBatch) -> SnosBatch:
        stored = await self._inner.create_snos_batch(batch)
        self._record(lambda: self._created_batch("snos", stored.index))
        return stored

    async def create_aggregator_batch(self, batch: AggregatorBatch) -> AggregatorBatch:
        stored = await self._inner.create_aggregator_batch(batch)
        self._record(lambda: self._created_batch("aggregator", stored.index))
        return stored

    async def update_or_create_snos_batch(self, batch: SnosBatch) -> SnosBatch:
        stored = await self._inner.update_or_create_snos_batch(batch)
        self._record(lambda: self._batch("snos", stored))
        return stored

    async def update_or_create_aggregator_batch(self, batch: AggregatorBatch) -> AggregatorBatch:
        stored = await self._inner.update_or_create_aggregator_batch(batch)
        self._record(lambda: self._batch("aggregator", stored))
        return stored


def instrumented_database(inner: DatabaseClient, telemetry: Telemetry) -> DatabaseClient:
    # The decorator implements the protocol by delegation (`__getattr__`), which mypy cannot see.
    return cast(DatabaseClient, _InstrumentedDatabase(inner, telemetry))


class _TracedHandler:
    """A job handler whose process and verify runs are `job_processing` spans."""

    def __init__(self, inner: JobHandler, telemetry: Telemetry) -> None:
        self._inner = inner
        self._telemetry = telemetry

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def _fields(self, job: JobItem, queue: str) -> Mapping[str, str | int]:
        fields: dict[str, str | int] = {
            "job_id": str(job.id),
            "subject_id": job.internal_id,
            "queue": queue,
            "job_type": job.job_type.value,
            "span_type": "Job",
        }
        specific = job.metadata.specific
        start = getattr(specific, "start_block", None) or getattr(specific, "block_number", None)
        end = getattr(specific, "end_block", None) or start
        if isinstance(start, int) and isinstance(end, int):
            fields.update(block_start=start, block_end=end)
        if job.external_id:
            fields["external_id"] = str(job.external_id)
        return fields

    async def check_ready_to_process(self, job: JobItem) -> int | None:
        return await self._inner.check_ready_to_process(job)

    async def process_job(self, job: JobItem) -> str | int:
        with self._telemetry.span("job_processing", self._fields(job, process_queue(job.job_type).value)):
            return await self._inner.process_job(job)

    async def verify_job(self, job: JobItem) -> Verification:
        with self._telemetry.span("job_processing", self._fields(job, verify_queue(job.job_type).value)):
            return await self._inner.verify_job(job)


def traced_handlers(handlers: Mapping[JobType, JobHandler], telemetry: Telemetry) -> dict[JobType, JobHandler]:
    return {t: cast(JobHandler, _TracedHandler(h, telemetry)) for t, h in handlers.items()}


def traced_triggers(
    triggers: Mapping[WorkerTrigger, TriggerFn], telemetry: Telemetry
) -> dict[WorkerTrigger, TriggerFn]:
    def traced(trigger: WorkerTrigger, fn: TriggerFn) -> TriggerFn:
        async def run() -> None:
            fields = {"worker": trigger.value, "queue": "worker_trigger", "span_type": "Worker"}
            with telemetry.span("worker_trigger", fields):
                await fn()

        return run

    return {trigger: traced(trigger, fn) for trigger, fn in triggers.items()}
