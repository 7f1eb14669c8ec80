"""JSON arrays of felts: `snos_output.json` and the aggregator's DA segment (`da_blob.json`).

The reference writes Starknet felts with serde, i.e. as 0x-prefixed lower-case hex strings; readers
here also accept decimal strings and JSON integers, which other producers (and the command SNOS
runner's inputs) use.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from orchestrator.core.errors import OrchestratorError

STARK_PRIME = 2**251 + 17 * 2**192 + 1


class FeltJsonError(OrchestratorError, ValueError):
    """The bytes are not a JSON array of felts."""


def encode_felts_json(felts: Sequence[int]) -> bytes:
    return json.dumps([hex(value) for value in felts]).encode()


def _felt(value: object, index: int) -> int:
    if isinstance(value, bool):
        raise FeltJsonError(f"element {index} is a boolean, not a felt")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            number = int(text, 16) if text.lower().startswith("0x") else int(text, 10)
        except ValueError:
            raise FeltJsonError(f"element {index} is not a number: {value!r}") from None
    else:
        raise FeltJsonError(f"element {index} is not a felt: {value!r}")
    if not 0 <= number < STARK_PRIME:
        raise FeltJsonError(f"element {index} is not a Starknet field element: {number:#x}")
    return number


def decode_felts_json(data: bytes) -> list[int]:
    try:
        parsed = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FeltJsonError(f"not JSON: {exc}") from None
    if not isinstance(parsed, list):
        raise FeltJsonError(f"expected a JSON array of felts, got {type(parsed).__name__}")
    return [_felt(value, index) for index, value in enumerate(parsed)]
