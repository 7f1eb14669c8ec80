"""A recorded aggregator batch for the aggregator tests: the node's blocks, the batch's blobs, and
child SNOS outputs made by the devnet SNOS runner over consecutive sub-ranges."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from orchestrator.clients.snos.devnet import DevnetSnosRunner
from orchestrator.core.errors import ServiceUnavailableError
from orchestrator.core.madara.aggregator import AggregatorRequest
from orchestrator.core.madara.node import BlockNotFoundError
from orchestrator.core.madara.snos import SnosRequest
from orchestrator.services.da.batch import encode_and_compress
from orchestrator.services.da.blob import blob_to_felts, felts_to_blobs

FIXTURES = Path(__file__).parents[2] / "fixtures"
BATCH = json.loads((FIXTURES / "batch" / "9662264" / "state_updates.json").read_text())
FIRST = 2935726
#: the aggregator batch: two blobs' worth of state diffs, after the recording's first block (so
#: the first block's parent hash is recorded too)
START, END = FIRST + 1, FIRST + 700
#: its SNOS batches
CHILD_RANGES = [(START, FIRST + 200), (FIRST + 201, FIRST + 450), (FIRST + 451, END)]


def update(n: int) -> dict[str, Any]:
    return BATCH[n - FIRST]


class RecordedNode:
    """The node reads the devnet runners make, from the recording."""

    def __init__(self, pending_from: int | None = None, down: bool = False) -> None:
        self.pending_from = pending_from
        self.down = down

    def _check(self, n: int) -> None:
        if self.down:
            raise ServiceUnavailableError("node at http://127.0.0.1:9 timed out")
        if not FIRST <= n < FIRST + len(BATCH):
            raise BlockNotFoundError(f"block {n} not found", code=24)

    async def get_block_with_tx_hashes(self, n: int) -> dict[str, Any]:
        self._check(n)
        parent = update(n - 1)["block_hash"] if n > FIRST else "0x0"
        return {"block_number": n, "parent_hash": parent, "block_hash": update(n)["block_hash"]}

    async def get_state_update(self, n: int) -> dict[str, Any]:
        self._check(n)
        if self.pending_from is not None and n >= self.pending_from:
            return {"state_diff": update(n)["state_diff"]}
        return update(n)


def build_blobs(updates: list[dict[str, Any]]) -> list[bytes]:
    felts = [felt for u in updates for felt in encode_and_compress(u, "0.13.5")]
    return felts_to_blobs(felts)


@dataclass(frozen=True)
class Recorded:
    children_outputs: list[list[int]]
    children_keys: list[str]
    blobs: list[bytes]
    da_segment: list[int]

    def request(self, **changes: Any) -> AggregatorRequest:
        fields: dict[str, Any] = {
            "batch_index": 3,
            "start_block": START,
            "end_block": END,
            "children_outputs": [list(o) for o in self.children_outputs],
            "children_keys": list(self.children_keys),
            "da_segment": list(self.da_segment),
            "blobs": list(self.blobs),
        }
        fields.update(changes)
        return AggregatorRequest(**fields)


async def _children() -> tuple[list[list[int]], list[str]]:
    runner = DevnetSnosRunner(RecordedNode(), build_blobs)  # type: ignore[arg-type]
    outputs, keys = [], []
    for start, end in CHILD_RANGES:
        result = await runner.run(SnosRequest(start_block=start, end_block=end, rpc_url="unused"))
        assert result.fact is not None
        outputs.append(result.program_output)
        keys.append("0x" + result.fact.hex())
    return outputs, keys


@cache
def recorded() -> Recorded:
    """Built once per test session (the children's KZG sections take a few seconds); call it from
    synchronous code, outside a running event loop."""
    outputs, keys = asyncio.run(_children())
    blobs = build_blobs([update(n) for n in range(START, END + 1)])
    assert len(blobs) == 2, "the batch is meant to fill two blobs"
    da_segment = [felt for blob in blobs for felt in blob_to_felts(blob)]
    return Recorded(outputs, keys, blobs, da_segment)
