"""AggregatorBatching over a synthetic chain: ranges, every close condition, storage, lock."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from orchestrator.core.clients.database import AggregatorBatchQuery
from orchestrator.core.models.batch import AggregatorBatchStatus, BouncerWeights
from orchestrator.services.block.aggregator_batching import LOCK_KEY, AggregatorBatching, CreateBucket
from orchestrator.services.block.aggregator_input import added_block_bound, single_block_bound
from orchestrator.services.block.blocks import ReplayBoundsError
from orchestrator.services.block.params import BatchingParams
from orchestrator.services.da.batch import compress_state_update
from orchestrator.services.da.blob import BYTES_PER_BLOB, blob_to_felts
from orchestrator.services.da.squash import squash
from orchestrator.services.da.state_update import StateUpdate
from tests.unit.block.chain import ReferenceHeaders
from tests.unit.block.conftest import Env

PARAMS = BatchingParams(max_batch_processing_size=100)


def batching(
    env: Env,
    params: BatchingParams = PARAMS,
    create_bucket: CreateBucket | None = None,
    replay_reference: ReferenceHeaders | None = None,
) -> AggregatorBatching:
    return AggregatorBatching(
        env.db,
        env.storage,
        env.lock,
        env.chain,
        params,
        create_bucket=create_bucket,
        replay_reference=replay_reference,
        clock=env.clock,
        lock_owner="test",
    )


async def ranges(env: Env) -> list[tuple[int, int, int, AggregatorBatchStatus]]:
    batches = await env.db.get_aggregator_batches(AggregatorBatchQuery())
    return [(b.index, b.start_block, b.end_block, b.status) for b in batches]


OPEN, CLOSED = AggregatorBatchStatus.OPEN, AggregatorBatchStatus.CLOSED


async def test_first_run_batches_every_block_into_one_open_batch(env: Env) -> None:
    env.chain.extend(5)
    await batching(env).run()
    assert await ranges(env) == [(1, 0, 4, OPEN)]
    batch = await env.db.get_latest_aggregator_batch()
    assert batch is not None
    assert batch.num_blocks == 5
    assert batch.squashed_state_updates_path == "state_update/batch/1.json"
    assert batch.blob_path == "blob/batch/1"
    assert batch.starknet_version == "0.13.2"
    assert batch.orchestrator_version == PARAMS.orchestrator_version
    assert batch.created_at.timestamp() == env.clock()
    # every block is looked up in the batch
    for block in range(5):
        lookup = await env.db.get_block_batch_lookup(block)
        assert lookup is not None and lookup.aggregator_batch_index == 1


async def test_storage_holds_the_squashed_update_and_its_blobs(env: Env) -> None:
    env.chain.extend(4)
    await batching(env).run()
    updates = [env.chain.blocks[n].update for n in range(4)]
    expected = await squash(updates, None, env.chain)
    stored = StateUpdate.from_json(json.loads(await env.storage.get("state_update/batch/1.json")))
    assert stored == expected
    felts = await compress_state_update(expected, 3, "0.13.2", env.chain)
    blob = await env.storage.get("blob/batch/1/1.txt")
    assert len(blob) == BYTES_PER_BLOB
    assert blob_to_felts(blob)[: len(felts)] == felts
    assert not await env.storage.exists("blob/batch/1/2.txt")
    batch = await env.db.get_latest_aggregator_batch()
    assert batch is not None and batch.blob_len == len(felts)


async def test_running_twice_creates_nothing_new(env: Env) -> None:
    env.chain.extend(3)
    await batching(env).run()
    first = await env.db.get_latest_aggregator_batch()
    await batching(env).run()
    assert await ranges(env) == [(1, 0, 2, OPEN)]
    again = await env.db.get_latest_aggregator_batch()
    assert first is not None and again is not None and again.id == first.id


async def test_an_open_batch_grows_from_its_stored_state_in_later_runs(env: Env) -> None:
    env.chain.extend(2)
    await batching(env).run()
    env.chain.extend(3)
    await batching(env).run()
    assert await ranges(env) == [(1, 0, 4, OPEN)]
    stored = StateUpdate.from_json(json.loads(await env.storage.get("state_update/batch/1.json")))
    # the slots of the first run's blocks survived the reload
    keys = {e.key for d in stored.state_diff.storage_diffs for e in d.storage_entries}
    assert keys == {0x10 + n for n in range(5)}


async def test_a_missing_squashed_update_is_rebuilt_from_the_node(env: Env) -> None:
    env.chain.extend(3)
    await batching(env).run()
    await env.storage.delete("state_update/batch/1.json")
    env.chain.extend(2)
    await batching(env).run()
    assert await ranges(env) == [(1, 0, 4, OPEN)]
    updates = [env.chain.blocks[n].update for n in range(5)]
    stored = StateUpdate.from_json(json.loads(await env.storage.get("state_update/batch/1.json")))
    assert stored == await squash(updates, None, env.chain)


async def test_a_squashed_update_behind_the_batch_record_is_rebuilt(env: Env) -> None:
    # a crash after the record was written but before the file: the file still ends at block 1
    env.chain.extend(2)
    await batching(env).run()
    behind = await env.storage.get("state_update/batch/1.json")
    env.chain.extend(1)
    await batching(env).run()
    await env.storage.put("state_update/batch/1.json", behind)
    env.chain.extend(1)
    await batching(env).run()
    keys = {
        e.key
        for d in StateUpdate.from_json(
            json.loads(await env.storage.get("state_update/batch/1.json"))
        ).state_diff.storage_diffs
        for e in d.storage_entries
    }
    assert keys == {0x10, 0x11, 0x12, 0x13}  # block 2's write was not lost


async def test_block_range_honours_min_max_and_processing_size(env: Env) -> None:
    env.chain.extend(30)
    params = replace(PARAMS, min_block_to_process=3, max_block_to_process=20, max_batch_processing_size=5)
    agg = batching(env, params)
    assert await agg.block_range() == (3, 7)
    await agg.run()
    assert await ranges(env) == [(1, 3, 7, OPEN)]
    assert await agg.block_range() == (8, 12)
    for _ in range(5):
        await agg.run()
    assert await ranges(env) == [(1, 3, 20, OPEN)]
    assert await agg.block_range() == (21, 20)  # nothing left below max_block_to_process


async def test_close_on_max_batch_size(env: Env) -> None:
    env.chain.extend(7)
    await batching(env, replace(PARAMS, max_batch_size=3)).run()
    assert await ranges(env) == [(1, 0, 2, CLOSED), (2, 3, 5, CLOSED), (3, 6, 6, OPEN)]


async def test_a_full_batch_closes_without_waiting_for_the_next_block(env: Env) -> None:
    # The next block could only close it, with the same boundaries; at a chain's end (the devnet's last
    # recorded block) that block never comes and the batch waited for its time limit (1800 s by default).
    env.chain.extend(6)
    await batching(env, replace(PARAMS, max_batch_size=3)).run()
    assert await ranges(env) == [(1, 0, 2, CLOSED), (2, 3, 5, CLOSED)]
    env.chain.extend(1)
    await batching(env, replace(PARAMS, max_batch_size=3)).run()
    assert await ranges(env) == [(1, 0, 2, CLOSED), (2, 3, 5, CLOSED), (3, 6, 6, OPEN)]


async def test_close_on_starknet_version_change(env: Env) -> None:
    env.chain.extend(3)
    env.chain.extend(2, version="0.13.3")
    await batching(env).run()
    assert await ranges(env) == [(1, 0, 2, CLOSED), (2, 3, 4, OPEN)]
    second = await env.db.get_latest_aggregator_batch()
    assert second is not None and second.starknet_version == "0.13.3"


async def test_close_on_time_limit_when_a_block_arrives(env: Env) -> None:
    env.chain.extend(2)
    params = replace(PARAMS, max_batch_time_seconds=600)
    await batching(env, params).run()
    env.clock.advance(600)
    env.chain.extend(1)
    await batching(env, params).run()
    assert await ranges(env) == [(1, 0, 1, CLOSED), (2, 2, 2, OPEN)]


async def test_close_on_time_limit_without_a_new_block(env: Env) -> None:
    # Issue 10 item 2: the reference closes an old batch only when a block arrives; an idle chain's last
    # batch then stays open (and unsettled) until an admin closes it.
    env.chain.extend(2)
    params = replace(PARAMS, max_batch_time_seconds=600)
    await batching(env, params).run()
    env.clock.advance(599)
    await batching(env, params).run()
    assert await ranges(env) == [(1, 0, 1, OPEN)]
    env.clock.advance(1)
    await batching(env, params).run()  # no new block
    assert await ranges(env) == [(1, 0, 1, CLOSED)]
    assert await env.storage.exists("blob/batch/1/1.txt")
    env.chain.extend(1)
    await batching(env, params).run()
    assert await ranges(env) == [(1, 0, 1, CLOSED), (2, 2, 2, OPEN)]


async def test_close_when_l1_gas_or_message_segment_would_exceed_the_limit(env: Env) -> None:
    limit = BouncerWeights(l1_gas=250, message_segment_length=1000)
    params = replace(PARAMS, bouncer_weights_limit=limit)
    env.chain.extend(5, weights=BouncerWeights(l1_gas=100, n_txs=10**9))  # other dimensions do not count
    await batching(env, params).run()
    assert await ranges(env) == [(1, 0, 1, CLOSED), (2, 2, 3, CLOSED), (3, 4, 4, OPEN)]
    batch = (await env.db.get_aggregator_batches(AggregatorBatchQuery()))[0]
    assert batch.builtin_weights.l1_gas == 200


async def test_close_on_message_segment_length(env: Env) -> None:
    limit = BouncerWeights(l1_gas=10**9, message_segment_length=5)
    env.chain.extend(3, weights=BouncerWeights(message_segment_length=3))
    await batching(env, replace(PARAMS, bouncer_weights_limit=limit)).run()
    assert [r[1:3] for r in await ranges(env)] == [(0, 0), (1, 1), (2, 2)]


async def test_close_on_aggregator_input_size_bound(env: Env) -> None:
    env.chain.extend(5)
    update = StateUpdate.from_json(env.chain.blocks[0].update)
    one, more = single_block_bound(update, 0), added_block_bound(update, 0)
    assert (one, more) == (1 + 16 + 6 + 3, 16 + 6 + 3)
    await batching(env, replace(PARAMS, max_aggregator_input_size=one + 2 * more)).run()
    assert [r[1:3] for r in await ranges(env)] == [(0, 2), (3, 4)]
    first = await env.db.get_aggregator_batches(AggregatorBatchQuery(indexes=[1]))
    assert first[0].aggregator_input_size_upper_bound == one + 2 * more


async def test_a_block_too_large_for_any_batch_stops_batching(env: Env) -> None:
    env.chain.extend(2)
    env.chain.add(2, storage={0x1000: {k: 1 for k in range(1, 50)}})
    env.chain.extend(2)
    await batching(env, replace(PARAMS, max_aggregator_input_size=100)).run()
    # the open batch is closed before the oversized block; nothing is started with it
    assert await ranges(env) == [(1, 0, 1, CLOSED)]
    await batching(env, replace(PARAMS, max_aggregator_input_size=100)).run()
    assert await ranges(env) == [(1, 0, 1, CLOSED)]


async def test_close_when_the_compressed_diff_outgrows_the_blob_space(env: Env) -> None:
    env.chain.extend(6)
    two = await squash([env.chain.blocks[0].update, env.chain.blocks[1].update], None, env.chain)
    felts_for_two = len(await compress_state_update(two, 1, "0.13.2", env.chain))
    params = replace(PARAMS, max_num_blobs=1, blob_size_buffer=4096 - felts_for_two)
    assert params.max_blob_size == felts_for_two
    await batching(env, params).run()
    assert [r[1:3] for r in await ranges(env)] == [(0, 1), (2, 3), (4, 5)]
    batch = await env.db.get_latest_aggregator_batch()
    assert batch is not None and batch.blob_len == felts_for_two


async def test_squashing_rewrites_of_one_slot_keeps_the_batch_small(env: Env) -> None:
    # the same slot rewritten by every block: the squashed diff stays one entry, so blobs never overflow
    for n in range(6):
        env.chain.add(n, storage={0x1000: {0x10: n + 1}})
    single = len(await compress_state_update(env.chain.blocks[0].update, 0, "0.13.2", env.chain))
    await batching(env, replace(PARAMS, max_num_blobs=1, blob_size_buffer=4096 - single)).run()
    assert [r[1:3] for r in await ranges(env)] == [(0, 5)]


async def test_gap_closes_the_open_batch_and_the_next_run_starts_after_it(env: Env) -> None:
    env.chain.extend(10)
    await batching(env, replace(PARAMS, max_block_to_process=2)).run()
    later = replace(PARAMS, min_block_to_process=6)
    await batching(env, later).run()
    assert await ranges(env) == [(1, 0, 2, CLOSED)]
    await batching(env, later).run()
    assert await ranges(env) == [(1, 0, 2, CLOSED), (2, 6, 9, OPEN)]


async def test_a_batch_of_another_orchestrator_version_is_closed(env: Env) -> None:
    env.chain.extend(3)
    await batching(env, replace(PARAMS, orchestrator_version="0.0.9")).run()
    await batching(env).run()  # no new block yet: nothing to decide
    env.chain.extend(2)
    await batching(env).run()
    rows = await env.db.get_aggregator_batches(AggregatorBatchQuery())
    assert [(b.start_block, b.end_block, b.status, b.orchestrator_version) for b in rows] == [
        (0, 2, CLOSED, "0.0.9"),
        (3, 4, OPEN, PARAMS.orchestrator_version),
    ]


async def test_a_pre_confirmed_block_stops_the_run(env: Env) -> None:
    env.chain.extend(3)
    env.chain.add(3, pre_confirmed=True)
    env.chain.extend(1)  # block 4 is "confirmed" but after the pre-confirmed one
    await batching(env).run()
    assert await ranges(env) == [(1, 0, 2, OPEN)]


async def test_an_unsupported_starknet_version_closes_the_batch_and_stops(env: Env) -> None:
    env.chain.extend(3)
    env.chain.extend(2, version="0.15.0")
    await batching(env).run()
    assert await ranges(env) == [(1, 0, 2, CLOSED)]
    await batching(env).run()
    assert await ranges(env) == [(1, 0, 2, CLOSED)]


async def test_each_new_batch_gets_a_prover_bucket(env: Env) -> None:
    env.chain.extend(5)
    buckets: list[str] = []

    async def create_bucket() -> str:
        buckets.append(f"bucket-{len(buckets) + 1}")
        return buckets[-1]

    await batching(env, replace(PARAMS, max_batch_size=2), create_bucket=create_bucket).run()
    rows = await env.db.get_aggregator_batches(AggregatorBatchQuery())
    assert [b.bucket_id for b in rows] == ["bucket-1", "bucket-2", "bucket-3"]
    await batching(env, replace(PARAMS, max_batch_size=2), create_bucket=create_bucket).run()
    assert len(buckets) == 3  # an existing batch never gets a second bucket


async def test_replay_bounds_mismatch_saves_what_was_batched_and_fails(env: Env) -> None:
    env.chain.extend(5)
    reference = ReferenceHeaders(env.chain, overrides={3: 0xBAD})
    with pytest.raises(ReplayBoundsError, match="mismatch at #3"):
        await batching(env, replay_reference=reference).run()
    assert await ranges(env) == [(1, 0, 2, OPEN)]
    assert await env.lock.holder(LOCK_KEY) is None


async def test_replay_bounds_matching_reference_lets_every_block_through(env: Env) -> None:
    env.chain.extend(4)
    await batching(env, replay_reference=ReferenceHeaders(env.chain)).run()
    assert await ranges(env) == [(1, 0, 3, OPEN)]


async def test_nothing_runs_while_another_process_holds_the_lock(env: Env) -> None:
    env.chain.extend(3)
    assert await env.lock.acquire(LOCK_KEY, "other", 3600)
    await batching(env).run()
    assert await ranges(env) == []
    assert await env.lock.holder(LOCK_KEY) == "other"
    env.clock.advance(3601)  # the other holder's lock expired
    await batching(env).run()
    assert await ranges(env) == [(1, 0, 2, OPEN)]
    assert await env.lock.holder(LOCK_KEY) is None


async def test_the_lock_is_released_when_the_run_fails(env: Env) -> None:
    env.chain.extend(4)
    env.chain.fail_on_block = 2
    with pytest.raises(ConnectionError):
        await batching(env).run()
    assert await env.lock.holder(LOCK_KEY) is None
    env.chain.fail_on_block = None
    await batching(env).run()
    assert await ranges(env) == [(1, 0, 3, OPEN)]
