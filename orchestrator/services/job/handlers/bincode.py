"""`program_output.txt`: bincode 1.x of a Rust `Vec<[u8; 32]>`, the reference's program-output file.

Layout: the element count as an 8-byte little-endian integer, then each felt as 32 big-endian bytes.
"""

from __future__ import annotations

from collections.abc import Sequence

from orchestrator.core.errors import OrchestratorError

_LENGTH_BYTES = 8
_WORD_BYTES = 32


class BincodeError(OrchestratorError, ValueError):
    """The bytes are not a bincode `Vec<[u8; 32]>`."""


def encode_felts(felts: Sequence[int]) -> bytes:
    for index, value in enumerate(felts):
        if not 0 <= value < 2 ** (8 * _WORD_BYTES):
            raise BincodeError(f"program output word {index} does not fit 32 bytes: {value:#x}")
    body = b"".join(value.to_bytes(_WORD_BYTES, "big") for value in felts)
    return len(felts).to_bytes(_LENGTH_BYTES, "little") + body


def decode_felts(data: bytes) -> list[int]:
    if len(data) < _LENGTH_BYTES:
        raise BincodeError(f"a bincode vector needs an {_LENGTH_BYTES}-byte length; got {len(data)} bytes")
    count = int.from_bytes(data[:_LENGTH_BYTES], "little")
    body = data[_LENGTH_BYTES:]
    if len(body) != count * _WORD_BYTES:
        raise BincodeError(f"the length says {count} words ({count * _WORD_BYTES} bytes), the body has {len(body)}")
    return [int.from_bytes(body[i : i + _WORD_BYTES], "big") for i in range(0, len(body), _WORD_BYTES)]
