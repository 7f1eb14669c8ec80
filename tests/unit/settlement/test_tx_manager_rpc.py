"""BlobTxManager through web3 against a JSON-RPC double of a load-balanced L1 RPC whose backends
lag each other: the backend answering `eth_getTransactionCount` has the block that mined our
transaction, the ones answering `eth_getTransactionReceipt` do not yet (defect 9 of issue 9)."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
import rlp
from aiohttp import web
from eth_account import Account
from eth_hash.auto import keccak
from web3 import AsyncHTTPProvider, AsyncWeb3

from orchestrator.clients.settlement.blob_tx import BlobSidecar
from orchestrator.clients.settlement.tx_manager import BlobTxManager, BlobTxRequest, TxManagerConfig
from orchestrator.core.madara.settlement import NonceConsumedError
from orchestrator.core.models.metadata import TxAttemptStatus

KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
ADDRESS = Account.from_key(KEY).address
BLOCK_HASH = "0x" + "bb" * 32


def _blob_tx_hash(raw: bytes) -> str:
    """EIP-4844: the hash covers the transaction payload, not the network wrapper's blobs and proofs."""
    payload = rlp.decode(raw[1:])[0]
    return "0x" + keccak(raw[:1] + rlp.encode(payload)).hex()


class LaggingL1:
    """Mines every transaction on arrival; hides its receipt for the next `receipt_lag` asks."""

    def __init__(self, receipt_lag: int, foreign: bool = False) -> None:
        self.receipt_lag = receipt_lag
        self.foreign = foreign  # the nonce moves but the transaction never lands (someone else's took it)
        self.nonce = 0
        self.block = 100
        self.mined: dict[str, int] = {}
        self.sent: list[str] = []
        self.calls: Counter[str] = Counter()

    def handle(self, method: str, params: list[Any]) -> Any:
        self.calls[method] += 1
        match method:
            case "eth_chainId":
                return "0x7a69"
            case "eth_getTransactionCount":
                return hex(self.nonce)
            case "eth_blockNumber":
                return hex(self.block)
            case "eth_blobBaseFee":
                return "0x1"
            case "eth_getBlockByNumber":
                return {"number": hex(self.block), "hash": BLOCK_HASH, "baseFeePerGas": hex(10**9), "transactions": []}
            case "eth_sendRawTransaction":
                tx_hash = _blob_tx_hash(bytes.fromhex(params[0][2:]))
                self.sent.append(tx_hash)
                self.nonce += 1
                if not self.foreign:
                    self.block += 1
                    self.mined[tx_hash] = self.block
                self.block += 3  # confirmations pile up at once
                return tx_hash
            case "eth_getTransactionReceipt":
                return self.receipt(params[0])
        raise ValueError(f"unexpected method {method}")

    def receipt(self, tx_hash: str) -> dict[str, Any] | None:
        if tx_hash not in self.mined:
            return None
        if self.receipt_lag > 0:
            self.receipt_lag -= 1
            return None
        return {
            "transactionHash": tx_hash,
            "transactionIndex": "0x0",
            "blockHash": BLOCK_HASH,
            "blockNumber": hex(self.mined[tx_hash]),
            "from": ADDRESS,
            "to": "0x" + "22" * 20,
            "status": "0x1",
            "gasUsed": "0x5208",
            "cumulativeGasUsed": "0x5208",
            "effectiveGasPrice": hex(10**9),
            "logs": [],
            "logsBloom": "0x" + "00" * 256,
            "contractAddress": None,
            "type": "0x3",
        }

    async def serve(self, request: web.Request) -> web.Response:
        body = await request.json()
        try:
            result = self.handle(body["method"], body.get("params", []))
        except ValueError as exc:
            return web.json_response(
                {"jsonrpc": "2.0", "id": body["id"], "error": {"code": -32601, "message": str(exc)}}
            )
        return web.json_response({"jsonrpc": "2.0", "id": body["id"], "result": result})


async def _manager(l1: LaggingL1) -> AsyncIterator[tuple[BlobTxManager, AsyncWeb3]]:
    app = web.Application()
    app.router.add_post("/", l1.serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    w3 = AsyncWeb3(AsyncHTTPProvider(f"http://127.0.0.1:{port}/", exception_retry_configuration=None))
    config = TxManagerConfig(
        confirmations=1,
        confirmation_timeout=30,
        poll_interval=0.01,
        receipt_lag_timeout=2.0,
        receipt_lag_poll=0.01,
        max_total_fee_wei=10**18,
    )
    try:
        yield BlobTxManager(w3, Account.from_key(KEY), config), w3
    finally:
        await w3.provider.disconnect()
        await runner.cleanup()


@pytest.fixture(scope="module")
def request_() -> BlobTxRequest:
    return BlobTxRequest(
        to="0x" + "22" * 20, data=b"\x50\x7e\xe5\x28", sidecar=BlobSidecar.build([bytes(131072)], peerdas=False)
    )


async def test_our_transaction_is_adopted_when_its_receipt_lags_the_nonce(request_: BlobTxRequest) -> None:
    l1 = LaggingL1(receipt_lag=4)
    async for manager, _ in _manager(l1):
        result = await manager.send(request_)
    assert l1.sent == [result.tx_hash], "one transaction, never a replacement or a conflicting one"
    assert result.nonce == 0
    assert [a.status for a in result.attempts] == [TxAttemptStatus.FINALIZED]


async def test_a_nonce_taken_by_another_transaction_is_reported_after_the_lag_budget(request_: BlobTxRequest) -> None:
    l1 = LaggingL1(receipt_lag=0, foreign=True)
    async for manager, _ in _manager(l1):
        with pytest.raises(NonceConsumedError, match="nonce 0 was used by a transaction that is not ours"):
            await manager.send(request_)
    assert len(l1.sent) == 1
    assert l1.calls["eth_getTransactionReceipt"] > 2, "receipts were asked for again before giving up"
