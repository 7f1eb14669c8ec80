"""The program hash of a Cairo program: a Pedersen hash chain over its header and bytecode.

Same as cairo-lang `compute_program_hash_chain`: the chain is
`[len(chain), bootloader_version, main, n_builtins, *builtin names as ints, *data]`, hashed
right to left: h(x_0, h(x_1, ... h(x_{n-1}, x_n))).
"""

from __future__ import annotations

from collections.abc import Sequence

from orchestrator.services.proof.hashes import pedersen_hash
from orchestrator.services.proof.pie import StrippedProgram

#: cairo-lang `hash_program.py`: the bootloader version the Starknet provers hash with.
BOOTLOADER_VERSION = 0


def compute_hash_chain(data: Sequence[int]) -> int:
    """h(d_0, h(d_1, ... h(d_{n-2}, d_{n-1}))) with the Pedersen hash."""
    if not data:
        raise ValueError("a hash chain needs at least one element")
    acc = data[-1]
    for value in reversed(data[:-1]):
        acc = pedersen_hash(value, acc)
    return acc


def program_hash(program: StrippedProgram, bootloader_version: int = BOOTLOADER_VERSION) -> int:
    builtins = [int.from_bytes(name.encode("ascii"), "big") for name in program.builtins]
    chain = [bootloader_version, program.main, len(program.builtins), *builtins, *program.data]
    return compute_hash_chain([len(chain), *chain])
