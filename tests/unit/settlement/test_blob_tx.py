from __future__ import annotations

import rlp
from eth_account import Account
from eth_utils import keccak

from orchestrator.clients.settlement.blob_tx import BlobSidecar, sign_blob_tx
from orchestrator.clients.settlement.fees import Fees
from orchestrator.crypto import kzg

ACCOUNT = Account.from_key("0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a")


def _sign(sidecar: BlobSidecar, nonce: int = 3) -> tuple[str, bytes]:
    signed = sign_blob_tx(
        ACCOUNT,
        chain_id=31337,
        nonce=nonce,
        to="0x" + "33" * 20,
        data=b"\x01",
        gas=1_500_000,
        fees=Fees(3 * 10**9, 2 * 10**8, 5),
        sidecar=sidecar,
    )
    return signed.tx_hash, signed.raw


def test_eip4844_and_eip7594_wrappers_share_the_signed_body(blob_6806848: bytes) -> None:
    classic = BlobSidecar.build([blob_6806848], peerdas=False)
    cells = BlobSidecar.build([blob_6806848], peerdas=True)
    hash_a, raw_a = _sign(classic)
    hash_b, raw_b = _sign(cells)
    assert raw_a[0] == raw_b[0] == 3

    body_a, blobs, commitments, proofs = rlp.decode(raw_a[1:])
    assert blobs == [blob_6806848] and commitments == [kzg.blob_to_commitment(blob_6806848)]
    assert kzg.verify_blob_proof(blob_6806848, commitments[0], proofs[0])

    body_b, version, _blobs, _commitments, cell_proofs = rlp.decode(raw_b[1:])
    assert version == b"\x01" and len(cell_proofs) == 128
    assert body_a == body_b
    assert hash_a == hash_b == "0x" + keccak(b"\x03" + rlp.encode(body_a)).hex()
    assert body_a[10] == [kzg.versioned_hash(commitments[0])]  # blob_versioned_hashes
    assert int.from_bytes(body_a[1], "big") == 3  # nonce


def test_signing_is_deterministic(blob_6806848: bytes) -> None:
    sidecar = BlobSidecar.build([blob_6806848], peerdas=False)
    assert _sign(sidecar) == _sign(sidecar)
    assert _sign(sidecar, nonce=4)[0] != _sign(sidecar)[0]
