"""Aggregator batching over the recorded blocks whose keys were aliased before the recording starts.

From block 2935928 on, the Sepolia recording writes storage keys (e.g. 0x110e…455a of the STRK token)
whose alias was assigned before block 2935726; stateful compression reads it from contract 0x2. The
recorded node must answer it as a real node would (from `recorded_base`), or batching stops with
`StatefulCompressionError: no alias for …` (issue 10's throughput stall at the third 100-block batch).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from orchestrator.clients.database.sqlite import SqliteDatabaseClient
from orchestrator.clients.lock.sqlite import SqliteLockClient
from orchestrator.clients.node.madara import MadaraNodeClient
from orchestrator.clients.storage.local import LocalStorageClient
from orchestrator.core.clients.database import AggregatorBatchQuery
from orchestrator.core.models.batch import AggregatorBatchStatus
from orchestrator.services.block.aggregator_batching import AggregatorBatching
from orchestrator.services.block.params import BatchingParams
from tests.doubles.madara_node import MadaraNodeDouble, load_fixture_chain

FIXTURES = Path(__file__).parents[2] / "fixtures"
FIRST = 2935926  # batches 1 and 2 of the throughput run ended at 2935926; 2935928 writes pre-aliased keys
LAST = FIRST + 9
STRK_BALANCE_KEY = 0x110E2F729C9C2B988559994A3DACCD838CF52FAF88E18101373E67DD061455A


@pytest.fixture
async def batching(tmp_path: Path) -> AsyncIterator[tuple[AggregatorBatching, SqliteDatabaseClient, MadaraNodeClient]]:
    db = SqliteDatabaseClient(tmp_path / "db.sqlite")
    lock = SqliteLockClient(tmp_path / "db.sqlite")
    storage = LocalStorageClient(tmp_path / "storage", fsync=False)
    await db.connect()
    await lock.connect()
    await storage.setup()
    params = BatchingParams(min_block_to_process=FIRST, max_batch_processing_size=LAST - FIRST + 1, max_batch_size=100)
    chain = load_fixture_chain(FIXTURES, latest=LAST)
    async with MadaraNodeDouble(chain) as double, MadaraNodeClient(double.url, retry_delay_seconds=0.01) as node:
        try:
            yield AggregatorBatching(db, storage, lock, node, params), db, node
        finally:
            await lock.close()
            await db.close()


async def test_batching_reads_aliases_assigned_before_the_recording(
    batching: tuple[AggregatorBatching, SqliteDatabaseClient, MadaraNodeClient],
) -> None:
    aggregator, db, node = batching
    await aggregator.run()
    batches = await db.get_aggregator_batches(AggregatorBatchQuery())
    assert [(b.start_block, b.end_block, b.status) for b in batches] == [(FIRST, LAST, AggregatorBatchStatus.OPEN)]
    assert batches[0].blob_len > 0
    # the alias the node served is the one the published compression of the recording used
    assert await node.get_storage_at_many(FIRST, [(0x2, STRK_BALANCE_KEY)]) != [0]
