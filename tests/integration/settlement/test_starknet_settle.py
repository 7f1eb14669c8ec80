"""Starknet settlement client against the JSON-RPC double (no Starknet node can run here)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from starknet_py.net.signer.key_pair import KeyPair

from orchestrator.clients.settlement.starknet import StarknetSettlementClient, update_state_calldata
from orchestrator.core.madara.settlement import SettlementError, SettlementRejectedError
from orchestrator.core.models.metadata import TxAttempt, TxAttemptStatus
from tests.doubles.starknet_rpc import UPDATE_STATE, CoreState, StarknetRpcDouble
from tests.integration.settlement.chain import read_program_output

PRIVATE_KEY = 0x2DCCCE1DE0A4C7F94D6AE5B5A3C1D8E8F6D5C4B3A2918273645546372819AB
ACCOUNT = 0x3A9F1C2B4D5E6F708192A3B4C5D6E7F8091A2B3C4D5E6F708192A3B4C5D6E7F
CORE = 0x5B7C0FFEE0DEC0DE1234567890ABCDEF1234567890ABCDEF1234567890ABCDE
SNOS_OUTPUT = read_program_output()  # a real OS output: prev/new root, block number, block hash
BRIDGE_OUTPUT = [0x1234, 0x5678, 0x9ABC]


@pytest.fixture
async def node() -> AsyncIterator[StarknetRpcDouble]:
    double = StarknetRpcDouble(
        account_address=ACCOUNT,
        public_key=KeyPair.from_private_key(PRIVATE_KEY).public_key,
        core_address=CORE,
        state=CoreState(SNOS_OUTPUT[0], SNOS_OUTPUT[2], SNOS_OUTPUT[4]),
        nonce=5,
    )
    async with double:
        yield double


def _client(node: StarknetRpcDouble, *, key: int = PRIVATE_KEY, polls: int = 5) -> StarknetSettlementClient:
    return StarknetSettlementClient(
        rpc_url=node.url,
        account_address=hex(ACCOUNT),
        private_key=hex(key),
        core_contract_address=hex(CORE),
        finality_retry_wait=0.01,
        finality_max_polls=polls,
    )


async def test_update_state_is_a_signed_invoke_that_settles(node: StarknetRpcDouble) -> None:
    client = _client(node)
    assert await client.get_last_settled_block() == SNOS_OUTPUT[2]
    assert await client.get_nonce() == 5
    persisted: list[list[TxAttempt]] = []

    async def sink(attempts: list[TxAttempt]) -> None:
        persisted.append(attempts)
        assert node.invokes == [] or len(persisted) > 1  # the first record precedes the broadcast

    result = await client.update_state_calldata(SNOS_OUTPUT, BRIDGE_OUTPUT, on_attempt=sink)

    (invoke,) = node.invokes
    assert invoke.calls == [(CORE, UPDATE_STATE, update_state_calldata(SNOS_OUTPUT, BRIDGE_OUTPUT))]
    assert invoke.nonce == 5 and hex(invoke.tx_hash) == result.tx_hash and invoke.reverted is None
    assert await client.get_last_settled_block() == SNOS_OUTPUT[3]
    assert await client.get_nonce() == 6
    assert persisted[0][0].status == TxAttemptStatus.PENDING and persisted[0][0].tx_hash == result.tx_hash
    assert [a.status for a in result.attempts] == [TxAttemptStatus.FINALIZED]
    assert await client.verify_tx_inclusion(result.tx_hash) == ("Verified", None)


async def test_nothing_settled_is_none(node: StarknetRpcDouble) -> None:
    node.state = CoreState()
    assert await _client(node).get_last_settled_block() is None


async def test_a_reverted_update_is_rejected_with_the_reason(node: StarknetRpcDouble) -> None:
    node.state = CoreState(SNOS_OUTPUT[0], SNOS_OUTPUT[2] - 1, SNOS_OUTPUT[4])
    with pytest.raises(SettlementRejectedError, match="Invalid previous block number") as caught:
        await _client(node).update_state_calldata(SNOS_OUTPUT, BRIDGE_OUTPUT)
    assert [a.status for a in caught.value.attempts] == [TxAttemptStatus.REVERTED]
    assert node.state.block_number == SNOS_OUTPUT[2] - 1


async def test_a_wrong_key_is_refused_by_the_node(node: StarknetRpcDouble) -> None:
    with pytest.raises(SettlementError, match="invalid signature"):
        await _client(node, key=PRIVATE_KEY + 1).update_state_calldata(SNOS_OUTPUT, BRIDGE_OUTPUT)
    assert node.invokes == []


async def test_not_final_in_time_then_a_retry_adopts_the_same_transaction(node: StarknetRpcDouble) -> None:
    node.pre_confirmed_polls = 4
    with pytest.raises(SettlementError, match="not final after 2 polls") as caught:
        await _client(node, polls=2).update_state_calldata(SNOS_OUTPUT, BRIDGE_OUTPUT)
    attempts = caught.value.attempts
    assert [a.status for a in attempts] == [TxAttemptStatus.PENDING]

    result = await _client(node).update_state_calldata(SNOS_OUTPUT, BRIDGE_OUTPUT, previous_attempts=attempts)
    assert result.tx_hash == attempts[0].tx_hash
    assert len(node.invokes) == 1


async def test_a_nonce_taken_by_another_transaction_is_an_error(node: StarknetRpcDouble) -> None:
    lost = TxAttempt(attempt_no=1, tx_hash="0x" + "12" * 31, nonce=4)
    with pytest.raises(SettlementError, match="nonce 4 was used"):
        await _client(node).update_state_calldata(SNOS_OUTPUT, BRIDGE_OUTPUT, previous_attempts=[lost])
    assert node.invokes == []


async def test_blobs_are_not_a_starknet_path(node: StarknetRpcDouble) -> None:
    with pytest.raises(SettlementError, match="no blobs"):
        await _client(node).update_state_with_blobs(SNOS_OUTPUT, [bytes(131072)])
