"""The Madara double's JSON-RPC handling, spoken to directly (named params, malformed requests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.doubles.madara_node import (
    SEPOLIA_BATCH_FIRST_BLOCK,
    BaseState,
    MadaraNodeDouble,
    RecordedBlock,
    RecordedChain,
    load_fixture_chain,
)

FIXTURES = Path(__file__).parents[2] / "fixtures"


@pytest.fixture
async def node() -> AsyncIterator[MadaraNodeDouble]:
    async with MadaraNodeDouble(load_fixture_chain(FIXTURES)) as double:
        yield double


async def post(url: str, payload: Any) -> Any:
    async with aiohttp.ClientSession() as session, session.post(url, json=payload) as response:
        assert response.status == 200
        return await response.json()


async def test_named_params(node: MadaraNodeDouble) -> None:
    answer = await post(
        node.url,
        {
            "jsonrpc": "2.0",
            "id": 7,
            "method": "starknet_getStorageAt",
            "params": {"contract_address": "0x1", "key": "0x0", "block_id": "latest"},
        },
    )
    assert answer == {"jsonrpc": "2.0", "id": 7, "result": "0x0"}


async def test_block_by_hash(node: MadaraNodeDouble) -> None:
    head = await post(node.url, {"jsonrpc": "2.0", "id": 1, "method": "starknet_blockHashAndNumber", "params": []})
    block = await post(
        node.url,
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "starknet_getBlockWithTxHashes",
            "params": [{"block_hash": head["result"]["block_hash"]}],
        },
    )
    assert block["result"]["block_number"] == head["result"]["block_number"]


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"jsonrpc": "2.0", "id": 1, "method": "starknet_nope", "params": []}, -32601),
        ({"jsonrpc": "2.0", "id": 1, "params": []}, -32600),
        ({"jsonrpc": "2.0", "id": 1, "method": "starknet_getStateUpdate", "params": []}, -32602),
        ({"jsonrpc": "2.0", "id": 1, "method": "starknet_getStateUpdate", "params": [{"block_number": "x"}]}, -32602),
        ([], -32600),
    ],
)
async def test_malformed_requests(node: MadaraNodeDouble, payload: Any, code: int) -> None:
    answer = await post(node.url, payload)
    assert answer["error"]["code"] == code


async def test_batch_mixes_results_and_errors(node: MadaraNodeDouble) -> None:
    answers = await post(
        node.url,
        [
            {"jsonrpc": "2.0", "id": 1, "method": "starknet_blockNumber", "params": []},
            {"jsonrpc": "2.0", "id": 2, "method": "starknet_getStateUpdate", "params": [{"block_number": 3}]},
        ],
    )
    assert answers[0]["result"] == SEPOLIA_BATCH_FIRST_BLOCK + 999
    assert answers[1]["error"] == {"code": 24, "message": "Block not found"}


async def test_base_state_answers_reads_before_the_recording() -> None:
    chain = RecordedChain(
        [RecordedBlock(10, {"block_hash": "0xa", "new_root": "0x1", "old_root": "0x0", "state_diff": {}}, "0.13.5")],
        base=BaseState(storage={(5, 6): 7}, nonces={5: 3}, class_hashes={5: 0x99}),
    )
    assert chain.storage_at(5, 6, 10) == 7
    assert chain.nonce_at(5, 10) == 3
    assert chain.class_hash_at(5, 10) == 0x99
    assert chain.class_hash_at(6, 10) is None
