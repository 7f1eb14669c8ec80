"""The trigger map of each layer, the settings' checks, and the block reads batching relies on."""

from __future__ import annotations

import pytest

from orchestrator.core.models.batch import BouncerWeights
from orchestrator.core.models.job import JobType
from orchestrator.core.models.queue import LAYER_TRIGGERS, Layer, WorkerTrigger
from orchestrator.services.block.blocks import BatchingError, ReplayBoundsError, block_version, check_replay_bounds
from orchestrator.services.block.params import (
    DEFAULT_BOUNCER_WEIGHTS_LIMIT,
    BatchingParams,
    JobTriggerParams,
    bouncer_weights_limit_from_json,
)
from orchestrator.services.block.registry import TriggerDependencies, build_triggers
from orchestrator.services.block.worker_lock import run_locked
from orchestrator.services.job.triggers import TriggerDispatcher
from tests.unit.block.chain import ReferenceHeaders
from tests.unit.block.conftest import Env


def deps(env: Env) -> TriggerDependencies:
    return TriggerDependencies(env.db, env.storage, env.lock, env.chain, env.engine, clock=env.clock)


@pytest.mark.parametrize("layer", [Layer.L2, Layer.L3])
async def test_each_layer_gets_exactly_its_scheduled_triggers(env: Env, layer: Layer) -> None:
    triggers = build_triggers(deps(env), BatchingParams(), JobTriggerParams(layer=layer))
    assert set(triggers) == set(LAYER_TRIGGERS[layer])


async def test_the_dispatcher_runs_the_l3_pipeline_head(env: Env) -> None:
    env.chain.extend(4)
    batching = BatchingParams(max_blocks_per_snos_batch=2)
    dispatcher = TriggerDispatcher(env.engine, build_triggers(deps(env), batching, JobTriggerParams(layer=Layer.L3)))
    assert await dispatcher.dispatch(WorkerTrigger.SNOS_BATCHING)
    assert await dispatcher.dispatch(WorkerTrigger.SNOS)
    assert not await dispatcher.dispatch(WorkerTrigger.AGGREGATOR_BATCHING)  # not an L3 trigger
    snos_jobs = await env.db.get_jobs_by_types_and_statuses([JobType.SNOS_RUN], [])
    assert [j.internal_id for j in snos_jobs] == [1, 2]  # batch 2 (blocks 2..3) is full: closed at once


async def test_versions_of_both_parameter_sets_must_agree(env: Env) -> None:
    with pytest.raises(ValueError, match="same orchestrator version"):
        build_triggers(deps(env), BatchingParams(orchestrator_version="1"), JobTriggerParams(orchestrator_version="2"))


def test_blob_space_must_be_positive() -> None:
    assert BatchingParams().max_blob_size == 6 * 4096 - 15
    with pytest.raises(ValueError, match="must be positive"):
        BatchingParams(max_num_blobs=1, blob_size_buffer=4096)
    with pytest.raises(ValueError, match="fixed_blocks_per_snos_batch"):
        BatchingParams(fixed_blocks_per_snos_batch=0)


def test_bouncer_weights_file_overrides_the_defaults_it_names() -> None:
    limit = bouncer_weights_limit_from_json({"l1_gas": 1_000_000, "n_txs": 1000})
    assert limit == DEFAULT_BOUNCER_WEIGHTS_LIMIT.model_copy(update={"l1_gas": 1_000_000, "n_txs": 1000})
    assert limit.receipt_l2_gas == 2_500_000_000
    for bad in ({"l1_gaz": 1}, {"l1_gas": -1}, {"l1_gas": "1"}, [1]):
        with pytest.raises(ValueError, match="bouncer weight"):
            bouncer_weights_limit_from_json(bad)
    assert isinstance(DEFAULT_BOUNCER_WEIGHTS_LIMIT, BouncerWeights)


async def test_block_version_of_confirmed_pre_confirmed_and_malformed_blocks(env: Env) -> None:
    env.chain.add(0, version="0.13.2.1")
    env.chain.add(1, pre_confirmed=True)
    env.chain.add(2, version="banana")
    assert await block_version(env.chain, 0) == (0, 13, 2, 1)
    assert await block_version(env.chain, 1) is None
    with pytest.raises(BatchingError, match="block 2"):
        await block_version(env.chain, 2)


async def test_replay_bounds_fail_closed(env: Env) -> None:
    env.chain.extend(2)
    env.chain.add(2, pre_confirmed=True)
    await check_replay_bounds(env.chain, ReferenceHeaders(env.chain), 1)
    with pytest.raises(ReplayBoundsError, match="pending on madara"):
        await check_replay_bounds(env.chain, ReferenceHeaders(env.chain), 2)
    with pytest.raises(ReplayBoundsError, match="failed to fetch block #5"):
        await check_replay_bounds(env.chain, ReferenceHeaders(env.chain), 5)


async def test_overlapping_runs_in_one_process_exclude_each_other(env: Env) -> None:
    ran: list[str] = []

    async def inner() -> None:
        ran.append("inner")

    async def outer() -> None:
        ran.append("outer")
        # the same trigger instance dispatched again while the first run is still going
        assert not await run_locked(env.lock, "Key", "same-owner", 60, inner)

    assert await run_locked(env.lock, "Key", "same-owner", 60, outer)
    assert ran == ["outer"]
    assert await env.lock.holder("Key") is None
