"""A job write that fails for a passing reason is tried again; a lock-holder that gives up is healed at
the end of its lease, not by the sweep minutes later.

Found by the chaos suite's queue-and-database scenario: a handler's result write failed on an injected
"database is locked", the job stayed LockedForProcessing, its redelivered message was dropped as a
duplicate of a running job, and nothing moved it for minutes (until the lost-message sweep).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from orchestrator.core.errors import VersionConflictError
from orchestrator.core.failure import classify_core
from orchestrator.core.models.job import JobItem, JobItemUpdates, JobStatus, JobType
from orchestrator.core.models.metadata import JobMetadata
from orchestrator.core.models.queue import decode_job_message
from orchestrator.services.job.writes import JobWriter
from tests.fakes import FakeDatabase
from tests.unit.job.support import PROCESS_Q, VERIFY_Q, SteeredHandler, World, created, make_world, snos

Match = Callable[[JobItemUpdates], bool]


def fail_writes(w: World, match: Match, times: int, applied: bool) -> list[JobItemUpdates]:
    """The next `times` writes that `match` raise ConnectionError; `applied`: after the write took
    place (its reply was lost), else before."""
    real = w.db.update_job
    failed: list[JobItemUpdates] = []

    async def update_job(job: JobItem, updates: JobItemUpdates) -> JobItem:
        if len(failed) < times and match(updates):
            failed.append(updates)
            if applied:
                await real(job, updates)
            raise ConnectionError("database connection lost")
        return await real(job, updates)

    w.db.update_job = update_job  # type: ignore[method-assign]
    w.engine.writer.first_wait_seconds = 0.001  # the backoff's shape is tenacity's; keep the test quick
    return failed


def sets(status: JobStatus) -> Match:
    return lambda updates: updates.status is status


@pytest.mark.parametrize("applied", [False, True], ids=["failed-before-writing", "reply-lost-after-writing"])
async def test_the_result_write_is_retried_so_the_job_moves_on(applied: bool) -> None:
    w = make_world()
    job = await created(w)
    failed = fail_writes(w, sets(JobStatus.PENDING_VERIFICATION), times=2, applied=applied)

    await w.engine.process_job(job.id)

    assert len(failed) == 2
    stored = await w.job(job)
    assert stored.status is JobStatus.PENDING_VERIFICATION
    assert stored.external_id == "ext"
    assert w.handler.process_calls == 1, "the handler's result was kept, not thrown away and redone"
    assert [decode_job_message(body) for body, _ in w.queued(VERIFY_Q)] == [job.id]


async def test_a_retried_claim_whose_reply_was_lost_runs_the_handler_once() -> None:
    w = make_world()
    job = await created(w)
    fail_writes(w, sets(JobStatus.LOCKED_FOR_PROCESSING), times=1, applied=True)

    await w.engine.process_job(job.id)

    assert (await w.job(job)).status is JobStatus.PENDING_VERIFICATION
    assert w.handler.process_calls == 1


async def test_a_duplicate_message_for_a_leased_job_comes_back_when_the_lease_ends() -> None:
    w = make_world(lease_seconds=60)
    job = await created(w)
    # the worker that claimed the job could not record anything since (its database calls failed)
    claimed = await w.engine.write(job, JobStatus.LOCKED_FOR_PROCESSING, lease=w.engine.leases.new_lease())
    w.queue.sent.clear()
    w.clock.advance(20)

    await w.engine.process_job(job.id)  # the redelivered message

    assert w.handler.process_calls == 0, "the lease is still valid: nobody else may run the job"
    assert [(decode_job_message(body), delay) for body, delay in w.queued(PROCESS_Q)] == [(job.id, 41)]

    w.clock.advance(41)
    await w.engine.process_job(job.id)  # that message, once the lease ran out: healed and run
    assert w.handler.process_calls == 1
    assert (await w.job(claimed)).status is JobStatus.PENDING_VERIFICATION


class _Db(FakeDatabase):
    def __init__(self, errors: list[BaseException]) -> None:
        super().__init__()
        self.errors = errors
        self.calls = 0

    async def update_job(self, job: JobItem, updates: JobItemUpdates) -> JobItem:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return await super().update_job(job, updates)


async def _stored_job(db: FakeDatabase) -> JobItem:
    return await db.create_job(JobItem(internal_id=1, job_type=JobType.SNOS_RUN, metadata=JobMetadata(specific=snos())))


async def test_a_conflict_on_the_first_try_is_not_retried() -> None:
    db = _Db([VersionConflictError("another writer won")])
    job = await _stored_job(db)
    with pytest.raises(VersionConflictError):
        await JobWriter(db, classify_core, 5, 0.001).update(job, JobItemUpdates(status=JobStatus.PENDING_RETRY))
    assert db.calls == 1


async def test_a_permanent_error_is_not_retried() -> None:
    db = _Db([ValueError("bad document")])
    job = await _stored_job(db)
    with pytest.raises(ValueError, match="bad document"):
        await JobWriter(db, classify_core, 5, 0.001).update(job, JobItemUpdates(status=JobStatus.PENDING_RETRY))
    assert db.calls == 1


async def test_transient_errors_past_the_budget_surface() -> None:
    db = _Db([ConnectionError("down")] * 1000)
    job = await _stored_job(db)
    with pytest.raises(ConnectionError):
        await JobWriter(db, classify_core, 0.05, 0.001, 0.002).update(
            job, JobItemUpdates(status=JobStatus.PENDING_RETRY)
        )
    assert 1 < db.calls < 1000


async def test_a_conflict_after_a_lost_reply_of_someone_elses_write_is_a_conflict() -> None:
    db = _Db([])
    job = await _stored_job(db)
    await db.update_job(job, JobItemUpdates(status=JobStatus.CREATED))  # another worker's write (not ours)
    db.errors.append(ConnectionError("down"))  # our first try fails; the retry meets the other's version
    with pytest.raises(VersionConflictError):
        await JobWriter(db, classify_core, 5, 0.001).update(job, JobItemUpdates(status=JobStatus.PENDING_RETRY))


def renewal(updates: JobItemUpdates) -> bool:
    return updates.status is None and updates.lease is not None


async def test_a_renewal_whose_reply_was_lost_keeps_the_lease_and_the_run() -> None:
    renewed = asyncio.Event()

    async def run(job: JobItem) -> str:
        await renewed.wait()
        return "ext"

    w = make_world(SteeredHandler(process=run), lease_seconds=60, lease_renew_seconds=0.01)
    job = await created(w)
    failed = fail_writes(w, renewal, times=1, applied=True)
    real = w.db.update_job

    async def update_job(job: JobItem, updates: JobItemUpdates) -> JobItem:
        stored = await real(job, updates)
        if failed and renewal(updates):
            renewed.set()  # a renewal after the lost reply went through
        return stored

    w.db.update_job = update_job  # type: ignore[method-assign]

    await w.engine.process_job(job.id)

    stored = await w.job(job)
    assert stored.status is JobStatus.PENDING_VERIFICATION, "the worker dropped its own job after a lost reply"
    assert w.handler.process_calls == 1


async def test_a_worker_that_lost_its_job_leaves_a_message_for_the_lease_end() -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def run(job: JobItem) -> str:
        started.set()
        await release.wait()
        return "ext"

    w = make_world(SteeredHandler(process=run), lease_seconds=60, lease_renew_seconds=0.01)
    job = await created(w)
    w.queue.sent.clear()
    attempt = asyncio.create_task(w.engine.process_job(job.id))
    await asyncio.wait_for(started.wait(), 5)
    # someone else's write under the running worker: its next renewal loses the compare-and-swap
    stored = await w.job(job)
    await w.db.update_job(stored, JobItemUpdates(metadata=stored.metadata))
    await asyncio.wait_for(attempt, 5)

    assert not release.is_set()
    sent = [(decode_job_message(body), delay) for body, delay in w.queued(PROCESS_Q)]
    assert len(sent) == 1, sent
    assert sent[0][0] == job.id
    assert 55 <= sent[0][1] <= 61, "the message should come back when the lease ends"


async def test_a_checkpoint_retry_that_meets_a_heal_is_a_conflict_not_its_own_write() -> None:
    w = make_world(lease_seconds=60)
    job = await created(w)
    claimed = await w.engine.write(job, JobStatus.LOCKED_FOR_PROCESSING, lease=w.engine.leases.new_lease())
    db = _Db([])
    db.jobs = w.db.jobs
    await db.update_job(claimed, JobItemUpdates(status=JobStatus.CREATED))  # another worker healed it
    db.errors.append(ConnectionError("down"))
    with pytest.raises(VersionConflictError):
        await JobWriter(db, classify_core, 5, 0.001).update(claimed, JobItemUpdates(metadata=claimed.metadata))
