"""The lost-message sweep (beyond the reference): no job depends on a message surviving."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from orchestrator.core.models.job import JobStatus
from orchestrator.services.job.ports import Engine

log = logging.getLogger("orchestrator.job")

_SWEPT = (
    JobStatus.CREATED,
    JobStatus.PENDING_RETRY,
    JobStatus.VERIFICATION_FAILED,
    JobStatus.LOCKED_FOR_PROCESSING,
    JobStatus.PENDING_VERIFICATION,
)


async def sweep_lost_jobs(engine: Engine, limit: int = 200) -> int:
    """Re-enqueue jobs that have not moved for longer than any message could have been in flight.

    Duplicates are harmless: a message only acts on a job in a status it applies to, and claiming is
    a compare-and-swap. A LockedForProcessing job is left alone while its lease is valid (a running
    handler renews it, which also keeps the job's updated_at fresh).
    """
    now = engine.clock()
    p = engine.params
    max_delay = max((h.verification_polling_delay_seconds for h in engine.handlers.values()), default=0)
    quiet = p.visibility_timeout_seconds + max(p.retry_delay_seconds, int(p.transient_max_delay_seconds)) + max_delay
    before = datetime.fromtimestamp(now - quiet, UTC)
    candidates = await engine.db.get_jobs_updated_before(list(_SWEPT), before, limit)
    requeued = 0
    for job in candidates:
        if job.job_type not in engine.handlers:
            continue
        if job.status is JobStatus.PENDING_VERIFICATION:
            await engine.enqueue_verify(job, 0)
        elif job.status is JobStatus.LOCKED_FOR_PROCESSING:
            if not engine.leases.expired(job):
                continue
            await engine.enqueue_process(job)
        else:
            await engine.enqueue_process(job)
        requeued += 1
    if requeued:
        log.warning("sweep re-enqueued %d job(s) whose messages were lost", requeued)
    return requeued
