"""Blob-transaction sidecars against recorded mainnet values (moved from the removed
`services/da/proofs.py`, whose `sidecar` repeated `BlobSidecar.build`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.clients.settlement.blob_tx import BlobSidecar
from orchestrator.crypto import kzg

KZG = Path(__file__).parents[2] / "fixtures" / "kzg"


def _hex(path: Path) -> bytes:
    return bytes.fromhex(path.read_text().strip().removeprefix("0x"))


@pytest.mark.parametrize("peerdas", [False, True])
def test_sidecar_of_two_blobs_matches_the_recorded_commitment_and_proofs(peerdas: bool) -> None:
    recorded = _hex(KZG / "20462788.blob.hex")
    other = _hex(KZG / "651053" / "blob_data.txt")
    car = BlobSidecar.build([recorded, other], peerdas=peerdas)
    assert car.commitments[0] == _hex(KZG / "20462788.commitment.hex")
    assert [h[0] for h in car.versioned_hashes] == [1, 1]  # the KZG version byte
    if peerdas:
        assert len(car.proofs) == 256  # 128 cell proofs per blob, blob by blob
        assert list(car.proofs[:128]) == kzg.compute_cell_proofs(recorded)
        assert list(car.proofs[128:]) == kzg.compute_cell_proofs(other)
    else:
        assert car.proofs[0] == _hex(KZG / "20462788.proof.hex")
        assert len(car.proofs) == 2
