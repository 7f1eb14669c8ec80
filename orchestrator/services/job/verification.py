"""verify_job: the reference's verification outcomes, with adaptive polling and failure classification.

Beyond the reference:
- the first check comes right after processing (`first_verification_delay`, 1 s by default), then
  the delay doubles towards the job type's polling delay; the budget is time, not attempts:
  VerificationTimeout once the job has been pending for max_verification_attempts x polling delay
  (the reference's total), however many checks that took;
- a handler that raises is classified: transient failures are retried with backoff within the job
  type's transient budget; a permanent failure (or an exhausted budget) is a rejection, which sends
  the job back to processing while attempts remain and to Failed otherwise.
"""

from __future__ import annotations

import logging
import uuid

from orchestrator.core.errors import LeaseLostError, VersionConflictError
from orchestrator.core.failure import FailureKind
from orchestrator.core.models.job import JobItem, JobStatus, JobVerificationStatus
from orchestrator.core.models.metadata import JobMetadata
from orchestrator.services.job.backoff import transient_delay, verification_delay
from orchestrator.services.job.handler import FatalJobError, JobHandler, Verification
from orchestrator.services.job.params import VERIFIABLE
from orchestrator.services.job.ports import Engine

log = logging.getLogger("orchestrator.job")

#: A verify message that arrives this much before its check is due belongs to a second flow.
EARLY_TOLERANCE_SECONDS = 0.5


def verification_budget(engine: Engine, job: JobItem, handler: JobHandler) -> int:
    configured = engine.params.verification_budget_seconds.get(job.job_type)
    if configured is not None:
        return configured
    return handler.max_verification_attempts * handler.verification_polling_delay_seconds


def open_window(engine: Engine, job: JobItem, meta: JobMetadata) -> int:
    """Start a verification window now (after processing or an operator's re-verify); the delay of
    the first check."""
    # Never later than the reference's first check (its polling delay), e.g. 0 s for a 0 s polling delay.
    first = min(engine.params.first_verification_delay(job.job_type), _polling_delay(engine, job))
    meta.common.verification_since = engine.now()
    meta.common.verification_next_at = engine.clock() + first
    return first


def _early(engine: Engine, job: JobItem) -> bool:
    """A message that comes well before the next check of a job already checked in this window."""
    common = job.metadata.common
    if common.verification_next_at is None or common.verification_since is None:
        return False
    if common.verification_started_at is None or common.verification_started_at < common.verification_since:
        return False  # not checked yet in this window: the first message may come at any time
    return engine.clock() < common.verification_next_at - EARLY_TOLERANCE_SECONDS


def _polling_delay(engine: Engine, job: JobItem) -> int:
    handler = engine.handlers.get(job.job_type)
    return handler.verification_polling_delay_seconds if handler is not None else 0


async def verify_job(engine: Engine, job_id: uuid.UUID) -> None:
    job = await engine.load(job_id)
    if job.status is JobStatus.COMPLETED:
        return
    if job.status not in VERIFIABLE:
        log.warning("job %s is %s; a verify message cannot act on it", job.id, job.status)
        return
    if job.status is JobStatus.PENDING_VERIFICATION and _early(engine, job):
        # Another verification flow is alive for this job: keep one message per job.
        log.info("job %s: its next check is not due yet; dropping duplicate message", job.id)
        return
    handler = engine.handler(job.job_type)
    meta = job.metadata.model_copy(deep=True)
    meta.common.verification_started_at = engine.now()
    meta.common.verification_attempt_no += 1
    if meta.common.verification_since is None:
        meta.common.verification_since = engine.now()
    try:
        job = await engine.write(job, metadata=meta)
    except VersionConflictError:
        log.info("job %s is being verified by another flow; dropping this message", job.id)
        return

    result = await _ask(engine, job, handler)
    if result is None:
        return
    meta = job.metadata
    meta.common.transient_failure_since = None
    meta.common.transient_failure_count = 0
    try:
        await _apply(engine, job, handler, result)
    except VersionConflictError:
        log.warning("job %s changed while it was verified; leaving it to its new owner", job.id)


