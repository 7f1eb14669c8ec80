"""A batch's state update -> the felts that go into its blobs (the aggregator-batching path).

`compress_state_update(state_update, alias_block, version, reader)` mirrors the reference:
stateful (alias) compression from Starknet 0.13.4 (aliases read at `alias_block`; the reference
passes the batch's end block — aliases never change once assigned, so any block at or after the
range start gives the same answers), then the batch encoder, then stateless compression from
0.13.3. `encode_and_compress` is the offline part (the input is already stateful-compressed where
needed). Feed the result to `blob.felts_to_blobs`. Updates may be typed or raw RPC dicts; versions
tuples or strings ("0.13.5").
"""

from __future__ import annotations

import asyncio
from typing import Any

from orchestrator.core.madara.node import L2NodeClient
from orchestrator.services.da import stateful, stateless
from orchestrator.services.da.blob import felts_to_blobs
from orchestrator.services.da.encoder import encode_batch_state_update
from orchestrator.services.da.squash import squash
from orchestrator.services.da.state_reader import StateReader
from orchestrator.services.da.state_update import StateUpdateLike, as_state_update
from orchestrator.services.da.version import V0_13_3, V0_13_4, VersionLike, as_version


def encode_and_compress(state_update: StateUpdateLike, version: VersionLike) -> list[int]:
    version = as_version(version)
    felts = encode_batch_state_update(state_update, version)
    return stateless.compress(felts) if version >= V0_13_3 else felts


async def compress_state_update(
    state_update: StateUpdateLike, alias_block: int, version: VersionLike, reader: StateReader
) -> list[int]:
    version = as_version(version)
    update = as_state_update(state_update)
    if version >= V0_13_4:
        update = await stateful.compress(update, alias_block, reader)
    return encode_and_compress(update, version)


async def batch_blobs(node: L2NodeClient, updates: list[dict[str, Any]]) -> list[bytes]:
    """The batch DA pipeline over a range's raw state updates (the devnet SNOS stand-ins' blobs): squash
    the range, compress (stateful + stateless) at the range's Starknet version, FFT into blobs."""
    first, last = updates[0]["block_number"], updates[-1]["block_number"]
    block = await node.get_block_with_tx_hashes(last)
    squashed = await squash(updates, first - 1, node)
    felts = await compress_state_update(squashed, last, block.get("starknet_version", "0.14.1"), node)
    return await asyncio.to_thread(felts_to_blobs, felts)
