"""SnosBatching: cut blocks into SNOS batches, the unit one Starknet OS run (and one child proof) covers.

Per run, under the lock "SnosBatchingWorker":
- L2: blocks already in aggregator batches, from max(min block, last SNOS batch end + 1, start of the
  oldest aggregator batch of this orchestrator version) to the last aggregator-batched block; each
  block's aggregator batch comes from the block lookups, and a SNOS batch never spans two of them;
- L3: blocks from the last SNOS batch end + 1 up to the chain head (no aggregator batches).
Both are bounded by min/max block and `max_batch_processing_size`.

The open batch closes, and the block starts the next one, on a gap, when the batch is closed or from
another orchestrator version, or the block is in another aggregator batch; then, when
`fixed_blocks_per_snos_batch` is set, only on reaching it; otherwise when the Starknet version changed,
`max_blocks_per_snos_batch` is reached, the batch is older than `max_batch_time_seconds`, or the summed
bouncer weights are over the limit. (The reference lets the fixed size override the aggregator
boundary, so a SNOS batch could span two aggregator batches.)
Batches are written with `update_or_create_snos_batch` (which keeps the block lookups in sync).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from orchestrator.core.clients.database import AggregatorBatchQuery, DatabaseClient
from orchestrator.core.clients.lock import LockClient
from orchestrator.core.models.batch import AggregatorBatchStatus, BouncerWeights, SnosBatch, SnosBatchStatus
from orchestrator.core.models.queue import Layer
from orchestrator.services.block.batch_state import (
    DEFAULT_CLOCK,
    Clock,
    CloseReason,
    EmptyState,
    Outcome,
    Step,
    age_seconds,
    timestamp,
)
from orchestrator.services.block.blocks import (
    BatchingError,
    BlockHeaderSource,
    BlockSource,
    ReplayBoundsError,
    add_bouncer_weights,
    block_version,
    block_weights,
    bouncer_weights_fit,
    check_replay_bounds,
    is_supported,
    version_text,
)
from orchestrator.services.block.params import BatchingParams
from orchestrator.services.block.worker_lock import SNOS_BATCHING_LOCK, new_lock_owner, run_locked
from orchestrator.services.da.version import StarknetVersion, parse_starknet_version

log = logging.getLogger("orchestrator.block.snos_batching")

LOCK_KEY = SNOS_BATCHING_LOCK


@dataclass
class OpenSnosBatch:
    batch: SnosBatch

    def close(self) -> None:
        self.batch.status = SnosBatchStatus.CLOSED


SnosStep = Step[OpenSnosBatch]
SnosState = OpenSnosBatch | EmptyState


class SnosBatching:
    def __init__(
        self,
        database: DatabaseClient,
        lock: LockClient,
        node: BlockSource,
        params: BatchingParams,
        layer: Layer,
        replay_reference: BlockHeaderSource | None = None,
        clock: Clock = DEFAULT_CLOCK,
        lock_owner: str | None = None,
    ) -> None:
        self.db = database
        self.lock = lock
        self.node = node
        self.params = params
        self.layer = layer
        self.replay_reference = replay_reference
        self.clock = clock
        self.lock_owner = lock_owner or new_lock_owner()

    async def run(self) -> None:
        """The trigger: returns quietly when another process holds the lock."""
        await run_locked(self.lock, LOCK_KEY, self.lock_owner, self.params.lock_duration_seconds, self.batch_blocks)

    async def block_range(self) -> tuple[int, int]:
        """The blocks this run looks at; empty when first > last."""
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

    async def batch_blocks(self) -> None:
        first, last = await self.block_range()
        if first > last:
            log.debug("no blocks to batch (%d > %d)", first, last)
            await self.close_with_finished_parent()
            return
        log.info("SNOS batching blocks %d..%d", first, last)
        state = await self.load_state()
        replay_error: ReplayBoundsError | None = None
        for block_number in range(first, last + 1):
            aggregator_index: int | None = None
            if self.layer is Layer.L2:
                aggregator = await self.db.get_aggregator_batch_for_block(block_number)
                if aggregator is None:
                    log.warning("block %d is in no aggregator batch; stopping SNOS batching", block_number)
                    break
                aggregator_index = aggregator.index
            if self.replay_reference is not None:
                try:
                    await check_replay_bounds(self.node, self.replay_reference, block_number)
                except ReplayBoundsError as exc:
                    log.error("replay bounds: %s; stopping SNOS batching", exc)
                    replay_error = exc
                    break
            step = await self.include_block(block_number, aggregator_index, state)
            if step.completed is not None:
                await self.save(step.completed)
            state = step.state
            if step.outcome is Outcome.NOT_BATCHED:
                break
        if isinstance(state, OpenSnosBatch):
            await self._close_if_parent_finished(state)
            await self.save(state)
        if replay_error is not None:
            raise replay_error

    async def close_with_finished_parent(self) -> None:
        """Close the open SNOS batch when it already reaches the end of its closed aggregator batch."""
        state = await self.load_state()
        if isinstance(state, OpenSnosBatch) and await self._close_if_parent_finished(state):
            await self.save(state)

    async def _close_if_parent_finished(self, state: OpenSnosBatch) -> bool:
        # Beyond the reference, which closes the last SNOS batch of an aggregator batch only when a
        # block of the next aggregator batch arrives: when aggregator batching stopped (unsupported
        # version, oversized block), that block never comes and the closed batch could not be aggregated.
        batch = state.batch
        if (
            self.layer is not Layer.L2
            or batch.aggregator_batch_index is None
            or batch.status is not SnosBatchStatus.OPEN
        ):
            return False
        found = await self.db.get_aggregator_batches(AggregatorBatchQuery(indexes=[batch.aggregator_batch_index]))
        parent = found[0] if found else None
        if parent is None or parent.status is AggregatorBatchStatus.OPEN or parent.end_block != batch.end_block:
            return False
        log.info("closing SNOS batch %d: its aggregator batch %d is closed", batch.index, parent.index)
        state.close()
        return True

    async def load_state(self) -> SnosState:
        latest = await self.db.get_latest_snos_batch()
        if latest is None:
            return EmptyState(1)
        if latest.status is not SnosBatchStatus.OPEN:
            return EmptyState(latest.index + 1)
        return OpenSnosBatch(latest)

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

    async def include_block(self, block_number: int, aggregator_index: int | None, state: SnosState) -> SnosStep:
        version = await block_version(self.node, block_number)
        if version is None:
            log.info("block %d is pre-confirmed; not batching it yet", block_number)
            return Step(Outcome.NOT_BATCHED, state)
        if not is_supported(version):
            log.warning(
                "block %d has unsupported Starknet version %s: closing the open SNOS batch and stopping",
                block_number,
                version_text(version),
            )
            if isinstance(state, OpenSnosBatch):
                state.close()
            return Step(Outcome.NOT_BATCHED, state)
        if isinstance(state, OpenSnosBatch) and block_number != state.batch.end_block + 1:
            log.warning(
                "gap: SNOS batch %d ends at %d, next block is %d; closing it",
                state.batch.index,
                state.batch.end_block,
                block_number,
            )
            state.close()
            return Step(Outcome.NOT_BATCHED, state)
        weights = await block_weights(self.node, block_number, self.params.default_empty_block_proving_gas)
        if isinstance(state, EmptyState):
            return Step(
                Outcome.ACCUMULATED,
                OpenSnosBatch(self._new_batch(state.next_index, aggregator_index, block_number, weights, version)),
            )
        added = self.try_add(state.batch, block_number, weights, version, aggregator_index)
        if isinstance(added, SnosBatch):
            return Step(Outcome.ACCUMULATED, OpenSnosBatch(added))
        log.info("closing SNOS batch %d before block %d: %s", state.batch.index, block_number, added)
        state.close()
        new = self._new_batch(state.batch.index + 1, aggregator_index, block_number, weights, version)
        return Step(Outcome.COMPLETED, OpenSnosBatch(new), completed=state)

    def try_add(
        self,
        batch: SnosBatch,
        block_number: int,
        weights: BouncerWeights,
        version: StarknetVersion,
        aggregator_index: int | None,
    ) -> SnosBatch | CloseReason:
        """The batch with the block added, or why the block cannot join it."""
        # The structural rules hold whatever the size rule: a closed batch, another version's, or another
        # aggregator batch's is never extended.
        if batch.status is not SnosBatchStatus.OPEN:
            return CloseReason.CLOSED
        if batch.orchestrator_version != self.params.orchestrator_version:
            return CloseReason.ORCHESTRATOR_VERSION
        if batch.aggregator_batch_index is not None:
            if aggregator_index is None:
                raise BatchingError(f"block {block_number} has no aggregator batch while SNOS batching on L2")
            if aggregator_index != batch.aggregator_batch_index:
                return CloseReason.AGGREGATOR_BATCH
        fixed = self.params.fixed_blocks_per_snos_batch
        if fixed is not None:
            # A fixed size overrides the other size rules (the weights are not accumulated then).
            if batch.num_blocks >= fixed:
                return CloseReason.FIXED_SIZE
            return self._grown(batch, block_number, BouncerWeights())
        if version != parse_starknet_version(batch.starknet_version):
            return CloseReason.STARKNET_VERSION
        if batch.num_blocks >= self.params.max_blocks_per_snos_batch:
            return CloseReason.MAX_BLOCKS
        if age_seconds(batch.created_at, self.clock) >= self.params.max_batch_time_seconds:
            return CloseReason.TIME_LIMIT
        combined = add_bouncer_weights(batch.builtin_weights, weights)
        if not bouncer_weights_fit(combined, self.params.bouncer_weights_limit):
            return CloseReason.WEIGHTS
        return self._grown(batch, block_number, combined)

    @staticmethod
    def _grown(batch: SnosBatch, block_number: int, weights: BouncerWeights) -> SnosBatch:
        return batch.model_copy(
            update={
                "end_block": block_number,
                "num_blocks": block_number - batch.start_block + 1,
                "builtin_weights": weights,
            },
            deep=True,
        )

    def _new_batch(
        self,
        index: int,
        aggregator_index: int | None,
        block_number: int,
        weights: BouncerWeights,
        version: StarknetVersion,
    ) -> SnosBatch:
        now = timestamp(self.clock)
        return SnosBatch(
            index=index,
            aggregator_batch_index=aggregator_index,
            starknet_version=version_text(version),
            orchestrator_version=self.params.orchestrator_version,
            start_block=block_number,
            end_block=block_number,
            num_blocks=1,
            builtin_weights=weights,
            status=SnosBatchStatus.OPEN,
            created_at=now,
            updated_at=now,
        )
