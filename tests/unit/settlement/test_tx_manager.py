"""BlobTxManager's policy against an in-memory chain: bumps, underpriced, nonce theft, resume, revert."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from web3.exceptions import Web3RPCError

from orchestrator.clients.settlement.blob_tx import BlobSidecar, SignedBlobTx
from orchestrator.clients.settlement.fees import Fees, initial_fees
from orchestrator.clients.settlement.tx_manager import BlobTxManager, BlobTxRequest, TxManagerConfig
from orchestrator.core.madara.settlement import (
    FeeCapExceededError,
    NonceConsumedError,
    SettlementError,
    SettlementRejectedError,
)
from orchestrator.core.models.metadata import TxAttempt, TxAttemptStatus

KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
NONCE = 7


class FakeChain(BlobTxManager):
    """The manager's chain access replaced by a dict-backed pool; the policy code is the real one."""

    def __init__(self, config: TxManagerConfig) -> None:
        super().__init__(None, Account.from_key(KEY), config)  # type: ignore[arg-type]
        self.base_fee = 10**9
        self.block = 100
        self.nonce_on_chain = NONCE
        self.receipts: dict[str, dict[str, Any]] = {}
        self.broadcasts: list[str] = []
        self.underpriced_below: int = 0  # max fee under which broadcasts are refused
        self.mine_on_broadcast: int | None = None  # mine the n-th broadcast (1-based) at once
        self.revert = False
        self.persisted_before_broadcast: list[bool] = []
        self.sink_log: list[list[TxAttempt]] = []

    async def chain_id(self) -> int:
        return 1

    async def pending_nonce(self) -> int:
        return self.nonce_on_chain

    async def fresh_fees(self) -> Fees:
        return initial_fees(self.base_fee, 1)

    async def receipt(self, tx_hash: str) -> Any | None:
        return self.receipts.get(tx_hash)

    async def latest_nonce(self) -> int:
        return self.nonce_on_chain

    async def block_number(self) -> int:
        return self.block

    async def broadcast(self, signed: SignedBlobTx) -> None:
        self.persisted_before_broadcast.append(
            any(a.tx_hash == signed.tx_hash for a in (self.sink_log[-1] if self.sink_log else []))
        )
        self.broadcasts.append(signed.tx_hash)
        attempt_fee = self._fee_of(signed)
        if attempt_fee < self.underpriced_below:
            raise Web3RPCError("{'code': -32000, 'message': 'replacement transaction underpriced'}")
        if self.mine_on_broadcast == len(self.broadcasts):
            self.mine(signed.tx_hash)

    def _fee_of(self, signed: SignedBlobTx) -> int:
        import rlp

        body = rlp.decode(signed.raw[1:])[0]
        return int.from_bytes(body[3], "big")  # maxFeePerGas

    def mine(self, tx_hash: str) -> None:
        self.block += 1
        self.receipts[tx_hash] = {"status": 0 if self.revert else 1, "blockNumber": self.block, "blockHash": b"h"}
        self.nonce_on_chain = NONCE + 1

    async def revert_reason(self, request: BlobTxRequest, receipt: Any) -> str:
        return "execution reverted: INVALID_PREVIOUS_ROOT"


@pytest.fixture(scope="module")
def request_() -> BlobTxRequest:
    blob = bytes(131072)
    return BlobTxRequest(
        to="0x" + "22" * 20, data=b"\x50\x7e\xe5\x28", sidecar=BlobSidecar.build([blob], peerdas=False)
    )


def _config(**overrides: Any) -> TxManagerConfig:
    base: dict[str, Any] = {
        "confirmations": 0,
        "confirmation_timeout": 0.05,
        "poll_interval": 0.01,
        "max_fee_bumps": 2,
        "max_total_fee_wei": 10**17,
        "receipt_lag_timeout": 0.3,
        "receipt_lag_poll": 0.01,
    }
    return TxManagerConfig(**{**base, **overrides})


async def _send(chain: FakeChain, request: BlobTxRequest, **kwargs: Any) -> Any:
    async def sink(attempts: list[TxAttempt]) -> None:
        chain.sink_log.append(attempts)

    return await chain.send(request, on_attempt=sink, **kwargs)


