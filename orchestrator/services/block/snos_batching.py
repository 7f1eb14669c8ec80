"""SnosBatching: cut blocks into SNOS batches, the unit one Starknet OS run (and one child proof) covers.

The loop is `batching.BatchingLoop`; this policy says what is particular to SNOS batches, under the
lock "SnosBatchingWorker":
- range: on L2, blocks already in aggregator batches, from max(min block, last SNOS batch end + 1,
  start of the oldest aggregator batch of this orchestrator version) to the last aggregator-batched
  block; each block's aggregator batch comes from the block lookups (a block in none stops the run).
  On L3, blocks from the last SNOS batch end + 1 up to the chain head. Both are bounded by min/max
  block and `max_batch_processing_size`;
- close rules, in order: the batch is closed or from another orchestrator version, the block is in
  another aggregator batch (so a SNOS batch never spans two); then, when `fixed_blocks_per_snos_batch`
  is set, only on reaching it; otherwise when the Starknet version changed, `max_blocks_per_snos_batch`
  is reached, the batch is older than `max_batch_time_seconds`, or the summed bouncer weights are over
  the limit. (The reference lets the fixed size override the aggregator boundary too, so a SNOS batch
  could span two aggregator batches.);
- idle (without a new block): the open batch closes once older than `max_batch_time_seconds` (unless
  the size is fixed), and on L2 once it reaches the end of its closed aggregator batch.
Batches are written with `update_or_create_snos_batch` (which keeps the block lookups in sync).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from orchestrator.core.clients.database import AggregatorBatchQuery, BatchRepository
from orchestrator.core.clients.lock import LockClient
from orchestrator.core.models.batch import AggregatorBatchStatus, BouncerWeights, SnosBatch, SnosBatchStatus
from orchestrator.core.models.queue import Layer
from orchestrator.services.block.batch_state import DEFAULT_CLOCK, Clock, CloseReason, EmptyState, timestamp
from orchestrator.services.block.batching import (
    BatchingLoop,
    Block,
    OpenBatch,
    Rule,
    closed_rule,
    is_too_old,
    max_blocks_rule,
    orchestrator_version_rule,
    starknet_version_rule,
    time_limit_rule,
)
from orchestrator.services.block.blocks import (
    BatchingError,
    BlockHeaderSource,
    BlockSource,
    add_bouncer_weights,
    block_weights,
    bouncer_weights_fit,
    version_text,
)
from orchestrator.services.block.params import BatchingParams
from orchestrator.services.block.worker_lock import SNOS_BATCHING_LOCK
from orchestrator.services.da.version import StarknetVersion

log = logging.getLogger("orchestrator.block.snos_batching")

LOCK_KEY = SNOS_BATCHING_LOCK

OpenSnosBatch = OpenBatch[SnosBatch]


def _other_aggregator_batch(batch: SnosBatch, block: Block) -> bool:
    if batch.aggregator_batch_index is None:
        return False
    if block.aggregator_index is None:
        raise BatchingError(f"block {block.number} has no aggregator batch while SNOS batching on L2")
    return block.aggregator_index != batch.aggregator_batch_index


class SnosPolicy:
    kind = "SNOS"
    lock_key = LOCK_KEY

    def __init__(
        self, database: BatchRepository, node: BlockSource, params: BatchingParams, layer: Layer, clock: Clock
    ) -> None:
        self.db = database
        self.node = node
        self.params = params
        self.layer = layer
        self.clock = clock
        fixed = params.fixed_blocks_per_snos_batch
        # The structural rules hold whatever the size rule: a closed batch, another version's, or another
        # aggregator batch's is never extended.
        structural: list[Rule[SnosBatch]] = [
            closed_rule(),
            orchestrator_version_rule(params.orchestrator_version),
            (CloseReason.AGGREGATOR_BATCH, _other_aggregator_batch),
        ]
        size: list[Rule[SnosBatch]] = (
            [max_blocks_rule(fixed, CloseReason.FIXED_SIZE)]
            if fixed is not None
            else [
                starknet_version_rule(),
                max_blocks_rule(params.max_blocks_per_snos_batch),
                time_limit_rule(params.max_batch_time_seconds, clock),
                (CloseReason.WEIGHTS, self._weights_over),
            ]
        )
        self._rules = structural + size

    async def block_range(self) -> tuple[int, int]:
        latest = await self.db.get_latest_snos_batch()
        first = max(self.params.min_block_to_process, (latest.end_block if latest is not None else -1) + 1)
        if self.layer is Layer.L2:
            oldest = await self.db.get_oldest_aggregator_batch(self.params.orchestrator_version)
            newest = await self.db.get_latest_aggregator_batch()
            if oldest is None or newest is None:
                return 1, 0  # SNOS batches follow aggregator batches on L2
            first = max(first, oldest.start_block)
            last = newest.end_block
        else:
            last = await self.node.block_number()
        if self.params.max_block_to_process is not None:
            last = min(last, self.params.max_block_to_process)
        return first, min(last, first + self.params.max_batch_processing_size - 1)

    def rules(self) -> Sequence[Rule[SnosBatch]]:
        return self._rules

    def _weights_over(self, batch: SnosBatch, block: Block) -> bool:
        combined = add_bouncer_weights(batch.builtin_weights, block.weights)
        return not bouncer_weights_fit(combined, self.params.bouncer_weights_limit)

    async def idle_close_reason(self, state: OpenSnosBatch) -> CloseReason | None:
        # Beyond the reference, which closes the last SNOS batch of an aggregator batch only when a
        # block of the next aggregator batch arrives: when aggregator batching stopped (unsupported
        # version, oversized block), that block never comes and the closed batch could not be aggregated.
        batch = state.batch
        fixed = self.params.fixed_blocks_per_snos_batch
        if fixed is not None and batch.num_blocks >= fixed:
            return CloseReason.FIXED_SIZE  # full: the next block would only close it
        if fixed is None and batch.num_blocks >= self.params.max_blocks_per_snos_batch:
            return CloseReason.MAX_BLOCKS
        if fixed is None and is_too_old(batch, self.params.max_batch_time_seconds, self.clock):
            return CloseReason.TIME_LIMIT  # also without a new block (the reference waits for one)
        if self.layer is not Layer.L2 or batch.aggregator_batch_index is None:
            return None
        found = await self.db.get_aggregator_batches(AggregatorBatchQuery(indexes=[batch.aggregator_batch_index]))
        parent = found[0] if found else None
        if parent is None or parent.status is AggregatorBatchStatus.OPEN or parent.end_block != batch.end_block:
            return None
        return CloseReason.AGGREGATOR_BATCH

    async def read_block(self, number: int, version: StarknetVersion) -> Block | None:
        aggregator_index: int | None = None
        if self.layer is Layer.L2:
            aggregator = await self.db.get_aggregator_batch_for_block(number)
            if aggregator is None:
                log.warning("block %d is in no aggregator batch; stopping SNOS batching", number)
                return None
            aggregator_index = aggregator.index
        weights = await block_weights(self.node, number, self.params.default_empty_block_proving_gas)
        return Block(number, version, weights, aggregator_index=aggregator_index)

    async def load(self) -> OpenSnosBatch | EmptyState:
        latest = await self.db.get_latest_snos_batch()
        if latest is None:
            return EmptyState(1)
        if latest.status is not SnosBatchStatus.OPEN:
            return EmptyState(latest.index + 1)
        return OpenBatch(latest)

    async def save(self, state: OpenSnosBatch) -> None:
        state.batch = await self.db.update_or_create_snos_batch(state.batch)
        batch = state.batch
        log.info(
            "saved SNOS batch %d (blocks %d..%d, aggregator batch %s, %s)",
            batch.index,
            batch.start_block,
            batch.end_block,
            batch.aggregator_batch_index,
            batch.status,
        )

    async def grow(self, state: OpenSnosBatch, block: Block) -> OpenSnosBatch:
        batch = state.batch
        # With a fixed size the weights are not accumulated (they decide nothing).
        fixed = self.params.fixed_blocks_per_snos_batch is not None
        weights = BouncerWeights() if fixed else add_bouncer_weights(batch.builtin_weights, block.weights)
        grown = batch.model_copy(
            update={
                "end_block": block.number,
                "num_blocks": block.number - batch.start_block + 1,
                "builtin_weights": weights,
            },
            deep=True,
        )
        return OpenBatch(grown)

    async def start(self, index: int, block: Block) -> OpenSnosBatch:
        now = timestamp(self.clock)
        return OpenBatch(
            SnosBatch(
                index=index,
                aggregator_batch_index=block.aggregator_index,
                starknet_version=version_text(block.version),
                orchestrator_version=self.params.orchestrator_version,
                start_block=block.number,
                end_block=block.number,
                num_blocks=1,
                builtin_weights=block.weights,
                status=SnosBatchStatus.OPEN,
                created_at=now,
                updated_at=now,
            )
        )


class SnosBatching(BatchingLoop[SnosBatch]):
    """The SnosBatching trigger: the shared loop with the SNOS policy."""

    def __init__(
        self,
        database: BatchRepository,
        lock: LockClient,
        node: BlockSource,
        params: BatchingParams,
        layer: Layer,
        replay_reference: BlockHeaderSource | None = None,
        clock: Clock = DEFAULT_CLOCK,
        lock_owner: str | None = None,
    ) -> None:
        policy = SnosPolicy(database, node, params, layer, clock)
        super().__init__(policy, node, lock, params.lock_duration_seconds, replay_reference, lock_owner)
