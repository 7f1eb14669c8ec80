"""The halt, scoped to what it protects (reference open issue #590, issue 9).

A Failed or VerificationTimeout job stops new work only for the blocks from its first block on (and the
settlement of batches that reach them); earlier work goes on; the admin retry lifts the halt.

Layout used here: SNOS batches of 10 blocks (0: 0..9, 1: 10..19, 2: 20..29, 3: 30..39) and aggregator
batches of 20 (0: 0..19, 1: 20..39).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestrator.clients.database.sqlite import SqliteDatabaseClient
from orchestrator.core.errors import JobCreationHaltedError
from orchestrator.core.models.batch import AggregatorBatch, SnosBatch
from orchestrator.core.models.job import JobItem, JobStatus, JobType
from orchestrator.core.models.metadata import (
    AggregatorMetadata,
    JobMetadata,
    JobSpecificMetadata,
    ProvingMetadata,
    SettlementContext,
    SnosMetadata,
    StateUpdateMetadata,
)
from orchestrator.core.models.queue import Layer, WorkerTrigger
from orchestrator.services.job.engine import JobEngine
from orchestrator.services.job.triggers import TriggerDispatcher
from tests.fakes import FakeAlerts, FakeClock, FakeQueue
from tests.unit.job.support import params

VERSION = "0.1.0"


@dataclass
class Env:
    db: SqliteDatabaseClient
    engine: JobEngine


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    db = SqliteDatabaseClient(tmp_path / "orchestrator.db")
    await db.connect()
    clock = FakeClock()
    engine = JobEngine(db, FakeQueue(clock), FakeAlerts(), {}, params(layer=Layer.L2), clock=clock)  # type: ignore[arg-type]
    for i in range(4):
        await db.create_snos_batch(
            SnosBatch(index=i, start_block=10 * i, end_block=10 * i + 9, aggregator_batch_index=i // 2)
        )
    for i in range(2):
        await db.create_aggregator_batch(AggregatorBatch(index=i, start_block=20 * i, end_block=20 * i + 19))
    try:
        yield Env(db, engine)
    finally:
        await db.close()


def snos(i: int) -> SnosMetadata:
    return SnosMetadata(snos_batch_index=i, start_block=10 * i, end_block=10 * i + 9, num_blocks=10)


def proving(i: int) -> ProvingMetadata:
    return ProvingMetadata(block_number=10 * i)


def settle(i: int) -> StateUpdateMetadata:
    return StateUpdateMetadata(context=SettlementContext(to_settle=i))


async def stored_job(env: Env, job_type: JobType, i: int, specific: JobSpecificMetadata, status: JobStatus) -> JobItem:
    job = JobItem(internal_id=i, job_type=job_type, status=status, metadata=JobMetadata(specific=specific))
    job.metadata.common.orchestrator_version = VERSION
    return await env.db.create_job(job)


async def test_nothing_halts_without_a_failed_job(env: Env) -> None:
    await stored_job(env, JobType.SNOS_RUN, 0, snos(0), JobStatus.COMPLETED)
    assert await env.engine.halted_from_block() is None
    assert not await env.engine.is_halted()


async def test_a_failed_proof_halts_from_its_first_block_only(env: Env) -> None:
    failed = await stored_job(env, JobType.PROOF_CREATION, 2, proving(2), JobStatus.FAILED)
    assert await env.engine.halted_from_block() == 20
    assert await env.engine.is_halted()

    # Earlier work goes on: a SNOS run and a proof of blocks 10..19, the aggregation and settlement of 0..19.
    assert await env.engine.create_job(JobType.SNOS_RUN, 1, snos(1)) is not None
    assert await env.engine.create_job(JobType.PROOF_CREATION, 1, proving(1)) is not None
    assert await env.engine.create_job(JobType.AGGREGATOR, 0, AggregatorMetadata(batch_num=0)) is not None
    assert await env.engine.create_job(JobType.STATE_TRANSITION, 0, settle(0)) is not None

    # Work that covers block 20 or later is refused, settlement of the batch holding block 20 too.
    with pytest.raises(JobCreationHaltedError, match="from block 20"):
        await env.engine.create_job(JobType.SNOS_RUN, 3, snos(3))
    with pytest.raises(JobCreationHaltedError):
        await env.engine.create_job(JobType.AGGREGATOR, 1, AggregatorMetadata(batch_num=1))
    with pytest.raises(JobCreationHaltedError):
        await env.engine.create_job(JobType.STATE_TRANSITION, 1, settle(1))

    # The admin retry lifts it.
    await env.engine.retry_job(failed.id)
    assert await env.engine.halted_from_block() is None
    assert await env.engine.create_job(JobType.SNOS_RUN, 3, snos(3)) is not None


async def test_the_lowest_halting_block_wins_and_verification_timeout_halts_too(env: Env) -> None:
    await stored_job(env, JobType.AGGREGATOR, 1, AggregatorMetadata(batch_num=1), JobStatus.FAILED)
    assert await env.engine.halted_from_block() == 20
    await stored_job(env, JobType.SNOS_RUN, 1, snos(1), JobStatus.VERIFICATION_TIMEOUT)
    assert await env.engine.halted_from_block() == 10
    assert await env.engine.create_job(JobType.SNOS_RUN, 0, snos(0)) is not None
    with pytest.raises(JobCreationHaltedError):
        await env.engine.create_job(JobType.STATE_TRANSITION, 0, settle(0))  # batch 0 holds block 10


async def test_a_failed_job_whose_blocks_are_unknown_halts_everything(env: Env) -> None:
    await stored_job(env, JobType.AGGREGATOR, 9, AggregatorMetadata(batch_num=9), JobStatus.FAILED)
    assert await env.engine.halted_from_block() == 0
    with pytest.raises(JobCreationHaltedError):
        await env.engine.create_job(JobType.SNOS_RUN, 0, snos(0))


async def test_a_failed_job_of_another_orchestrator_version_does_not_halt(env: Env) -> None:
    job = JobItem(
        internal_id=0, job_type=JobType.SNOS_RUN, status=JobStatus.FAILED, metadata=JobMetadata(specific=snos(0))
    )
    job.metadata.common.orchestrator_version = "0.0.1"
    await env.db.create_job(job)
    assert await env.engine.halted_from_block() is None


async def test_triggers_still_create_earlier_work_while_a_later_block_failed(env: Env) -> None:
    await stored_job(env, JobType.PROOF_CREATION, 2, proving(2), JobStatus.FAILED)
    created: list[int] = []

    async def snos_trigger() -> None:  # walks the closed batches in order, as the real one does
        for i in range(4):
            if await env.engine.create_job(JobType.SNOS_RUN, i, snos(i)) is not None:
                created.append(i)

    dispatcher = TriggerDispatcher(env.engine, {WorkerTrigger.SNOS: snos_trigger})
    assert await dispatcher.dispatch(WorkerTrigger.SNOS)  # the old global halt skipped the whole trigger
    assert created == [0, 1]
    assert await env.db.get_job_by_internal_id_and_type(2, JobType.SNOS_RUN) is None
