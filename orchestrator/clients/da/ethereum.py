"""Ethereum DA: the blobs are posted by the settlement transaction (type 3), so publishing is a no-op."""

from __future__ import annotations

from orchestrator.clients.da.settlement_carried import SettlementCarriedDaClient

#: EIP-7691 (Prague) allows 9 blobs per block; the reference batches at most 6 per transaction.
ETHEREUM_MAX_BLOBS_PER_TXN = 6


class EthereumDaClient(SettlementCarriedDaClient):
    def __init__(self, *, max_blobs_per_txn: int = ETHEREUM_MAX_BLOBS_PER_TXN) -> None:
        super().__init__(max_blobs_per_txn=max_blobs_per_txn, layer="Ethereum")
