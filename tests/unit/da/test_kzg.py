"""KZG against real mainnet data: blob 20462788 (commitment, blob proof) and 651053 (proof at x_0)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from orchestrator.crypto import kzg

FIXTURES = Path(__file__).parents[2] / "fixtures" / "kzg"


def _hex_file(path: Path) -> bytes:
    return bytes.fromhex(path.read_text().strip().removeprefix("0x"))


@pytest.fixture(scope="module")
def blob_20462788() -> bytes:
    return _hex_file(FIXTURES / "20462788.blob.hex")


def test_commitment_and_blob_proof_match_mainnet(blob_20462788: bytes) -> None:
    commitment = kzg.blob_to_commitment(blob_20462788)
    assert commitment == _hex_file(FIXTURES / "20462788.commitment.hex")
    proof = kzg.compute_blob_proof(blob_20462788, commitment)
    assert proof == _hex_file(FIXTURES / "20462788.proof.hex")
    assert kzg.verify_blob_proof(blob_20462788, commitment, proof)


def test_proof_at_x0_matches_the_posted_proof() -> None:
    blob = _hex_file(FIXTURES / "651053" / "blob_data.txt")
    x0 = int((FIXTURES / "651053" / "x_0.txt").read_text().strip(), 16)
    proof, y = kzg.compute_proof(blob, x0)
    assert proof == _hex_file(FIXTURES / "651053" / "kzg_proof.txt")
    commitment = kzg.blob_to_commitment(blob)
    assert kzg.verify_proof(commitment, x0, y, proof)
    assert not kzg.verify_proof(commitment, x0, (y + 1) % kzg.BLS_MODULUS, proof)


def test_versioned_hash(blob_20462788: bytes) -> None:
    commitment = kzg.blob_to_commitment(blob_20462788)
    vh = kzg.versioned_hash(commitment)
    assert len(vh) == 32 and vh[0] == 1
    assert vh[1:] == hashlib.sha256(commitment).digest()[1:]


def test_cell_proofs(blob_20462788: bytes) -> None:
    proofs = kzg.compute_cell_proofs(blob_20462788)
    assert len(proofs) == 128
    assert all(len(p) == 48 for p in proofs)
    assert len(set(proofs)) == 128


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(kzg.KzgError, match="131072 bytes"):
        kzg.blob_to_commitment(b"\x00" * 10)
    with pytest.raises(kzg.KzgError, match="not a BLS12-381"):
        kzg.compute_proof(b"\x00" * kzg.BYTES_PER_BLOB, kzg.BLS_MODULUS)
    non_canonical = b"\xff" * kzg.BYTES_PER_BLOB
    with pytest.raises(kzg.KzgError, match="c-kzg rejected"):
        kzg.blob_to_commitment(non_canonical)
