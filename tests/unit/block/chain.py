"""A small in-memory L2 chain for the batching tests: synthetic blocks with chosen versions and weights."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from orchestrator.core.madara.node import BlockNotFoundError
from orchestrator.core.models.batch import BouncerWeights


def state_update(
    block_hash: int,
    storage: dict[int, dict[int, int]] | None = None,
    nonces: dict[int, int] | None = None,
    declared: dict[int, int] | None = None,
) -> dict[str, Any]:
    """A starknet_getStateUpdate result (hex felts) with the given writes."""
    return {
        "block_hash": hex(block_hash),
        "old_root": hex(block_hash - 1),
        "new_root": hex(block_hash),
        "state_diff": {
            "storage_diffs": [
                {"address": hex(a), "storage_entries": [{"key": hex(k), "value": hex(v)} for k, v in s.items()]}
                for a, s in (storage or {}).items()
            ],
            "deprecated_declared_classes": [],
            "declared_classes": [
                {"class_hash": hex(h), "compiled_class_hash": hex(c)} for h, c in (declared or {}).items()
            ],
            "deployed_contracts": [],
            "replaced_classes": [],
            "nonces": [{"contract_address": hex(a), "nonce": hex(n)} for a, n in (nonces or {}).items()],
        },
    }


@dataclass
class FakeBlock:
    number: int
    update: dict[str, Any]
    version: str = "0.13.2"
    weights: BouncerWeights = field(default_factory=BouncerWeights)
    pre_confirmed: bool = False


class FakeChain:
    """Serves what batching reads; unset storage and unknown contracts read as 0 (a fresh chain)."""

    def __init__(self) -> None:
        self.blocks: dict[int, FakeBlock] = {}
        self.weight_calls: list[int] = []
        self.fail_on_block: int | None = None
        #: block -> (entered, release): reading the block's weights sets `entered` and waits for `release`
        self.gates: dict[int, tuple[asyncio.Event, asyncio.Event]] = {}

    def hold(self, number: int) -> tuple[asyncio.Event, asyncio.Event]:
        """Pause whoever reads block `number`'s weights until the returned `release` is set."""
        self.gates[number] = (asyncio.Event(), asyncio.Event())
        return self.gates[number]

    def add(
        self,
        number: int,
        *,
        version: str = "0.13.2",
        weights: BouncerWeights | None = None,
        storage: dict[int, dict[int, int]] | None = None,
        pre_confirmed: bool = False,
        block_hash: int | None = None,
    ) -> FakeBlock:
        # By default every block writes one fresh slot of its own, so squashing keeps everything.
        writes = storage if storage is not None else {0x1000: {0x10 + number: number + 1}}
        block = FakeBlock(
            number,
            state_update(block_hash if block_hash is not None else 0xB000 + number, writes),
            version,
            weights or BouncerWeights(),
            pre_confirmed,
        )
        self.blocks[number] = block
        return block

    def extend(self, count: int, **kwargs: Any) -> None:
        start = max(self.blocks, default=-1) + 1
        for number in range(start, start + count):
            self.add(number, **kwargs)

    def _block(self, number: int) -> FakeBlock:
        if number == self.fail_on_block:
            raise ConnectionError(f"node unreachable while reading block {number}")
        if number not in self.blocks:
            raise BlockNotFoundError(f"block {number} not found")
        return self.blocks[number]

    async def block_number(self) -> int:
        return max(n for n, b in self.blocks.items() if not b.pre_confirmed)

    async def get_block_with_tx_hashes(self, block_number: int) -> dict[str, Any]:
        block = self._block(block_number)
        header: dict[str, Any] = {"block_number": block_number, "starknet_version": block.version}
        if block.pre_confirmed:
            return {**header, "status": "PRE_CONFIRMED"}
        return {**header, "status": "ACCEPTED_ON_L2", "block_hash": block.update["block_hash"]}

    async def get_state_update(self, block_number: int) -> dict[str, Any]:
        block = self._block(block_number)
        if block.pre_confirmed:
            return {k: v for k, v in block.update.items() if k not in ("block_hash", "new_root")}
        return block.update

    async def get_block_bouncer_weights(self, block_number: int) -> BouncerWeights:
        self.weight_calls.append(block_number)
        if block_number in self.gates:
            entered, release = self.gates[block_number]
            entered.set()
            await release.wait()
        return self._block(block_number).weights.model_copy()

    async def get_storage_at_many(self, block_number: int, keys: Sequence[tuple[int, int]]) -> list[int]:
        return [0] * len(keys)

    async def get_class_hash_at_many(self, block_number: int, addresses: Sequence[int]) -> list[int]:
        return [0] * len(addresses)


class ReferenceHeaders:
    """A replay-bounds reference node: the same hashes as `chain`, except where overridden."""

    def __init__(self, chain: FakeChain, overrides: dict[int, int] | None = None) -> None:
        self.chain = chain
        self.overrides = overrides or {}

    async def get_block_with_tx_hashes(self, block_number: int) -> dict[str, Any]:
        header = await self.chain.get_block_with_tx_hashes(block_number)
        if block_number in self.overrides:
            header = {**header, "block_hash": hex(self.overrides[block_number])}
        return header
