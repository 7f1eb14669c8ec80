"""KZG proofs at x_0 against recorded mainnet data."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.clients.settlement.blob_proofs import build_kzg_proofs
from orchestrator.clients.settlement.program_output import ProgramOutputError
from orchestrator.crypto import kzg

FIXTURES = Path(__file__).parents[2] / "fixtures" / "settlement"


def test_proof_at_x0_of_state_update_651053_matches_the_recorded_one() -> None:
    folder = FIXTURES / "651053"
    blob = bytes.fromhex((folder / "blob_data.txt").read_text().strip())
    x_0 = int((folder / "x_0.txt").read_text().strip(), 16)
    proof, y = kzg.compute_proof(blob, x_0)
    assert "0x" + proof.hex() == (folder / "kzg_proof.txt").read_text().strip()
    assert kzg.verify_proof(kzg.blob_to_commitment(blob), x_0, y, proof)


def test_proofs_for_6806848_verify_against_the_output(program_output_6806848: list[int], blob_6806848: bytes) -> None:
    (proof,) = build_kzg_proofs(program_output_6806848, [blob_6806848])
    commitment = kzg.blob_to_commitment(blob_6806848)
    y_0 = (program_output_6806848[15] << 128) | program_output_6806848[14]
    assert kzg.verify_proof(commitment, program_output_6806848[10], y_0, proof)


def test_a_blob_that_does_not_match_the_output_is_refused(
    program_output_6806848: list[int], blob_6806848: bytes
) -> None:
    other = bytearray(blob_6806848)
    other[-1] ^= 1
    with pytest.raises(ProgramOutputError, match="blob 0: its commitment"):
        build_kzg_proofs(program_output_6806848, [bytes(other)])
    with pytest.raises(ProgramOutputError, match="declares 1 blobs, got 2"):
        build_kzg_proofs(program_output_6806848, [blob_6806848, blob_6806848])


def test_a_wrong_y_0_is_refused(program_output_6806848: list[int], blob_6806848: bytes) -> None:
    wrong = list(program_output_6806848)
    wrong[14] += 1
    with pytest.raises(ProgramOutputError, match="y_0 value is different than expected"):
        build_kzg_proofs(wrong, [blob_6806848])
