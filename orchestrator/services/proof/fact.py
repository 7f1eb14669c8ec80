"""Facts of a Cairo run: what a prover registers on chain for a program and its output.

- GPS fact (keccak; cairo-lang `bootloaders/generate_fact.py` + `compute_fact.py`):
  `keccak(program_hash ‖ output_root)`, where the output root is a non-binary Merkle tree over the
  output pages described by the output builtin's `gps_fact_topology` attribute. A leaf is
  `keccak(page words as 32-byte big-endian)`; a parent is
  `keccak(child_hash ‖ uint256(child_end_offset) for each child) + 1 (mod 2^256)`, the +1
  keeping leaf and parent preimages apart.
- L2 fact (Poseidon; used for an L2 SNOS run without KZG DA):
  `poseidon(BOOT_LOADER_PROGRAM_CONTRACT, poseidon(program_output))`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eth_hash.auto import keccak

from orchestrator.services.proof.hashes import poseidon_hash_many
from orchestrator.services.proof.pie import CairoPie, OutputPage, PieError
from orchestrator.services.proof.program_hash import program_hash as compute_program_hash
from orchestrator.services.proof.program_output import program_output as read_program_output

GPS_FACT_TOPOLOGY = "gps_fact_topology"
#: The bootloader program hash the L2 (Poseidon) fact is bound to (reference constant).
BOOT_LOADER_PROGRAM_CONTRACT = 0x5AB580B04E3532B6B18F81CFA654A05E29DD8E2352D88DF1E765A84072DB07
_MAX_TREE_STRUCTURE_LEN = 10


class FactError(PieError):
    """The output and its fact topology do not fit together."""


@dataclass(frozen=True)
class FactTopology:
    #: flattened (n_pages, n_nodes) pairs
    tree_structure: list[int]
    page_sizes: list[int]


@dataclass(frozen=True)
class FactInfo:
    program_hash: int
    program_output: list[int]
    fact_topology: FactTopology
    fact: bytes  # 32 bytes

    @property
    def fact_hex(self) -> str:
        return "0x" + self.fact.hex()


def page_sizes(pages: dict[int, OutputPage], output_size: int) -> list[int]:
    """Sizes of the output pages: page 0 is everything before page 1, then pages 1..n in order."""
    sizes = [output_size]
    expected_start: int | None = None
    for expected_id, (page_id, page) in enumerate(sorted(pages.items()), start=1):
        if page_id != expected_id:
            raise FactError(f"output page ids must be 1, 2, ...: found {page_id}, expected {expected_id}")
        if page_id == 1:
            if not 0 < page.start < output_size:
                raise FactError(f"output page 1 starts at {page.start}, outside the output (size {output_size})")
            sizes[0] = page.start
        elif page.start != expected_start:
            raise FactError(f"output page {page_id} starts at {page.start}, expected {expected_start}")
        if not 0 < page.size < output_size:
            raise FactError(f"output page {page_id} has size {page.size}, invalid for output size {output_size}")
        expected_start = page.start + page.size
        sizes.append(page.size)
    if pages and expected_start != output_size:
        raise FactError(f"the output pages end at {expected_start}, the output has {output_size} words")
    return sizes


def fact_topology(pie: CairoPie, output_size: int) -> FactTopology:
    data = pie.output_builtin_data()
    if data is None:
        raise FactError("the PIE has no additional data for the output builtin")
    structure = data.attributes.get(GPS_FACT_TOPOLOGY)
    if structure is None:
        if data.pages:
            raise FactError("the output has pages but no gps_fact_topology attribute")
        structure = [1, 0]
    if not structure or len(structure) % 2 or len(structure) > _MAX_TREE_STRUCTURE_LEN:
        raise FactError(f"invalid gps_fact_topology {structure}: needs 1 to 5 (n_pages, n_nodes) pairs")
    if not all(0 <= x < 2 << 30 for x in structure):
        raise FactError(f"invalid gps_fact_topology {structure}: values out of range")
    return FactTopology(list(structure), page_sizes(data.pages, output_size))


def _word_bytes(words: Sequence[int]) -> bytes:
    return b"".join(w.to_bytes(32, "big") for w in words)


@dataclass
class _Node:
    hash: bytes
    end_offset: int


def output_root(output: Sequence[int], topology: FactTopology) -> bytes:
    """Root of the output Merkle tree; the stack-based construction of cairo-lang `compute_fact`."""
    pages = list(topology.page_sizes)
    structure = topology.tree_structure
    stack: list[_Node] = []
    offset = 0
    for n_pages, n_nodes in zip(structure[::2], structure[1::2], strict=True):
        if n_pages > len(pages):
            raise FactError(f"the topology asks for {n_pages} pages, {len(pages)} remain")
        for _ in range(n_pages):
            size = pages.pop(0)
            stack.append(_Node(keccak(_word_bytes(output[offset : offset + size])), offset + size))
            offset += size
        if n_nodes > len(stack):
            raise FactError(f"the topology asks for {n_nodes} nodes, the stack has {len(stack)}")
        if n_nodes:
            children, stack[-n_nodes:] = stack[-n_nodes:], []
            preimage = b"".join(c.hash + c.end_offset.to_bytes(32, "big") for c in children)
            parent = (int.from_bytes(keccak(preimage), "big") + 1) % 2**256
            stack.append(_Node(parent.to_bytes(32, "big"), children[-1].end_offset))
    if len(stack) != 1:
        raise FactError(f"the topology leaves {len(stack)} nodes instead of one root")
    if pages:
        raise FactError(f"the topology leaves {len(pages)} pages unused")
    if offset != len(output) or stack[0].end_offset != len(output):
        raise FactError(f"the pages cover {offset} words, the output has {len(output)}")
    return stack[0].hash


def gps_fact(program_hash: int, output: Sequence[int], topology: FactTopology | None = None) -> bytes:
    """keccak(program_hash ‖ output root); without a topology the output is one page."""
    topology = topology or FactTopology([1, 0], [len(output)])
    return keccak(program_hash.to_bytes(32, "big") + output_root(output, topology))


def get_fact_info(pie: CairoPie, *, program_hash: int | None = None, aggregator: bool = False) -> FactInfo:
    """The GPS fact of a PIE; the program hash is computed from the PIE's program unless given."""
    output = read_program_output(pie, aggregator=aggregator)
    topology = fact_topology(pie, len(output))
    hash_ = compute_program_hash(pie.program) if program_hash is None else program_hash
    return FactInfo(hash_, output, topology, gps_fact(hash_, output, topology))


def l2_fact(output: Sequence[int]) -> bytes:
    """The Poseidon fact of an L2 SNOS run's program output."""
    output_hash = poseidon_hash_many(list(output))
    fact = poseidon_hash_many([BOOT_LOADER_PROGRAM_CONTRACT, output_hash])
    return fact.to_bytes(32, "big")


def get_fact_l2(pie: CairoPie) -> bytes:
    return l2_fact(read_program_output(pie))
