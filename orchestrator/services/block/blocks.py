"""What the batching triggers read about a block from the L2 node, and the checks on it.

`BlockSource` is the part of `core.madara.node.L2NodeClient` batching uses (the node client
satisfies it); a pre-confirmed block (the one being built) has no block hash and is never batched.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from orchestrator.core.errors import OrchestratorError
from orchestrator.core.models.batch import AggregatorBuiltinWeights, BouncerWeights
from orchestrator.services.da.version import StarknetVersion, format_starknet_version, parse_starknet_version

if TYPE_CHECKING:
    from orchestrator.core.madara.node import L2NodeClient

#: The Starknet versions the reference can batch (its `versions!` list); blocks of any other version
#: stop batching until an operator upgrades the orchestrator.
SUPPORTED_STARKNET_VERSIONS: frozenset[StarknetVersion] = frozenset(
    {(0, 13, 2), (0, 13, 3), (0, 13, 4), (0, 13, 5), (0, 14, 0), (0, 14, 1), (0, 14, 2)}
)


class BatchingError(OrchestratorError):
    """The node's answer about a block cannot be batched (no or a malformed Starknet version, ...)."""


class ReplayBoundsError(BatchingError):
    """The block differs from the reference chain's, or either node could not tell."""


class BlockHeaderSource(Protocol):
    async def get_block_with_tx_hashes(self, block_number: int) -> dict[str, Any]: ...


class BlockSource(BlockHeaderSource, Protocol):
    async def block_number(self) -> int: ...

    async def get_state_update(self, block_number: int) -> dict[str, Any]: ...

    async def get_block_bouncer_weights(self, block_number: int) -> BouncerWeights: ...

    async def get_storage_at_many(self, block_number: int, keys: Sequence[tuple[int, int]]) -> list[int]: ...

    async def get_class_hash_at_many(self, block_number: int, addresses: Sequence[int]) -> list[int]: ...


if TYPE_CHECKING:  # mypy proves the node client can be passed wherever a BlockSource is expected

    def _node_is_block_source(node: L2NodeClient) -> BlockSource:
        return node


def is_pre_confirmed(block_or_update: dict[str, Any]) -> bool:
    """Headers and state updates of a pre-confirmed block carry no block hash."""
    return block_or_update.get("status") == "PRE_CONFIRMED" or block_or_update.get("block_hash") is None


def is_supported(version: StarknetVersion) -> bool:
    return version in SUPPORTED_STARKNET_VERSIONS


async def block_version(node: BlockHeaderSource, block_number: int) -> StarknetVersion | None:
    """The block's Starknet version; None while the block is pre-confirmed."""
    header = await node.get_block_with_tx_hashes(block_number)
    if is_pre_confirmed(header):
        return None
    raw = header.get("starknet_version")
    if not isinstance(raw, str):
        raise BatchingError(f"block {block_number} has no starknet_version in its header")
    try:
        return parse_starknet_version(raw)
    except ValueError as exc:
        raise BatchingError(f"block {block_number}: {exc}") from None


async def block_weights(node: BlockSource, block_number: int, empty_block_proving_gas: int) -> BouncerWeights:
    weights = await node.get_block_bouncer_weights(block_number)
    if weights.proving_gas == 0:
        # An empty block still costs something to prove.
        weights = weights.model_copy(update={"proving_gas": empty_block_proving_gas})
    return weights


async def check_replay_bounds(node: BlockHeaderSource, reference: BlockHeaderSource, block_number: int) -> None:
    """Fail closed: a hash mismatch, a fetch error or a pre-confirmed block on either side raises."""
    try:
        ours, theirs = await asyncio.gather(
            node.get_block_with_tx_hashes(block_number), reference.get_block_with_tx_hashes(block_number)
        )
    except Exception as exc:
        raise ReplayBoundsError(f"failed to fetch block #{block_number} for the replay check: {exc}") from exc
    for source, header in (("madara", ours), ("reference", theirs)):
        if is_pre_confirmed(header):
            raise ReplayBoundsError(f"block #{block_number} is still pending on {source}")
    if int(ours["block_hash"], 16) != int(theirs["block_hash"], 16):
        raise ReplayBoundsError(
            f"block hash mismatch at #{block_number}: madara={ours['block_hash']}, reference={theirs['block_hash']}"
        )


def version_text(version: StarknetVersion) -> str:
    return format_starknet_version(version)


# --- weights ------------------------------------------------------------------------------------

_BOUNCER_FIELDS = tuple(BouncerWeights.model_fields)
_AGGREGATOR_FIELDS = tuple(AggregatorBuiltinWeights.model_fields)


def add_bouncer_weights(a: BouncerWeights, b: BouncerWeights) -> BouncerWeights:
    return BouncerWeights(**{name: getattr(a, name) + getattr(b, name) for name in _BOUNCER_FIELDS})


def bouncer_weights_fit(weights: BouncerWeights, limit: BouncerWeights) -> bool:
    """Every dimension at or below its limit."""
    return all(getattr(weights, name) <= getattr(limit, name) for name in _BOUNCER_FIELDS)


def aggregator_weights(weights: BouncerWeights) -> AggregatorBuiltinWeights:
    """Aggregator batches are bounded by the dimensions the settlement pays for."""
    return AggregatorBuiltinWeights(l1_gas=weights.l1_gas, message_segment_length=weights.message_segment_length)


def add_aggregator_weights(a: AggregatorBuiltinWeights, b: AggregatorBuiltinWeights) -> AggregatorBuiltinWeights:
    return AggregatorBuiltinWeights(**{name: getattr(a, name) + getattr(b, name) for name in _AGGREGATOR_FIELDS})


def aggregator_weights_fit(weights: AggregatorBuiltinWeights, limit: BouncerWeights) -> bool:
    return all(getattr(weights, name) <= getattr(limit, name) for name in _AGGREGATOR_FIELDS)
