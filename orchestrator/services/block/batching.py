"""The batching loop, shared by aggregator and SNOS batching; a `BatchPolicy` says what differs.

One run, under the policy's lock: take the blocks of the policy's range one by one and add each to the
open batch. Every block goes through the same prelude, in this order:

1. the replay-bounds check (when a reference node is set): a mismatch stops the run and fails it,
   after saving what was batched;
2. a pre-confirmed block stops the run; a block of an unsupported Starknet version closes the open
   batch and stops the run (an orchestrator that supports it is needed);
3. a gap after the open batch's end closes the batch and stops the run (the next run starts after it);
4. the policy reads what it needs about the block (it may stop the run: no aggregator batch yet);
5. the policy's close rules, in their one ordered list; the first that holds closes the open batch,
   and the block starts the next one. Otherwise the policy grows the batch by the block (growing may
   still refuse: the aggregator's compressed diff is known only once squashed).

An open batch also closes without a block when the policy's idle rule says so (checked when the run
starts and before the final save). A batch is saved when it closes and, still open, at the end.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from orchestrator.core.clients.lock import LockClient
from orchestrator.core.models.batch import (
    AggregatorBatch,
    AggregatorBatchStatus,
    BouncerWeights,
    SnosBatch,
    SnosBatchStatus,
)
from orchestrator.services.block.batch_state import Clock, CloseReason, EmptyState, Outcome, Step, age_seconds
from orchestrator.services.block.blocks import (
    BlockHeaderSource,
    ReplayBoundsError,
    block_version,
    check_replay_bounds,
    is_supported,
    version_text,
)
from orchestrator.services.block.worker_lock import new_lock_owner, run_locked
from orchestrator.services.da.state_update import StateUpdate
from orchestrator.services.da.version import StarknetVersion, parse_starknet_version

log = logging.getLogger("orchestrator.block.batching")

B = TypeVar("B", SnosBatch, AggregatorBatch)


@dataclass
class OpenBatch(Generic[B]):
    """The batch being built, as the run holds it in memory."""

    batch: B
    #: aggregator batches: the state change over the batch's blocks, squashed
    squashed: StateUpdate | None = None


@dataclass(frozen=True)
class Block:
    """What batching knows about one block once the policy has read it."""

    number: int
    version: StarknetVersion
    weights: BouncerWeights
    #: aggregator batching: the block's state update
    update: StateUpdate | None = None
    #: SNOS batching on L2: the aggregator batch holding the block
    aggregator_index: int | None = None


#: A close rule: when `holds(batch, block)`, the block cannot join the batch.
Rule = tuple[CloseReason, Callable[[B, Block], bool]]


def is_open(batch: SnosBatch | AggregatorBatch) -> bool:
    return batch.status in (SnosBatchStatus.OPEN, AggregatorBatchStatus.OPEN)


def close(batch: SnosBatch | AggregatorBatch) -> None:
    if isinstance(batch, SnosBatch):
        batch.status = SnosBatchStatus.CLOSED
    else:
        batch.status = AggregatorBatchStatus.CLOSED


# --- rules both kinds use ------------------------------------------------------------------------
def closed_rule() -> Rule[B]:
    return CloseReason.CLOSED, lambda batch, _block: not is_open(batch)


def orchestrator_version_rule(version: str) -> Rule[B]:
    return CloseReason.ORCHESTRATOR_VERSION, lambda batch, _block: batch.orchestrator_version != version


def starknet_version_rule() -> Rule[B]:
    return (
        CloseReason.STARKNET_VERSION,
        lambda batch, block: block.version != parse_starknet_version(batch.starknet_version),
    )


def max_blocks_rule(max_blocks: int, reason: CloseReason = CloseReason.MAX_BLOCKS) -> Rule[B]:
    return reason, lambda batch, _block: batch.num_blocks >= max_blocks


def is_too_old(batch: SnosBatch | AggregatorBatch, max_seconds: int, clock: Clock) -> bool:
    return age_seconds(batch.created_at, clock) >= max_seconds


def time_limit_rule(max_seconds: int, clock: Clock) -> Rule[B]:
    return CloseReason.TIME_LIMIT, lambda batch, _block: is_too_old(batch, max_seconds, clock)


class BatchPolicy(Protocol[B]):
    """What one kind of batch decides; the loop does the rest."""

    #: for logs: "aggregator" or "SNOS"
    kind: str
    lock_key: str

    async def block_range(self) -> tuple[int, int]:
        """The blocks this run looks at; empty when first > last."""

    async def load(self) -> OpenBatch[B] | EmptyState:
        """The latest batch if it is open, else the index the next batch gets."""

    async def read_block(self, number: int, version: StarknetVersion) -> Block | None:
        """What the rules need about the block; None stops the run before it."""

    def rules(self) -> Sequence[Rule[B]]:
        """The close conditions, in the order they are checked."""

    async def grow(self, state: OpenBatch[B], block: Block) -> OpenBatch[B] | CloseReason:
        """The batch with the block added, or why it cannot join after all."""

    async def start(self, index: int, block: Block) -> OpenBatch[B] | None:
        """A new batch holding just the block; None when the block cannot start one (stops the run)."""

    async def idle_close_reason(self, state: OpenBatch[B]) -> CloseReason | None:
        """Why the open batch closes without waiting for another block, if it does."""

    async def save(self, state: OpenBatch[B]) -> None: ...


class BatchingLoop(Generic[B]):
    def __init__(
        self,
        policy: BatchPolicy[B],
        node: BlockHeaderSource,
        lock: LockClient,
        lock_ttl_seconds: int,
        replay_reference: BlockHeaderSource | None = None,
        lock_owner: str | None = None,
    ) -> None:
        self.policy: BatchPolicy[B] = policy
        self.node = node
        self.lock = lock
        self.lock_ttl_seconds = lock_ttl_seconds
        self.replay_reference = replay_reference
        self.lock_owner = lock_owner or new_lock_owner()

    async def run(self) -> None:
        """The trigger: returns quietly when another process holds the lock."""
        await run_locked(self.lock, self.policy.lock_key, self.lock_owner, self.lock_ttl_seconds, self.batch_blocks)

    async def block_range(self) -> tuple[int, int]:
        return await self.policy.block_range()

    async def batch_blocks(self) -> None:
        kind = self.policy.kind
        first, last = await self.policy.block_range()
        state = await self._close_if_idle(await self.policy.load())
        if first > last:
            log.debug("%s batching: no blocks to batch (%d > %d)", kind, first, last)
            return
        log.info("%s batching blocks %d..%d", kind, first, last)
        replay_error: ReplayBoundsError | None = None
        for number in range(first, last + 1):
            if self.replay_reference is not None:
                try:
                    await check_replay_bounds(self.node, self.replay_reference, number)
                except ReplayBoundsError as exc:
                    log.error("replay bounds: %s; stopping %s batching", exc, kind)
                    replay_error = exc
                    break
            step = await self.include_block(number, state)
            if step.completed is not None:
                await self.policy.save(step.completed)
            state = step.state
            if step.outcome is Outcome.NOT_BATCHED:
                break
        # The open (or just closed) batch is saved even when a replay check failed: its blocks are valid.
        if isinstance(state, OpenBatch):
            await self._close_if_idle(state, save=False)
            await self.policy.save(state)
        if replay_error is not None:
            raise replay_error

    async def _close_if_idle(self, state: OpenBatch[B] | EmptyState, save: bool = True) -> OpenBatch[B] | EmptyState:
        if not isinstance(state, OpenBatch) or not is_open(state.batch):
            return state
        reason = await self.policy.idle_close_reason(state)
        if reason is None:
            return state
        log.info("closing %s batch %d without a new block: %s", self.policy.kind, state.batch.index, reason)
        close(state.batch)
        if not save:
            return state
        await self.policy.save(state)
        return EmptyState(state.batch.index + 1)

    async def include_block(self, number: int, state: OpenBatch[B] | EmptyState) -> Step[OpenBatch[B]]:
        version = await block_version(self.node, number)
        if version is None:
            log.info("block %d is pre-confirmed; not batching it yet", number)
            return Step(Outcome.NOT_BATCHED, state)
        if not is_supported(version):
            log.warning(
                "block %d has unsupported Starknet version %s: closing the open %s batch and stopping; "
                "an orchestrator supporting it is needed",
                number,
                version_text(version),
                self.policy.kind,
            )
            if isinstance(state, OpenBatch):
                close(state.batch)
            return Step(Outcome.NOT_BATCHED, state)
        if isinstance(state, OpenBatch) and number != state.batch.end_block + 1:
            log.warning(
                "gap: %s batch %d ends at %d, next block is %d; closing it",
                self.policy.kind,
                state.batch.index,
                state.batch.end_block,
                number,
            )
            close(state.batch)
            return Step(Outcome.NOT_BATCHED, state)
        block = await self.policy.read_block(number, version)
        if block is None:
            return Step(Outcome.NOT_BATCHED, state)
        if isinstance(state, EmptyState):
            started = await self.policy.start(state.next_index, block)
            return Step(Outcome.ACCUMULATED, started) if started is not None else Step(Outcome.NOT_BATCHED, state)
        return await self._add(state, block)

    async def _add(self, state: OpenBatch[B], block: Block) -> Step[OpenBatch[B]]:
        reason = next((reason for reason, holds in self.policy.rules() if holds(state.batch, block)), None)
        if reason is None:
            grown = await self.policy.grow(state, block)
            if isinstance(grown, OpenBatch):
                return Step(Outcome.ACCUMULATED, grown)
            reason = grown
        log.info("closing %s batch %d before block %d: %s", self.policy.kind, state.batch.index, block.number, reason)
        close(state.batch)
        started = await self.policy.start(state.batch.index + 1, block)
        if started is None:
            return Step(Outcome.NOT_BATCHED, state)
        return Step(Outcome.COMPLETED, started, completed=state)