async def test_every_attempt_is_persisted_before_it_is_broadcast(request_: BlobTxRequest) -> None:
    chain = FakeChain(_config())
    chain.mine_on_broadcast = 2
    result = await _send(chain, request_)
    assert chain.persisted_before_broadcast == [True, True]
    assert [a.status for a in result.attempts] == [TxAttemptStatus.REPLACED, TxAttemptStatus.FINALIZED]
    assert {a.nonce for a in result.attempts} == {NONCE} and result.nonce == NONCE


async def test_underpriced_is_bumped_at_once(request_: BlobTxRequest) -> None:
    chain = FakeChain(_config(confirmation_timeout=30))
    first = initial_fees(chain.base_fee, 1)
    chain.underpriced_below = first.max_fee_per_gas + 1
    chain.mine_on_broadcast = 2
    result = await _send(chain, request_)
    assert [a.status for a in result.attempts] == [TxAttemptStatus.REJECTED_UNDERPRICED, TxAttemptStatus.FINALIZED]
    assert "underpriced" in (result.attempts[0].error or "")
    assert result.attempts[1].max_fee_per_gas == -(-first.max_fee_per_gas * 21 // 10)
    assert [a.gas_multiplier for a in result.attempts] == ["1.10", "2.20"]


async def test_gives_up_after_max_fee_bumps(request_: BlobTxRequest) -> None:
    chain = FakeChain(_config(max_fee_bumps=1))
    with pytest.raises(SettlementError, match="not mined after 2 attempts") as caught:
        await _send(chain, request_)
    assert len(chain.broadcasts) == 2
    assert [a.status for a in caught.value.attempts] == [TxAttemptStatus.TIMED_OUT] * 2


async def test_fee_cap_is_checked_before_signing(request_: BlobTxRequest) -> None:
    chain = FakeChain(_config(max_total_fee_wei=1000))
    with pytest.raises(FeeCapExceededError, match="above the cap of 1000 wei"):
        await _send(chain, request_)
    assert chain.broadcasts == [] and chain.sink_log == []


async def test_a_foreign_transaction_on_the_nonce_is_an_error(request_: BlobTxRequest) -> None:
    chain = FakeChain(_config(confirmation_timeout=30))

    async def steal() -> None:
        chain.nonce_on_chain = NONCE + 1

    chain.mine_on_broadcast = None
    original = chain.broadcast

    async def broadcast_then_steal(signed: SignedBlobTx) -> None:
        await original(signed)
        await steal()

    chain.broadcast = broadcast_then_steal  # type: ignore[method-assign]
    with pytest.raises(NonceConsumedError, match=f"nonce {NONCE} was used"):
        await _send(chain, request_)


class LaggingRpc(FakeChain):
    """A load-balanced RPC: the backend answering the nonce has the block, the ones answering receipts
    do not yet. The nonce moves on broadcast; the receipt shows up only after `lag` more asks."""

    def __init__(self, config: TxManagerConfig, lag: int) -> None:
        super().__init__(config)
        self.lag = lag
        self.hidden: dict[str, dict[str, Any]] = {}

    async def broadcast(self, signed: SignedBlobTx) -> None:
        await super().broadcast(signed)
        self.block += 1
        self.hidden[signed.tx_hash] = {"status": 1, "blockNumber": self.block, "blockHash": b"h"}
        self.nonce_on_chain = NONCE + 1

    async def receipt(self, tx_hash: str) -> Any | None:
        if tx_hash in self.hidden and self.lag > 0:
            self.lag -= 1
            return None
        return self.hidden.get(tx_hash)


async def test_a_receipt_lagging_the_nonce_is_ours_not_foreign(request_: BlobTxRequest) -> None:
    chain = LaggingRpc(_config(confirmation_timeout=30), lag=5)
    result = await _send(chain, request_)
    assert result.tx_hash == chain.broadcasts[0] and result.nonce == NONCE
    assert len(chain.broadcasts) == 1  # no replacement or second transaction was signed
    assert [a.status for a in result.attempts] == [TxAttemptStatus.FINALIZED]


async def test_a_lagging_receipt_after_nonce_too_low_is_adopted(request_: BlobTxRequest) -> None:
    """The first attempt landed unseen; its replacement is refused with 'nonce too low' while the
    receipt still lags: the first attempt is adopted, not reported as foreign."""
    chain = LaggingRpc(_config(confirmation_timeout=0.05), lag=0)
    landed: list[str] = []
    original = chain.broadcast

    async def broadcast(signed: SignedBlobTx) -> None:
        if landed:
            chain.broadcasts.append(signed.tx_hash)
            chain.lag = 4
            raise Web3RPCError("{'code': -32000, 'message': 'nonce too low'}")
        await original(signed)
        landed.append(signed.tx_hash)

    async def receipt(tx_hash: str) -> Any | None:
        if len(chain.broadcasts) < 2:
            return None  # the first attempt's receipt is invisible until its replacement is tried
        return await LaggingRpc.receipt(chain, tx_hash)

    async def latest_nonce() -> int:
        return NONCE if len(chain.broadcasts) < 2 else NONCE + 1

    chain.broadcast = broadcast  # type: ignore[method-assign]
    chain.receipt = receipt  # type: ignore[method-assign]
    chain.latest_nonce = latest_nonce  # type: ignore[method-assign]
    result = await _send(chain, request_)
    assert result.tx_hash == landed[0]
    assert [a.status for a in result.attempts] == [TxAttemptStatus.FINALIZED, TxAttemptStatus.REPLACED]


async def test_revert_is_a_rejection_with_the_reason(request_: BlobTxRequest) -> None:
    chain = FakeChain(_config())
    chain.revert = True
    chain.mine_on_broadcast = 1
    with pytest.raises(SettlementRejectedError, match="INVALID_PREVIOUS_ROOT") as caught:
        await _send(chain, request_)
    assert [a.status for a in caught.value.attempts] == [TxAttemptStatus.REVERTED]


async def test_resume_rebroadcasts_the_same_transaction_and_keeps_its_nonce(request_: BlobTxRequest) -> None:
    first_run = FakeChain(_config(max_fee_bumps=0))  # one attempt, never mined: the run gives up
    with pytest.raises(SettlementError) as caught:
        await _send(first_run, request_)
    previous = caught.value.attempts
    assert len(previous) == 1 and previous[0].nonce == NONCE

    restarted = FakeChain(_config(confirmation_timeout=30))
    restarted.mine_on_broadcast = 1
    # A nonce passed in by the caller does not override the one the earlier attempts pinned.
    result = await _send(restarted, request_, nonce=NONCE + 3, previous_attempts=previous)
    assert restarted.broadcasts == [previous[0].tx_hash]
    assert result.tx_hash == previous[0].tx_hash and result.nonce == NONCE
    assert [a.status for a in result.attempts] == [TxAttemptStatus.FINALIZED]


async def test_resume_refuses_a_changed_request(request_: BlobTxRequest) -> None:
    attempt = TxAttempt(
        attempt_no=1,
        tx_hash="0x" + "ab" * 32,
        nonce=NONCE,
        max_fee_per_gas=3 * 10**9,
        max_priority_fee_per_gas=2 * 10**8,
        max_fee_per_blob_gas=2,
    )
    chain = FakeChain(_config())
    with pytest.raises(SettlementError, match="the request changed"):
        await _send(chain, request_, previous_attempts=[attempt])
    assert chain.broadcasts == []


async def test_already_done_skips_sending(request_: BlobTxRequest) -> None:
    chain = FakeChain(_config())

    async def done() -> bool:
        return True

    result = await _send(chain, request_, already_done=done)
    assert result.skipped and chain.broadcasts == []


async def test_nothing_is_broadcast_when_the_attempt_cannot_be_persisted(request_: BlobTxRequest) -> None:
    chain = FakeChain(_config())

    async def broken_sink(attempts: list[TxAttempt]) -> None:
        raise OSError("database unavailable")

    with pytest.raises(OSError, match="database unavailable"):
        await chain.send(request_, on_attempt=broken_sink)
    assert chain.broadcasts == []
