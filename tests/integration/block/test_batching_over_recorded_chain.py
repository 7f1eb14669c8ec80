"""Batching and the first job trigger over recorded Starknet Sepolia blocks (0.14.1: stateful and stateless
compression), read over HTTP from the Madara double, with the SQLite database and local storage."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestrator.clients.database.sqlite import SqliteDatabaseClient
from orchestrator.clients.lock.sqlite import SqliteLockClient
from orchestrator.clients.node.madara import MadaraNodeClient
from orchestrator.clients.storage.local import LocalStorageClient
from orchestrator.core.clients.database import AggregatorBatchQuery, SnosBatchQuery
from orchestrator.core.models.batch import AggregatorBatchStatus, SnosBatchStatus
from orchestrator.core.models.job import JobType
from orchestrator.core.models.metadata import SnosMetadata
from orchestrator.core.models.queue import Layer
from orchestrator.core.version import ORCHESTRATOR_VERSION
from orchestrator.services.block.aggregator_batching import AggregatorBatching
from orchestrator.services.block.job_triggers import JobTriggers
from orchestrator.services.block.params import BatchingParams, JobTriggerParams
from orchestrator.services.block.snos_batching import SnosBatching
from orchestrator.services.da.batch import compress_state_update
from orchestrator.services.da.blob import felts_to_blobs
from orchestrator.services.da.squash import squash
from orchestrator.services.da.state_update import StateUpdate
from orchestrator.services.job.engine import EngineParams, JobEngine
from tests.doubles.madara_node import SEPOLIA_BATCH_FIRST_BLOCK, MadaraNodeDouble, load_fixture_chain
from tests.fakes import FakeAlerts, FakeQueue

FIXTURES = Path(__file__).parents[2] / "fixtures"
# the block before the range must exist too: squashing reads the state at it
FIRST = SEPOLIA_BATCH_FIRST_BLOCK + 1
PARAMS = BatchingParams(
    min_block_to_process=FIRST,
    max_batch_processing_size=6,
    max_batch_size=5,
    max_blocks_per_snos_batch=2,
)


@dataclass
class Stack:
    db: SqliteDatabaseClient
    lock: SqliteLockClient
    storage: LocalStorageClient
    node: MadaraNodeClient
    double: MadaraNodeDouble
    engine: JobEngine


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    chain = load_fixture_chain(FIXTURES, latest=FIRST + 11, pre_confirmed_from=FIRST + 9)
    db = SqliteDatabaseClient(tmp_path / "db.sqlite")
    lock = SqliteLockClient(tmp_path / "db.sqlite")
    storage = LocalStorageClient(tmp_path / "storage", fsync=False)
    await db.connect()
    await lock.connect()
    await storage.setup()
    engine = JobEngine(db, FakeQueue(), FakeAlerts(), {}, EngineParams(ORCHESTRATOR_VERSION))  # type: ignore[arg-type]
    async with MadaraNodeDouble(chain) as double, MadaraNodeClient(double.url, retry_delay_seconds=0.01) as node:
        try:
            yield Stack(db, lock, storage, node, double, engine)
        finally:
            await lock.close()
            await db.close()


async def test_l2_head_of_the_pipeline_over_recorded_blocks(stack: Stack) -> None:
    aggregator = AggregatorBatching(stack.db, stack.storage, stack.lock, stack.node, PARAMS)
    snos = SnosBatching(stack.db, stack.lock, stack.node, PARAMS, Layer.L2)

    await aggregator.run()  # blocks FIRST..FIRST+5
    await aggregator.run()  # FIRST+6..FIRST+8, then FIRST+9 is pre-confirmed: stop
    batches = await stack.db.get_aggregator_batches(AggregatorBatchQuery())
    assert [(b.start_block - FIRST, b.end_block - FIRST, b.status) for b in batches] == [
        (0, 4, AggregatorBatchStatus.CLOSED),
        (5, 8, AggregatorBatchStatus.OPEN),
    ]
    assert {b.starknet_version for b in batches} == {"0.14.1"}

    # each batch's stored squashed update and blobs are what squashing and compressing the range gives
    for batch in batches:
        updates = [await stack.node.get_state_update(n) for n in range(batch.start_block, batch.end_block + 1)]
        expected = await squash(updates, batch.start_block - 1, stack.node)
        stored = StateUpdate.from_json(json.loads(await stack.storage.get(batch.squashed_state_updates_path)))
        assert stored == expected
        felts = await compress_state_update(expected, batch.end_block, "0.14.1", stack.node)
        assert batch.blob_len == len(felts)
        blobs = felts_to_blobs(felts)
        assert [await stack.storage.get(f"{batch.blob_path}/{j}.txt") for j in range(1, len(blobs) + 1)] == blobs
        assert not await stack.storage.exists(f"{batch.blob_path}/{len(blobs) + 1}.txt")

    await snos.run()
    await snos.run()
    snos_batches = await stack.db.get_snos_batches(SnosBatchQuery())
    assert [(s.start_block - FIRST, s.end_block - FIRST, s.aggregator_batch_index, s.status) for s in snos_batches] == [
        (0, 1, 1, SnosBatchStatus.CLOSED),
        (2, 3, 1, SnosBatchStatus.CLOSED),
        (4, 4, 1, SnosBatchStatus.CLOSED),  # cut at the aggregator batch's end
        (5, 6, 2, SnosBatchStatus.CLOSED),
        (7, 8, 2, SnosBatchStatus.CLOSED),  # full (2 blocks): closed without waiting for a next block
    ]

    jobs = JobTriggers(stack.db, stack.engine, JobTriggerParams(layer=Layer.L2))
    await jobs.snos()
    await jobs.snos()
    created = await stack.db.get_jobs_by_types_and_statuses([JobType.SNOS_RUN], [])
    assert [j.internal_id for j in created] == [1, 2, 3, 4, 5]
    third = created[2].metadata.specific
    assert isinstance(third, SnosMetadata)
    assert (third.start_block - FIRST, third.end_block - FIRST, third.cairo_pie_path) == (4, 4, "3/cairo_pie.zip")
    # squash's pre-range reads went to the node
    assert "starknet_getClassHashAt" in stack.double.rpc_methods


async def test_l3_snos_batching_follows_the_chain_head(stack: Stack) -> None:
    snos = SnosBatching(stack.db, stack.lock, stack.node, PARAMS, Layer.L3)
    for _ in range(3):
        await snos.run()
    snos_batches = await stack.db.get_snos_batches(SnosBatchQuery())
    # the head is FIRST+8 (FIRST+9 on is pre-confirmed); weights come from the feeder gateway
    assert [(s.start_block - FIRST, s.end_block - FIRST) for s in snos_batches] == [
        (0, 1),
        (2, 3),
        (4, 5),
        (6, 7),
        (8, 8),
    ]
    assert all(s.aggregator_batch_index is None for s in snos_batches)
    assert snos_batches[0].builtin_weights.proving_gas == 2 * PARAMS.default_empty_block_proving_gas
    assert snos_batches[0].builtin_weights.state_diff_size > 0
