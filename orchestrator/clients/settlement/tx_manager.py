"""Sends one blob transaction until it is final: pinned nonce, fee bumps, a hard cap, resumable.

The rules, in the order they matter:
- **One nonce per state update.** It is taken once (or from the attempts of an earlier run) and
  every replacement reuses it, so at most one of the attempts can ever land.
- **Persist before broadcast.** Each signed attempt (hash, nonce, fees) goes to the attempts sink
  *before* it is sent. A process killed at any point leaves a record of everything that may be in
  the mempool; the next run checks those hashes first, re-broadcasts the last one (signing is
  deterministic, so the rebuilt transaction has the recorded hash) and never signs a second
  transaction with fresh fees for a nonce it has not yet resolved.
- **Replacement.** An attempt not mined within `confirmation_timeout` seconds, or refused as
  underpriced, is replaced with bumped fees (`fees.bumped_fees`), at most `max_fee_bumps` times.
- **Hard cap.** A transaction whose worst-case cost exceeds `max_total_fee_wei` is not signed:
  FeeCapExceededError, never a silent overspend.
- **Success** is a receipt with status 1 for any of the attempts and `confirmations` blocks on top
  of it; status 0 is a rejection with the revert reason when the node gives one.
- **A lagging receipt is "not yet".** Load-balanced RPCs often report the account nonce past ours
  before any of their backends serves the receipt. Only when no recorded attempt has a receipt
  after `receipt_lag_timeout` seconds of asking is the nonce called consumed by a foreign
  transaction (as OP Stack's txmgr: one nonce, bumps on it, never a conflicting transaction).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from web3.exceptions import Web3RPCError

from orchestrator.clients.http.retry import RetryConfig, retry_with_backoff
from orchestrator.clients.settlement.blob_tx import SignedBlobTx, sign_blob_tx
from orchestrator.clients.settlement.fees import Fees, bumped_fees, gas_multiplier_label
from orchestrator.clients.settlement.tx_chain import BlobTxRequest, ChainAccess, TxManagerConfig
from orchestrator.core.madara.settlement import (
    AttemptsSink,
    FeeCapExceededError,
    NonceConsumedError,
    SettlementError,
    SettlementRejectedError,
    SettlementResult,
)
from orchestrator.core.models.metadata import TxAttempt, TxAttemptStatus

log = logging.getLogger(__name__)

__all__ = ["BlobTxManager", "BlobTxRequest", "TxManagerConfig"]

_UNDERPRICED = ("underpriced", "fee too low", "less than block base fee", "max fee per gas less than")
_ALREADY_KNOWN = ("already known", "already imported", "known transaction")
_NONCE_TOO_LOW = ("nonce too low", "nonce has already been used")


def _fees_of(attempt: TxAttempt) -> Fees | None:
    if attempt.max_fee_per_gas is None or attempt.max_priority_fee_per_gas is None:
        return None
    if attempt.max_fee_per_blob_gas is None:
        return None
    return Fees(attempt.max_fee_per_gas, attempt.max_priority_fee_per_gas, attempt.max_fee_per_blob_gas)


@dataclass
class _Mined:
    attempt: TxAttempt
    receipt: Any


class _NoReceiptYet(Exception):
    """None of our attempts has a receipt (yet): the signal to ask again."""


class BlobTxManager(ChainAccess):
    async def send(
        self,
        request: BlobTxRequest,
        *,
        nonce: int | None = None,
        previous_attempts: Sequence[TxAttempt] = (),
        on_attempt: AttemptsSink | None = None,
        already_done: Callable[[], Awaitable[bool]] | None = None,
    ) -> SettlementResult:
        """Drive the transaction to finality. `already_done` is asked before anything is broadcast
        (when no earlier attempt has landed): True skips sending."""
        run = _Run(self, request, list(previous_attempts), on_attempt)
        return await run.execute(nonce, already_done)


class _Run:
    """One call of BlobTxManager.send: the attempts list is the single source of truth."""

    def __init__(
        self,
        manager: BlobTxManager,
        request: BlobTxRequest,
        attempts: list[TxAttempt],
        sink: AttemptsSink | None,
    ) -> None:
        self.m = manager
        self.cfg = manager._config
        self.request = request
        self.attempts = [a.model_copy() for a in attempts]
        self.sink = sink
        self.chain_id = 0
        self.nonce = 0

    async def persist(self) -> None:
        if self.sink is not None:
            await self.sink([a.model_copy() for a in self.attempts])

    def fail(self, exc_type: type[SettlementError], message: str) -> SettlementError:
        return exc_type(message, self.attempts)

    @property
    def sent(self) -> list[TxAttempt]:
        return [a for a in self.attempts if a.tx_hash]

    async def execute(self, nonce: int | None, already_done: Callable[[], Awaitable[bool]] | None) -> SettlementResult:
        self.chain_id = await self.m.chain_id()
        nonces = {a.nonce for a in self.attempts}
        if len(nonces) > 1:
            raise self.fail(SettlementError, f"earlier attempts use several nonces {sorted(nonces)}; refusing to guess")
        if nonces:
            self.nonce = nonces.pop()
            if nonce is not None and nonce != self.nonce:
                log.warning("keeping nonce %d of the earlier attempts instead of %d", self.nonce, nonce)
        else:
            self.nonce = nonce if nonce is not None else await self.m.pending_nonce()

        mined = await self.find_mined()
        if mined is not None:
            return await self.finish(mined)
        if already_done is not None and await already_done():
            log.info("state already settled past this batch; not sending")
            return SettlementResult(tx_hash="0x" + "00" * 32, nonce=None, attempts=self.attempts, skipped=True)

        current = await self.resume_last() if self.sent else None
        while True:
            if current is None:
                current = await self.send_next()
                if current is None:  # refused as underpriced: bump at once
                    continue
            mined = await self.wait_for_receipt(current)
            if mined is not None:
                return await self.finish(mined)
            current.status = TxAttemptStatus.TIMED_OUT
            await self.persist()
            log.info(
                "attempt %d (%s) not mined in %.0fs; replacing",
                current.attempt_no,
                current.tx_hash,
                self.cfg.confirmation_timeout,
            )
            current = None

    # -- sending --

    def bumps_used(self) -> int:
        return max(0, len(self.sent) - 1)

    def sign(self, fees: Fees) -> SignedBlobTx:
        return sign_blob_tx(
            self.m._account,
            chain_id=self.chain_id,
            nonce=self.nonce,
            to=self.request.to,
            data=self.request.data,
            gas=self.cfg.gas_limit,
            fees=fees,
            sidecar=self.request.sidecar,
        )

    async def next_fees(self) -> Fees:
        fresh = await self.m.fresh_fees()
        previous = [fees for fees in map(_fees_of, self.attempts) if fees is not None]
        return bumped_fees(previous[-1], fresh) if previous else fresh

    async def send_next(self) -> TxAttempt | None:
        if self.sent and self.bumps_used() >= self.cfg.max_fee_bumps:
            raise self.fail(
                SettlementError,
                f"state update not mined after {len(self.sent)} attempts (nonce {self.nonce}, "
                f"max_fee_bumps={self.cfg.max_fee_bumps})",
            )
        fees = await self.next_fees()
        n_blobs = len(self.request.sidecar.blobs)
        cost = fees.max_cost(self.cfg.gas_limit, n_blobs)
        if cost > self.cfg.max_total_fee_wei:
            raise self.fail(
                FeeCapExceededError,
                f"attempt {len(self.attempts) + 1} would cost up to {cost} wei (max fee {fees.max_fee_per_gas}, "
                f"blob fee {fees.max_fee_per_blob_gas}), above the cap of {self.cfg.max_total_fee_wei} wei; not sent",
            )
        signed = self.sign(fees)
        attempt = TxAttempt(
            attempt_no=len(self.attempts) + 1,
            tx_hash=signed.tx_hash,
            nonce=self.nonce,
            gas_multiplier=gas_multiplier_label(len(self.sent)),
            status=TxAttemptStatus.PENDING,
            max_fee_per_gas=fees.max_fee_per_gas,
            max_priority_fee_per_gas=fees.max_priority_fee_per_gas,
            max_fee_per_blob_gas=fees.max_fee_per_blob_gas,
            sent_at=int(time.time()),
        )
        self.attempts.append(attempt)
        await self.persist()  # before the broadcast: a crash from here on is recoverable
        return await self.broadcast(attempt, signed)

    async def broadcast(self, attempt: TxAttempt, signed: SignedBlobTx) -> TxAttempt | None:
        try:
            await self.m.broadcast(signed)
        except Web3RPCError as exc:
            text = str(exc).lower()
            if any(s in text for s in _ALREADY_KNOWN):
                return attempt
            if any(s in text for s in _UNDERPRICED):
                attempt.status = TxAttemptStatus.REJECTED_UNDERPRICED
                attempt.error = str(exc)
                await self.persist()
                log.info("attempt %d refused as underpriced; bumping", attempt.attempt_no)
                return None
            if any(s in text for s in _NONCE_TOO_LOW):
                # One of our earlier attempts may have landed; the wait loop finds it, else it fails.
                if await self.await_own_receipt() is not None:
                    return attempt
                attempt.status = TxAttemptStatus.SUBMISSION_FAILED
                attempt.error = str(exc)
                await self.persist()
                raise self.foreign_nonce() from exc
            attempt.status = TxAttemptStatus.SUBMISSION_FAILED
            attempt.error = str(exc)
            await self.persist()
            raise self.fail(SettlementError, f"sending the state update failed: {exc}") from exc
        log.info("sent attempt %d %s (nonce %d)", attempt.attempt_no, attempt.tx_hash, self.nonce)
        return attempt

    async def resume_last(self) -> TxAttempt | None:
        """Re-broadcast the newest sent attempt of an earlier run (the node may have dropped it)."""
        last = self.sent[-1]
        fees = _fees_of(last)
        if fees is None:
            raise self.fail(SettlementError, f"attempt {last.attempt_no} has no recorded fees; cannot rebuild it")
        signed = self.sign(fees)
        if signed.tx_hash != last.tx_hash:
            raise self.fail(
                SettlementError,
                f"rebuilt attempt {last.attempt_no} hashes to {signed.tx_hash}, not {last.tx_hash}: "
                "the request changed",
            )
        if last.status in (TxAttemptStatus.REJECTED_UNDERPRICED, TxAttemptStatus.SUBMISSION_FAILED):
            return None  # never accepted by the node: the next step is a bump
        log.info("resuming attempt %d %s (nonce %d)", last.attempt_no, last.tx_hash, self.nonce)
        last.status = TxAttemptStatus.PENDING
        if last.sent_at is None:
            last.sent_at = int(time.time())
        return await self.broadcast(last, signed)

    # -- waiting --

    async def find_mined(self) -> _Mined | None:
        for attempt in reversed(self.sent):
            assert attempt.tx_hash is not None
            receipt = await self.m.receipt(attempt.tx_hash)
            if receipt is not None:
                return _Mined(attempt, receipt)
        return None

    async def await_own_receipt(self) -> _Mined | None:
        """After the nonce moved past ours: ask for every attempt's receipt until one answers or the
        lag budget is spent. None means no attempt of ours was mined."""

        async def ask() -> _Mined:
            mined = await self.find_mined()
            if mined is None:
                raise _NoReceiptYet
            return mined

        policy = RetryConfig(base_delay=self.cfg.receipt_lag_poll, timeout=self.cfg.receipt_lag_timeout)
        try:
            return await retry_with_backoff(
                f"receipt of nonce {self.nonce}",
                ask,
                config=policy,
                is_retryable=lambda error: isinstance(error, _NoReceiptYet),
            )
        except _NoReceiptYet:
            return None

    def foreign_nonce(self) -> SettlementError:
        return self.fail(
            NonceConsumedError,
            f"nonce {self.nonce} was used by a transaction that is not ours (no receipt for any of "
            f"{len(self.sent)} attempt(s) after {self.cfg.receipt_lag_timeout:.0f}s)",
        )

    async def wait_for_receipt(self, current: TxAttempt) -> _Mined | None:
        deadline = (current.sent_at or time.time()) + self.cfg.confirmation_timeout
        while True:
            mined = await self.find_mined()
            if mined is not None:
                return mined
            if await self.m.latest_nonce() > self.nonce:
                # The nonce moved: either one of ours was mined (its receipt may lag) or a foreign one took it.
                mined = await self.await_own_receipt()
                if mined is not None:
                    return mined
                raise self.foreign_nonce()
            if time.time() >= deadline:
                return None
            await asyncio.sleep(min(self.cfg.poll_interval, max(0.0, deadline - time.time())) or 0.05)

    async def finish(self, mined: _Mined) -> SettlementResult:
        attempt, receipt = mined.attempt, mined.receipt
        if int(receipt["status"]) != 1:
            attempt.status = TxAttemptStatus.REVERTED
            attempt.error = await self.m.revert_reason(self.request, receipt)
            await self.persist()
            raise self.fail(
                SettlementRejectedError,
                f"state update {attempt.tx_hash} reverted in block {receipt['blockNumber']}: {attempt.error}",
            )
        receipt = await self.wait_for_confirmations(attempt, receipt)
        attempt.status = TxAttemptStatus.FINALIZED
        attempt.error = None
        for other in self.sent:
            if other is not attempt and other.status in (TxAttemptStatus.PENDING, TxAttemptStatus.TIMED_OUT):
                other.status = TxAttemptStatus.REPLACED
        await self.persist()
        return SettlementResult(tx_hash=str(attempt.tx_hash), nonce=self.nonce, attempts=self.attempts)

    async def wait_for_confirmations(self, attempt: TxAttempt, receipt: Any) -> Any:
        deadline = time.time() + self.cfg.confirmation_timeout
        while True:
            depth = await self.m.block_number() - int(receipt["blockNumber"])
            if depth >= self.cfg.confirmations:
                # Read the receipt again: a reorg may have moved or dropped it meanwhile.
                again = await self.m.receipt(str(attempt.tx_hash))
                if again is not None and again["blockHash"] == receipt["blockHash"]:
                    return again
                if again is None:
                    raise self.fail(SettlementError, f"{attempt.tx_hash} left the chain while awaiting confirmations")
                receipt = again
                continue
            if time.time() >= deadline:
                raise self.fail(
                    SettlementError,
                    f"{attempt.tx_hash} mined in block {receipt['blockNumber']} but has {depth} of "
                    f"{self.cfg.confirmations} confirmations after {self.cfg.confirmation_timeout:.0f}s",
                )
            await asyncio.sleep(self.cfg.poll_interval)
