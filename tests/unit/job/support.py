"""A job engine over the in-memory fakes, with a handler the test steers step by step."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from orchestrator.core.failure import FailureClassifier, classify_core
from orchestrator.core.models.job import JobItem, JobStatus, JobType
from orchestrator.core.models.metadata import SnosMetadata
from orchestrator.core.models.queue import QueueType
from orchestrator.services.job.engine import EngineParams, JobEngine
from orchestrator.services.job.handler import Verification
from tests.eventually import eventually
from tests.fakes import FakeAlerts, FakeClock, FakeDatabase, FakeQueue

PROCESS_Q = QueueType.SNOS_JOB_PROCESSING
VERIFY_Q = QueueType.SNOS_JOB_VERIFICATION


@dataclass
class SteeredHandler:
    """`process_job` runs `process` (a coroutine function) if set, else returns "ext"."""

    process: Callable[[JobItem], Awaitable[str | int]] | None = None
    verify: Callable[[JobItem], Awaitable[Verification]] | None = None
    job_type: JobType = JobType.SNOS_RUN
    max_process_attempts: int = 2
    max_verification_attempts: int = 3
    verification_polling_delay_seconds: int = 30
    process_calls: int = 0
    verify_calls: int = 0
    running: int = 0
    max_running: int = 0

    async def check_ready_to_process(self, job: JobItem) -> int | None:
        return None

    async def process_job(self, job: JobItem) -> str | int:
        self.process_calls += 1
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            return await self.process(job) if self.process is not None else "ext"
        finally:
            self.running -= 1

    async def verify_job(self, job: JobItem) -> Verification:
        self.verify_calls += 1
        return await self.verify(job) if self.verify is not None else Verification.verified()


@dataclass
class World:
    engine: JobEngine
    db: FakeDatabase
    queue: FakeQueue
    alerts: FakeAlerts
    clock: FakeClock
    handler: SteeredHandler
    extra_engines: list[JobEngine] = field(default_factory=list)

    async def job(self, job: JobItem) -> JobItem:
        stored = await self.db.get_job_by_id(job.id)
        assert stored is not None
        return stored

    def queued(self, queue: QueueType) -> list[tuple[str, int]]:
        return [(body, delay) for q, body, delay in self.queue.sent if q == queue]

    def second_engine(self) -> JobEngine:
        """Another worker process on the same database and queue."""
        engine = JobEngine(
            self.db,  # type: ignore[arg-type]
            self.queue,  # type: ignore[arg-type]
            self.alerts,
            {JobType.SNOS_RUN: self.handler},  # type: ignore[dict-item]
            self.engine.params,
            clock=self.clock,
            **accepted_kwargs(JobEngine, {"classify": getattr(self.engine, "classify", None)}),
        )
        return engine


def accepted_kwargs(cls: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Only the keyword arguments `cls` accepts, so that these tests also run against older engines
    (to show that they fail there)."""
    import inspect

    accepted = inspect.signature(cls).parameters
    return {k: v for k, v in kwargs.items() if k in accepted and v is not None}


def params(**kwargs: Any) -> EngineParams:
    names = {f.name for f in dataclasses.fields(EngineParams)}
    return EngineParams(orchestrator_version="0.1.0", **{k: v for k, v in kwargs.items() if k in names})


def make_world(
    handler: SteeredHandler | None = None, classify: FailureClassifier = classify_core, **param_kwargs: Any
) -> World:
    clock = FakeClock()
    db, queue, alerts = FakeDatabase(clock), FakeQueue(clock), FakeAlerts()
    handler = handler or SteeredHandler()
    engine = JobEngine(
        db,  # type: ignore[arg-type]
        queue,  # type: ignore[arg-type]
        alerts,
        {JobType.SNOS_RUN: handler},  # type: ignore[dict-item]
        params(**param_kwargs),
        clock=clock,
        **accepted_kwargs(JobEngine, {"classify": classify}),
    )
    return World(engine, db, queue, alerts, clock, handler)


def snos(internal_id: int = 1) -> SnosMetadata:
    start = internal_id * 10
    return SnosMetadata(snos_batch_index=internal_id, start_block=start, end_block=start + 9, num_blocks=10)


async def created(world: World, internal_id: int = 1) -> JobItem:
    job = await world.engine.create_job(JobType.SNOS_RUN, internal_id, snos(internal_id))
    assert job is not None
    return job


async def wait_for(condition: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    """Poll `condition` until it holds; fail after `timeout` seconds (real time)."""
    await eventually(condition, timeout, interval=0.005)


async def status_is(world: World, job: JobItem, status: JobStatus) -> bool:
    return (await world.job(job)).status is status
