"""KZG proofs at x_0 for `updateStateKzgDA`: one per blob, checked against the program output."""

from __future__ import annotations

from collections.abc import Sequence

from orchestrator.clients.settlement.program_output import KzgSegment, ProgramOutputError
from orchestrator.crypto import kzg


def build_kzg_proofs(program_output: Sequence[int], blobs: Sequence[bytes]) -> list[bytes]:
    """The proof that each blob's polynomial takes the value y_0[i] at x_0.

    Refuses blobs that do not match the output (count, commitment or y_0): the core contract would
    reject them and the transaction's fee would be lost.
    """
    segment = KzgSegment.from_program_output(program_output)
    if len(blobs) != segment.n_blobs:
        raise ProgramOutputError(f"program output declares {segment.n_blobs} blobs, got {len(blobs)}")
    proofs = []
    for i, blob in enumerate(blobs):
        commitment = kzg.blob_to_commitment(blob)
        if commitment != segment.commitments[i]:
            raise ProgramOutputError(
                f"blob {i}: its commitment 0x{commitment.hex()} differs from the program output's "
                f"0x{segment.commitments[i].hex()}"
            )
        proof, y = kzg.compute_proof(blob, segment.x_0)
        if y != segment.y_0[i]:
            raise ProgramOutputError(f"blob {i}: y_0 value is different than expected ({y:#x} != {segment.y_0[i]:#x})")
        if not kzg.verify_proof(commitment, segment.x_0, y, proof):
            raise ProgramOutputError(f"blob {i}: the KZG proof at x_0 does not verify")
        proofs.append(proof)
    return proofs
