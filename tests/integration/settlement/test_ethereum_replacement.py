"""With automine off: a stuck transaction is replaced on the same nonce; the fee cap stops a replacement."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from infra.launch.anvil import Anvil
from orchestrator.clients.settlement.ethereum import EthereumSettlementClient
from orchestrator.clients.settlement.fees import DEFAULT_GAS_LIMIT, initial_fees
from orchestrator.clients.settlement.tx_manager import TxManagerConfig
from orchestrator.core.madara.settlement import FeeCapExceededError
from orchestrator.core.models.metadata import TxAttempt, TxAttemptStatus
from tests.integration.settlement.chain import (
    OPERATOR_KEY,
    CoreDeployment,
    deploy_core,
    read_blob,
    read_program_output,
    state_update_txs,
)

pytestmark = [pytest.mark.services, pytest.mark.slow]

PROGRAM_OUTPUT = read_program_output()
NEW_BLOCK = PROGRAM_OUTPUT[3]


def _client(url: str, core: str, **tx: object) -> EthereumSettlementClient:
    settings = {"confirmations": 1, "confirmation_timeout": 1.5, "poll_interval": 0.1, **tx}
    return EthereumSettlementClient(
        rpc_url=url,
        private_key=OPERATOR_KEY,
        core_contract_address=core,
        tx_config=TxManagerConfig(**settings),  # type: ignore[arg-type]
        disable_peerdas=True,
    )


async def _in_pool(chain: CoreDeployment, tx_hash: str) -> bool:
    reply = await chain.w3.provider.make_request("eth_getTransactionByHash", [tx_hash])  # type: ignore[arg-type]
    return reply.get("result") is not None


async def _mine_once_sent(chain: CoreDeployment, persisted: list[list[TxAttempt]], attempt_no: int) -> None:
    """Mines blocks once attempt `attempt_no` has reached the node's pool."""
    while True:
        sent = [a for batch in persisted for a in batch if a.attempt_no == attempt_no and a.tx_hash]
        if sent and await _in_pool(chain, str(sent[-1].tx_hash)):
            break
        await asyncio.sleep(0.05)
    for _ in range(3):
        await chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


async def test_stuck_transaction_is_replaced_with_bumped_fees_on_the_same_nonce(
    anvil_factory: Callable[..., Anvil],
) -> None:
    node = anvil_factory(automine=False)
    chain = await deploy_core(node.url, PROGRAM_OUTPUT, automine=False)
    await chain.register_fact(PROGRAM_OUTPUT)
    client = _client(node.url, chain.address)
    persisted: list[list[TxAttempt]] = []

    async def sink(attempts: list[TxAttempt]) -> None:
        persisted.append(attempts)

    miner = asyncio.create_task(_mine_once_sent(chain, persisted, attempt_no=2))
    result = await client.update_state_with_blobs(PROGRAM_OUTPUT, [read_blob()], on_attempt=sink)
    await miner

    first, second = result.attempts
    assert (first.status, second.status) == (TxAttemptStatus.REPLACED, TxAttemptStatus.FINALIZED)
    assert first.nonce == second.nonce == result.nonce
    assert result.tx_hash == second.tx_hash != first.tx_hash
    assert first.max_fee_per_gas and first.max_priority_fee_per_gas and first.max_fee_per_blob_gas
    assert second.max_fee_per_gas and second.max_priority_fee_per_gas and second.max_fee_per_blob_gas
    assert second.max_fee_per_gas * 10 >= first.max_fee_per_gas * 21
    assert second.max_priority_fee_per_gas * 10 >= first.max_priority_fee_per_gas * 21
    assert second.max_fee_per_blob_gas * 10 >= first.max_fee_per_blob_gas * 21
    # The first attempt was marked timed out (and persisted) before the replacement was signed.
    statuses = [[(a.attempt_no, a.status) for a in batch] for batch in persisted]
    assert [(1, TxAttemptStatus.TIMED_OUT)] in statuses
    assert await chain.state_block_number() == NEW_BLOCK
    landed = await state_update_txs(chain.w3, chain.address)
    assert [tx["hash"].to_0x_hex() for tx in landed] == [second.tx_hash]
    await client.close()
    await chain.close()


async def test_fee_cap_stops_an_over_budget_replacement_and_a_retry_resumes(
    anvil_factory: Callable[..., Anvil],
) -> None:
    node = anvil_factory(automine=False)
    chain = await deploy_core(node.url, PROGRAM_OUTPUT, automine=False)
    await chain.register_fact(PROGRAM_OUTPUT)
    block = await chain.w3.eth.get_block("latest")
    first_cost = initial_fees(block["baseFeePerGas"], await chain.w3.eth.blob_base_fee).max_cost(DEFAULT_GAS_LIMIT, 1)
    cap = first_cost * 3 // 2  # the first attempt fits; a 2.1x replacement cannot
    client = _client(node.url, chain.address, max_total_fee_wei=cap)

    with pytest.raises(FeeCapExceededError, match=rf"above the cap of {cap} wei; not sent") as caught:
        await client.update_state_with_blobs(PROGRAM_OUTPUT, [read_blob()])
    attempts = caught.value.attempts
    assert [(a.attempt_no, a.status) for a in attempts] == [(1, TxAttemptStatus.TIMED_OUT)]
    assert await chain.state_block_number() == PROGRAM_OUTPUT[2]

    # The job's retry passes the persisted attempts back: the first transaction, now mined, is adopted.
    for _ in range(2):
        await chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    result = await client.update_state_with_blobs(PROGRAM_OUTPUT, [read_blob()], previous_attempts=attempts)
    assert result.tx_hash == attempts[0].tx_hash
    assert [a.status for a in result.attempts] == [TxAttemptStatus.FINALIZED]
    assert await chain.state_block_number() == NEW_BLOCK
    assert len(await state_update_txs(chain.w3, chain.address)) == 1
    await client.close()
    await chain.close()
