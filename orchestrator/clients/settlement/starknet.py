"""Settlement on Starknet: `update_state` on a Piltover-style core contract, as an INVOKE v3.

Calldata (the reference's): `[len(snos_output), *snos_output, len(program_output), *program_output]`.
The transaction is signed by the operator account (starknet-py, Cairo 1 multicall encoding) with
fees from `starknet_estimateFee`.

Same discipline as the Ethereum transaction manager: the nonce is pinned by the first attempt, each
signed attempt is given to the attempts sink before it is sent, and a restart with those attempts
first looks for their receipts; only when none exists and the nonce is still unused is a new
transaction signed for that same nonce, so at most one can ever be executed. Success is a
SUCCEEDED receipt that has left PRE_CONFIRMED (accepted on L2 or L1); REVERTED is a rejection with
the node's revert reason.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from starknet_py.hash.selector import get_selector_from_name
from starknet_py.net.account.account import Account
from starknet_py.net.client_errors import ClientError
from starknet_py.net.client_models import (
    Call,
    TransactionExecutionStatus,
    TransactionFinalityStatus,
)
from starknet_py.net.full_node_client import FullNodeClient
from starknet_py.net.signer.key_pair import KeyPair

from orchestrator.core.madara.felt import STARK_PRIME
from orchestrator.core.madara.settlement import (
    AttemptsSink,
    NonceConsumedError,
    SettlementError,
    SettlementRejectedError,
    SettlementResult,
)
from orchestrator.core.models.metadata import TxAttempt, TxAttemptStatus

#: Piltover stores Felt::MAX as the block number while nothing is settled.
NO_BLOCK_SETTLED = STARK_PRIME - 1
TXN_HASH_NOT_FOUND = 29
GET_STATE = get_selector_from_name("get_state")
UPDATE_STATE = get_selector_from_name("update_state")


def update_state_calldata(snos_output: Sequence[int], program_output: Sequence[int]) -> list[int]:
    return [len(snos_output), *snos_output, len(program_output), *program_output]


class StarknetSettlementClient:
    def __init__(
        self,
        *,
        rpc_url: str,
        account_address: str,
        private_key: str,
        core_contract_address: str,
        finality_retry_wait: float = 6.0,
        finality_max_polls: int = 10,
    ) -> None:
        self._client = FullNodeClient(node_url=rpc_url)
        self._address = int(account_address, 16)
        self._key_pair = KeyPair.from_private_key(int(private_key, 16))
        self._core = int(core_contract_address, 16)
        self._wait = finality_retry_wait
        self._max_polls = finality_max_polls
        self._account: Account | None = None
        self._chain_id: int | None = None

    async def _get_account(self) -> tuple[Account, int]:
        if self._account is None or self._chain_id is None:
            self._chain_id = int(await self._client.get_chain_id(), 16)
            self._account = Account(
                address=self._address, client=self._client, key_pair=self._key_pair, chain=self._chain_id
            )
        return self._account, self._chain_id

    async def get_last_settled_block(self) -> int | None:
        state = await self._client.call_contract(Call(self._core, GET_STATE, []), block_number="pre_confirmed")
        if len(state) < 2:
            raise SettlementError(f"get_state returned {len(state)} values; expected [root, block_number, hash]")
        return None if state[1] == NO_BLOCK_SETTLED else state[1]

    async def get_nonce(self) -> int:
        account, _ = await self._get_account()
        return int(await account.get_nonce(block_number="pre_confirmed"))

    async def update_state_with_blobs(
        self,
        program_output: Sequence[int],
        blobs: Sequence[bytes],
        *,
        nonce: int | None = None,
        previous_attempts: Sequence[TxAttempt] = (),
        on_attempt: AttemptsSink | None = None,
    ) -> SettlementResult:
        raise SettlementError(
            "Starknet settlement has no blobs: the state diff goes in the update_state calldata (update_state_calldata)"
        )

    async def update_state_calldata(
        self,
        program_output: Sequence[int],
        onchain_data: Sequence[int],
        *,
        nonce: int | None = None,
        previous_attempts: Sequence[TxAttempt] = (),
        on_attempt: AttemptsSink | None = None,
    ) -> SettlementResult:
        """Sends `update_state(snos_output=program_output, program_output=onchain_data)` and waits
        until it is executed and final."""
        attempts = [a.model_copy() for a in previous_attempts]

        async def persist() -> None:
            if on_attempt is not None:
                await on_attempt([a.model_copy() for a in attempts])

        # An earlier run's transaction may already be in: adopt it instead of sending another.
        for attempt in reversed([a for a in attempts if a.tx_hash]):
            if await self._receipt(str(attempt.tx_hash)) is not None:
                return await self._finish(attempt, attempts, persist)

        account, chain_id = await self._get_account()
        nonces = {a.nonce for a in attempts}
        if len(nonces) > 1:
            raise SettlementError(f"earlier attempts use several nonces {sorted(nonces)}", attempts)
        pinned = nonces.pop() if nonces else (nonce if nonce is not None else await self.get_nonce())
        if attempts and await self.get_nonce() > pinned:
            raise NonceConsumedError(f"nonce {pinned} was used by a transaction that is not ours", attempts)

        call = Call(self._core, UPDATE_STATE, update_state_calldata(program_output, onchain_data))
        try:
            signed = await account.sign_invoke_v3(call, nonce=pinned, auto_estimate=True)
        except ClientError as exc:
            raise SettlementError(f"estimating the update_state fee failed: {exc.message}", attempts) from exc
        attempt = TxAttempt(
            attempt_no=len(attempts) + 1,
            tx_hash=hex(signed.calculate_hash(chain_id)),
            nonce=pinned,
            gas_multiplier=f"{Account.ESTIMATED_FEE_MULTIPLIER:.2f}",
            sent_at=int(time.time()),
        )
        attempts.append(attempt)
        await persist()  # before the broadcast
        try:
            sent = await self._client.send_transaction(signed)
        except ClientError as exc:
            attempt.status = TxAttemptStatus.SUBMISSION_FAILED
            attempt.error = exc.message
            await persist()
            raise SettlementError(f"sending update_state failed: {exc.message}", attempts) from exc
        if hex(sent.transaction_hash) != attempt.tx_hash:
            raise SettlementError(f"the node reports hash {hex(sent.transaction_hash)} for {attempt.tx_hash}", attempts)
        return await self._finish(attempt, attempts, persist)

    async def _receipt(self, tx_hash: str) -> Any | None:
        try:
            return await self._client.get_transaction_receipt(tx_hash)
        except ClientError as exc:
            if str(exc.code) == str(TXN_HASH_NOT_FOUND):
                return None
            raise

    async def _finish(self, attempt: TxAttempt, attempts: list[TxAttempt], persist: Any) -> SettlementResult:
        status, reason = await self._wait_for_finality(str(attempt.tx_hash))
        if status == "Rejected":
            attempt.status = TxAttemptStatus.REVERTED
            attempt.error = reason
            await persist()
            raise SettlementRejectedError(f"update_state {attempt.tx_hash} reverted: {reason}", attempts)
        if status == "Pending":
            await persist()
            raise SettlementError(f"update_state {attempt.tx_hash} not final after {self._max_polls} polls", attempts)
        attempt.status = TxAttemptStatus.FINALIZED
        for other in attempts:
            if other is not attempt and other.status in (TxAttemptStatus.PENDING, TxAttemptStatus.TIMED_OUT):
                other.status = TxAttemptStatus.REPLACED
        await persist()
        return SettlementResult(tx_hash=str(attempt.tx_hash), nonce=attempt.nonce, attempts=attempts)

    async def verify_tx_inclusion(self, tx_hash: str) -> tuple[str, str | None]:
        receipt = await self._receipt(tx_hash)
        if receipt is None:
            return "Pending", None
        if receipt.execution_status == TransactionExecutionStatus.REVERTED:
            return "Rejected", receipt.revert_reason or "reverted"
        if receipt.finality_status == TransactionFinalityStatus.PRE_CONFIRMED:
            return "Pending", None
        return "Verified", None

    async def _wait_for_finality(self, tx_hash: str) -> tuple[str, str | None]:
        """Polls the receipt until it is rejected or leaves PRE_CONFIRMED, at most `finality_max_polls`."""
        status: tuple[str, str | None] = ("Pending", None)
        for poll in range(self._max_polls):
            status = await self.verify_tx_inclusion(tx_hash)
            if status[0] != "Pending":
                return status
            if poll + 1 < self._max_polls:
                await asyncio.sleep(self._wait)
        return status

    async def wait_for_tx_finality(self, tx_hash: str) -> bool:
        """True once the transaction is final and succeeded; False if still pending after the polls."""
        status, reason = await self._wait_for_finality(tx_hash)
        if status == "Rejected":
            raise SettlementRejectedError(f"{tx_hash} reverted: {reason}")
        return status == "Verified"
