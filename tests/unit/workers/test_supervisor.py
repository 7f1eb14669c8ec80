"""The worker supervisor: per-queue consumers, their visibility, the supervised loops, shutdown."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import cast

import pytest

from orchestrator.bootstrap import visibility_timeouts
from orchestrator.clients.cron.apscheduler import ApschedulerCronClient
from orchestrator.clients.queue.local import SqliteQueueClient
from orchestrator.controllers.cli.run import worker_params
from orchestrator.controllers.workers.consumer import Consumer
from orchestrator.controllers.workers.supervision import RestartPolicy
from orchestrator.controllers.workers.supervisor import WorkerParams, WorkerSupervisor
from orchestrator.core.clients.queue import Delivery
from orchestrator.core.models.queue import LAYER_TRIGGERS, Layer, QueueType, WorkerTrigger, encode_job_message
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
    config = settings()
    params = worker_params(config)
    expected = visibility_timeouts(config)
    assert expected[UPDATE_STATE] > expected[QueueType.SNOS_JOB_PROCESSING], "the premise: a longer update-state one"
    assert {q: params.visibility_for(q) for q in QueueType} == expected


QUICK = RestartPolicy(max_deaths=3, window_seconds=60, backoff_initial=0.001, backoff_max=0.01, jitter=0)


async def test_a_consumer_loop_that_dies_is_restarted_and_consumes_again(
    queue: RecordingQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 9 defect 1: before, a dead consumer task was only looked at at shutdown."""
    original_run = Consumer.run
    deaths = {"left": 1}

    async def dies_once(self: Consumer, stop: asyncio.Event) -> None:
        if self.queue is QueueType.SNOS_JOB_PROCESSING and deaths["left"]:
            deaths["left"] -= 1
            raise RuntimeError("consumer bug")
        await original_run(self, stop)

    monkeypatch.setattr(Consumer, "run", dies_once)
    engine = BlockingEngine()
    engine.release.set()
    supervisor = supervisor_for(engine, queue, WorkerParams(wait_seconds=0.1, restart_policy=QUICK))
    await supervisor.start()
    try:
        job_id = uuid.uuid4()
        await queue.send(QueueType.SNOS_JOB_PROCESSING, encode_job_message(job_id))
        await eventually(lambda: engine.processing == [job_id], what="the restarted consumer took the message")
        state = supervisor.loop_states()[f"consumer:{QueueType.SNOS_JOB_PROCESSING}"]
        assert state["status"] == "running" and state["restarts"] == 1
        assert state["last_error"] == "RuntimeError: consumer bug"
    finally:
        await supervisor.stop()
    assert {s["status"] for s in supervisor.loop_states().values()} == {"stopped"}


async def test_a_lost_cron_schedule_is_restored_by_a_restart(queue: RecordingQueue) -> None:
    cron = ApschedulerCronClient(queue)
    engine = BlockingEngine()
    params = WorkerParams(wait_seconds=0.1, cron_interval=3600, cron_check_interval=0.02, restart_policy=QUICK)
    as_engine = cast(JobEngine, engine)
    supervisor = WorkerSupervisor(as_engine, queue, TriggerDispatcher(as_engine, {}), params, cron)
    await supervisor.start()
    try:
        expected = sorted(LAYER_TRIGGERS[params.layer])
        await eventually(lambda: _scheduled(cron, expected))
        await cron.shutdown()  # the scheduler stops behind the supervisor's back
        await eventually(lambda: supervisor.loop_states()["cron"]["restarts"] == 1)
        await eventually(lambda: _scheduled(cron, expected), what="the restart scheduled the triggers again")
        assert "CronScheduleLostError" in str(supervisor.loop_states()["cron"]["last_error"])
    finally:
        await supervisor.stop()


async def _scheduled(cron: ApschedulerCronClient, expected: list[WorkerTrigger]) -> bool:
    return await cron.list_schedules() == expected


class BrokenCron(ApschedulerCronClient):
    async def ensure_schedules(self, triggers: Sequence[WorkerTrigger], interval_seconds: int) -> None:
        raise ConnectionError("EventBridge unreachable")


async def test_a_loop_that_keeps_dying_fails_the_supervisor(queue: RecordingQueue) -> None:
    engine = BlockingEngine()
    as_engine = cast(JobEngine, engine)
    params = WorkerParams(wait_seconds=0.1, restart_policy=QUICK)
    supervisor = WorkerSupervisor(as_engine, queue, TriggerDispatcher(as_engine, {}), params, BrokenCron(queue))
    await supervisor.start()
    try:
        await asyncio.wait_for(supervisor.failed.wait(), timeout=5)
        assert supervisor.loops.fatal_loop == "cron"
        states = supervisor.loop_states()
        assert states["cron"]["status"] == "dead" and states["cron"]["restarts"] == QUICK.max_deaths - 1
        assert states["sweep"]["status"] == "running", "the other loops are not affected"
    finally:
        await supervisor.stop()
