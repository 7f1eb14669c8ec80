"""Writing a minimal Cairo PIE zip (cairo-lang format "1.1") around a program and its output.

Used by the devnet SNOS runner to hand out a PIE whose output segment holds the program output it
synthesised, so that anything reading the PIE (fact computation, provers) sees the same output.
The PIE holds the program bytecode (segment 0), an empty execution segment (1) and the output
builtin segment (2); it describes no real execution trace and no prover could prove it.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping, Sequence

from orchestrator.core.madara.felt import STARK_PRIME

_ADDRESS_BYTES = 8
_FIELD_BYTES = 32
_OFFSET_BITS = 47  # cairo-lang RelocatableValue: segment * 2^47 + offset, top bit set
PROGRAM_SEGMENT = 0
EXECUTION_SEGMENT = 1
OUTPUT_SEGMENT = 2


def _address(segment: int, offset: int) -> bytes:
    raw = (1 << (8 * _ADDRESS_BYTES - 1)) + (segment << _OFFSET_BITS) + offset
    return raw.to_bytes(_ADDRESS_BYTES, "little")


def _felt(value: int, what: str) -> bytes:
    if not 0 <= value < STARK_PRIME:
        raise ValueError(f"{what} is not a Starknet field element: {value:#x}")
    return value.to_bytes(_FIELD_BYTES, "little")


def write_cairo_pie(
    program_data: Sequence[int],
    output: Sequence[int],
    *,
    n_steps: int,
    output_pages: Mapping[int, tuple[int, int]] | None = None,
    output_attributes: Mapping[str, Sequence[int]] | None = None,
) -> bytes:
    """The PIE zip bytes. `output_pages` maps page id -> (start, size), as cairo-lang writes them."""
    memory = bytearray()
    for offset, word in enumerate(program_data):
        memory += _address(PROGRAM_SEGMENT, offset) + _felt(word, f"program word {offset}")
    for offset, word in enumerate(output):
        memory += _address(OUTPUT_SEGMENT, offset) + _felt(word, f"output word {offset}")
    metadata = {
        "program": {"data": list(program_data), "builtins": ["output"], "main": 0, "prime": STARK_PRIME},
        "program_segment": {"index": PROGRAM_SEGMENT, "size": len(program_data)},
        "execution_segment": {"index": EXECUTION_SEGMENT, "size": 0},
        "ret_fp_segment": {"index": 3, "size": 0},
        "ret_pc_segment": {"index": 4, "size": 0},
        "builtin_segments": {"output": {"index": OUTPUT_SEGMENT, "size": len(output)}},
        "extra_segments": [],
    }
    additional_data = {
        "output_builtin": {
            "pages": {str(k): [start, size] for k, (start, size) in (output_pages or {}).items()},
            "attributes": {k: list(v) for k, v in (output_attributes or {}).items()},
        }
    }
    resources = {
        "n_steps": n_steps,
        "n_memory_holes": 0,
        "builtin_instance_counter": {"output_builtin": len(output)},
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("metadata.json", json.dumps(metadata))
        archive.writestr("memory.bin", bytes(memory))
        archive.writestr("additional_data.json", json.dumps(additional_data))
        archive.writestr("execution_resources.json", json.dumps(resources))
        archive.writestr("version.json", json.dumps({"cairo_pie": "1.1"}))
    return buffer.getvalue()
