"""Contract of the job lease (JobItem.lease): stored, renewed by compare-and-swap, dropped on status change.

Every JobRepository must pass these (sqlite always; mongodb when its service runs; the in-memory fake).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from orchestrator.core.clients.database import JobRepository
from orchestrator.core.errors import VersionConflictError
from orchestrator.core.models.job import JobItem, JobItemUpdates, JobLease, JobStatus
from tests.integration.contracts.test_database import snos

S = JobStatus


def lease(owner: str, seconds: float) -> JobLease:
    # Whole milliseconds: MongoDB stores datetimes at that precision.
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=seconds)
    return JobLease(owner=owner, expires_at=when)


async def test_a_claim_stores_the_lease_and_a_renewal_replaces_it(jobs: JobRepository) -> None:
    job = await jobs.create_job(snos(1))
    assert (await jobs.get_job_by_id(job.id)).lease is None  # type: ignore[union-attr]

    first = lease("worker-a", 60)
    claimed = await jobs.update_job(job, JobItemUpdates(status=S.LOCKED_FOR_PROCESSING, lease=first))
    assert claimed.lease == first and claimed.version == 1
    stored = await jobs.get_job_by_id(job.id)
    assert stored is not None and stored.lease == first
    assert stored.lease.expires_at.tzinfo is not None

    renewed_lease = lease("worker-a", 120)
    renewed = await jobs.update_job(claimed, JobItemUpdates(lease=renewed_lease))
    assert renewed.version == 2 and renewed.status is S.LOCKED_FOR_PROCESSING
    assert renewed.lease == renewed_lease
    assert await jobs.get_job_by_id(job.id) == renewed


async def test_a_renewal_from_an_outdated_version_loses(jobs: JobRepository) -> None:
    job = await jobs.create_job(snos(1))
    claimed = await jobs.update_job(job, JobItemUpdates(status=S.LOCKED_FOR_PROCESSING, lease=lease("a", 60)))
    healed = await jobs.update_job(claimed, JobItemUpdates(status=S.CREATED))  # someone else healed it
    with pytest.raises(VersionConflictError):
        await jobs.update_job(claimed, JobItemUpdates(lease=lease("a", 120)))
    stored = await jobs.get_job_by_id(job.id)
    assert stored == healed and stored is not None and stored.lease is None


async def test_metadata_writes_keep_the_lease_and_status_changes_drop_it(jobs: JobRepository) -> None:
    job = await jobs.create_job(snos(1))
    held = lease("a", 60)
    claimed = await jobs.update_job(job, JobItemUpdates(status=S.LOCKED_FOR_PROCESSING, lease=held))
    meta = claimed.metadata.model_copy(deep=True)
    meta.common.failure_reason = "checkpoint"
    checkpointed = await jobs.update_job(claimed, JobItemUpdates(metadata=meta))
    assert checkpointed.lease == held, "a checkpoint must not drop the lease"
    done = await jobs.update_job(checkpointed, JobItemUpdates(status=S.PENDING_VERIFICATION, external_id="x"))
    assert done.lease is None
    stored = await jobs.get_job_by_id(job.id)
    assert stored is not None and stored.lease is None


async def test_a_lease_round_trips_through_queries(jobs: JobRepository) -> None:
    job = await jobs.create_job(snos(1))
    held = lease("a", 60)
    await jobs.update_job(job, JobItemUpdates(status=S.LOCKED_FOR_PROCESSING, lease=held))
    [found] = await jobs.get_jobs_by_status(S.LOCKED_FOR_PROCESSING)
    assert found.lease == held
    later = datetime.now(UTC) + timedelta(days=1)
    [stale] = await jobs.get_jobs_updated_before([S.LOCKED_FOR_PROCESSING], later, 10)
    assert stale.lease == held


async def test_concurrent_renewals_of_one_version_have_one_winner(jobs_harness) -> None:
    a, b = await jobs_harness.new_client(), await jobs_harness.new_client()
    job = await a.create_job(snos(1))
    claimed = await a.update_job(job, JobItemUpdates(status=S.LOCKED_FOR_PROCESSING, lease=lease("a", 60)))
    results = await asyncio.gather(
        a.update_job(claimed, JobItemUpdates(lease=lease("a", 120))),
        b.update_job(claimed, JobItemUpdates(status=S.CREATED)),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, JobItem)]
    assert len(winners) == 1 and sum(isinstance(r, VersionConflictError) for r in results) == 1
    stored = await b.get_job_by_id(job.id)
    assert stored is not None and stored == winners[0]
