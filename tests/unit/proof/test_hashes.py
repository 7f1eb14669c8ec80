"""The hash backend gives the same values as starknet-py's implementations."""

from __future__ import annotations

from poseidon_py.poseidon_hash import poseidon_hash_many as reference_poseidon_many
from starknet_py.hash.utils import pedersen_hash as reference_pedersen

from orchestrator.services.proof.hashes import pedersen_hash, poseidon_hash_many

P = 2**251 + 17 * 2**192 + 1
VALUES = [0, 1, 2, 0xFFFF, 2**128 + 7, P - 1, 0x5AB580B04E3532B6B18F81CFA654A05E29DD8E2352D88DF1E765A84072DB07]


def test_pedersen_matches_starknet_py() -> None:
    for a in VALUES:
        for b in VALUES[:4]:
            assert pedersen_hash(a, b) == reference_pedersen(a, b)


def test_poseidon_many_matches_poseidon_py() -> None:
    for n in (0, 1, 2, 3, len(VALUES)):
        assert poseidon_hash_many(VALUES[:n]) == reference_poseidon_many(VALUES[:n])
    assert poseidon_hash_many(tuple(VALUES)) == reference_poseidon_many(VALUES)
