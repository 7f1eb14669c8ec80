"""Starknet field elements: the prime and the two ways felts arrive as text (defined once here)."""

from __future__ import annotations

STARK_PRIME = 2**251 + 17 * 2**192 + 1


def hex_felt(value: object) -> int:
    """A JSON-RPC felt: a 0x-hex string. ValueError otherwise (callers raise their own error kind)."""
    if isinstance(value, str):
        try:
            return int(value, 16)
        except ValueError:
            pass
    raise ValueError(f"expected a hex felt, got {value!r}")


def json_felt(value: object) -> int:
    """A felt in a JSON array written by a program: an int, or a decimal or 0x-hex string, below the prime."""
    if isinstance(value, bool):
        raise ValueError(f"a boolean is not a felt: {value!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            number = int(text, 16) if text.lower().startswith("0x") else int(text, 10)
        except ValueError:
            raise ValueError(f"not a number: {value!r}") from None
    else:
        raise ValueError(f"not a felt: {value!r}")
    if not 0 <= number < STARK_PRIME:
        raise ValueError(f"not a Starknet field element: {number:#x}")
    return number
