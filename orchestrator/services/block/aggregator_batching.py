"""AggregatorBatching (L2): cut the chain into aggregator batches, the unit settled on L1.

The loop is `batching.BatchingLoop`; this policy says what is particular to aggregator batches:
- range: the blocks after the last batch, up to the chain head (bounded by min/max block and
  `max_batch_processing_size`), under the lock "AggregatorBatchingWorker";
- close rules, in order: the batch is closed or from another orchestrator version, the Starknet
  version changed, the batch holds `max_batch_size` blocks or is older than `max_batch_time_seconds`,
  the summed l1_gas / message_segment_length would exceed the limit, the aggregator input bound would
  exceed `max_aggregator_input_size`; and, once squashed, the compressed diff would not fit in
  `max_num_blobs*4096 - blob_size_buffer` felts;
- idle: the open batch closes once older than `max_batch_time_seconds`, also when no block arrives;
- a block too large for any batch stops the run; a new batch gets a prover bucket (Atlantic).

A batch's squashed state update lives at `state_update/batch/{i}.json` (read back when the run starts
with an open batch, and rebuilt from the node if it does not end at the batch's end block) and its
blobs at `blob/batch/{i}/{j}.txt` (j from 1). The batch record is written with
`update_or_create_aggregator_batch`, which keeps the block lookups in sync.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence

from orchestrator.core.clients.database import BatchRepository
from orchestrator.core.clients.lock import LockClient
from orchestrator.core.clients.storage import StorageClient
from orchestrator.core.errors import ObjectNotFoundError
from orchestrator.core.models.batch import AggregatorBatch, AggregatorBatchStatus
from orchestrator.services.block.aggregator_input import added_block_bound, single_block_bound
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
    BlockHeaderSource,
    BlockSource,
    add_aggregator_weights,
    aggregator_weights,
    aggregator_weights_fit,
    block_weights,
    is_pre_confirmed,
    version_text,
)
from orchestrator.services.block.params import BatchingParams
from orchestrator.services.block.worker_lock import AGGREGATOR_BATCHING_LOCK
from orchestrator.services.da.batch import compress_state_update
from orchestrator.services.da.blob import felts_to_blobs
from orchestrator.services.da.squash import squash
from orchestrator.services.da.state_update import StateUpdate
from orchestrator.services.da.version import StarknetVersion, parse_starknet_version
from orchestrator.services.storage_layout import batch_blob_dir, batch_blob_path, squashed_state_update_path

log = logging.getLogger("orchestrator.block.aggregator_batching")

LOCK_KEY = AGGREGATOR_BATCHING_LOCK

#: Opens a prover bucket for a new batch (Atlantic) and returns its id.
CreateBucket = Callable[[], Awaitable[str]]

OpenAggregatorBatch = OpenBatch[AggregatorBatch]


def _squashed(state: OpenAggregatorBatch) -> StateUpdate:
    if state.squashed is None:  # every open aggregator batch is loaded or started with its squash
        raise ValueError(f"aggregator batch {state.batch.index} is held without its squashed state update")
    return state.squashed


def _update(block: Block) -> StateUpdate:
    if block.update is None:  # `read_block` always reads it
        raise ValueError(f"block {block.number} was read without its state update")
    return block.update


class AggregatorPolicy:
    kind = "aggregator"
    lock_key = LOCK_KEY

    def __init__(
        self,
        database: BatchRepository,
        storage: StorageClient,
        node: BlockSource,
        params: BatchingParams,
        create_bucket: CreateBucket | None = None,
        clock: Clock = DEFAULT_CLOCK,
    ) -> None:
        self.db = database
        self.storage = storage
        self.node = node
        self.params = params
        self.create_bucket = create_bucket
        self.clock = clock
        self._rules: list[Rule[AggregatorBatch]] = [
            closed_rule(),
            orchestrator_version_rule(params.orchestrator_version),
            starknet_version_rule(),
            max_blocks_rule(params.max_batch_size),
            time_limit_rule(params.max_batch_time_seconds, clock),
            (CloseReason.WEIGHTS, self._weights_over),
            (CloseReason.INPUT_SIZE, self._input_size_over),
        ]

    async def block_range(self) -> tuple[int, int]:
        latest = await self.db.get_latest_aggregator_batch()
        last_batched = latest.end_block if latest is not None else -1
        last = await self.node.block_number()
        if self.params.max_block_to_process is not None:
            last = min(last, self.params.max_block_to_process)
        first = max(self.params.min_block_to_process, last_batched + 1)
        return first, min(last, first + self.params.max_batch_processing_size - 1)

    def rules(self) -> Sequence[Rule[AggregatorBatch]]:
        return self._rules

    def _weights_over(self, batch: AggregatorBatch, block: Block) -> bool:
        combined = add_aggregator_weights(batch.builtin_weights, aggregator_weights(block.weights))
        return not aggregator_weights_fit(combined, self.params.bouncer_weights_limit)

    def _input_size_over(self, batch: AggregatorBatch, block: Block) -> bool:
        return self._grown_bound(batch, block) > self.params.max_aggregator_input_size

    @staticmethod
    def _grown_bound(batch: AggregatorBatch, block: Block) -> int:
        added = added_block_bound(_update(block), block.weights.message_segment_length)
        return batch.aggregator_input_size_upper_bound + added

    async def idle_close_reason(self, state: OpenAggregatorBatch) -> CloseReason | None:
        # Beyond the reference, which checks the time limit only when a block arrives: an idle chain's
        # last batch would stay open, and unsettled, until an admin closed it.
        if is_too_old(state.batch, self.params.max_batch_time_seconds, self.clock):
            return CloseReason.TIME_LIMIT
        # A full batch can take no more blocks: the next one would only close it (same boundaries), so
        # waiting for it delays settling by a block time, or up to the time limit at a chain's end.
        if state.batch.num_blocks >= self.params.max_batch_size:
            return CloseReason.MAX_BLOCKS
        return None

    # --- reading --------------------------------------------------------------------------------
    async def read_block(self, number: int, version: StarknetVersion) -> Block | None:
        weights = await block_weights(self.node, number, self.params.default_empty_block_proving_gas)
        raw = await self.node.get_state_update(number)
        if is_pre_confirmed(raw):
            log.info("block %d is pre-confirmed; not batching it yet", number)
            return None
        return Block(number, version, weights, update=StateUpdate.from_json(raw))

    async def load(self) -> OpenAggregatorBatch | EmptyState:
        latest = await self.db.get_latest_aggregator_batch()
        if latest is None:
            return EmptyState(1)
        if latest.status is not AggregatorBatchStatus.OPEN:
            return EmptyState(latest.index + 1)
        squashed = await self._stored_squash(latest)
        if squashed is None:
            log.warning("the stored state update of batch %d is missing or stale; rebuilding it", latest.index)
            squashed = await self.rebuild_squash(latest)
        return OpenBatch(latest, squashed)

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

    # --- writing --------------------------------------------------------------------------------
    async def save(self, state: OpenAggregatorBatch) -> None:
        """Record, squashed update, blobs. The compression runs first: it reads the node, the likeliest
        step to fail, and nothing is written then. The writes are not atomic together; each is an
        overwrite, so the next run repeats a half-done save."""
        batch, squashed = state.batch, _squashed(state)
        felts = await compress_state_update(
            squashed, batch.end_block, parse_starknet_version(batch.starknet_version), self.node
        )
        state.batch = await self.db.update_or_create_aggregator_batch(batch)
        await self.storage.put(batch.squashed_state_updates_path, json.dumps(squashed.to_json()).encode())
        for number, blob in enumerate(felts_to_blobs(felts), start=1):
            await self.storage.put(batch_blob_path(batch.index, number), blob)
        log.info(
            "saved aggregator batch %d (blocks %d..%d, %s, %d felts)",
            batch.index,
            batch.start_block,
            batch.end_block,
            batch.status,
            len(felts),
        )

    # --- growing and starting -------------------------------------------------------------------
    async def grow(self, state: OpenAggregatorBatch, block: Block) -> OpenAggregatorBatch | CloseReason:
        batch, update = state.batch, _update(block)
        pre_range_block = batch.start_block - 1 if batch.start_block > 0 else None
        squashed = await squash([_squashed(state), update], pre_range_block, self.node)
        felts = await compress_state_update(
            squashed, max(block.number - 1, 0), parse_starknet_version(batch.starknet_version), self.node
        )
        if len(felts) > self.params.max_blob_size:
            return CloseReason.BLOB_SIZE
        grown = batch.model_copy(
            update={
                "end_block": block.number,
                "num_blocks": block.number - batch.start_block + 1,
                "blob_len": len(felts),
                "aggregator_input_size_upper_bound": self._grown_bound(batch, block),
                "builtin_weights": add_aggregator_weights(batch.builtin_weights, aggregator_weights(block.weights)),
            },
            deep=True,
        )
        return OpenBatch(grown, squashed)

    async def start(self, index: int, block: Block) -> OpenAggregatorBatch | None:
        update = _update(block)
        bound = single_block_bound(update, block.weights.message_segment_length)
        if bound > self.params.max_aggregator_input_size:
            log.warning(
                "block %d alone has an aggregator input bound of %d > %d; stopping before it",
                block.number,
                bound,
                self.params.max_aggregator_input_size,
            )
            return None
        felts = await compress_state_update(update, max(block.number - 1, 0), block.version, self.node)
        bucket_id = await self.create_bucket() if self.create_bucket is not None else None
        now = timestamp(self.clock)
        log.info("starting aggregator batch %d at block %d (bucket %s)", index, block.number, bucket_id)
        batch = AggregatorBatch(
            index=index,
            bucket_id=bucket_id,
            squashed_state_updates_path=squashed_state_update_path(index),
            blob_path=batch_blob_dir(index),
            starknet_version=version_text(block.version),
            orchestrator_version=self.params.orchestrator_version,
            start_block=block.number,
            end_block=block.number,
            num_blocks=1,
            blob_len=len(felts),
            aggregator_input_size_upper_bound=bound,
            builtin_weights=aggregator_weights(block.weights),
            status=AggregatorBatchStatus.OPEN,
            created_at=now,
            updated_at=now,
        )
        return OpenBatch(batch, update)


class AggregatorBatching(BatchingLoop[AggregatorBatch]):
    """The AggregatorBatching trigger: the shared loop with the aggregator policy."""

    def __init__(
        self,
        database: BatchRepository,
        storage: StorageClient,
        lock: LockClient,
        node: BlockSource,
        params: BatchingParams,
        create_bucket: CreateBucket | None = None,
        replay_reference: BlockHeaderSource | None = None,
        clock: Clock = DEFAULT_CLOCK,
        lock_owner: str | None = None,
    ) -> None:
        policy = AggregatorPolicy(database, storage, node, params, create_bucket, clock)
        super().__init__(policy, node, lock, params.lock_duration_seconds, replay_reference, lock_owner)
