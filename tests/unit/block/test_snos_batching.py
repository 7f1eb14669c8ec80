"""SnosBatching on L2 (inside aggregator batches) and L3 (from the chain head): ranges, close conditions, lock."""

from __future__ import annotations

from dataclasses import replace

import pytest

from orchestrator.core.clients.database import SnosBatchQuery
from orchestrator.core.models.batch import AggregatorBatch, AggregatorBatchStatus, BouncerWeights, SnosBatchStatus
from orchestrator.core.models.queue import Layer
from orchestrator.services.block.aggregator_batching import AggregatorBatching
from orchestrator.services.block.blocks import ReplayBoundsError
from orchestrator.services.block.params import DEFAULT_BOUNCER_WEIGHTS_LIMIT, BatchingParams
from orchestrator.services.block.snos_batching import LOCK_KEY, SnosBatching
from tests.unit.block.chain import ReferenceHeaders
from tests.unit.block.conftest import Env

PARAMS = BatchingParams(max_batch_processing_size=100, max_blocks_per_snos_batch=3)
OPEN, CLOSED = SnosBatchStatus.OPEN, SnosBatchStatus.CLOSED


def batching(env: Env, layer: Layer, params: BatchingParams = PARAMS, **kwargs: object) -> SnosBatching:
    return SnosBatching(env.db, env.lock, env.chain, params, layer, clock=env.clock, lock_owner="test", **kwargs)  # type: ignore[arg-type]


async def ranges(env: Env) -> list[tuple[int, int, int, int | None, SnosBatchStatus]]:
    batches = await env.db.get_snos_batches(SnosBatchQuery())
    return [(b.index, b.start_block, b.end_block, b.aggregator_batch_index, b.status) for b in batches]


async def add_aggregator_batch(
    env: Env,
    index: int,
    start: int,
    end: int,
    version: str = "0.1.0",
    status: AggregatorBatchStatus = AggregatorBatchStatus.CLOSED,
) -> None:
    await env.db.update_or_create_aggregator_batch(
        AggregatorBatch(
            index=index,
            start_block=start,
            end_block=end,
            num_blocks=end - start + 1,
            orchestrator_version=version,
            starknet_version="0.13.2",
            status=status,
        )
    )


# --- L3 ------------------------------------------------------------------------------------------


async def test_l3_cuts_the_chain_by_max_blocks_per_batch(env: Env) -> None:
    env.chain.extend(8)
    await batching(env, Layer.L3).run()
    assert await ranges(env) == [(1, 0, 2, None, CLOSED), (2, 3, 5, None, CLOSED), (3, 6, 7, None, OPEN)]
    for block, index in ((0, 1), (4, 2), (7, 3)):
        lookup = await env.db.get_block_batch_lookup(block)
        assert lookup is not None and lookup.snos_batch_index == index


async def test_a_full_batch_closes_without_waiting_for_the_next_block(env: Env) -> None:
    # The next block could only close it (same boundaries); at a chain's end it never comes.
    env.chain.extend(6)
    await batching(env, Layer.L3).run()
    assert await ranges(env) == [(1, 0, 2, None, CLOSED), (2, 3, 5, None, CLOSED)]
    env.chain.extend(2)
    await batching(env, Layer.L3, replace(PARAMS, fixed_blocks_per_snos_batch=2)).run()
    assert (await ranges(env))[-1] == (3, 6, 7, None, CLOSED)


async def test_l3_running_twice_creates_nothing_new_and_later_blocks_fill_the_open_batch(env: Env) -> None:
    env.chain.extend(5)
    await batching(env, Layer.L3).run()
    await batching(env, Layer.L3).run()
    assert await ranges(env) == [(1, 0, 2, None, CLOSED), (2, 3, 4, None, OPEN)]
    env.chain.extend(2)
    await batching(env, Layer.L3).run()
    assert await ranges(env) == [(1, 0, 2, None, CLOSED), (2, 3, 5, None, CLOSED), (3, 6, 6, None, OPEN)]


