"""Job writes that outlast a passing database failure.

The engine's writes are compare-and-swaps on the job's version. One that fails transiently (the
database is locked, the connection dropped, the reply was lost) is tried again with backoff within a
short budget: the write after a handler ran records a result that may stand for an L1 transaction,
and dropping it for a blip leaves the job locked until its lease expires.

A retry that finds the version moved checks whether the earlier try was applied after all (its reply
was lost on the way back): the stored job is then one version on, in the status written (or kept) and,
for a claim, a renewal or a checkpoint, still under this worker's lease.
"""

from __future__ import annotations

import logging

from tenacity import AsyncRetrying, retry_if_exception, stop_after_delay, wait_exponential_jitter

from orchestrator.core.clients.database import DatabaseClient
from orchestrator.core.errors import VersionConflictError
from orchestrator.core.failure import FailureClassifier, FailureKind
from orchestrator.core.models.job import JobItem, JobItemUpdates

log = logging.getLogger("orchestrator.job")


class JobWriter:
    def __init__(
        self,
        database: DatabaseClient,
        classify: FailureClassifier,
        budget_seconds: float,
        first_wait_seconds: float = 0.2,
        max_wait_seconds: float = 5,
    ) -> None:
        self.db = database
        self.classify = classify
        self.budget_seconds = budget_seconds
        self.first_wait_seconds = first_wait_seconds
        self.max_wait_seconds = max_wait_seconds

    def _transient(self, exc: BaseException) -> bool:
        return not isinstance(exc, VersionConflictError) and self.classify(exc) is FailureKind.TRANSIENT

    def _policy(self) -> AsyncRetrying:
        return AsyncRetrying(
            stop=stop_after_delay(self.budget_seconds),
            wait=wait_exponential_jitter(
                multiplier=self.first_wait_seconds, max=self.max_wait_seconds, jitter=self.first_wait_seconds
            ),
            retry=retry_if_exception(self._transient),
            before_sleep=lambda state: log.warning(
                "job write failed transiently (try %d), retrying: %s",
                state.attempt_number,
                state.outcome.exception() if state.outcome is not None else None,
            ),
            reraise=True,
        )

    async def update(self, job: JobItem, updates: JobItemUpdates) -> JobItem:
        """`db.update_job`, retried on transient failures; VersionConflictError when another writer won."""
        async for attempt in self._policy():
            with attempt:
                try:
                    return await self.db.update_job(job, updates)
                except VersionConflictError:
                    if attempt.retry_state.attempt_number == 1:
                        raise
                    applied = await self._applied(job, updates)
                    if applied is None:
                        raise
                    log.info("job %s: an earlier try of this write was applied (its reply was lost)", job.id)
                    return applied
        raise AssertionError("unreachable: the retry policy re-raises its last error")

    async def _applied(self, job: JobItem, updates: JobItemUpdates) -> JobItem | None:
        stored = await self.db.get_job_by_id(job.id)
        if stored is None or stored.version != job.version + 1:
            return None
        if stored.status is not (updates.status if updates.status is not None else job.status):
            return None
        if updates.external_id is not None and str(stored.external_id) != str(updates.external_id):
            return None
        # a claim, a renewal or a checkpoint: the lease must still be this worker's (a heal and a
        # claim by another worker also move the version on)
        lease = updates.lease if updates.lease is not None else job.lease if updates.status is None else None
        if lease is not None and (stored.lease is None or stored.lease.owner != lease.owner):
            return None
        return stored
