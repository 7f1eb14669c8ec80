"""Starknet DA: the state diff goes in the settlement `update_state` calldata, so publishing is a no-op."""

from __future__ import annotations

from orchestrator.clients.da.settlement_carried import SettlementCarriedDaClient

STARKNET_MAX_BLOBS_PER_TXN = 6


class StarknetDaClient(SettlementCarriedDaClient):
    def __init__(self, *, max_blobs_per_txn: int = STARKNET_MAX_BLOBS_PER_TXN) -> None:
        super().__init__(max_blobs_per_txn=max_blobs_per_txn, layer="Starknet")
