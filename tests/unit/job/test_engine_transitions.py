"""One test per transition of the reference's state machine (§3), with fake handlers and clients."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field

import pytest

from orchestrator.core.errors import InvalidJobStatusError
from orchestrator.core.models.job import JobItem, JobStatus, JobType
from orchestrator.core.models.metadata import SnosMetadata
from orchestrator.core.models.queue import QueueType, decode_job_message
from orchestrator.services.job.engine import EngineParams, JobEngine, RetryLater
from orchestrator.services.job.handler import FatalJobError, Verification
from tests.fakes import FakeAlerts, FakeClock, FakeDatabase, FakeQueue

PROCESS_Q = QueueType.SNOS_JOB_PROCESSING
VERIFY_Q = QueueType.SNOS_JOB_VERIFICATION


@dataclass
class ScriptedHandler:
    """Processes and verifies as scripted: each call takes the next outcome."""

    process_outcomes: list[object] = field(default_factory=lambda: ["ext-1"])
    verify_outcomes: list[Verification] = field(default_factory=lambda: [Verification.verified()])
    ready_delays: list[int | None] = field(default_factory=list)
    job_type: JobType = JobType.SNOS_RUN
    max_process_attempts: int = 2
    max_verification_attempts: int = 3
    verification_polling_delay_seconds: int = 30
    process_calls: int = 0
    verify_calls: int = 0

    async def check_ready_to_process(self, job: JobItem) -> int | None:
        return self.ready_delays.pop(0) if self.ready_delays else None

    async def process_job(self, job: JobItem) -> str | int:
        self.process_calls += 1
        outcome = self.process_outcomes.pop(0) if len(self.process_outcomes) > 1 else self.process_outcomes[0]
        if isinstance(outcome, BaseException):
            raise outcome
        assert isinstance(outcome, str | int)
        return outcome

    async def verify_job(self, job: JobItem) -> Verification:
        self.verify_calls += 1
        return self.verify_outcomes.pop(0) if len(self.verify_outcomes) > 1 else self.verify_outcomes[0]


@dataclass
class World:
    engine: JobEngine
    db: FakeDatabase
    queue: FakeQueue
    alerts: FakeAlerts
    clock: FakeClock
    handler: ScriptedHandler
    completed: list[JobItem]

    async def job(self, job: JobItem) -> JobItem:
        stored = await self.db.get_job_by_id(job.id)
        assert stored is not None
        return stored

    def queued(self, queue: QueueType) -> list[tuple[str, int]]:
        return [(body, delay) for q, body, delay in self.queue.sent if q == queue]


def make_world(handler: ScriptedHandler | None = None) -> World:
    clock = FakeClock()
    db, queue, alerts = FakeDatabase(clock), FakeQueue(clock), FakeAlerts()
    handler = handler or ScriptedHandler()
    completed: list[JobItem] = []

    async def on_completed(job: JobItem) -> None:
        completed.append(job)

    engine = JobEngine(
        db,
        queue,  # type: ignore[arg-type]
        alerts,
        {JobType.SNOS_RUN: handler},  # type: ignore[dict-item]
        EngineParams(orchestrator_version="0.1.0", lease_seconds=300),
        on_completed=on_completed,
        clock=clock,
    )
    return World(engine, db, queue, alerts, clock, handler, completed)


def snos(internal_id: int = 1) -> SnosMetadata:
    return SnosMetadata(snos_batch_index=internal_id, start_block=internal_id, end_block=internal_id, num_blocks=1)


async def created(world: World, internal_id: int = 1) -> JobItem:
    job = await world.engine.create_job(JobType.SNOS_RUN, internal_id, snos(internal_id))
    assert job is not None
    return job


async def set_status(world: World, job: JobItem, status: JobStatus, **common: object) -> JobItem:
    job = await world.job(job)
    meta = job.metadata.model_copy(deep=True)
    for key, value in common.items():
        setattr(meta.common, key, value)
    return await world.engine.write(job, status, meta)


def statuses_of(jobs: Iterable[JobItem]) -> list[JobStatus]:
    return [j.status for j in jobs]


# --- Created -> LockedForProcessing -> PendingVerification -> Completed ----------------------------
async def test_happy_path_reaches_completed_at_version_4() -> None:
    w = make_world()
    job = await created(w)
    assert job.status is JobStatus.CREATED and job.version == 0
    assert [decode_job_message(b) for b, _ in w.queued(PROCESS_Q)] == [job.id]

    await w.engine.process_job(job.id)
    job = await w.job(job)
    assert job.status is JobStatus.PENDING_VERIFICATION
    assert job.external_id == "ext-1"
    assert job.metadata.common.process_attempt_no == 1
    assert job.metadata.common.process_completed_at is not None
    assert w.queued(VERIFY_Q)[-1][1] == 1, "the first check comes right after processing (adaptive verification)"

    await w.engine.verify_job(job.id)
    job = await w.job(job)
    assert job.status is JobStatus.COMPLETED
    assert job.version == 4, "create v0 -> locked v1 -> pending v2 -> verify bump v3 -> completed v4"
    assert job.metadata.common.verification_completed_at is not None
    assert [j.id for j in w.completed] == [job.id]


async def test_create_is_idempotent_on_type_and_internal_id() -> None:
    w = make_world()
    await created(w, 7)
    assert await w.engine.create_job(JobType.SNOS_RUN, 7, snos(7)) is None
    assert len(w.db.jobs) == 1
    assert len(w.queued(PROCESS_Q)) == 1


async def test_not_ready_requeues_with_delay_without_locking() -> None:
    w = make_world(ScriptedHandler(ready_delays=[60]))
    job = await created(w)
    await w.engine.process_job(job.id)
    job = await w.job(job)
    assert job.status is JobStatus.CREATED
    assert w.queued(PROCESS_Q)[-1][1] == 60
    assert w.handler.process_calls == 0


# --- LockedForProcessing -> Created (stale heal) -> LockedForProcessing ----------------------------
async def test_stale_lock_is_healed_and_processed() -> None:
    w = make_world()
    job = await created(w)
    job = await set_status(w, job, JobStatus.LOCKED_FOR_PROCESSING, process_started_at=int(w.clock()))
    w.clock.advance(301)
    await w.engine.process_job(job.id)
    job = await w.job(job)
    assert job.status is JobStatus.PENDING_VERIFICATION
    assert w.handler.process_calls == 1


async def test_fresh_lock_is_left_alone() -> None:
    w = make_world()
    job = await created(w)
    job = await set_status(w, job, JobStatus.LOCKED_FOR_PROCESSING, process_started_at=int(w.clock()))
    w.clock.advance(10)
    await w.engine.process_job(job.id)
    assert (await w.job(job)).status is JobStatus.LOCKED_FOR_PROCESSING
    assert w.handler.process_calls == 0


async def test_lock_without_start_time_counts_as_stale() -> None:
    w = make_world()
    job = await created(w)
    job = await set_status(w, job, JobStatus.LOCKED_FOR_PROCESSING, process_started_at=None)
    await w.engine.process_job(job.id)
    assert (await w.job(job)).status is JobStatus.PENDING_VERIFICATION


# --- LockedForProcessing -> {Created | VerificationFailed | PendingRetry} on a retryable error ----
@pytest.mark.parametrize("original", [JobStatus.CREATED, JobStatus.VERIFICATION_FAILED, JobStatus.PENDING_RETRY])
async def test_retryable_error_restores_original_status(original: JobStatus) -> None:
    w = make_world(ScriptedHandler(process_outcomes=[RuntimeError("rpc down")]))
    job = await created(w)
    if original is not JobStatus.CREATED:
        job = await set_status(w, job, original)
    with pytest.raises(RetryLater) as raised:
        await w.engine.process_job(job.id)
    assert raised.value.delay_seconds == w.engine.params.retry_delay_seconds
    job = await w.job(job)
    assert job.status is original
    assert job.metadata.common.process_retry_attempt_no == 1
    assert job.metadata.common.process_started_at is None
    assert "rpc down" in (job.metadata.common.failure_reason or "")


# --- LockedForProcessing -> Failed (non-retryable) ------------------------------------------------
async def test_fatal_error_fails_the_job_and_alerts() -> None:
    w = make_world(ScriptedHandler(process_outcomes=[FatalJobError("contract class not found")]))
    job = await created(w)
    await w.engine.process_job(job.id)  # no RetryLater: the message is acked
    job = await w.job(job)
    assert job.status is JobStatus.FAILED
    assert "contract class not found" in (job.metadata.common.failure_reason or "")
    assert any("Job Failed Alert" in m for m in w.alerts.messages)
    assert await w.engine.is_halted()


# --- PendingVerification -> PendingVerification (pending) ------------------------------------------
async def test_pending_verification_polls_again_with_backoff_towards_the_polling_delay() -> None:
    w = make_world(ScriptedHandler(verify_outcomes=[Verification.pending()], max_verification_attempts=10))
    job = await created(w)
    await w.engine.process_job(job.id)
    delays = []
    for _ in range(7):
        await w.engine.verify_job(job.id)
        delays.append(w.queued(VERIFY_Q)[-1][1])
        w.clock.advance(delays[-1])
    job = await w.job(job)
    assert job.status is JobStatus.PENDING_VERIFICATION
    assert job.metadata.common.verification_attempt_no == 7
    assert delays == [2, 4, 8, 16, 30, 30, 30], "doubling from the first delay, capped at the polling delay"


async def test_duplicate_verify_message_is_dropped() -> None:
    w = make_world(ScriptedHandler(verify_outcomes=[Verification.pending()]))
    job = await created(w)
    await w.engine.process_job(job.id)
    await w.engine.verify_job(job.id)
    w.clock.advance(1)
    await w.engine.verify_job(job.id)  # a second flow, 1 s after the first attempt
    assert w.handler.verify_calls == 1


# --- PendingVerification -> VerificationFailed -> process queue -> LockedForProcessing -------------
async def test_rejection_with_attempts_left_goes_back_to_processing() -> None:
    w = make_world(ScriptedHandler(verify_outcomes=[Verification.rejected("bad proof"), Verification.verified()]))
    job = await created(w)
    await w.engine.process_job(job.id)
    await w.engine.verify_job(job.id)
    job = await w.job(job)
    assert job.status is JobStatus.VERIFICATION_FAILED
    assert job.metadata.common.failure_reason == "bad proof"
    assert decode_job_message(w.queued(PROCESS_Q)[-1][0]) == job.id

    await w.engine.process_job(job.id)
    job = await w.job(job)
    assert job.status is JobStatus.PENDING_VERIFICATION
    assert job.metadata.common.process_attempt_no == 2
    w.clock.advance(30)
    await w.engine.verify_job(job.id)
    assert (await w.job(job)).status is JobStatus.COMPLETED


# --- PendingVerification -> Failed (rejected, attempts exhausted) ----------------------------------
async def test_rejection_without_attempts_left_fails() -> None:
    w = make_world(ScriptedHandler(verify_outcomes=[Verification.rejected("wrong root")], max_process_attempts=1))
    job = await created(w)
    await w.engine.process_job(job.id)
    await w.engine.verify_job(job.id)
    job = await w.job(job)
    assert job.status is JobStatus.FAILED
    assert job.metadata.common.failure_reason == "Verification rejected. Max process attempts reached: 1"
    assert job.metadata.common.previous_failure_reasons == ["wrong root"]


# --- PendingVerification -> VerificationTimeout -> re-verify -> PendingVerification ----------------
async def test_verification_timeout_then_operator_reverify() -> None:
    w = make_world(ScriptedHandler(verify_outcomes=[Verification.pending()], max_verification_attempts=2))
    job = await created(w)
    await w.engine.process_job(job.id)
    await w.engine.verify_job(job.id)
    w.clock.advance(30)
    await w.engine.verify_job(job.id)
    assert (await w.job(job)).status is JobStatus.PENDING_VERIFICATION, "the budget is time: 2 x 30 s"
    w.clock.advance(30)
    await w.engine.verify_job(job.id)
    job = await w.job(job)
    assert job.status is JobStatus.VERIFICATION_TIMEOUT
    assert any("Job Verification Timeout Alert" in m for m in w.alerts.messages)
    assert await w.engine.is_halted()

    job = await w.engine.reverify_job(job.id)
    assert job.status is JobStatus.PENDING_VERIFICATION
    assert job.metadata.common.verification_attempt_no == 0
    assert job.metadata.common.verification_retry_attempt_no == 1
    assert not await w.engine.is_halted()


# --- any non-terminal status -> Failed (DLQ) --------------------------------------------------------
@pytest.mark.parametrize(
    "status",
    [
        JobStatus.CREATED,
        JobStatus.LOCKED_FOR_PROCESSING,
        JobStatus.PENDING_VERIFICATION,
        JobStatus.VERIFICATION_FAILED,
        JobStatus.PENDING_RETRY,
        JobStatus.VERIFICATION_TIMEOUT,
    ],
)
async def test_dead_lettered_job_fails_with_reason(status: JobStatus) -> None:
    w = make_world()
    job = await created(w)
    job = await set_status(w, job, status, failure_reason="earlier problem")
    await w.engine.handle_job_failure(job.id)
    job = await w.job(job)
    assert job.status is JobStatus.FAILED
    assert job.metadata.common.failure_reason == (f"Job moved to DLQ after exhausting retries (last status: {status})")
    assert job.metadata.common.previous_failure_reasons == ["earlier problem"]


async def test_dead_lettered_completed_job_is_ignored() -> None:
    w = make_world()
    job = await created(w)
    job = await set_status(w, job, JobStatus.COMPLETED)
    await w.engine.handle_job_failure(job.id)
    assert (await w.job(job)).status is JobStatus.COMPLETED


# --- Failed -> PendingRetry (retry) -> LockedForProcessing ... --------------------------------------
async def test_operator_retry_of_failed_job() -> None:
    w = make_world(ScriptedHandler(process_outcomes=[FatalJobError("boom"), "ext-2"]))
    job = await created(w)
    await w.engine.process_job(job.id)
    assert (await w.job(job)).status is JobStatus.FAILED

    job = await w.engine.retry_job(job.id)
    assert job.status is JobStatus.PENDING_RETRY
    assert job.metadata.common.process_attempt_no == 0
    assert job.metadata.common.process_retry_attempt_no == 1
    await w.engine.process_job(job.id)
    job = await w.job(job)
    assert job.status is JobStatus.PENDING_VERIFICATION
    assert job.external_id == "ext-2"


async def test_retry_of_a_job_that_is_not_failed_is_refused() -> None:
    w = make_world()
    job = await created(w)
    with pytest.raises(InvalidJobStatusError):
        await w.engine.retry_job(job.id)


# --- messages that no longer apply are dropped --------------------------------------------------------
@pytest.mark.parametrize("status", [JobStatus.PENDING_VERIFICATION, JobStatus.COMPLETED, JobStatus.FAILED])
async def test_process_message_for_a_job_past_processing_does_nothing(status: JobStatus) -> None:
    w = make_world()
    job = await created(w)
    job = await set_status(w, job, status)
    await w.engine.process_job(job.id)
    assert (await w.job(job)).status is status
    assert w.handler.process_calls == 0


# --- beyond the reference ------------------------------------------------------------------------------
async def test_shutdown_during_processing_releases_the_job() -> None:
    w = make_world()
    started = asyncio.Event()

    async def slow(job: JobItem) -> str:
        started.set()
        await asyncio.sleep(30)
        return "never"

    w.handler.process_job = slow  # type: ignore[method-assign]
    job = await created(w)
    task = asyncio.create_task(w.engine.process_job(job.id))
    await started.wait()
    assert (await w.job(job)).status is JobStatus.LOCKED_FOR_PROCESSING
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await w.job(job)).status is JobStatus.CREATED


async def test_sweep_requeues_jobs_whose_messages_were_lost() -> None:
    w = make_world()
    job = await created(w)
    w.queue.sent.clear()
    assert await w.engine.sweep_lost_jobs() == 0, "a fresh job's message may still be in flight"
    stored = w.db.jobs[job.id]
    stored.updated_at = stored.updated_at.replace(year=2000)
    w.clock.t = stored.updated_at.timestamp() + 10_000
    assert await w.engine.sweep_lost_jobs() == 1
    assert [decode_job_message(b) for b, _ in w.queued(PROCESS_Q)] == [job.id]


async def test_checkpoint_persists_metadata_mid_processing() -> None:
    w = make_world()

    async def with_checkpoint(job: JobItem) -> str:
        job.metadata.common.failure_reason = "tx 0xabc sent"
        await w.engine.checkpoint(job)
        stored = await w.job(job)
        assert stored.metadata.common.failure_reason == "tx 0xabc sent"
        assert stored.status is JobStatus.LOCKED_FOR_PROCESSING
        return "0xabc"

    w.handler.process_job = with_checkpoint  # type: ignore[method-assign]
    job = await created(w)
    await w.engine.process_job(job.id)
    job = await w.job(job)
    assert job.status is JobStatus.PENDING_VERIFICATION and job.version == 3
