"""Leases, not locks: a running job is never healed and run twice; a worker that lost its job stops cleanly.

The scenarios are issue 9's defect 2: a SNOS run longer than the old 300 s stale-lock limit was healed
by a second message and run beside the first, which then died on a VersionConflictError.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest

from orchestrator.core.models.job import JobItem, JobItemUpdates, JobLease, JobStatus, JobType
from tests.unit.job.support import PROCESS_Q, SteeredHandler, created, make_world, status_is, wait_for

LEASE = 60


def blocking_handler() -> tuple[SteeredHandler, asyncio.Event, asyncio.Event]:
    started, release = asyncio.Event(), asyncio.Event()

    async def run(job: JobItem) -> str:
        started.set()
        await release.wait()
        return "ext-slow"

    return SteeredHandler(process=run), started, release


async def test_a_job_running_longer_than_the_old_stale_limit_is_not_healed_or_run_twice() -> None:
    handler, started, release = blocking_handler()
    w = make_world(handler, lease_seconds=LEASE, lease_renew_seconds=0.01)
    job = await created(w)
    first = asyncio.create_task(w.engine.process_job(job.id))
    await asyncio.wait_for(started.wait(), 5)

    w.clock.advance(1000)  # far beyond the old 300 s stale-lock limit and the lease itself

    async def renewed() -> bool:
        stored = await w.job(job)
        return stored.lease is not None and stored.lease.expires_at.timestamp() > w.clock()

    await wait_for(renewed)
    await w.second_engine().process_job(job.id)  # the redelivered message, on another worker
    assert handler.process_calls == 1, "the job was healed and run a second time while its handler ran"
    assert (await w.job(job)).status is JobStatus.LOCKED_FOR_PROCESSING

    release.set()
    await asyncio.wait_for(first, 5)
    stored = await w.job(job)
    assert stored.status is JobStatus.PENDING_VERIFICATION, "the final write lost to the lease renewals"
    assert stored.external_id == "ext-slow"
    assert stored.lease is None, "a lease lives only while the job is LockedForProcessing"
    assert handler.max_running == 1


async def test_checkpoints_and_renewals_share_the_version_so_the_final_write_applies() -> None:
    w = make_world(lease_seconds=LEASE, lease_renew_seconds=0.001)
    renewals_seen = asyncio.Event()

    async def run(job: JobItem) -> str:
        for i in range(5):
            version = (await w.job(job)).version
            job.metadata.common.failure_reason = f"tx {i} sent"
            await w.engine.checkpoint(job)

            async def bumped(before: int = version + 1) -> bool:
                return (await w.job(job)).version > before  # a renewal happened after the checkpoint

            await wait_for(bumped)
        renewals_seen.set()
        return "ext"

    w.handler.process = run
    job = await created(w)
    await asyncio.wait_for(w.engine.process_job(job.id), 5)
    assert renewals_seen.is_set()
    stored = await w.job(job)
    assert stored.status is JobStatus.PENDING_VERIFICATION
    assert stored.metadata.common.failure_reason == "tx 4 sent"


async def test_a_worker_whose_lease_was_taken_over_stops_cleanly(caplog: pytest.LogCaptureFixture) -> None:
    handler, started, release = blocking_handler()
    w = make_world(handler, lease_seconds=LEASE, lease_renew_seconds=0.01)
    job = await created(w)
    task = asyncio.create_task(w.engine.process_job(job.id))
    await asyncio.wait_for(started.wait(), 5)

    # Another worker took the job over (e.g. after this one stalled past its lease).
    stored = await w.job(job)
    other = JobLease(owner="other-worker", expires_at=datetime.fromtimestamp(w.clock() + LEASE, UTC))
    await w.db.update_job(stored, JobItemUpdates(status=JobStatus.LOCKED_FOR_PROCESSING, lease=other))

    caplog.set_level(logging.WARNING)
    try:
        await asyncio.wait_for(asyncio.shield(task), 5)  # the old engine never stops its handler
    finally:
        release.set()
    await task  # no VersionConflictError escapes
    assert "lost the job" in caplog.text
    stored = await w.job(job)
    assert stored.lease is not None and stored.lease.owner == "other-worker", "the loser must not write"


async def test_a_final_write_that_loses_the_compare_and_swap_ends_the_attempt_cleanly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    handler, started, release = blocking_handler()
    w = make_world(handler, lease_seconds=LEASE, lease_renew_seconds=3600)  # no renewal in this test
    job = await created(w)
    task = asyncio.create_task(w.engine.process_job(job.id))
    await asyncio.wait_for(started.wait(), 5)
    stored = await w.job(job)
    await w.db.update_job(stored, JobItemUpdates(status=JobStatus.CREATED))  # an operator or another worker
    caplog.set_level(logging.WARNING)
    release.set()
    await asyncio.wait_for(task, 5)  # the old engine raised VersionConflictError here
    assert "lost the job" in caplog.text
    assert (await w.job(job)).status is JobStatus.CREATED


async def test_only_an_expired_lease_is_healed() -> None:
    w = make_world(lease_seconds=LEASE)
    job = await created(w)
    stored = await w.job(job)
    lease = JobLease(owner="dead-worker", expires_at=datetime.fromtimestamp(w.clock() + 30, UTC))
    meta = stored.metadata.model_copy(deep=True)
    meta.common.process_started_at = int(w.clock()) - 10_000  # started long ago: the old rule healed it
    await w.db.update_job(stored, JobItemUpdates(status=JobStatus.LOCKED_FOR_PROCESSING, metadata=meta, lease=lease))

    await w.engine.process_job(job.id)
    assert w.handler.process_calls == 0, "a job whose lease is valid was healed"

    w.clock.advance(31)
    await w.engine.process_job(job.id)
    assert w.handler.process_calls == 1
    assert await status_is(w, job, JobStatus.PENDING_VERIFICATION)


async def test_the_sweep_leaves_leased_jobs_alone_and_requeues_expired_ones() -> None:
    w = make_world(lease_seconds=LEASE)
    job = await created(w)
    stored = await w.job(job)
    meta = stored.metadata.model_copy(deep=True)
    meta.common.process_started_at = int(w.clock()) - 10_000
    far = datetime.fromtimestamp(w.clock() + 20_000, UTC)
    await w.db.update_job(
        stored,
        JobItemUpdates(
            status=JobStatus.LOCKED_FOR_PROCESSING, metadata=meta, lease=JobLease(owner="x", expires_at=far)
        ),
    )
    # The fake store stamps the write with the engine's clock: 10 000 s later the job is stale by the sweep's
    # cutoff, without editing its updated_at.
    w.clock.advance(10_000)
    w.queue.sent.clear()
    assert await w.engine.sweep_lost_jobs() == 0, "the sweep re-enqueued a job whose lease is valid"

    w.clock.advance(10_001)
    assert await w.engine.sweep_lost_jobs() == 1
    assert len(w.queued(PROCESS_Q)) == 1


async def test_a_hung_handler_is_cancelled_at_its_timeout_and_retried_as_transient() -> None:
    handler, _, _ = blocking_handler()
    w = make_world(handler, handler_timeout_seconds={JobType.SNOS_RUN: 0.05}, lease_seconds=LEASE)
    job = await created(w)
    w.queue.sent.clear()
    await asyncio.wait_for(w.engine.process_job(job.id), 5)  # no RetryLater: the receive is not spent
    stored = await w.job(job)
    assert stored.status is JobStatus.CREATED
    assert "timeout" in (stored.metadata.common.failure_reason or "")
    assert stored.metadata.common.transient_failure_count == 1
    assert stored.metadata.common.process_attempt_no == 0, "a timed-out attempt is transient, not a real attempt"
    [(_, delay)] = w.queued(PROCESS_Q)
    assert 2 <= delay <= 4


async def test_a_lost_checkpoint_wrapped_by_the_handler_still_ends_the_attempt_cleanly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from orchestrator.core.errors import VersionConflictError
    from orchestrator.services.job.handler import RetryableJobError

    w = make_world(lease_seconds=LEASE, lease_renew_seconds=3600)

    async def run(job: JobItem) -> str:
        stored = await w.job(job)
        await w.db.update_job(stored, JobItemUpdates(status=JobStatus.CREATED))  # taken over meanwhile
        try:
            await w.engine.checkpoint(job)
        except VersionConflictError as exc:  # e.g. the StateTransition handler wraps what it does not know
            raise RetryableJobError(f"state update failed: {exc}") from exc
        return "never"

    w.handler.process = run
    job = await created(w)
    w.queue.sent.clear()
    caplog.set_level(logging.WARNING)
    await w.engine.process_job(job.id)
    assert "lost the job" in caplog.text
    # no retry of a job this worker no longer owns: only a look at it when this worker's lease ends
    assert [delay for _, _, delay in w.queue.sent] == [LEASE + 1], w.queue.sent


async def test_a_lease_is_never_renewed_past_the_handler_timeout_plus_one_lease() -> None:
    handler, started, release = blocking_handler()
    w = make_world(
        handler, lease_seconds=LEASE, lease_renew_seconds=0.01, handler_timeout_seconds={JobType.SNOS_RUN: 100}
    )
    job = await created(w)
    first = asyncio.create_task(w.engine.process_job(job.id))
    await asyncio.wait_for(started.wait(), 5)
    begun = (await w.job(job)).metadata.common.process_started_at
    assert begun is not None
    w.clock.advance(1000)  # the clock says the handler overran its timeout (a stuck worker)
    version = (await w.job(job)).version

    async def renewed_after_the_jump() -> bool:
        return (await w.job(job)).version > version + 1

    await wait_for(renewed_after_the_jump)
    lease = (await w.job(job)).lease
    assert lease is not None and lease.expires_at.timestamp() <= begun + 100 + LEASE

    # So another worker may take the job over, and the stuck one stops at its next renewal.
    second = asyncio.create_task(w.second_engine().process_job(job.id))

    async def taken_over() -> bool:
        return handler.process_calls == 2

    await wait_for(taken_over)
    await asyncio.wait_for(first, 5)  # cancelled by its lease keeper, without writing
    release.set()
    await asyncio.wait_for(second, 5)
    assert (await w.job(job)).status is JobStatus.PENDING_VERIFICATION
