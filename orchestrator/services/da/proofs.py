"""KZG material for posting blobs and settling with them.

- `proofs_at_x0(blobs, x0, expected_ys)`: for each blob the KZG proof of its evaluation at x_0
  (the point the Starknet OS output fixes), checked against the OS's y_0 for that blob and
  verified; the proofs go into the settlement calldata (`updateStateKzgDA`).
- `sidecar(blobs, cell_proofs)`: commitments, versioned hashes and either EIP-4844 blob proofs or
  EIP-7594 cell proofs (128 per blob, flattened blob by blob) for a blob transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from orchestrator.core.errors import OrchestratorError
from orchestrator.crypto import kzg


class KzgProofMismatchError(OrchestratorError):
    """The blob does not evaluate to the y_0 the Starknet OS computed: blob and OS output disagree."""


def proofs_at_x0(blobs: Sequence[bytes], x0: int, expected_ys: Sequence[int]) -> list[bytes]:
    if len(expected_ys) != len(blobs):
        raise KzgProofMismatchError(f"{len(blobs)} blobs but {len(expected_ys)} y_0 values")
    proofs = []
    for index, (blob, expected_y) in enumerate(zip(blobs, expected_ys, strict=True)):
        commitment = kzg.blob_to_commitment(blob)
        proof, y = kzg.compute_proof(blob, x0)
        if y != expected_y:
            raise KzgProofMismatchError(
                f"blob {index}: y_0 value is different than expected ({y:#x} != {expected_y:#x})"
            )
        if not kzg.verify_proof(commitment, x0, y, proof):
            raise KzgProofMismatchError(f"blob {index}: the KZG proof at x_0 does not verify")
        proofs.append(proof)
    return proofs


@dataclass(frozen=True)
class BlobSidecar:
    blobs: list[bytes]
    commitments: list[bytes]
    versioned_hashes: list[bytes]
    # One proof per blob (EIP-4844), or 128 per blob flattened in blob order (EIP-7594).
    proofs: list[bytes]
    cell_proofs: bool


def sidecar(blobs: Sequence[bytes], cell_proofs: bool = True) -> BlobSidecar:
    commitments = [kzg.blob_to_commitment(b) for b in blobs]
    if cell_proofs:
        proofs = [p for b in blobs for p in kzg.compute_cell_proofs(b)]
    else:
        proofs = [kzg.compute_blob_proof(b, c) for b, c in zip(blobs, commitments, strict=True)]
    return BlobSidecar(
        blobs=list(blobs),
        commitments=commitments,
        versioned_hashes=[kzg.versioned_hash(c) for c in commitments],
        proofs=proofs,
        cell_proofs=cell_proofs,
    )
