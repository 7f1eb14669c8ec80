"""The Stark-field hashes the facts need, from the fastest installed implementation.

`starknet_pathfinder_crypto` (pathfinder's Rust Pedersen and Poseidon, optional) is several
times faster than the implementations starknet-py ships (crypto-cpp's Pedersen, poseidon_py),
which matters for a Starknet OS program hash (one Pedersen hash per bytecode word). Both give the
same results; the tests run with whichever is installed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

pedersen_hash: Callable[[int, int], int]
poseidon_hash_many: Callable[[Sequence[int]], int]

try:
    from starknet_pathfinder_crypto import pedersen_hash as _fast_pedersen
    from starknet_pathfinder_crypto import poseidon_hash_many as _fast_poseidon_many

    pedersen_hash = _fast_pedersen

    def poseidon_hash_many(values: Sequence[int]) -> int:
        return int(_fast_poseidon_many(list(values)))

    BACKEND = "starknet_pathfinder_crypto"
except ImportError:  # pragma: no cover - depends on the environment
    from poseidon_py.poseidon_hash import poseidon_hash_many as _py_poseidon_many
    from starknet_py.hash.utils import pedersen_hash as _py_pedersen

    pedersen_hash = _py_pedersen

    def poseidon_hash_many(values: Sequence[int]) -> int:
        return int(_py_poseidon_many(list(values)))

    BACKEND = "starknet_py"
