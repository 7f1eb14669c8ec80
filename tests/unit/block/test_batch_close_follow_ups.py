"""Batch close → SnosRun with no cron tick in between (the dispatcher's follow-ups)."""

from __future__ import annotations

from orchestrator.core.models.job import JobType
from orchestrator.core.models.queue import Layer, WorkerTrigger
from orchestrator.services.block.params import BatchingParams, JobTriggerParams
from orchestrator.services.block.registry import TriggerDependencies, build_triggers
from orchestrator.services.job.triggers import TriggerDispatcher
from tests.unit.block.conftest import Env


async def test_closing_an_aggregator_batch_creates_the_snos_run_in_the_same_pass(env: Env) -> None:
    """Batch close → SnosRun: one AggregatorBatching pass closes batch 1 (blocks 0..1), its SNOS batch
    closes with it, and its SnosRun job exists before any other trigger ran."""
    env.chain.extend(3)
    params = BatchingParams(max_batch_size=2, max_batch_processing_size=100)
    deps = TriggerDependencies(env.db, env.storage, env.lock, env.chain, env.engine, clock=env.clock)
    dispatcher = TriggerDispatcher(env.engine, build_triggers(deps, params, JobTriggerParams(layer=Layer.L2)))
    assert await dispatcher.dispatch(WorkerTrigger.AGGREGATOR_BATCHING)
    snos_jobs = await env.db.get_jobs_by_types_and_statuses([JobType.SNOS_RUN], [])
    assert [(j.internal_id, j.metadata.specific.start_block) for j in snos_jobs] == [(1, 0)]  # type: ignore[union-attr]
