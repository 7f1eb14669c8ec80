"""Transient vs permanent failures (issue 9 defect 3).

A passing failure (network, 5xx, timeout, open circuit) is retried with exponential backoff and
jitter within the job type's time budget, through a fresh delayed message, so it does not spend the
queue's dead-letter receives; only permanent failures or an exhausted budget count as attempts.
"""

from __future__ import annotations

import aiohttp
import pytest

from orchestrator.clients.failures import classify_failure
from orchestrator.core.errors import ServiceUnavailableError
from orchestrator.core.models.job import JobItem, JobStatus, JobType
from orchestrator.core.models.queue import decode_job_message
from orchestrator.services.job.engine import RetryLater
from orchestrator.services.job.handler import FatalJobError, RetryableJobError, Verification
from tests.unit.job.support import PROCESS_Q, VERIFY_Q, SteeredHandler, created, make_world


def failing(*errors: BaseException) -> SteeredHandler:
    queue = list(errors)

    async def run(job: JobItem) -> str:
        if queue:
            raise queue.pop(0)
        return "ext"

    return SteeredHandler(process=run)


async def test_a_transient_failure_is_retried_by_a_fresh_delayed_message_not_a_redelivery() -> None:
    w = make_world(failing(ServiceUnavailableError("L1 RPC answered 503")))
    job = await created(w)
    w.queue.sent.clear()
    await w.engine.process_job(job.id)  # returns: the current message is acked, no receive is spent
    stored = await w.job(job)
    assert stored.status is JobStatus.CREATED
    assert stored.metadata.common.process_attempt_no == 0, "a transient failure is not an attempt"
    assert stored.metadata.common.process_retry_attempt_no == 0
    assert stored.metadata.common.transient_failure_since == int(w.clock())
    assert "503" in (stored.metadata.common.failure_reason or "")
    [(body, delay)] = w.queued(PROCESS_Q)
    assert decode_job_message(body) == job.id
    assert 2 <= delay <= 4, "2 s plus up to 2 s of jitter"


async def test_transient_retries_back_off_exponentially_to_60_seconds() -> None:
    w = make_world(failing(*(ServiceUnavailableError("down") for _ in range(9))))
    job = await created(w)
    w.queue.sent.clear()
    for _ in range(9):
        await w.engine.process_job(job.id)
        w.clock.advance(w.queued(PROCESS_Q)[-1][1])
    delays = [d for _, d in w.queued(PROCESS_Q)]
    for low, delay in zip((2, 4, 8, 16, 32, 60, 60, 60, 60), delays, strict=True):
        assert low <= delay <= min(low + 2, 60), delays
    await w.engine.process_job(job.id)
    assert (await w.job(job)).status is JobStatus.PENDING_VERIFICATION
    stored = await w.job(job)
    assert stored.metadata.common.transient_failure_since is None, "success closes the transient episode"
    assert stored.metadata.common.process_attempt_no == 1


async def test_an_exhausted_budget_counts_as_a_real_attempt() -> None:
    w = make_world(failing(*(ServiceUnavailableError("down") for _ in range(5))), default_transient_budget_seconds=900)
    job = await created(w)
    await w.engine.process_job(job.id)
    w.clock.advance(901)
    with pytest.raises(RetryLater, match="budget"):
        await w.engine.process_job(job.id)
    stored = await w.job(job)
    assert stored.status is JobStatus.CREATED
    assert stored.metadata.common.process_retry_attempt_no == 1
    # Past the budget every further transient failure is a real attempt (the DLQ bounds them).
    with pytest.raises(RetryLater):
        await w.engine.process_job(job.id)


async def test_the_budget_is_configurable_per_job_type() -> None:
    w = make_world(
        failing(*(ServiceUnavailableError("down") for _ in range(3))),
        transient_budget_seconds={JobType.SNOS_RUN: 30},
    )
    job = await created(w)
    await w.engine.process_job(job.id)
    w.clock.advance(31)
    with pytest.raises(RetryLater):
        await w.engine.process_job(job.id)


