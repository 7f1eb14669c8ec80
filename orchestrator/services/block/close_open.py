"""Close every open SNOS and aggregator batch by hand (`POST /admin/batches/close-open`).

It runs under both batching locks, waiting for a batching run in progress to finish: a run holds its
open batch in memory and saves it at the end, so closing the stored batch mid-run would be undone by
that save (issue 9, defect 7).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from orchestrator.core.clients.database import AggregatorBatchQuery, BatchRepository, SnosBatchQuery
from orchestrator.core.clients.lock import LockClient
from orchestrator.core.models.batch import AggregatorBatchStatus, SnosBatchStatus
from orchestrator.services.block.worker_lock import (
    AGGREGATOR_BATCHING_LOCK,
    SNOS_BATCHING_LOCK,
    holding,
    new_lock_owner,
)

log = logging.getLogger("orchestrator.block.close_open")

#: How long closing waits for a batching run to release its lock (runs take seconds).
DEFAULT_WAIT_SECONDS = 30.0
#: The closing itself is a few writes; the lock expires on its own if this process dies holding it.
LOCK_TTL_SECONDS = 60


@dataclass(frozen=True)
class ClosedBatches:
    snos: int
    aggregator: int


async def close_open_batches(
    database: BatchRepository,
    lock: LockClient,
    wait_seconds: float = DEFAULT_WAIT_SECONDS,
    owner: str | None = None,
) -> ClosedBatches:
    """Raises `LockBusyError` when a batching run keeps its lock longer than `wait_seconds`."""
    keys = (AGGREGATOR_BATCHING_LOCK, SNOS_BATCHING_LOCK)
    async with holding(lock, keys, owner or new_lock_owner(), LOCK_TTL_SECONDS, wait_seconds):
        snos = await database.get_snos_batches(SnosBatchQuery(statuses=[SnosBatchStatus.OPEN]))
        aggregators = await database.get_aggregator_batches(AggregatorBatchQuery(statuses=[AggregatorBatchStatus.OPEN]))
        for batch in snos:
            await database.update_snos_batch_status_by_index(batch.index, SnosBatchStatus.CLOSED)
        for aggregator in aggregators:
            await database.update_aggregator_batch_status_by_index(aggregator.index, AggregatorBatchStatus.CLOSED)
    log.info("closed %d open SNOS and %d open aggregator batches by hand", len(snos), len(aggregators))
    return ClosedBatches(snos=len(snos), aggregator=len(aggregators))
