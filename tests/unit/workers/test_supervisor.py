"""The worker supervisor: per-queue consumers, their visibility, the supervised loops, shutdown."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import pytest

from orchestrator.clients.queue.local import SqliteQueueClient
from orchestrator.controllers.cli.run import worker_params
from orchestrator.controllers.workers.supervisor import WorkerParams, WorkerSupervisor
from orchestrator.core.clients.queue import Delivery
from orchestrator.core.models.queue import Layer, QueueType, encode_job_message
from orchestrator.services.job.engine import JobEngine
from orchestrator.services.job.triggers import TriggerDispatcher
from tests.eventually import eventually
from tests.fakes import FakeAlerts
from tests.unit.test_bootstrap import settings

UPDATE_STATE = QueueType.UPDATE_STATE_JOB_PROCESSING


class RecordingQueue(SqliteQueueClient):
    """The local queue, remembering every visibility extension."""

    def __init__(self, path: Path, visibility: dict[QueueType, int]) -> None:
        super().__init__(path, "0.1.0", visibility_timeouts=visibility, poll_interval_seconds=0.02)
        self.extends: list[tuple[QueueType, int]] = []

    async def extend(self, delivery: Delivery, visibility_timeout: int) -> None:
        self.extends.append((delivery.queue, visibility_timeout))
        await super().extend(delivery, visibility_timeout)


class BlockingEngine:
    """What the supervisor calls on the engine; `process_job` holds until `release` is set."""

    def __init__(self) -> None:
        self.alerts = FakeAlerts()
        self.release = asyncio.Event()
        self.processing: list[uuid.UUID] = []
        self.sweeps = 0

    async def process_job(self, job_id: uuid.UUID) -> None:
        self.processing.append(job_id)
        await self.release.wait()

    async def verify_job(self, job_id: uuid.UUID) -> None:
        return None

    async def handle_job_failure(self, job_id: uuid.UUID) -> None:
        return None

    async def is_halted(self) -> bool:
        return False

    async def sweep_lost_jobs(self, limit: int = 200) -> int:
        self.sweeps += 1
        return 0


def supervisor_for(engine: BlockingEngine, queue: SqliteQueueClient, params: WorkerParams) -> WorkerSupervisor:
    as_engine = cast(JobEngine, engine)
    return WorkerSupervisor(as_engine, queue, TriggerDispatcher(as_engine, {}), params)


@pytest.fixture
def visibility() -> dict[QueueType, int]:
    # As bootstrap.visibility_timeouts shapes them: the update-state queue keeps messages longer.
    timeouts = {q: 1 for q in QueueType}
    timeouts[UPDATE_STATE] = 3
    return timeouts


@pytest.fixture
async def queue(tmp_path: Path, visibility: dict[QueueType, int]) -> AsyncIterator[RecordingQueue]:
    client = RecordingQueue(tmp_path / "q.sqlite3", visibility)
    await client.setup()
    yield client
    await client.close()


async def test_the_heartbeat_renews_each_queue_with_its_own_visibility(
    queue: RecordingQueue, visibility: dict[QueueType, int]
) -> None:
    engine = BlockingEngine()
    params = WorkerParams(
        layer=Layer.L2, wait_seconds=0.1, visibility_timeout=1, visibility_timeouts=visibility, sweep_interval=60
    )
    supervisor = supervisor_for(engine, queue, params)
    await supervisor.start()
    try:
        await queue.send(UPDATE_STATE, encode_job_message(uuid.uuid4()))
        await eventually(lambda: any(q is UPDATE_STATE for q, _ in queue.extends), timeout=5)
        assert {v for q, v in queue.extends if q is UPDATE_STATE} == {3}, "the first beat keeps the queue's 3 s"
        assert await queue.in_flight_count(UPDATE_STATE) == 1
    finally:
        engine.release.set()
        await supervisor.stop()


def test_worker_params_carry_the_per_queue_visibility() -> None:
    params = worker_params(settings())
    assert params.visibility_for(QueueType.SNOS_JOB_PROCESSING) == 360
    assert params.visibility_for(UPDATE_STATE) == 1080
    assert params.visibility_for(QueueType.PRIORITY_VERIFICATION_QUEUE) == 720
