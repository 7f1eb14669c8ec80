"""Issue 9 defect 3 on a real queue implementation (the local SQLite queue, SQS semantics: a message
received more than five times moves to job_handle_failure).

Before: five quick transient failures dead-lettered the job (then Failed, then the global halt). Now
transient failures are retried through fresh delayed messages and never reach the dead-letter queue;
permanent ones still do, after five receives.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from orchestrator.clients.database.sqlite import SqliteDatabaseClient
from orchestrator.clients.failures import classify_failure
from orchestrator.clients.queue.local import SqliteQueueClient
from orchestrator.core.models.job import JobItem, JobStatus, JobType
from orchestrator.core.models.queue import QueueType, decode_job_message
from orchestrator.services.job.engine import JobEngine, RetryLater
from tests.fakes import FakeAlerts, FakeClock
from tests.unit.job.support import SteeredHandler, accepted_kwargs, params, snos

PROCESS_Q = QueueType.SNOS_JOB_PROCESSING


@dataclass
class Env:
    db: SqliteDatabaseClient
    queue: SqliteQueueClient
    clock: FakeClock
    handler: SteeredHandler
    engine: JobEngine

    async def deliver_process_messages(self, limit: int = 50) -> int:
        """Act as the consumer: receive, process, ack or give back; the clock jumps to each delivery."""
        delivered = 0
        for _ in range(limit):
            delivery = await self.queue.receive(PROCESS_Q, wait_seconds=0)
            if delivery is None:
                self.clock.advance(61)  # past any backoff or retry delay
                delivery = await self.queue.receive(PROCESS_Q, wait_seconds=0)
                if delivery is None:
                    return delivered
            delivered += 1
            try:
                await self.engine.process_job(decode_job_message(delivery.body))
            except RetryLater as exc:
                await self.queue.nack(delivery, exc.delay_seconds)
            else:
                await self.queue.ack(delivery)
        return delivered


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    clock = FakeClock()
    db = SqliteDatabaseClient(tmp_path / "orchestrator.db")
    queue = SqliteQueueClient(tmp_path / "queue.db", orchestrator_version="0.1.0", max_receive_count=5, clock=clock)
    await db.connect()
    await queue.setup()
    handler = SteeredHandler()
    engine = JobEngine(
        db,
        queue,
        FakeAlerts(),
        {JobType.SNOS_RUN: handler},
        params(),
        clock=clock,
        **accepted_kwargs(JobEngine, {"classify": classify_failure}),
    )  # type: ignore[dict-item]
    try:
        yield Env(db, queue, clock, handler, engine)
    finally:
        await queue.close()
        await db.close()


def fails_then_succeeds(failures: list[Exception]) -> SteeredHandler:
    async def run(job: JobItem) -> str:
        if failures:
            raise failures.pop(0)
        return "ext"

    return SteeredHandler(process=run)


async def test_many_transient_failures_never_reach_the_dead_letter_queue(env: Env) -> None:
    failures: list[Exception] = [aiohttp.ServerDisconnectedError() for _ in range(12)]
    env.engine.handlers = {JobType.SNOS_RUN: fails_then_succeeds(failures)}  # type: ignore[dict-item]
    job = await env.engine.create_job(JobType.SNOS_RUN, 1, snos(1))
    assert job is not None
    await env.deliver_process_messages()
    stored = await env.db.get_job_by_id(job.id)
    assert stored is not None and stored.status is JobStatus.PENDING_VERIFICATION
    assert stored.metadata.common.process_attempt_no == 1
    assert await env.queue.receive(QueueType.JOB_HANDLE_FAILURE, wait_seconds=0) is None


async def test_permanent_failures_still_end_in_the_dead_letter_queue(env: Env) -> None:
    failures: list[Exception] = [ValueError("bad input") for _ in range(12)]
    env.engine.handlers = {JobType.SNOS_RUN: fails_then_succeeds(failures)}  # type: ignore[dict-item]
    job = await env.engine.create_job(JobType.SNOS_RUN, 1, snos(1))
    assert job is not None
    await env.deliver_process_messages()
    dead = await env.queue.receive(QueueType.JOB_HANDLE_FAILURE, wait_seconds=0)
    assert dead is not None and decode_job_message(dead.body) == job.id
    stored = await env.db.get_job_by_id(job.id)
    assert stored is not None and stored.metadata.common.process_retry_attempt_no == 5
