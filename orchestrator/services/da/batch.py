"""A batch's state update -> the felts that go into its blobs (the aggregator-batching path).

`compress_state_update(state_update, end_block, version, reader)` mirrors the reference:
stateful (alias) compression against the node's state at `end_block` from Starknet 0.13.4, then
the batch encoder, then stateless compression from 0.13.3. `encode_and_compress` is the offline
part (the input is already stateful-compressed where needed). Feed the result to
`blob.felts_to_blobs`.
"""

from __future__ import annotations

from orchestrator.services.da import stateful, stateless
from orchestrator.services.da.encoder import encode_batch_state_update
from orchestrator.services.da.state_reader import StateReader
from orchestrator.services.da.state_update import StateUpdate
from orchestrator.services.da.version import V0_13_3, V0_13_4, StarknetVersion


def encode_and_compress(state_update: StateUpdate, version: StarknetVersion) -> list[int]:
    felts = encode_batch_state_update(state_update, version)
    return stateless.compress(felts) if version >= V0_13_3 else felts


async def compress_state_update(
    state_update: StateUpdate, end_block: int, version: StarknetVersion, reader: StateReader
) -> list[int]:
    if version >= V0_13_4:
        state_update = await stateful.compress(state_update, end_block, reader)
    return encode_and_compress(state_update, version)
