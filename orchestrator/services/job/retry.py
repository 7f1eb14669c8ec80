"""What a failed process attempt costs: transient failures within budget are free, the rest are attempts.

A transient failure (core.failure: network, timeout, 5xx, throttling, open circuit, handler timeout)
puts the job back in its status and sends a fresh process message delayed by exponential backoff with
jitter, and the current message is acked: the queue's receive count, which dead-letters a message
after five receives, is not spent. The first transient failure's time is kept in the job
(`transient_failure_since`), so the budget holds across messages and processes. A permanent failure,
or a transient one past the job type's budget, is a real attempt: the job is released and the
message given back (RetryLater), so the dead-letter queue bounds these.
"""

from __future__ import annotations

import logging

from orchestrator.core.errors import LeaseLostError, VersionConflictError
from orchestrator.core.failure import FailureKind, causes
from orchestrator.core.models.job import JobItem, JobStatus
from orchestrator.services.job.backoff import transient_delay
from orchestrator.services.job.params import RetryLater
from orchestrator.services.job.ports import Engine

log = logging.getLogger("orchestrator.job")


async def after_failure(engine: Engine, job: JobItem, original_status: JobStatus, exc: Exception) -> None:
    """Returns when a transient retry was scheduled or the job was lost; raises RetryLater for a real attempt."""
    if any(isinstance(cause, VersionConflictError | LeaseLostError) for cause in causes(exc)):
        # A handler wrapped the lost compare-and-swap of its own checkpoint: the job is someone else's now.
        await engine.lost(job, exc)
        return
    since = job.metadata.common.transient_failure_since
    if engine.classify(exc) is FailureKind.TRANSIENT:
        since = since if since is not None else engine.now()
        budget = engine.params.transient_budget(job.job_type)
        if engine.now() - since < budget:
            await _retry_transient(engine, job, original_status, since, exc)
            return
        reason = f"processing kept failing transiently for {engine.now() - since}s (budget {budget}s): {exc}"
    else:
        reason = f"processing failed: {exc}"
    log.warning("job %s processing failed, will retry: %s", job.id, reason)
    await engine.release(job, original_status, reason, transient_since=since)
    raise RetryLater(reason, engine.params.retry_delay_seconds) from exc


async def _retry_transient(engine: Engine, job: JobItem, status: JobStatus, since: int, exc: Exception) -> None:
    meta = job.metadata.model_copy(deep=True)
    meta.common.process_attempt_no -= 1  # not a real attempt
    meta.common.process_started_at = None
    meta.common.transient_failure_since = since
    meta.common.transient_failure_count += 1
    p = engine.params
    delay = transient_delay(
        meta.common.transient_failure_count, p.transient_initial_delay_seconds, p.transient_max_delay_seconds
    )
    meta.common.record_failure(f"transient failure, retrying in {delay}s: {exc}")
    try:
        job = await engine.write(job, status, meta)
    except VersionConflictError:
        log.warning("job %s changed while it was processed; leaving it as it is", job.id)
        return
    await engine.enqueue_process(job, delay)
    log.warning("job %s failed transiently (%s); retrying in %ss", job.id, exc, delay)
