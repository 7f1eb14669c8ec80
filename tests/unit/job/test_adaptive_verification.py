"""Adaptive verification (issue 10 item 3): the first check right after processing, then backing off
towards the job type's polling delay, within the reference's total time (attempts x delay)."""

from __future__ import annotations

from orchestrator.core.models.job import JobItem, JobStatus, JobType
from orchestrator.services.job.handler import Verification
from tests.unit.job.support import VERIFY_Q, SteeredHandler, World, created, make_world


def pending_until(checks: int, polling: int = 30, attempts: int = 3) -> SteeredHandler:
    """Pending for `checks` checks, then verified."""
    seen = [0]

    async def verify(job: JobItem) -> Verification:
        seen[0] += 1
        return Verification.verified() if seen[0] > checks else Verification.pending()

    return SteeredHandler(verify=verify, verification_polling_delay_seconds=polling, max_verification_attempts=attempts)


async def run_checks(w: World, job: JobItem) -> tuple[list[int], float]:
    """Deliver each verify message when it is due until the job leaves PendingVerification;
    returns the delays and the time from processing to the end."""
    start = w.clock()
    delays: list[int] = []
    while (await w.job(job)).status is JobStatus.PENDING_VERIFICATION:
        delay = w.queued(VERIFY_Q)[-1][1]
        delays.append(delay)
        w.clock.advance(delay)
        await w.engine.verify_job(job.id)
        assert len(delays) < 100
    return delays, w.clock() - start


async def test_the_first_check_comes_right_after_processing() -> None:
    w = make_world(pending_until(0))
    job = await created(w)
    await w.engine.process_job(job.id)
    assert w.queued(VERIFY_Q)[-1][1] <= 1, "the reference waits the whole polling delay (30 s) first"
    delays, elapsed = await run_checks(w, job)
    assert (await w.job(job)).status is JobStatus.COMPLETED
    assert delays == [1] and elapsed == 1


async def test_checks_back_off_towards_the_polling_delay() -> None:
    w = make_world(pending_until(6, polling=30, attempts=10))
    job = await created(w)
    await w.engine.process_job(job.id)
    delays, _ = await run_checks(w, job)
    assert delays == [1, 2, 4, 8, 16, 30, 30]
    assert (await w.job(job)).status is JobStatus.COMPLETED


async def test_the_budget_is_the_references_total_time_not_its_attempt_count() -> None:
    w = make_world(pending_until(1000, polling=30, attempts=3))  # the reference: 3 checks, 90 s
    job = await created(w)
    await w.engine.process_job(job.id)
    delays, elapsed = await run_checks(w, job)
    assert (await w.job(job)).status is JobStatus.VERIFICATION_TIMEOUT
    assert elapsed == 90, "timed out exactly when the reference would have"
    assert len(delays) > 3, "more, earlier checks in the same time"
    assert any("Verification Timeout" in m for m in w.alerts.messages)


async def test_a_one_shot_verification_keeps_the_reference_timing() -> None:
    w = make_world(pending_until(1000, polling=1, attempts=1))  # SnosRun in the reference: 1 x 1 s
    job = await created(w)
    await w.engine.process_job(job.id)
    delays, elapsed = await run_checks(w, job)
    assert delays == [1] and elapsed == 1
    assert (await w.job(job)).status is JobStatus.VERIFICATION_TIMEOUT


async def test_first_delay_and_budget_are_configurable_per_job_type() -> None:
    w = make_world(
        pending_until(1000, polling=30, attempts=3),
        first_verification_delay_seconds={JobType.SNOS_RUN: 0},
        verification_budget_seconds={JobType.SNOS_RUN: 20},
    )
    job = await created(w)
    await w.engine.process_job(job.id)
    assert w.queued(VERIFY_Q)[-1][1] == 0
    _, elapsed = await run_checks(w, job)
    assert elapsed == 20
    assert (await w.job(job)).status is JobStatus.VERIFICATION_TIMEOUT


async def test_a_reverify_opens_a_new_window() -> None:
    w = make_world(pending_until(1000, polling=30, attempts=2))
    job = await created(w)
    await w.engine.process_job(job.id)
    await run_checks(w, job)
    assert (await w.job(job)).status is JobStatus.VERIFICATION_TIMEOUT
    w.clock.advance(3600)
    await w.engine.reverify_job(job.id)
    assert w.queued(VERIFY_Q)[-1][1] <= 1
    _, elapsed = await run_checks(w, job)
    assert elapsed == 60


async def test_a_second_flow_is_dropped_but_the_due_message_is_not() -> None:
    w = make_world(pending_until(1000, polling=30, attempts=10))
    job = await created(w)
    await w.engine.process_job(job.id)
    w.clock.advance(1)
    await w.engine.verify_job(job.id)  # first check; the next is due in 2 s
    checks = w.handler.verify_calls
    w.clock.advance(0.5)
    await w.engine.verify_job(job.id)  # e.g. the sweep or an operator's re-queue: too early
    assert w.handler.verify_calls == checks
    w.clock.advance(1.5)
    await w.engine.verify_job(job.id)  # the message that was due
    assert w.handler.verify_calls == checks + 1


async def test_a_zero_polling_delay_checks_at_once_and_counts_attempts_as_the_reference() -> None:
    w = make_world(pending_until(1000, polling=0, attempts=3))
    job = await created(w)
    await w.engine.process_job(job.id)
    delays, elapsed = await run_checks(w, job)
    assert delays == [0, 0, 0] and elapsed == 0
    assert (await w.job(job)).status is JobStatus.VERIFICATION_TIMEOUT