async def test_l3_range_honours_min_max_and_processing_size(env: Env) -> None:
    env.chain.extend(40)
    params = replace(PARAMS, min_block_to_process=5, max_block_to_process=30, max_batch_processing_size=4)
    snos = batching(env, Layer.L3, params)
    assert await snos.block_range() == (5, 8)
    await snos.run()
    assert await snos.block_range() == (9, 12)


async def test_fixed_blocks_per_batch_overrides_every_other_rule(env: Env) -> None:
    env.chain.extend(3)
    env.chain.extend(4, version="0.13.3", weights=BouncerWeights(n_txs=10**9))
    params = replace(PARAMS, fixed_blocks_per_snos_batch=2, max_blocks_per_snos_batch=1)
    await batching(env, Layer.L3, params).run()
    assert [r[1:3] for r in await ranges(env)] == [(0, 1), (2, 3), (4, 5), (6, 6)]
    batches = await env.db.get_snos_batches(SnosBatchQuery())
    assert batches[1].starknet_version == "0.13.2"  # the version change did not close the batch
    assert batches[2].builtin_weights == BouncerWeights()  # weights are not accumulated then


async def test_close_on_starknet_version_change(env: Env) -> None:
    env.chain.extend(2)
    env.chain.extend(2, version="0.14.0")
    await batching(env, Layer.L3).run()
    assert [r[1:3] for r in await ranges(env)] == [(0, 1), (2, 3)]


async def test_close_on_any_bouncer_weight_over_the_limit(env: Env) -> None:
    limit = DEFAULT_BOUNCER_WEIGHTS_LIMIT.model_copy(update={"n_events": 100})
    env.chain.extend(5, weights=BouncerWeights(n_events=40, proving_gas=1))
    await batching(env, Layer.L3, replace(PARAMS, bouncer_weights_limit=limit)).run()
    assert [r[1:3] for r in await ranges(env)] == [(0, 1), (2, 3), (4, 4)]
    first = (await env.db.get_snos_batches(SnosBatchQuery(indexes=[1])))[0]
    assert first.builtin_weights.n_events == 80 and first.builtin_weights.proving_gas == 2


async def test_empty_blocks_count_the_default_proving_gas(env: Env) -> None:
    limit = DEFAULT_BOUNCER_WEIGHTS_LIMIT.model_copy(update={"proving_gas": 2_500})
    params = replace(PARAMS, bouncer_weights_limit=limit, default_empty_block_proving_gas=1_000)
    env.chain.extend(5)  # proving_gas 0 everywhere
    await batching(env, Layer.L3, params).run()
    assert [r[1:3] for r in await ranges(env)] == [(0, 1), (2, 3), (4, 4)]
    first = (await env.db.get_snos_batches(SnosBatchQuery(indexes=[1])))[0]
    assert first.builtin_weights.proving_gas == 2_000


async def test_close_on_time_limit(env: Env) -> None:
    env.chain.extend(1)
    params = replace(PARAMS, max_batch_time_seconds=60)
    await batching(env, Layer.L3, params).run()
    env.clock.advance(60)
    env.chain.extend(1)
    await batching(env, Layer.L3, params).run()
    assert [r[1:3] + r[4:] for r in await ranges(env)] == [(0, 0, CLOSED), (1, 1, OPEN)]


async def test_close_on_time_limit_without_a_new_block(env: Env) -> None:
    # Issue 10 item 2: the open batch closes on its time limit even when no block arrives.
    env.chain.extend(2)
    params = replace(PARAMS, max_batch_time_seconds=60)
    await batching(env, Layer.L3, params).run()
    env.clock.advance(60)
    await batching(env, Layer.L3, params).run()
    assert await ranges(env) == [(1, 0, 1, None, CLOSED)]


async def test_a_fixed_size_batch_waits_for_its_blocks_whatever_its_age(env: Env) -> None:
    env.chain.extend(2)
    params = replace(PARAMS, max_batch_time_seconds=60, fixed_blocks_per_snos_batch=3)
    await batching(env, Layer.L3, params).run()
    env.clock.advance(3600)
    await batching(env, Layer.L3, params).run()
    assert await ranges(env) == [(1, 0, 1, None, OPEN)]


