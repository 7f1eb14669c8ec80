"""Chain access of the blob transaction manager: the few web3 calls its policy uses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_typing import HexStr
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.exceptions import TransactionNotFound
from web3.types import TxParams

from orchestrator.clients.settlement.blob_tx import BlobSidecar, SignedBlobTx
from orchestrator.clients.settlement.fees import DEFAULT_GAS_LIMIT, DEFAULT_PRIORITY_FEE_WEI, Fees, initial_fees


@dataclass(frozen=True)
class TxManagerConfig:
    gas_limit: int = DEFAULT_GAS_LIMIT
    priority_fee_wei: int = DEFAULT_PRIORITY_FEE_WEI
    max_fee_bumps: int = 2
    max_total_fee_wei: int = 10**16
    confirmations: int = 3
    confirmation_timeout: float = 300.0
    poll_interval: float = 60.0
    # How long receipts are asked for once the nonce moved past ours, and the first wait between asks.
    receipt_lag_timeout: float = 120.0
    receipt_lag_poll: float = 1.0


@dataclass(frozen=True)
class BlobTxRequest:
    to: str
    data: bytes
    sidecar: BlobSidecar


class ChainAccess:
    """The chain calls the transaction manager needs, kept small so the run logic reads as the policy it is."""

    def __init__(self, w3: AsyncWeb3[AsyncHTTPProvider], account: LocalAccount, config: TxManagerConfig) -> None:
        self._w3 = w3
        self._account = account
        self._config = config

    @property
    def address(self) -> str:
        return str(self._account.address)

    async def pending_nonce(self) -> int:
        # "pending": a transaction of ours already waiting in the pool is never replaced by accident.
        return int(await self._w3.eth.get_transaction_count(self._account.address, "pending"))

    async def chain_id(self) -> int:
        return int(await self._w3.eth.chain_id)

    async def fresh_fees(self) -> Fees:
        block = await self._w3.eth.get_block("latest")
        blob_base_fee = int(await self._w3.eth.blob_base_fee)
        return initial_fees(int(block["baseFeePerGas"]), blob_base_fee, self._config.priority_fee_wei)

    async def receipt(self, tx_hash: str) -> Any | None:
        try:
            return await self._w3.eth.get_transaction_receipt(HexStr(tx_hash))
        except TransactionNotFound:
            return None

    async def latest_nonce(self) -> int:
        return int(await self._w3.eth.get_transaction_count(self._account.address, "latest"))

    async def block_number(self) -> int:
        return int(await self._w3.eth.block_number)

    async def broadcast(self, signed: SignedBlobTx) -> None:
        await self._w3.eth.send_raw_transaction(signed.raw)

    async def revert_reason(self, request: BlobTxRequest, receipt: Any) -> str:
        """Replays the call at the failing block for the revert message; best effort."""
        call: TxParams = {
            "from": self._account.address,
            "to": request.to,
            "data": request.data,
            "gas": self._config.gas_limit,
            "blobVersionedHashes": request.sidecar.versioned_hashes,
        }
        try:
            await self._w3.eth.call(call, int(receipt["blockNumber"]) - 1)
        except Exception as exc:  # noqa: BLE001 - the replay's error (any kind) is the revert reason we want
            return str(exc)
        return "reverted (no reason given)"
