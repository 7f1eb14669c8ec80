"""KZG at x_0 against the proof posted for block 651053, and blob-transaction sidecars."""

from __future__ import annotations

import pytest

from orchestrator.crypto import kzg
from orchestrator.services.da.proofs import KzgProofMismatchError, proofs_at_x0, sidecar
from tests.unit.da.helpers import FIXTURES

SETTLED = FIXTURES / "kzg" / "651053"


def _blob() -> bytes:
    return bytes.fromhex(SETTLED.joinpath("blob_data.txt").read_text().strip())


def _x0() -> int:
    return int(SETTLED.joinpath("x_0.txt").read_text().strip(), 16)


def test_proof_at_x0_is_the_posted_one() -> None:
    blob = _blob()
    _, y = kzg.compute_proof(blob, _x0())
    [proof] = proofs_at_x0([blob], _x0(), [y])
    assert proof == bytes.fromhex(SETTLED.joinpath("kzg_proof.txt").read_text().strip().removeprefix("0x"))


def test_a_wrong_y0_is_refused() -> None:
    blob = _blob()
    _, y = kzg.compute_proof(blob, _x0())
    with pytest.raises(KzgProofMismatchError, match="y_0 value is different than expected"):
        proofs_at_x0([blob], _x0(), [y + 1])
    with pytest.raises(KzgProofMismatchError, match="1 blobs but 2"):
        proofs_at_x0([blob], _x0(), [y, y])


@pytest.mark.parametrize("cell_proofs", [False, True])
def test_sidecar(cell_proofs: bool) -> None:
    blob = bytes.fromhex((FIXTURES / "kzg" / "20462788.blob.hex").read_text().strip())
    car = sidecar([blob, _blob()], cell_proofs=cell_proofs)
    expected_commitment = bytes.fromhex((FIXTURES / "kzg" / "20462788.commitment.hex").read_text().strip()[2:])
    assert car.commitments[0] == expected_commitment
    assert [h[0] for h in car.versioned_hashes] == [1, 1]
    if cell_proofs:
        assert len(car.proofs) == 256
        assert car.proofs[:128] == kzg.compute_cell_proofs(blob)
    else:
        assert car.proofs[0] == bytes.fromhex((FIXTURES / "kzg" / "20462788.proof.hex").read_text().strip()[2:])
        assert len(car.proofs) == 2


def test_mainnet_state_update_6806848_x0_and_y0_from_the_program_output() -> None:
    # Starknet OS output (>= 0.13.2): [10] x_0, [11] n_blobs, then commitments and y_0 as 128-bit limb pairs.
    folder = FIXTURES / "kzg" / "6806848"
    output = [int(line) for line in folder.joinpath("program_output.txt").read_text().split()]
    x0, n_blobs = output[10], output[11]
    assert n_blobs == 1
    commitment_low, commitment_high = output[12], output[13]
    y_low, y_high = output[12 + 2 * n_blobs], output[13 + 2 * n_blobs]
    blob = bytes.fromhex(folder.joinpath("blob.hex").read_text().strip())

    [proof] = proofs_at_x0([blob], x0, [(y_high << 128) | y_low])

    commitment = kzg.blob_to_commitment(blob)
    assert commitment == commitment_high.to_bytes(24, "big") + commitment_low.to_bytes(24, "big")
    assert kzg.verify_proof(commitment, x0, (y_high << 128) | y_low, proof)
