"""Data availability: where the state diff is published (blobs on Ethereum, calldata on Starknet)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class DaClient(Protocol):
    def max_bytes_per_blob(self) -> int: ...

    def max_blob_per_txn(self) -> int: ...

    async def publish_state_diff(self, blobs: Sequence[bytes]) -> str:
        """Returns an external id ("NA" where the settlement transaction carries the data)."""

    async def verify_inclusion(self, external_id: str) -> str:
        """ "Verified" | "Pending" | "Rejected"."""
