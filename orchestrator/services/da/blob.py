"""Felts <-> EIP-4844 blobs.

- `felts_to_blobs(felts)`: pads the list with zeros to a multiple of 4096, treats each chunk as
  polynomial coefficients, evaluates it at the bit-reversed 4096th roots of unity (`fft.evaluate`)
  and serialises the 4096 values as 32-byte big-endian words: one 131072-byte blob per chunk.
  This is what Starknet posts on Ethereum (the reference's `convert_felt_vec_to_blob_data`).
- `blob_to_felts(blob)`: the inverse for one blob (4096 coefficients; trailing zero padding is
  not distinguishable from data, so it is kept).
- `blob_to_hex` / `blob_from_hex`: the fixtures' text form, 262144 hex characters without 0x.
"""

from __future__ import annotations

from collections.abc import Sequence

from orchestrator.services.da import fft
from orchestrator.services.da.fft import BLOB_LEN, BLS_MODULUS

BYTES_PER_FIELD_ELEMENT = 32
BYTES_PER_BLOB = BLOB_LEN * BYTES_PER_FIELD_ELEMENT


class BlobFormatError(ValueError):
    pass


def felts_to_blobs(felts: Sequence[int]) -> list[bytes]:
    blobs = []
    for start in range(0, len(felts), BLOB_LEN):
        chunk = list(felts[start : start + BLOB_LEN])
        chunk += [0] * (BLOB_LEN - len(chunk))
        blobs.append(serialize(fft.evaluate(chunk)))
    return blobs


def blob_to_felts(blob: bytes) -> list[int]:
    return fft.interpolate(deserialize(blob))


def serialize(values: Sequence[int]) -> bytes:
    return b"".join(v.to_bytes(BYTES_PER_FIELD_ELEMENT, "big") for v in values)


def deserialize(blob: bytes) -> list[int]:
    if len(blob) != BYTES_PER_BLOB:
        raise BlobFormatError(f"a blob must be {BYTES_PER_BLOB} bytes, got {len(blob)}")
    values = [
        int.from_bytes(blob[i : i + BYTES_PER_FIELD_ELEMENT], "big")
        for i in range(0, BYTES_PER_BLOB, BYTES_PER_FIELD_ELEMENT)
    ]
    for index, value in enumerate(values):
        if value >= BLS_MODULUS:
            raise BlobFormatError(f"blob element {index} is not a BLS12-381 field element")
    return values


def blob_to_hex(blob: bytes) -> str:
    return blob.hex()


def blob_from_hex(text: str) -> bytes:
    body = text.strip().removeprefix("0x")
    if len(body) != 2 * BYTES_PER_BLOB:
        raise BlobFormatError(f"a blob must be {2 * BYTES_PER_BLOB} hex characters, got {len(body)}")
    try:
        return bytes.fromhex(body)
    except ValueError:
        raise BlobFormatError("a blob must contain only hex digits") from None