async def _ask(engine: Engine, job: JobItem, handler: JobHandler) -> Verification | None:
    """The handler's answer; None when a transient failure was scheduled for a later check."""
    try:
        return await engine.run_timed(handler.verify_job(job), engine.params.handler_timeout(job.job_type))
    except FatalJobError as exc:
        return Verification.rejected(f"verification failed: {exc}")
    except (VersionConflictError, LeaseLostError):
        log.warning("job %s changed while it was verified; stopping this check", job.id)
        return None
    except Exception as exc:  # noqa: BLE001 - a verifier's failure of any kind is classified, as in processing
        if engine.classify(exc) is FailureKind.TRANSIENT:
            common = job.metadata.common
            since = common.transient_failure_since if common.transient_failure_since is not None else engine.now()
            budget = engine.params.transient_budget(job.job_type)
            if engine.now() - since < budget:
                await _retry_transient(engine, job, since, exc)
                return None
            return Verification.rejected(f"verification kept failing for {engine.now() - since}s: {exc}")
        return Verification.rejected(f"verification failed: {exc}")


async def _retry_transient(engine: Engine, job: JobItem, since: int, exc: Exception) -> None:
    meta = job.metadata.model_copy(deep=True)
    meta.common.transient_failure_since = since
    meta.common.transient_failure_count += 1
    p = engine.params
    delay = transient_delay(
        meta.common.transient_failure_count, p.transient_initial_delay_seconds, p.transient_max_delay_seconds
    )
    meta.common.verification_next_at = engine.clock() + delay
    try:
        job = await engine.write(job, metadata=meta)
    except VersionConflictError:
        log.warning("job %s changed while it was verified; leaving it to its new owner", job.id)
        return
    log.warning("job %s: verification failed transiently, checking again in %ss: %s", job.id, delay, exc)
    await engine.enqueue_verify(job, delay)


async def _apply(engine: Engine, job: JobItem, handler: JobHandler, result: Verification) -> None:
    meta = job.metadata
    if result.status is JobVerificationStatus.VERIFIED:
        meta.common.verification_completed_at = engine.now()
        meta.common.verification_next_at = None
        job = await engine.write(job, JobStatus.COMPLETED, meta)
        log.info("job %s %s/%s completed", job.id, job.job_type, job.internal_id)
        if engine.on_completed is not None:
            await engine.on_completed(job)
    elif result.status is JobVerificationStatus.REJECTED:
        reason = result.reason or "verification rejected"
        meta.common.record_failure(reason)
        meta.common.verification_next_at = None
        if meta.common.process_attempt_no < handler.max_process_attempts:
            job = await engine.write(job, JobStatus.VERIFICATION_FAILED, meta)
            await engine.enqueue_process(job)
            log.warning("job %s rejected (%s); processing again", job.id, reason)
        else:
            await engine.move_job_to_failed(
                job, f"Verification rejected. Max process attempts reached: {handler.max_process_attempts}"
            )
    else:
        await _still_pending(engine, job, handler)


async def _still_pending(engine: Engine, job: JobItem, handler: JobHandler) -> None:
    meta = job.metadata
    since = meta.common.verification_since if meta.common.verification_since is not None else engine.now()
    budget = verification_budget(engine, job, handler)
    remaining = since + budget - engine.now()
    # A zero budget (a 0 s polling delay) falls back on the reference's attempt count.
    if remaining <= 0 and (budget > 0 or meta.common.verification_attempt_no >= handler.max_verification_attempts):
        meta.common.verification_next_at = None
        job = await engine.write(job, JobStatus.VERIFICATION_TIMEOUT, meta)
        await engine.alerts.send_message(
            f"Job Verification Timeout Alert: Job ID {job.id}, Type {job.job_type}, "
            f"Internal_Id {job.internal_id}, Verification Attempts {meta.common.verification_attempt_no}"
        )
        return
    first = engine.params.first_verification_delay(job.job_type)
    delay = verification_delay(meta.common.verification_attempt_no, first, handler.verification_polling_delay_seconds)
    if budget > 0:
        delay = max(1, min(delay, remaining))  # the last check falls on the end of the budget
    meta.common.verification_next_at = engine.clock() + delay
    job = await engine.write(job, metadata=meta)
    await engine.enqueue_verify(job, delay)
