"""ABI calldata of the core contract's `updateStateKzgDA(uint256[] programOutput, bytes[] kzgProofs)`.

The reference assembles it by hand; the bytes are exactly the standard ABI encoding of
(uint256[], bytes[]) after the selector, which eth-abi produces.
"""

from __future__ import annotations

from collections.abc import Sequence

from eth_abi.abi import encode
from eth_utils.crypto import keccak

UPDATE_STATE_KZG_DA_SIGNATURE = "updateStateKzgDA(uint256[],bytes[])"
UPDATE_STATE_KZG_DA_SELECTOR = keccak(text=UPDATE_STATE_KZG_DA_SIGNATURE)[:4]  # 0x507ee528


def update_state_kzg_da_calldata(program_output: Sequence[int], kzg_proofs: Sequence[bytes]) -> bytes:
    for i, proof in enumerate(kzg_proofs):
        if len(proof) != 48:
            raise ValueError(f"KZG proof {i} is {len(proof)} bytes, expected 48")
    return UPDATE_STATE_KZG_DA_SELECTOR + encode(
        ["uint256[]", "bytes[]"], [list(program_output), [bytes(p) for p in kzg_proofs]]
    )
