"""The Madara node client against the recorded-data Madara double over real HTTP on loopback."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from orchestrator.clients.node.madara import MadaraNodeClient
from orchestrator.core.errors import ServiceUnavailableError
from orchestrator.core.madara.node import BlockNotFoundError, ChainDetails, L2NodeError
from orchestrator.core.models.batch import BouncerWeights
from tests.doubles import Fault
from tests.doubles.madara_node import (
    SEPOLIA_BATCH_FIRST_BLOCK,
    SEPOLIA_CONTRACT_ADDRESSES,
    MadaraNodeDouble,
    load_fixture_chain,
)

FIXTURES = Path(__file__).parents[2] / "fixtures"
BATCH = json.loads((FIXTURES / "batch" / "9662264" / "state_updates.json").read_text())
LAST_BATCH_BLOCK = SEPOLIA_BATCH_FIRST_BLOCK + len(BATCH) - 1


@pytest.fixture
async def node() -> AsyncIterator[MadaraNodeDouble]:
    async with MadaraNodeDouble(load_fixture_chain(FIXTURES)) as double:
        yield double


@pytest.fixture
async def client(node: MadaraNodeDouble) -> AsyncIterator[MadaraNodeClient]:
    async with MadaraNodeClient(
        node.url + "/rpc/v0_8", node.url, retry_delay_seconds=0.01, chain_details_retry_seconds=0.05
    ) as madara:
        yield madara


async def test_chain_id_and_head(client: MadaraNodeClient) -> None:
    assert await client.chain_id() == "0x534e5f5345504f4c4941"
    assert await client.block_number() == LAST_BATCH_BLOCK


async def test_state_update_is_the_recording(client: MadaraNodeClient) -> None:
    update = await client.get_state_update(SEPOLIA_BATCH_FIRST_BLOCK + 5)
    assert update == BATCH[5]
    da_block = await client.get_state_update(631861)
    assert da_block == json.loads((FIXTURES / "da" / "state_update" / "631861.json").read_text())


async def test_block_header(client: MadaraNodeClient) -> None:
    block = await client.get_block_with_tx_hashes(SEPOLIA_BATCH_FIRST_BLOCK + 1)
    assert block["status"] == "ACCEPTED_ON_L2"
    assert block["block_hash"] == BATCH[1]["block_hash"]
    assert block["parent_hash"] == BATCH[0]["block_hash"]
    assert block["new_root"] == BATCH[1]["new_root"]
    assert block["starknet_version"] == "0.14.1"
    assert (await client.get_block_with_tx_hashes(178))["starknet_version"] == "0.13.2"


async def test_unknown_block_is_block_not_found(client: MadaraNodeClient) -> None:
    with pytest.raises(BlockNotFoundError, match="block 5 not found") as caught:
        await client.get_state_update(5)
    assert caught.value.code == 24
    with pytest.raises(BlockNotFoundError):
        await client.get_block_with_tx_hashes(LAST_BATCH_BLOCK + 1)


async def test_head_can_be_capped_and_advanced(node: MadaraNodeDouble, client: MadaraNodeClient) -> None:
    node.chain.latest = SEPOLIA_BATCH_FIRST_BLOCK + 9
    assert await client.block_number() == SEPOLIA_BATCH_FIRST_BLOCK + 9
    with pytest.raises(BlockNotFoundError):
        await client.get_state_update(SEPOLIA_BATCH_FIRST_BLOCK + 10)
    node.chain.latest = SEPOLIA_BATCH_FIRST_BLOCK + 10
    assert (await client.get_state_update(SEPOLIA_BATCH_FIRST_BLOCK + 10)) == BATCH[10]


async def test_pre_confirmed_block_has_no_hash(node: MadaraNodeDouble, client: MadaraNodeClient) -> None:
    node.chain.pre_confirmed_from = LAST_BATCH_BLOCK
    update = await client.get_state_update(LAST_BATCH_BLOCK)
    assert "block_hash" not in update and update["state_diff"] == BATCH[-1]["state_diff"]
    block = await client.get_block_with_tx_hashes(LAST_BATCH_BLOCK)
    assert block["status"] == "PRE_CONFIRMED" and "block_hash" not in block


async def test_nonces_from_state_diffs_and_nonce_files(client: MadaraNodeClient) -> None:
    # the first nonce update of the recording
    index, entry = next((i, su["state_diff"]["nonces"][0]) for i, su in enumerate(BATCH) if su["state_diff"]["nonces"])
    address, nonce = int(entry["contract_address"], 16), int(entry["nonce"], 16)
    assert await client.get_nonce(SEPOLIA_BATCH_FIRST_BLOCK + index, address) == nonce
    recorded = json.loads((FIXTURES / "da" / "nonces" / "631861.json").read_text())
    for item in recorded[:5]:
        assert await client.get_nonce(631861, int(item["address"])) == int(item["nonce"], 16)


async def test_batched_storage_reads_follow_history(client: MadaraNodeClient) -> None:
    # collect writes: (address, key) -> [(block, value)]
    writes: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for i, su in enumerate(BATCH):
        for diff in su["state_diff"]["storage_diffs"]:
            for item in diff["storage_entries"]:
                key = (int(diff["address"], 16), int(item["key"], 16))
                writes.setdefault(key, []).append((SEPOLIA_BATCH_FIRST_BLOCK + i, int(item["value"], 16)))
    keys = list(writes)[:250]  # more than one batch of 100
    at_end = await client.get_storage_at_many(LAST_BATCH_BLOCK, keys)
    assert at_end == [writes[k][-1][1] for k in keys]
    multi = next(k for k, w in writes.items() if len(w) > 1)
    (_, first_value), (second_block, _) = writes[multi][0], writes[multi][1]
    assert await client.get_storage_at_many(second_block - 1, [multi]) == [first_value]
    assert await client.get_storage_at_many(LAST_BATCH_BLOCK, [(1, 0xDEAD)]) == [0]
    assert await client.get_storage_at_many(LAST_BATCH_BLOCK, []) == []


async def test_batched_storage_uses_json_rpc_batches(node: MadaraNodeDouble, client: MadaraNodeClient) -> None:
    keys = [(0x1, k) for k in range(230)]
    await client.get_storage_at_many(LAST_BATCH_BLOCK, keys)
    assert node.calls["POST /rpc/{version}"] == 3  # 100 + 100 + 30
    assert node.rpc_methods.count("starknet_getStorageAt") == 230


async def test_batched_class_hashes(client: MadaraNodeClient) -> None:
    index, deployed = next(
        (i, su["state_diff"]["deployed_contracts"][0])
        for i, su in enumerate(BATCH)
        if su["state_diff"]["deployed_contracts"]
    )
    address = int(deployed["address"], 16)
    block = SEPOLIA_BATCH_FIRST_BLOCK + index
    hashes = await client.get_class_hash_at_many(block, [address, 0xABC])
    assert hashes == [int(deployed["class_hash"], 16), 0]  # ContractNotFound reads as 0
    assert await client.get_class_hash_at_many(block - 1, [address]) == [0]


async def test_batch_on_a_missing_block_is_block_not_found(client: MadaraNodeClient) -> None:
    with pytest.raises(BlockNotFoundError):
        await client.get_storage_at_many(LAST_BATCH_BLOCK + 1, [(1, 2)])


async def test_batch_retries_when_the_node_is_unavailable(node: MadaraNodeDouble, client: MadaraNodeClient) -> None:
    node.faults.fail_next(2, Fault.UNAVAILABLE)
    assert await client.get_storage_at_many(LAST_BATCH_BLOCK, [(1, 0xDEAD)]) == [0]
    node.faults.fail_next(3, Fault.UNAVAILABLE)
    with pytest.raises(ServiceUnavailableError, match="503"):
        await client.get_storage_at_many(LAST_BATCH_BLOCK, [(1, 0xDEAD)])


async def test_feeder_gateway(client: MadaraNodeClient) -> None:
    assert await client.get_contract_addresses() == SEPOLIA_CONTRACT_ADDRESSES
    weights = await client.get_block_bouncer_weights(631861)
    assert isinstance(weights, BouncerWeights)
    update = json.loads((FIXTURES / "da" / "state_update" / "631861.json").read_text())
    diff = update["state_diff"]
    n_entries = sum(len(d["storage_entries"]) for d in diff["storage_diffs"])
    assert weights.state_diff_size >= n_entries > 0
    with pytest.raises(BlockNotFoundError, match="BLOCK_NOT_FOUND"):
        await client.get_block_bouncer_weights(7)


async def test_chain_details(client: MadaraNodeClient) -> None:
    assert await client.chain_details() == ChainDetails(
        chain_id="SN_SEPOLIA",
        strk_fee_token_address=SEPOLIA_CONTRACT_ADDRESSES["strk_l2_token_address"],
        eth_fee_token_address=SEPOLIA_CONTRACT_ADDRESSES["eth_l2_token_address"],
    )


async def test_chain_details_retries_until_the_node_answers(node: MadaraNodeDouble, client: MadaraNodeClient) -> None:
    node.faults.fail_next(3, Fault.UNAVAILABLE)
    details = await client.chain_details()
    assert details.chain_id == "SN_SEPOLIA"
    assert node.faults.served["503"] == 3


async def test_chain_details_gives_up_at_the_deadline() -> None:
    # nothing listens on this port: the client must retry, then fail with a clear error
    async with MadaraNodeClient(
        "http://127.0.0.1:9/", chain_details_retry_seconds=0.05, chain_details_timeout_seconds=0.3
    ) as madara:
        started = time.monotonic()
        with pytest.raises(ServiceUnavailableError, match=r"after \d+ attempts"):
            await madara.chain_details()
        assert 0.2 < time.monotonic() - started < 5


async def test_call_timeout_is_unavailable(node: MadaraNodeDouble) -> None:
    node.delay_seconds = 0.5
    async with MadaraNodeClient(node.url, request_timeout_seconds=0.1) as madara:
        started = time.monotonic()
        with pytest.raises(ServiceUnavailableError, match="timed out"):
            await madara.block_number()
        assert time.monotonic() - started < 0.4


async def test_unknown_method_is_a_node_error(client: MadaraNodeClient) -> None:
    with pytest.raises(L2NodeError, match="-32601"):
        await client._call("starknet_frobnicate", [])