async def test_l2_an_idle_chain_closes_both_batches_on_time(env: Env) -> None:
    # Issue 10 item 2 end to end: no block after the last one, yet both open batches close.
    env.chain.extend(5)
    params = replace(PARAMS, max_batch_time_seconds=600)
    aggregator = AggregatorBatching(
        env.db, env.storage, env.lock, env.chain, params, clock=env.clock, lock_owner="test"
    )
    await aggregator.run()
    env.clock.advance(300)
    await batching(env, Layer.L2, params).run()  # SNOS batch 2 starts 300 s after aggregator batch 1
    assert await ranges(env) == [(1, 0, 2, 1, CLOSED), (2, 3, 4, 1, OPEN)]
    env.clock.advance(300)
    await batching(env, Layer.L2, params).run()  # young, and its aggregator batch is still open
    assert (await ranges(env))[-1][-1] is OPEN
    await aggregator.run()  # aggregator batch 1 is 600 s old
    await batching(env, Layer.L2, params).run()
    assert await ranges(env) == [(1, 0, 2, 1, CLOSED), (2, 3, 4, 1, CLOSED)]
    parent = await env.db.get_latest_aggregator_batch()
    assert parent is not None and parent.status is AggregatorBatchStatus.CLOSED


async def test_gap_closes_the_open_batch(env: Env) -> None:
    env.chain.extend(10)
    await batching(env, Layer.L3, replace(PARAMS, max_block_to_process=1)).run()
    await batching(env, Layer.L3, replace(PARAMS, min_block_to_process=5)).run()
    assert await ranges(env) == [(1, 0, 1, None, CLOSED)]
    await batching(env, Layer.L3, replace(PARAMS, min_block_to_process=5)).run()
    assert [r[1:3] for r in await ranges(env)] == [(0, 1), (5, 7), (8, 9)]


async def test_a_batch_of_another_orchestrator_version_is_closed(env: Env) -> None:
    env.chain.extend(2)
    await batching(env, Layer.L3, replace(PARAMS, orchestrator_version="0.0.9")).run()
    env.chain.extend(1)
    await batching(env, Layer.L3).run()
    assert [r[1:3] + r[4:] for r in await ranges(env)] == [(0, 1, CLOSED), (2, 2, OPEN)]


async def test_an_unsupported_version_closes_and_stops(env: Env) -> None:
    env.chain.extend(2)
    env.chain.extend(2, version="0.12.3")
    await batching(env, Layer.L3).run()
    assert await ranges(env) == [(1, 0, 1, None, CLOSED)]


async def test_a_pre_confirmed_block_stops_the_run(env: Env) -> None:
    env.chain.extend(2)
    env.chain.add(2, pre_confirmed=True)
    env.chain.extend(1)
    await batching(env, Layer.L3).run()
    assert await ranges(env) == [(1, 0, 1, None, OPEN)]


# --- L2 ------------------------------------------------------------------------------------------


async def test_l2_waits_for_aggregator_batches(env: Env) -> None:
    env.chain.extend(5)
    snos = batching(env, Layer.L2)
    assert await snos.block_range() == (1, 0)
    await snos.run()
    assert await ranges(env) == []


async def test_l2_batches_only_aggregated_blocks_and_never_across_aggregator_batches(env: Env) -> None:
    env.chain.extend(12)
    await add_aggregator_batch(env, 1, 0, 3)
    await add_aggregator_batch(env, 2, 4, 8, status=AggregatorBatchStatus.OPEN)
    await batching(env, Layer.L2).run()
    assert await ranges(env) == [
        (1, 0, 2, 1, CLOSED),
        (2, 3, 3, 1, CLOSED),  # closed by the aggregator batch boundary
        (3, 4, 6, 2, CLOSED),
        (4, 7, 8, 2, OPEN),
    ]
    await batching(env, Layer.L2).run()  # no more aggregated blocks
    assert len(await ranges(env)) == 4
    starts = await env.db.get_start_snos_batch_for_aggregator(2)
    assert starts is not None and starts.index == 3


