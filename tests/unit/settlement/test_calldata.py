from __future__ import annotations

from orchestrator.clients.settlement.calldata import UPDATE_STATE_KZG_DA_SELECTOR, update_state_kzg_da_calldata


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _reference_layout(program_output: list[int], proofs: list[bytes]) -> bytes:
    """The layout the reference builds by hand (its conversion.rs), written out independently."""
    m, n = len(program_output), len(proofs)
    out = bytes.fromhex("507ee528") + _word(0x40) + _word(96 + 32 * m) + _word(m)
    out += b"".join(_word(x) for x in program_output)
    out += _word(n) + b"".join(_word(32 * n + 96 * i) for i in range(n))
    for proof in proofs:
        out += _word(48) + proof + bytes(16)
    return out


def test_selector_is_the_reference_one() -> None:
    assert UPDATE_STATE_KZG_DA_SELECTOR.hex() == "507ee528"


def test_calldata_matches_the_reference_layout(program_output_6806848: list[int]) -> None:
    proofs = [bytes(range(48)), bytes(range(100, 148)), b"\xff" * 48]
    assert update_state_kzg_da_calldata(program_output_6806848, proofs) == _reference_layout(
        program_output_6806848, proofs
    )
    assert update_state_kzg_da_calldata([1, 2], []) == _reference_layout([1, 2], [])
