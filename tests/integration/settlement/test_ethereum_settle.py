"""The recorded mainnet program output 6806848 and its real blob settle on the test core contract."""

from __future__ import annotations

import pytest
from web3.logs import DISCARD

from infra.launch.anvil import Anvil
from orchestrator.clients.settlement.ethereum import EthereumSettlementClient
from orchestrator.clients.settlement.program_output import STARK_PRIME
from orchestrator.clients.settlement.tx_manager import TxManagerConfig
from orchestrator.core.madara.settlement import SettlementRejectedError
from orchestrator.core.models.metadata import TxAttempt, TxAttemptStatus
from tests.integration.settlement.chain import (
    OPERATOR_KEY,
    deploy_core,
    read_blob,
    read_program_output,
    state_update_txs,
)

pytestmark = [pytest.mark.services, pytest.mark.slow]

PROGRAM_OUTPUT = read_program_output()
PREVIOUS_BLOCK, NEW_BLOCK = PROGRAM_OUTPUT[2], PROGRAM_OUTPUT[3]  # 218378 -> 218402


def _client(url: str, core: str, **tx: object) -> EthereumSettlementClient:
    config = TxManagerConfig(**{"confirmations": 0, "confirmation_timeout": 30.0, "poll_interval": 0.1, **tx})  # type: ignore[arg-type]
    return EthereumSettlementClient(
        rpc_url=url, private_key=OPERATOR_KEY, core_contract_address=core, tx_config=config, disable_peerdas=True
    )


async def test_real_program_output_settles_and_a_second_submission_is_skipped(anvil: Anvil) -> None:
    chain = await deploy_core(anvil.url, PROGRAM_OUTPUT)
    await chain.register_fact(PROGRAM_OUTPUT)
    client = _client(anvil.url, chain.address)
    assert await client.get_last_settled_block() == PREVIOUS_BLOCK

    persisted: list[list[TxAttempt]] = []

    async def sink(attempts: list[TxAttempt]) -> None:
        persisted.append(attempts)

    result = await client.update_state_with_blobs(PROGRAM_OUTPUT, [read_blob()], on_attempt=sink)

    assert not result.skipped
    receipt = await chain.w3.eth.get_transaction_receipt(result.tx_hash)  # type: ignore[arg-type]
    assert receipt["status"] == 1 and receipt["type"] == 3
    assert await client.get_last_settled_block() == NEW_BLOCK
    events = chain.core.events.LogStateUpdate().process_receipt(receipt, errors=DISCARD)
    assert [(e.args.globalRoot, e.args.blockNumber) for e in events] == [(PROGRAM_OUTPUT[1], NEW_BLOCK)]
    # The attempt was recorded (Pending) before it was broadcast, then finalized.
    assert persisted[0][0].status == TxAttemptStatus.PENDING and persisted[0][0].tx_hash == result.tx_hash
    assert [a.status for a in result.attempts] == [TxAttemptStatus.FINALIZED]
    assert await client.verify_tx_inclusion(result.tx_hash) == ("Verified", None)

    nonce_before = await client.get_nonce()
    again = await client.update_state_with_blobs(PROGRAM_OUTPUT, [read_blob()])
    assert again.skipped and again.tx_hash == "0x" + "00" * 32
    assert await client.get_nonce() == nonce_before
    assert len(await state_update_txs(chain.w3, chain.address)) == 1
    await client.close()
    await chain.close()


async def test_peerdas_cell_proof_sidecar_settles(anvil: Anvil) -> None:
    chain = await deploy_core(anvil.url, PROGRAM_OUTPUT)
    await chain.register_fact(PROGRAM_OUTPUT)
    client = EthereumSettlementClient(
        rpc_url=anvil.url,
        private_key=OPERATOR_KEY,
        core_contract_address=chain.address,
        tx_config=TxManagerConfig(confirmations=0, poll_interval=0.1),
        disable_peerdas=False,
    )
    result = await client.update_state_with_blobs(PROGRAM_OUTPUT, [read_blob()])
    assert await chain.state_block_number() == NEW_BLOCK
    assert (await chain.w3.eth.get_transaction_receipt(result.tx_hash))["status"] == 1  # type: ignore[arg-type]
    await client.close()
    await chain.close()