async def test_l2_starts_at_the_oldest_aggregator_batch_of_this_version(env: Env) -> None:
    env.chain.extend(10)
    await add_aggregator_batch(env, 1, 0, 3, version="0.0.9")
    await add_aggregator_batch(env, 2, 4, 6, status=AggregatorBatchStatus.OPEN)
    snos = batching(env, Layer.L2)
    assert await snos.block_range() == (4, 6)
    await snos.run()
    assert await ranges(env) == [(1, 4, 6, 2, CLOSED)]  # 3 blocks: full, closed without a next block


async def test_l2_stops_at_a_block_without_aggregator_batch(env: Env) -> None:
    env.chain.extend(10)
    await add_aggregator_batch(env, 1, 0, 1)
    await add_aggregator_batch(env, 2, 5, 6)  # blocks 2..4 are in no batch
    await batching(env, Layer.L2).run()
    assert await ranges(env) == [(1, 0, 1, 1, CLOSED)]  # nothing for blocks 5..6


async def test_l2_closes_the_last_snos_batch_once_its_aggregator_batch_is_closed(env: Env) -> None:
    env.chain.extend(10)
    await add_aggregator_batch(env, 1, 0, 4, status=AggregatorBatchStatus.OPEN)
    await batching(env, Layer.L2).run()
    assert await ranges(env) == [(1, 0, 2, 1, CLOSED), (2, 3, 4, 1, OPEN)]
    await batching(env, Layer.L2).run()  # the aggregator batch is still open: so is its last SNOS batch
    assert await ranges(env) == [(1, 0, 2, 1, CLOSED), (2, 3, 4, 1, OPEN)]
    # aggregator batching closed the batch and stopped (say, at an unsupported version): no next block comes
    await env.db.update_aggregator_batch_status_by_index(1, AggregatorBatchStatus.CLOSED)
    await batching(env, Layer.L2).run()
    assert await ranges(env) == [(1, 0, 2, 1, CLOSED), (2, 3, 4, 1, CLOSED)]


async def test_replay_bounds_mismatch_fails_after_saving(env: Env) -> None:
    env.chain.extend(5)
    with pytest.raises(ReplayBoundsError):
        await batching(env, Layer.L3, replay_reference=ReferenceHeaders(env.chain, {1: 0x1})).run()
    assert await ranges(env) == [(1, 0, 0, None, OPEN)]
    assert await env.lock.holder(LOCK_KEY) is None


async def test_lock_held_elsewhere_skips_and_a_failure_releases_it(env: Env) -> None:
    env.chain.extend(4)
    assert await env.lock.acquire(LOCK_KEY, "other", 60)
    await batching(env, Layer.L3).run()
    assert await ranges(env) == []
    await env.lock.release(LOCK_KEY, "other")
    env.chain.fail_on_block = 1
    with pytest.raises(ConnectionError):
        await batching(env, Layer.L3).run()
    assert await env.lock.holder(LOCK_KEY) is None


async def test_l2_fixed_size_still_never_spans_two_aggregator_batches(env: Env) -> None:
    # Defect 4 (issue 9): the fixed-size shortcut returned before the aggregator-boundary check.
    env.chain.extend(9)
    await add_aggregator_batch(env, 1, 0, 2)
    await add_aggregator_batch(env, 2, 3, 8, status=AggregatorBatchStatus.OPEN)
    await batching(env, Layer.L2, replace(PARAMS, fixed_blocks_per_snos_batch=2)).run()
    assert await ranges(env) == [
        (1, 0, 1, 1, CLOSED),
        (2, 2, 2, 1, CLOSED),  # cut at the aggregator batch's end, short of the fixed size
        (3, 3, 4, 2, CLOSED),
        (4, 5, 6, 2, CLOSED),
        (5, 7, 8, 2, CLOSED),  # full at the fixed size: no next block needed
    ]
