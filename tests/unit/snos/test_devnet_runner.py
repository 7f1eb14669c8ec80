"""The devnet SNOS stand-in: its outputs agree with each other and with what settlement reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from orchestrator.clients.snos.devnet import (
    DEVNET_PROGRAM,
    DEVNET_PROGRAM_HASH,
    DevnetSnosRunner,
    devnet_fact,
)
from orchestrator.core.errors import ServiceUnavailableError
from orchestrator.core.madara.node import BlockNotFoundError
from orchestrator.core.madara.snos import SnosError, SnosRequest
from orchestrator.crypto import kzg
from orchestrator.services.da.batch import encode_and_compress
from orchestrator.services.da.blob import felts_to_blobs
from orchestrator.services.proof.fact import get_fact_info
from orchestrator.services.proof.pie import STARK_PRIME, StrippedProgram, read_cairo_pie
from orchestrator.services.proof.program_hash import program_hash
from orchestrator.services.proof.program_output import N_BLOBS_OFFSET, X_0_POINT_OFFSET, program_output

FIXTURES = Path(__file__).parents[2] / "fixtures"
BATCH = json.loads((FIXTURES / "batch" / "9662264" / "state_updates.json").read_text())
FIRST = 2935726


class RecordedNode:
    """The two node reads the runner makes, from the recorded batch."""

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
        parent = BATCH[n - FIRST - 1]["block_hash"] if n > FIRST else "0x0"
        return {"block_number": n, "parent_hash": parent}

    async def get_state_update(self, n: int) -> dict[str, Any]:
        self._check(n)
        if self.pending_from is not None and n >= self.pending_from:
            return {"state_diff": BATCH[n - FIRST]["state_diff"]}
        return BATCH[n - FIRST]


def build_blobs(updates: list[dict[str, Any]]) -> list[bytes]:
    felts = [felt for update in updates for felt in encode_and_compress(update, "0.13.5")]
    return felts_to_blobs(felts)


def runner(node: RecordedNode | None = None, builder: Any = build_blobs) -> DevnetSnosRunner:
    return DevnetSnosRunner(node or RecordedNode(), builder)  # type: ignore[arg-type]


def test_devnet_program_hash_is_the_hash_of_the_stand_in_program() -> None:
    assert program_hash(StrippedProgram(DEVNET_PROGRAM, ["output"], 0, STARK_PRIME)) == DEVNET_PROGRAM_HASH


async def test_output_layout_and_consistency() -> None:
    start, end = FIRST + 3, FIRST + 7
    result = await runner().run(SnosRequest(start_block=start, end_block=end, rpc_url="unused", full_output=True))
    out = result.program_output
    assert result.snos_output == out
    assert out[0] == int(BATCH[3]["old_root"], 16)
    assert out[1] == int(BATCH[7]["new_root"], 16)
    assert out[2:4] == [start - 1, end]
    assert out[4] == int(BATCH[2]["block_hash"], 16)
    assert out[5] == int(BATCH[7]["block_hash"], 16)
    assert out[8:10] == [1, 1]  # KZG DA, full output

    blobs = build_blobs([{**BATCH[i]} for i in range(3, 8)])
    n = out[N_BLOBS_OFFSET]
    assert n == len(blobs) >= 1
    x_0 = out[X_0_POINT_OFFSET]
    assert len(out) == 12 + 4 * n + 2 and out[-2:] == [0, 0]
    for i, blob in enumerate(blobs):
        commitment = kzg.blob_to_commitment(blob)
        low, high = out[12 + 2 * i], out[12 + 2 * i + 1]
        assert (high << 192 | low).to_bytes(48, "big") == commitment
        # what settlement does: y from the output, then a proof at x_0 that must verify
        y = out[12 + 2 * n + 2 * i + 1] << 128 | out[12 + 2 * n + 2 * i]
        proof, computed = kzg.compute_proof(blob, x_0)
        assert computed == y
        assert kzg.verify_proof(commitment, x_0, y, proof)

    pie = read_cairo_pie(result.cairo_pie)
    assert program_output(pie) == out
    assert pie.n_steps == result.n_steps
    info = get_fact_info(pie)
    assert info.program_hash == DEVNET_PROGRAM_HASH
    assert result.fact == info.fact == devnet_fact(out)


async def test_same_range_gives_the_same_outputs() -> None:
    request = SnosRequest(start_block=FIRST, end_block=FIRST + 1, rpc_url="unused")
    first, second = await runner().run(request), await runner().run(request)
    assert first.fact == second.fact and first.program_output == second.program_output
    assert first.program_output[9] == 0  # full_output defaults to false


async def test_async_blob_builder() -> None:
    async def builder(updates: list[dict[str, Any]]) -> list[bytes]:
        assert [u["block_number"] for u in updates] == [FIRST, FIRST + 1]
        return build_blobs(updates)

    result = await runner(builder=builder).run(SnosRequest(start_block=FIRST, end_block=FIRST + 1, rpc_url="x"))
    assert result.program_output[N_BLOBS_OFFSET] >= 1


async def test_pending_block_is_retryable() -> None:
    with pytest.raises(SnosError, match="still pending") as caught:
        await runner(RecordedNode(pending_from=FIRST + 1)).run(SnosRequest(FIRST, FIRST + 2, "x"))
    assert caught.value.retryable


async def test_missing_block_is_retryable() -> None:
    with pytest.raises(SnosError, match="BlockNotFound") as caught:
        await runner().run(SnosRequest(FIRST + len(BATCH) - 1, FIRST + len(BATCH), "x"))
    assert caught.value.retryable


async def test_unreachable_node_is_retryable() -> None:
    with pytest.raises(SnosError, match="RPC error") as caught:
        await runner(RecordedNode(down=True)).run(SnosRequest(FIRST, FIRST, "x"))
    assert caught.value.retryable


async def test_no_blobs_is_fatal() -> None:
    with pytest.raises(SnosError, match="no blobs") as caught:
        await runner(builder=lambda updates: []).run(SnosRequest(FIRST, FIRST, "x"))
    assert not caught.value.retryable


async def test_invalid_blob_is_fatal() -> None:
    with pytest.raises(SnosError, match="not valid") as caught:
        await runner(builder=lambda updates: [b"\x00" * 10]).run(SnosRequest(FIRST, FIRST, "x"))
    assert not caught.value.retryable


async def test_inverted_range_is_fatal() -> None:
    with pytest.raises(SnosError, match="end before start"):
        await runner().run(SnosRequest(FIRST + 1, FIRST, "x"))