async def test_missing_fact_is_rejected_with_the_contract_reason(anvil: Anvil) -> None:
    chain = await deploy_core(anvil.url, PROGRAM_OUTPUT)  # no fact registered
    client = _client(anvil.url, chain.address)
    with pytest.raises(SettlementRejectedError, match="NO_STATE_TRANSITION_PROOF") as caught:
        await client.update_state_with_blobs(PROGRAM_OUTPUT, [read_blob()])
    assert [a.status for a in caught.value.attempts] == [TxAttemptStatus.REVERTED]
    assert await chain.state_block_number() == PREVIOUS_BLOCK
    await client.close()
    await chain.close()


async def test_confirmations_are_awaited(anvil_factory) -> None:  # type: ignore[no-untyped-def]
    node = anvil_factory(block_time=1)
    chain = await deploy_core(node.url, PROGRAM_OUTPUT)
    await chain.register_fact(PROGRAM_OUTPUT)
    client = _client(node.url, chain.address, confirmations=2, poll_interval=0.2)
    result = await client.update_state_with_blobs(PROGRAM_OUTPUT, [read_blob()])
    receipt = await chain.w3.eth.get_transaction_receipt(result.tx_hash)  # type: ignore[arg-type]
    assert await chain.w3.eth.block_number - receipt["blockNumber"] >= 2
    await client.close()
    await chain.close()


async def test_contract_rejects_a_proof_that_does_not_open_the_blob(anvil: Anvil) -> None:
    """The precompile really checks: the same output with one proof byte changed reverts."""
    from eth_account import Account

    from orchestrator.clients.settlement.blob_proofs import build_kzg_proofs
    from orchestrator.clients.settlement.blob_tx import BlobSidecar
    from orchestrator.clients.settlement.calldata import update_state_kzg_da_calldata
    from orchestrator.clients.settlement.tx_manager import BlobTxManager, BlobTxRequest

    chain = await deploy_core(anvil.url, PROGRAM_OUTPUT)
    await chain.register_fact(PROGRAM_OUTPUT)
    blob = read_blob()
    proof = bytearray(build_kzg_proofs(PROGRAM_OUTPUT, [blob])[0])
    proof[-1] ^= 0x01
    request = BlobTxRequest(
        to=chain.address,
        data=update_state_kzg_da_calldata(PROGRAM_OUTPUT, [bytes(proof)]),
        sidecar=BlobSidecar.build([blob], peerdas=False),
    )
    manager = BlobTxManager(
        chain.w3, Account.from_key(OPERATOR_KEY), TxManagerConfig(confirmations=0, poll_interval=0.1)
    )
    with pytest.raises(SettlementRejectedError, match="KZG_PROOF_REJECTED"):
        await manager.send(request)
    assert await chain.state_block_number() == PREVIOUS_BLOCK
    await chain.close()


async def test_first_settlement_from_nothing_settled(anvil: Anvil) -> None:
    """The OS writes "no previous block" as the felt P - 1; the contract stores -1, read back as None."""
    first_output = list(PROGRAM_OUTPUT)
    first_output[2] = STARK_PRIME - 1
    chain = await deploy_core(anvil.url, first_output, genesis_block_number=-1)
    await chain.register_fact(first_output)
    client = _client(anvil.url, chain.address)
    assert await client.get_last_settled_block() is None
    await client.update_state_with_blobs(first_output, [read_blob()])
    assert await client.get_last_settled_block() == NEW_BLOCK
    await client.close()
    await chain.close()


async def test_a_batch_that_does_not_continue_the_state_is_rejected(anvil: Anvil) -> None:
    chain = await deploy_core(anvil.url, PROGRAM_OUTPUT, genesis_block_number=PREVIOUS_BLOCK - 5)
    await chain.register_fact(PROGRAM_OUTPUT)
    client = _client(anvil.url, chain.address)
    with pytest.raises(SettlementRejectedError, match="INVALID_PREVIOUS_BLOCK_NUMBER"):
        await client.update_state_with_blobs(PROGRAM_OUTPUT, [read_blob()])
    assert await chain.state_block_number() == PREVIOUS_BLOCK - 5
    await client.close()
    await chain.close()
