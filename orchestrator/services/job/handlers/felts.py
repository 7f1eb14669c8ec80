"""JSON arrays of felts: `snos_output.json` and the aggregator's DA segment (`da_blob.json`).

The reference writes Starknet felts with serde, i.e. as 0x-prefixed lower-case hex strings; readers
here also accept decimal strings and JSON integers, which other producers (and the command SNOS
runner's inputs) use.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from orchestrator.core.errors import OrchestratorError
from orchestrator.core.madara.felt import json_felt


class FeltJsonError(OrchestratorError, ValueError):
    """The bytes are not a JSON array of felts."""


def encode_felts_json(felts: Sequence[int]) -> bytes:
    return json.dumps([hex(value) for value in felts]).encode()


def _felt(value: object, index: int) -> int:
    try:
        return json_felt(value)
    except ValueError as exc:
        raise FeltJsonError(f"element {index}: {exc}") from None


def decode_felts_json(data: bytes) -> list[int]:
    try:
        parsed = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FeltJsonError(f"not JSON: {exc}") from None
    if not isinstance(parsed, list):
        raise FeltJsonError(f"expected a JSON array of felts, got {type(parsed).__name__}")
    return [_felt(value, index) for index, value in enumerate(parsed)]
