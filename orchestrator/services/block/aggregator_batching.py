"""AggregatorBatching (L2): cut the chain into aggregator batches, the unit settled on L1.

Per run, under the lock "AggregatorBatchingWorker": the blocks after the last batch (bounded by
min/max block and `max_batch_processing_size`) are added one by one to the open batch. Before a block
joins, the batch closes and the block starts the next one when: the block does not follow the
batch's end (gap), the batch is closed or from another orchestrator version, the Starknet version
changed, the batch holds `max_batch_size` blocks or is older than `max_batch_time_seconds`, the
summed l1_gas / message_segment_length would exceed the limit, the aggregator input bound would
exceed `max_aggregator_input_size`, or the compressed squashed diff would not fit in
`max_num_blobs*4096 - blob_size_buffer` felts.

A batch's squashed state update lives at `state_update/batch/{i}.json` (read back when the run starts
with an open batch, and rebuilt from the node if it does not end at the batch's end block) and its
blobs at `blob/batch/{i}/{j}.txt` (j from 1). The batch record is written with
`update_or_create_aggregator_batch`, which keeps the block lookups in sync. A pre-confirmed block, an
unsupported Starknet version or a block too large for any batch stops the run.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from orchestrator.core.clients.database import DatabaseClient
from orchestrator.core.clients.lock import LockClient
from orchestrator.core.clients.storage import StorageClient
from orchestrator.core.errors import ObjectNotFoundError
from orchestrator.core.models.batch import AggregatorBatch, AggregatorBatchStatus, BouncerWeights
from orchestrator.services.block.aggregator_input import added_block_bound, single_block_bound
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
    BlockHeaderSource,
    BlockSource,
    ReplayBoundsError,
    add_aggregator_weights,
    aggregator_weights,
    aggregator_weights_fit,
    block_version,
    block_weights,
    check_replay_bounds,
    is_pre_confirmed,
    is_supported,
    version_text,
)
from orchestrator.services.block.params import BatchingParams
from orchestrator.services.block.storage_layout import batch_blob_dir, batch_blob_file, batch_state_update_file
from orchestrator.services.block.worker_lock import AGGREGATOR_BATCHING_LOCK, new_lock_owner, run_locked
from orchestrator.services.da.batch import compress_state_update
from orchestrator.services.da.blob import felts_to_blobs
from orchestrator.services.da.squash import squash
from orchestrator.services.da.state_update import StateUpdate
from orchestrator.services.da.version import StarknetVersion, parse_starknet_version

log = logging.getLogger("orchestrator.block.aggregator_batching")

LOCK_KEY = AGGREGATOR_BATCHING_LOCK

#: Opens a prover bucket for a new batch (Atlantic) and returns its id.
CreateBucket = Callable[[], Awaitable[str]]


@dataclass
class OpenAggregatorBatch:
    batch: AggregatorBatch
    #: the state change over the batch's blocks, squashed
    squashed: StateUpdate

    def close(self) -> None:
        self.batch.status = AggregatorBatchStatus.CLOSED


AggregatorStep = Step[OpenAggregatorBatch]
AggregatorState = OpenAggregatorBatch | EmptyState


class AggregatorBatching:
    def __init__(
        self,
        database: DatabaseClient,
        storage: StorageClient,
        lock: LockClient,
        node: BlockSource,
        params: BatchingParams,
        create_bucket: CreateBucket | None = None,
        replay_reference: BlockHeaderSource | None = None,
        clock: Clock = DEFAULT_CLOCK,
        lock_owner: str | None = None,
    ) -> None:
        self.db = database
        self.storage = storage
        self.lock = lock
        self.node = node
        self.params = params
        self.create_bucket = create_bucket
        self.replay_reference = replay_reference
        self.clock = clock
        self.lock_owner = lock_owner or new_lock_owner()

    async def run(self) -> None:
        """The trigger: returns quietly when another process holds the lock."""
        await run_locked(self.lock, LOCK_KEY, self.lock_owner, self.params.lock_duration_seconds, self.batch_blocks)

    async def block_range(self) -> tuple[int, int]:
        """The blocks this run looks at; empty when first > last."""
        latest = await self.db.get_latest_aggregator_batch()
        last_batched = latest.end_block if latest is not None else -1
        last = await self.node.block_number()
        if self.params.max_block_to_process is not None:
            last = min(last, self.params.max_block_to_process)
        first = max(self.params.min_block_to_process, last_batched + 1)
        return first, min(last, first + self.params.max_batch_processing_size - 1)

    async def batch_blocks(self) -> None:
        first, last = await self.block_range()
        if first > last:
            log.debug("no blocks to batch (%d > %d)", first, last)
            return
        log.info("aggregator batching blocks %d..%d", first, last)
        state = await self.load_state()
        replay_error: ReplayBoundsError | None = None
        for block_number in range(first, last + 1):
            if self.replay_reference is not None:
                try:
                    await check_replay_bounds(self.node, self.replay_reference, block_number)
                except ReplayBoundsError as exc:
                    log.error("replay bounds: %s; stopping aggregator batching", exc)
                    replay_error = exc
                    break
            step = await self.include_block(block_number, state)
            if step.completed is not None:
                await self.save(step.completed)
            state = step.state
            if step.outcome is Outcome.NOT_BATCHED:
                break
        # The open (or just closed) batch is saved even when a replay check failed: its blocks are valid.
        if isinstance(state, OpenAggregatorBatch):
            await self.save(state)
        if replay_error is not None:
            raise replay_error

    # --- state ----------------------------------------------------------------------------------
    async def load_state(self) -> AggregatorState:
        latest = await self.db.get_latest_aggregator_batch()
        if latest is None:
            return EmptyState(1)
        if latest.status is not AggregatorBatchStatus.OPEN:
            return EmptyState(latest.index + 1)
        squashed = await self._stored_squash(latest)
        if squashed is None:
            log.warning("the stored state update of batch %d is missing or stale; rebuilding it", latest.index)
            squashed = await self.rebuild_squash(latest)
        return OpenAggregatorBatch(latest, squashed)

    async def _stored_squash(self, batch: AggregatorBatch) -> StateUpdate | None:
        """The stored squashed update, if it ends at the batch's end block.

        The record and the file are written one after the other; a crash in between leaves one of
        them a block range behind. The squash carries the block hash of its last block, which tells.
        """
        try:
            squashed = StateUpdate.from_json(json.loads(await self.storage.get(batch.squashed_state_updates_path)))
        except ObjectNotFoundError:
            return None
        header = await self.node.get_block_with_tx_hashes(batch.end_block)
        end_hash = header.get("block_hash")
        if end_hash is None or squashed.block_hash != int(end_hash, 16):
            return None
        return squashed

    async def rebuild_squash(self, batch: AggregatorBatch) -> StateUpdate:
        updates = [await self.node.get_state_update(n) for n in range(batch.start_block, batch.end_block + 1)]
        return await squash(updates, batch.start_block - 1 if batch.start_block > 0 else None, self.node)

    async def save(self, state: OpenAggregatorBatch) -> None:
        """Record, squashed update, blobs. The compression runs first: it reads the node, the likeliest
        step to fail, and nothing is written then. The writes are not atomic together; each is an
        overwrite, so the next run repeats a half-done save."""
        batch = state.batch
        felts = await compress_state_update(
            state.squashed, batch.end_block, parse_starknet_version(batch.starknet_version), self.node
        )
        state.batch = await self.db.update_or_create_aggregator_batch(batch)
        await self.storage.put(batch.squashed_state_updates_path, json.dumps(state.squashed.to_json()).encode())
        for number, blob in enumerate(felts_to_blobs(felts), start=1):
            await self.storage.put(batch_blob_file(batch.index, number), blob)
        log.info(
            "saved aggregator batch %d (blocks %d..%d, %s, %d felts)",
            batch.index,
            batch.start_block,
            batch.end_block,
            batch.status,
            len(felts),
        )

    # --- one block ------------------------------------------------------------------------------
    async def include_block(self, block_number: int, state: AggregatorState) -> AggregatorStep:
        version = await block_version(self.node, block_number)
        if version is None:
            log.info("block %d is pre-confirmed; not batching it yet", block_number)
            return Step(Outcome.NOT_BATCHED, state)
        if not is_supported(version):
            log.warning(
                "block %d has unsupported Starknet version %s: closing the open batch and stopping; "
                "an orchestrator supporting it is needed",
                block_number,
                version_text(version),
            )
            if isinstance(state, OpenAggregatorBatch):
                state.close()
            return Step(Outcome.NOT_BATCHED, state)
        if isinstance(state, EmptyState):
            return await self._start_from_empty(block_number, version, state)
        return await self._add_to_open(block_number, version, state)

    async def _start_from_empty(self, block_number: int, version: StarknetVersion, state: EmptyState) -> AggregatorStep:
        raw = await self.node.get_state_update(block_number)
        if is_pre_confirmed(raw):
            return Step(Outcome.NOT_BATCHED, state)
        update = StateUpdate.from_json(raw)
        weights = await block_weights(self.node, block_number, self.params.default_empty_block_proving_gas)
        if self._too_large_alone(block_number, update, weights):
            return Step(Outcome.NOT_BATCHED, state)
        batch = await self._new_batch(state.next_index, block_number, version, weights, update)
        return Step(Outcome.ACCUMULATED, OpenAggregatorBatch(batch, update))

    async def _add_to_open(
        self, block_number: int, version: StarknetVersion, state: OpenAggregatorBatch
    ) -> AggregatorStep:
        batch = state.batch
        if block_number != batch.end_block + 1:
            log.warning(
                "gap: batch %d ends at %d, next block is %d; closing it",
                batch.index,
                batch.end_block,
                block_number,
            )
            state.close()
            return Step(Outcome.NOT_BATCHED, state)
        weights = await block_weights(self.node, block_number, self.params.default_empty_block_proving_gas)
        raw = await self.node.get_state_update(block_number)
        if is_pre_confirmed(raw):
            log.info("block %d is pre-confirmed; not batching it yet", block_number)
            return Step(Outcome.NOT_BATCHED, state)
        update = StateUpdate.from_json(raw)
        added = await self.try_add(state, block_number, update, weights, version)
        if isinstance(added, OpenAggregatorBatch):
            return Step(Outcome.ACCUMULATED, added)
        log.info("closing aggregator batch %d before block %d: %s", batch.index, block_number, added)
        state.close()
        if self._too_large_alone(block_number, update, weights):
            return Step(Outcome.NOT_BATCHED, state)
        new = await self._new_batch(batch.index + 1, block_number, version, weights, update)
        return Step(Outcome.COMPLETED, OpenAggregatorBatch(new, update), completed=state)

    def close_reason(
        self, batch: AggregatorBatch, version: StarknetVersion, weights: BouncerWeights
    ) -> CloseReason | None:
        """The checks that need no node reads (the reference's `check_block_sync`)."""
        if batch.status is not AggregatorBatchStatus.OPEN:
            return CloseReason.CLOSED
        if batch.orchestrator_version != self.params.orchestrator_version:
            return CloseReason.ORCHESTRATOR_VERSION
        if version != parse_starknet_version(batch.starknet_version):
            return CloseReason.STARKNET_VERSION
        if batch.num_blocks >= self.params.max_batch_size:
            return CloseReason.MAX_BLOCKS
        if age_seconds(batch.created_at, self.clock) >= self.params.max_batch_time_seconds:
            return CloseReason.TIME_LIMIT
        combined = add_aggregator_weights(batch.builtin_weights, aggregator_weights(weights))
        if not aggregator_weights_fit(combined, self.params.bouncer_weights_limit):
            return CloseReason.WEIGHTS
        return None

    async def try_add(
        self,
        state: OpenAggregatorBatch,
        block_number: int,
        update: StateUpdate,
        weights: BouncerWeights,
        version: StarknetVersion,
    ) -> OpenAggregatorBatch | CloseReason:
        """The batch with the block added, or why the block cannot join it."""
        batch = state.batch
        bound = batch.aggregator_input_size_upper_bound + added_block_bound(update, weights.message_segment_length)
        if bound > self.params.max_aggregator_input_size:
            return CloseReason.INPUT_SIZE
        reason = self.close_reason(batch, version, weights)
        if reason is not None:
            return reason
        pre_range_block = batch.start_block - 1 if batch.start_block > 0 else None
        squashed = await squash([state.squashed, update], pre_range_block, self.node)
        felts = await compress_state_update(
            squashed, max(block_number - 1, 0), parse_starknet_version(batch.starknet_version), self.node
        )
        if len(felts) > self.params.max_blob_size:
            return CloseReason.BLOB_SIZE
        grown = batch.model_copy(
            update={
                "end_block": block_number,
                "num_blocks": block_number - batch.start_block + 1,
                "blob_len": len(felts),
                "aggregator_input_size_upper_bound": bound,
                "builtin_weights": add_aggregator_weights(batch.builtin_weights, aggregator_weights(weights)),
            },
            deep=True,
        )
        return OpenAggregatorBatch(grown, squashed)

    def _too_large_alone(self, block_number: int, update: StateUpdate, weights: BouncerWeights) -> bool:
        bound = single_block_bound(update, weights.message_segment_length)
        if bound <= self.params.max_aggregator_input_size:
            return False
        log.warning(
            "block %d alone has an aggregator input bound of %d > %d; stopping before it",
            block_number,
            bound,
            self.params.max_aggregator_input_size,
        )
        return True

    async def _new_batch(
        self,
        index: int,
        block_number: int,
        version: StarknetVersion,
        weights: BouncerWeights,
        update: StateUpdate,
    ) -> AggregatorBatch:
        felts = await compress_state_update(update, max(block_number - 1, 0), version, self.node)
        bucket_id = await self.create_bucket() if self.create_bucket is not None else None
        now = timestamp(self.clock)
        log.info("starting aggregator batch %d at block %d (bucket %s)", index, block_number, bucket_id)
        return AggregatorBatch(
            index=index,
            bucket_id=bucket_id,
            squashed_state_updates_path=batch_state_update_file(index),
            blob_path=batch_blob_dir(index),
            starknet_version=version_text(version),
            orchestrator_version=self.params.orchestrator_version,
            start_block=block_number,
            end_block=block_number,
            num_blocks=1,
            blob_len=len(felts),
            aggregator_input_size_upper_bound=single_block_bound(update, weights.message_segment_length),
            builtin_weights=aggregator_weights(weights),
            status=AggregatorBatchStatus.OPEN,
            created_at=now,
            updated_at=now,
        )
