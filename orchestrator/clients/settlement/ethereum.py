"""Settlement on Ethereum: `updateStateKzgDA` on a Starknet core contract, in a blob transaction.

The transaction carries the state diff as blobs and, in its calldata, the program output and one
KZG proof per blob at the output's evaluation point x_0; the contract checks those proofs with the
point-evaluation precompile. Sending, fee bumps, the fee cap and finality are BlobTxManager's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from eth_account import Account
from eth_typing import HexStr
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.exceptions import TransactionNotFound

from orchestrator.clients.settlement.blob_proofs import build_kzg_proofs
from orchestrator.clients.settlement.blob_tx import BlobSidecar
from orchestrator.clients.settlement.calldata import update_state_kzg_da_calldata
from orchestrator.clients.settlement.program_output import new_block_number
from orchestrator.clients.settlement.tx_manager import BlobTxManager, BlobTxRequest, TxManagerConfig
from orchestrator.core.madara.settlement import AttemptsSink, SettlementError, SettlementResult
from orchestrator.core.models.metadata import TxAttempt

#: The views of the core contract this client reads.
CORE_CONTRACT_ABI: list[dict[str, Any]] = [
    {
        "inputs": [],
        "name": "stateBlockNumber",
        "outputs": [{"internalType": "int256", "name": "", "type": "int256"}],
        "stateMutability": "view",
        "type": "function",
    },
]


class EthereumSettlementClient:
    def __init__(
        self,
        *,
        rpc_url: str,
        private_key: str,
        core_contract_address: str,
        tx_config: TxManagerConfig | None = None,
        disable_peerdas: bool = False,
        request_timeout: float = 60.0,
    ) -> None:
        self._w3 = AsyncWeb3(AsyncHTTPProvider(rpc_url, request_kwargs={"timeout": request_timeout}))
        self._account = Account.from_key(private_key)
        self._core = self._w3.eth.contract(
            address=AsyncWeb3.to_checksum_address(core_contract_address), abi=CORE_CONTRACT_ABI
        )
        self._peerdas = not disable_peerdas
        self._tx = BlobTxManager(self._w3, self._account, tx_config or TxManagerConfig())

    @property
    def address(self) -> str:
        return str(self._account.address)

    async def close(self) -> None:
        await self._w3.provider.disconnect()

    async def get_last_settled_block(self) -> int | None:
        number = int(await self._core.functions.stateBlockNumber().call())
        return None if number < 0 else number

    async def get_nonce(self) -> int:
        return await self._tx.pending_nonce()

    async def update_state_with_blobs(
        self,
        program_output: Sequence[int],
        blobs: Sequence[bytes],
        *,
        nonce: int | None = None,
        previous_attempts: Sequence[TxAttempt] = (),
        on_attempt: AttemptsSink | None = None,
    ) -> SettlementResult:
        target = new_block_number(program_output)
        # KZG work is CPU-bound (cell proofs: seconds per blob): keep it off the event loop.
        proofs, sidecar = await asyncio.to_thread(self._prepare, program_output, blobs)
        request = BlobTxRequest(
            to=self._core.address, data=update_state_kzg_da_calldata(program_output, proofs), sidecar=sidecar
        )

        async def already_settled() -> bool:
            last = await self.get_last_settled_block()
            return last is not None and last >= target

        return await self._tx.send(
            request,
            nonce=nonce,
            previous_attempts=previous_attempts,
            on_attempt=on_attempt,
            already_done=already_settled,
        )

    def _prepare(self, program_output: Sequence[int], blobs: Sequence[bytes]) -> tuple[list[bytes], BlobSidecar]:
        proofs = build_kzg_proofs(program_output, blobs)
        return proofs, BlobSidecar.build(blobs, peerdas=self._peerdas)

    async def update_state_calldata(
        self,
        program_output: Sequence[int],
        onchain_data: Sequence[int],
        *,
        nonce: int | None = None,
        previous_attempts: Sequence[TxAttempt] = (),
        on_attempt: AttemptsSink | None = None,
    ) -> SettlementResult:
        raise SettlementError(
            "Ethereum settlement posts the state diff in blobs (update_state_with_blobs); "
            "calldata state updates are the Starknet settlement client's"
        )

    async def verify_tx_inclusion(self, tx_hash: str) -> tuple[str, str | None]:
        try:
            receipt = await self._w3.eth.get_transaction_receipt(HexStr(tx_hash))
        except TransactionNotFound:
            return "Pending", None
        if int(receipt["status"]) == 1:
            return "Verified", None
        return "Rejected", f"transaction {tx_hash} reverted in block {receipt['blockNumber']}"
