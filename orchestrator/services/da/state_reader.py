"""The node reads squash and stateful compression need; `L2NodeClient` satisfies this protocol.

Both methods are batched (one JSON-RPC batch per call in the real client) and return results in
the order of their input.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from orchestrator.core.madara.node import L2NodeClient


class StateReader(Protocol):
    async def get_storage_at_many(self, block_number: int, keys: Sequence[tuple[int, int]]) -> list[int]:
        """starknet_getStorageAt for each (contract, key) pair; 0 for unset storage."""

    async def get_class_hash_at_many(self, block_number: int, addresses: Sequence[int]) -> list[int]:
        """starknet_getClassHashAt for each address; 0 for an address with no contract."""


if TYPE_CHECKING:  # mypy proves the L2 node client can be passed wherever a StateReader is expected

    def _node_reads_state(node: L2NodeClient) -> StateReader:
        return node
