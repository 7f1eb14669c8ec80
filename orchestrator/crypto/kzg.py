"""KZG commitments and proofs over EIP-4844 blobs (c-kzg through the `ckzg` package).

Blobs are raw 131072-byte values (4096 big-endian 32-byte field elements in evaluation form);
commitments and proofs are 48-byte compressed G1 points; evaluation points and values are ints in
the BLS12-381 scalar field. The trusted setup is the Ethereum ceremony file shipped with this
package; it is loaded once, on first use (loading takes a few seconds).
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib.resources import as_file, files
from typing import Any

import ckzg

from orchestrator.core.errors import OrchestratorError

BLS_MODULUS = 52435875175126190479447740508185965837690552500527637822603658699938581184513
BYTES_PER_BLOB = 131072
BYTES_PER_COMMITMENT = 48
BYTES_PER_PROOF = 48
CELLS_PER_EXT_BLOB = 128
VERSIONED_HASH_VERSION_KZG = 0x01


class KzgError(OrchestratorError, ValueError):
    """Input that c-kzg rejects: a blob of the wrong size, a non-canonical field element, a bad point."""


@cache
def _settings() -> Any:
    # precompute=0: the reference's setting; larger values only speed up cell proofs at a memory cost.
    with as_file(files("orchestrator.crypto").joinpath("trusted_setup.txt")) as path:
        return ckzg.load_trusted_setup(str(path), 0)


def _check_blob(blob: bytes) -> None:
    if len(blob) != BYTES_PER_BLOB:
        raise KzgError(f"a blob must be {BYTES_PER_BLOB} bytes, got {len(blob)}")


def _check_point(name: str, value: bytes) -> None:
    if len(value) != BYTES_PER_COMMITMENT:
        raise KzgError(f"a {name} must be {BYTES_PER_COMMITMENT} bytes, got {len(value)}")


def _field_bytes(name: str, value: int) -> bytes:
    if not 0 <= value < BLS_MODULUS:
        raise KzgError(f"{name} is not a BLS12-381 scalar field element: {value:#x}")
    return value.to_bytes(32, "big")


def _call(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args, _settings())
    except (RuntimeError, ValueError) as exc:  # ckzg reports bad input as RuntimeError
        raise KzgError(f"c-kzg rejected the input: {exc}") from exc


def blob_to_commitment(blob: bytes) -> bytes:
    """The 48-byte KZG commitment of a blob."""
    _check_blob(blob)
    return bytes(_call(ckzg.blob_to_kzg_commitment, blob))


def compute_proof(blob: bytes, z: int) -> tuple[bytes, int]:
    """The proof that the blob's polynomial evaluates to y at z: (48-byte proof, y)."""
    _check_blob(blob)
    proof, y = _call(ckzg.compute_kzg_proof, blob, _field_bytes("z", z))
    return bytes(proof), int.from_bytes(y, "big")


def verify_proof(commitment: bytes, z: int, y: int, proof: bytes) -> bool:
    """True when `proof` shows that the committed polynomial evaluates to y at z."""
    _check_point("commitment", commitment)
    _check_point("proof", proof)
    return bool(_call(ckzg.verify_kzg_proof, commitment, _field_bytes("z", z), _field_bytes("y", y), proof))


def compute_blob_proof(blob: bytes, commitment: bytes) -> bytes:
    """The EIP-4844 blob proof (the sidecar proof of a type-3 transaction)."""
    _check_blob(blob)
    _check_point("commitment", commitment)
    return bytes(_call(ckzg.compute_blob_kzg_proof, blob, commitment))


def verify_blob_proof(blob: bytes, commitment: bytes, proof: bytes) -> bool:
    _check_blob(blob)
    _check_point("commitment", commitment)
    _check_point("proof", proof)
    return bool(_call(ckzg.verify_blob_kzg_proof, blob, commitment, proof))


def compute_cell_proofs(blob: bytes) -> list[bytes]:
    """The 128 EIP-7594 (PeerDAS) cell proofs of a blob, in cell order."""
    _check_blob(blob)
    _cells, proofs = _call(ckzg.compute_cells_and_kzg_proofs, blob)
    return [bytes(p) for p in proofs]


def versioned_hash(commitment: bytes) -> bytes:
    """EIP-4844 versioned hash: 0x01 followed by sha256(commitment) without its first byte."""
    _check_point("commitment", commitment)
    return bytes([VERSIONED_HASH_VERSION_KZG]) + hashlib.sha256(commitment).digest()[1:]
