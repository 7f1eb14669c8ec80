"""The devnet SNOS stand-in fed by the node client over HTTP, with the batch DA encoder as blob builder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestrator.clients.node.madara import MadaraNodeClient
from orchestrator.clients.snos.devnet import DevnetSnosRunner
from orchestrator.core.madara.snos import SnosRequest
from orchestrator.crypto import kzg
from orchestrator.services.da.batch import compress_state_update
from orchestrator.services.da.blob import felts_to_blobs
from orchestrator.services.da.squash import squash
from orchestrator.services.proof.fact import get_fact_info
from orchestrator.services.proof.pie import read_cairo_pie
from orchestrator.services.proof.program_output import N_BLOBS_OFFSET, X_0_POINT_OFFSET
from tests.doubles.madara_node import SEPOLIA_BATCH_FIRST_BLOCK, MadaraNodeDouble, load_fixture_chain

FIXTURES = Path(__file__).parents[2] / "fixtures"


async def test_devnet_run_over_the_recorded_node() -> None:
    start, end = SEPOLIA_BATCH_FIRST_BLOCK + 10, SEPOLIA_BATCH_FIRST_BLOCK + 29
    async with (
        MadaraNodeDouble(load_fixture_chain(FIXTURES)) as node,
        MadaraNodeClient(node.url, retry_delay_seconds=0.01) as client,
    ):

        async def build_blobs(updates: list[dict[str, Any]]) -> list[bytes]:
            first, last = updates[0]["block_number"], updates[-1]["block_number"]
            squashed = await squash(updates, first - 1, client)
            felts = await compress_state_update(squashed, last, "0.14.1", client)
            return felts_to_blobs(felts)

        runner = DevnetSnosRunner(client, build_blobs)
        result = await runner.run(SnosRequest(start_block=start, end_block=end, rpc_url=node.url))
        # squash's pre-range reads reached the node as JSON-RPC calls
        assert "starknet_getClassHashAt" in node.rpc_methods
        # the same blobs, rebuilt outside the runner (the builder is deterministic)
        updates = [{**(await client.get_state_update(b)), "block_number": b} for b in range(start, end + 1)]
        blobs = await build_blobs(updates)

    out = result.program_output
    assert out[2:4] == [start - 1, end]
    n = out[N_BLOBS_OFFSET]
    assert n == len(blobs) >= 1
    x_0 = out[X_0_POINT_OFFSET]
    for i, blob in enumerate(blobs):
        commitment = ((out[12 + 2 * i + 1] << 192) | out[12 + 2 * i]).to_bytes(48, "big")
        assert commitment == kzg.blob_to_commitment(blob)
        y = (out[12 + 2 * n + 2 * i + 1] << 128) | out[12 + 2 * n + 2 * i]
        proof, _ = kzg.compute_proof(blob, x_0)
        assert kzg.verify_proof(commitment, x_0, y, proof)
    assert get_fact_info(read_cairo_pie(result.cairo_pie)).fact == result.fact