async def test_permanent_failures_are_real_attempts_and_fatal_ones_fail_at_once() -> None:
    w = make_world(failing(ValueError("bad input"), FatalJobError("contract class not found")))
    job = await created(w)
    with pytest.raises(RetryLater):
        await w.engine.process_job(job.id)
    assert (await w.job(job)).metadata.common.process_retry_attempt_no == 1
    await w.engine.process_job(job.id)
    assert (await w.job(job)).status is JobStatus.FAILED


@pytest.mark.parametrize(
    "error",
    [
        RetryableJobError("block 7 is still pending"),
        aiohttp.ClientConnectionError("connection reset"),
        RuntimeError("state update failed"),  # raised from an open circuit below
    ],
    ids=["handler-says-retryable", "aiohttp", "wrapped"],
)
async def test_the_injected_classifier_decides(error: Exception) -> None:
    if isinstance(error, RuntimeError):
        error.__cause__ = ServiceUnavailableError("circuit open")
    w = make_world(failing(error), classify=classify_failure)
    job = await created(w)
    await w.engine.process_job(job.id)  # no RetryLater
    assert (await w.job(job)).metadata.common.transient_failure_count == 1


# --- verification ----------------------------------------------------------------------------------


def verifying(*outcomes: BaseException | Verification) -> SteeredHandler:
    queue = list(outcomes)

    async def verify(job: JobItem) -> Verification:
        outcome = queue.pop(0) if queue else Verification.verified()
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    return SteeredHandler(verify=verify)


async def test_a_transient_verification_failure_checks_again_later() -> None:
    w = make_world(verifying(ServiceUnavailableError("prover 503")))
    job = await created(w)
    await w.engine.process_job(job.id)
    w.queue.sent.clear()
    await w.engine.verify_job(job.id)  # the old engine let the error escape (NACK, then the DLQ)
    stored = await w.job(job)
    assert stored.status is JobStatus.PENDING_VERIFICATION
    assert stored.metadata.common.transient_failure_count == 1
    [(_, delay)] = w.queued(VERIFY_Q)
    assert 2 <= delay <= 4
    w.clock.advance(delay)
    await w.engine.verify_job(job.id)
    stored = await w.job(job)
    assert stored.status is JobStatus.COMPLETED
    assert stored.metadata.common.transient_failure_count == 0


async def test_a_permanent_verification_failure_is_a_rejection() -> None:
    w = make_world(verifying(ValueError("malformed receipt")))
    job = await created(w)
    await w.engine.process_job(job.id)
    await w.engine.verify_job(job.id)
    stored = await w.job(job)
    assert stored.status is JobStatus.VERIFICATION_FAILED, "attempts remain: processed again"
    assert "malformed receipt" in (stored.metadata.common.failure_reason or "")
    assert decode_job_message(w.queued(PROCESS_Q)[-1][0]) == job.id


async def test_a_permanent_verification_failure_without_attempts_left_fails_the_job() -> None:
    handler = verifying(ValueError("malformed receipt"))
    handler.max_process_attempts = 1
    w = make_world(handler)
    job = await created(w)
    await w.engine.process_job(job.id)
    await w.engine.verify_job(job.id)
    assert (await w.job(job)).status is JobStatus.FAILED


async def test_transient_verification_failures_past_the_budget_are_a_rejection() -> None:
    w = make_world(verifying(*(ServiceUnavailableError("down") for _ in range(3))))
    job = await created(w)
    await w.engine.process_job(job.id)
    await w.engine.verify_job(job.id)
    w.clock.advance(901)
    await w.engine.verify_job(job.id)
    stored = await w.job(job)
    assert stored.status is JobStatus.VERIFICATION_FAILED
    assert "kept failing" in (stored.metadata.common.failure_reason or "")
