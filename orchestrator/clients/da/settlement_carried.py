"""DA clients for a settlement layer whose state-update transaction carries the data itself.

On Ethereum the blobs travel in the `updateStateKzgDA` transaction; on Starknet the state diff is in
the `update_state` calldata. Publishing is therefore done by the settlement client, and these DA
clients (as in the reference) only check that the blobs fit one transaction and answer "NA".
"""

from __future__ import annotations

from collections.abc import Sequence

from orchestrator.core.errors import OrchestratorError

NOT_APPLICABLE = "NA"
BYTES_PER_BLOB = 131_072


class DaPublishError(OrchestratorError, ValueError):
    """Blobs that cannot go in one settlement transaction."""


class SettlementCarriedDaClient:
    def __init__(self, *, max_blobs_per_txn: int, layer: str) -> None:
        self._max_blobs = max_blobs_per_txn
        self._layer = layer

    def max_bytes_per_blob(self) -> int:
        return BYTES_PER_BLOB

    def max_blob_per_txn(self) -> int:
        return self._max_blobs

    async def publish_state_diff(self, blobs: Sequence[bytes]) -> str:
        """Nothing is sent here: the settlement transaction publishes the blobs. Returns "NA"."""
        if len(blobs) > self._max_blobs:
            raise DaPublishError(f"{len(blobs)} blobs do not fit one {self._layer} transaction (max {self._max_blobs})")
        for i, blob in enumerate(blobs):
            if len(blob) != BYTES_PER_BLOB:
                raise DaPublishError(f"blob {i} is {len(blob)} bytes, expected {BYTES_PER_BLOB}")
        return NOT_APPLICABLE

    async def verify_inclusion(self, external_id: str) -> str:
        """ "Verified" for "NA": inclusion is the settlement job's to check (stateBlockNumber)."""
        if external_id != NOT_APPLICABLE:
            raise DaPublishError(f"{self._layer} DA issues only {NOT_APPLICABLE!r} ids, got {external_id!r}")
        return "Verified"
