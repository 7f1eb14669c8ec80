"""Signed EIP-4844 (type-3) transactions with their blob sidecar, in the network encoding.

eth-account signs the transaction body; the sidecar is wrapped around it here so that both
sidecar kinds are possible:
- EIP-4844: 0x03 || rlp([body, blobs, commitments, blob_proofs]);
- EIP-7594 (PeerDAS): 0x03 || rlp([body, 1, blobs, commitments, cell_proofs]), 128 cell proofs per
  blob, flattened blob by blob.
The transaction hash covers only the body, so it is the same for both kinds. Signing is
deterministic (RFC 6979): the same body always gives the same hash, which is how a restarted
process recognises and re-broadcasts a transaction it had sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import rlp
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes

from orchestrator.clients.settlement.fees import Fees
from orchestrator.crypto import kzg

BLOB_TX_TYPE = 3
CELL_PROOF_WRAPPER_VERSION = 1


@dataclass(frozen=True)
class BlobSidecar:
    blobs: tuple[bytes, ...]
    commitments: tuple[bytes, ...]
    proofs: tuple[bytes, ...]  # one blob proof per blob, or 128 cell proofs per blob
    cell_proofs: bool

    @classmethod
    def build(cls, blobs: Sequence[bytes], *, peerdas: bool) -> BlobSidecar:
        commitments = [kzg.blob_to_commitment(b) for b in blobs]
        if peerdas:
            proofs = [p for b in blobs for p in kzg.compute_cell_proofs(b)]
        else:
            proofs = [kzg.compute_blob_proof(b, c) for b, c in zip(blobs, commitments, strict=True)]
        return cls(tuple(blobs), tuple(commitments), tuple(proofs), peerdas)

    @property
    def versioned_hashes(self) -> list[bytes]:
        return [kzg.versioned_hash(c) for c in self.commitments]


@dataclass(frozen=True)
class SignedBlobTx:
    tx_hash: str  # 0x-hex
    raw: bytes  # network encoding, with the sidecar


def sign_blob_tx(
    account: LocalAccount,
    *,
    chain_id: int,
    nonce: int,
    to: str,
    data: bytes,
    gas: int,
    fees: Fees,
    sidecar: BlobSidecar,
) -> SignedBlobTx:
    tx: dict[str, Any] = {
        "type": BLOB_TX_TYPE,
        "chainId": chain_id,
        "nonce": nonce,
        "to": to,
        "value": 0,
        "gas": gas,
        "maxFeePerGas": fees.max_fee_per_gas,
        "maxPriorityFeePerGas": fees.max_priority_fee_per_gas,
        "maxFeePerBlobGas": fees.max_fee_per_blob_gas,
        "data": data,
        "accessList": [],
        "blobVersionedHashes": sidecar.versioned_hashes,
    }
    # Without `blobs=` eth-account returns the bare signed body (the form that is hashed).
    signed = account.sign_transaction(tx)
    payload = bytes(signed.raw_transaction)
    body = rlp.decode(payload[1:])
    blobs, commitments, proofs = list(sidecar.blobs), list(sidecar.commitments), list(sidecar.proofs)
    if sidecar.cell_proofs:
        wrapped = [body, CELL_PROOF_WRAPPER_VERSION, blobs, commitments, proofs]
    else:
        wrapped = [body, blobs, commitments, proofs]
    return SignedBlobTx(HexBytes(signed.hash).to_0x_hex(), bytes([BLOB_TX_TYPE]) + rlp.encode(wrapped))
