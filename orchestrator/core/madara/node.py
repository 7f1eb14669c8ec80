"""The L2 node (Madara): JSON-RPC and feeder gateway."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from orchestrator.core.errors import NotFoundError, OrchestratorError
from orchestrator.core.models.batch import BouncerWeights


class L2NodeError(OrchestratorError):
    """The node answered with an error (a JSON-RPC error object or a gateway error).

    A node that cannot be reached, times out, or answers 429/5xx raises
    `core.errors.ServiceUnavailableError` instead: those are worth retrying.
    """

    def __init__(self, message: str, *, code: int | str | None = None) -> None:
        super().__init__(message)
        self.code = code


class BlockNotFoundError(L2NodeError, NotFoundError):
    """The node does not have the block (yet): JSON-RPC error 24, gateway BLOCK_NOT_FOUND."""


@dataclass(frozen=True)
class ChainDetails:
    chain_id: str
    strk_fee_token_address: str
    eth_fee_token_address: str

    @property
    def chain_id_hex(self) -> str:
        """The chain id as the felt `starknet_chainId` returns: its ASCII name, hex-encoded."""
        return "0x" + self.chain_id.encode("ascii").hex()


class ChainDetailsSource(Protocol):
    async def chain_details(self) -> ChainDetails:
        """Fetched from the node once, at start (retried), then the same answer."""


class L2NodeClient(Protocol):
    async def chain_id(self) -> str:
        """The raw starknet_chainId felt as 0x-hex (ChainDetails.chain_id is its ASCII name)."""

    async def block_number(self) -> int: ...

    async def get_block_with_tx_hashes(self, block_number: int) -> dict[str, Any]:
        """The raw JSON-RPC result (includes starknet_version, status, block_hash)."""

    async def get_state_update(self, block_number: int) -> dict[str, Any]:
        """The raw starknet_getStateUpdate result (a pre-confirmed block has no block_hash)."""

    async def get_nonce(self, block_number: int, address: int) -> int:
        """starknet_getNonce; 0 for an address with no contract."""

    async def get_storage_at_many(self, block_number: int, keys: Sequence[tuple[int, int]]) -> list[int]:
        """Batched starknet_getStorageAt for (contract, key) pairs, results in the same order;
        0 for unset storage and for an address with no contract."""

    async def get_class_hash_at_many(self, block_number: int, addresses: Sequence[int]) -> list[int]:
        """Batched starknet_getClassHashAt; 0 for an address with no contract."""

    async def get_contract_addresses(self) -> dict[str, str]:
        """Feeder gateway get_contract_addresses."""

    async def get_block_bouncer_weights(self, block_number: int) -> BouncerWeights: ...

    async def chain_details(self) -> ChainDetails: ...
