"""Reading what the L3 settlement needs from a Stone proof JSON (`proof.json`, `proof_part2.json`).

A proof's public input lists the memory segments (`memory_segments`: name -> begin_addr/stop_ptr)
and the public memory (`public_memory`: address, value, page). The program's output is the tail of
the main page (page 0) as long as the output segment (`stop_ptr - begin_addr`): the reference's
`calculate_output`, which takes segment 2 of the sorted segments (program, execution, output, ...).
"""

from __future__ import annotations

import json
from typing import Any

from orchestrator.core.errors import OrchestratorError

OUTPUT_SEGMENT = "output"


class StarkProofError(OrchestratorError, ValueError):
    """The bytes are not a Stone proof with a readable public input."""


def parse_proof(data: bytes) -> dict[str, Any]:
    """The proof as JSON, checked to carry a public input with memory segments and public memory."""
    try:
        proof = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StarkProofError(f"the proof is not JSON: {exc}") from None
    if not isinstance(proof, dict):
        raise StarkProofError("the proof is not a JSON object")
    public_input = proof.get("public_input")
    if not isinstance(public_input, dict):
        raise StarkProofError("the proof has no public_input object")
    if not isinstance(public_input.get("memory_segments"), dict):
        raise StarkProofError("the proof's public input has no memory_segments")
    if not isinstance(public_input.get("public_memory"), list):
        raise StarkProofError("the proof's public input has no public_memory list")
    return proof


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise StarkProofError(f"{what} is not a number: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value, 16) if value.lower().startswith("0x") else int(value, 10)
        except ValueError:
            pass
    raise StarkProofError(f"{what} is not a number: {value!r}")


def public_output(data: bytes) -> list[int]:
    """The program output a proof attests to."""
    public_input = parse_proof(data)["public_input"]
    segment = public_input["memory_segments"].get(OUTPUT_SEGMENT)
    if not isinstance(segment, dict):
        raise StarkProofError("the proof's public input has no output segment")
    length = _int(segment.get("stop_ptr"), "output stop_ptr") - _int(segment.get("begin_addr"), "output begin_addr")
    if length < 0:
        raise StarkProofError(f"the output segment ends before it begins (length {length})")
    main_page = []
    for index, cell in enumerate(public_input["public_memory"]):
        if not isinstance(cell, dict):
            raise StarkProofError(f"public memory cell {index} is not an object")
        if _int(cell.get("page", 0), f"page of public memory cell {index}") == 0:
            main_page.append(_int(cell.get("value"), f"value of public memory cell {index}"))
    if length > len(main_page):
        raise StarkProofError(f"the output segment has {length} cells, the main page only {len(main_page)}")
    return main_page[len(main_page) - length :] if length else []
