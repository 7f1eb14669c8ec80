"""The DA word: one felt per contract packing its class flag, new nonce and number of storage updates.

Layouts (chosen by the block's Starknet version):
- before 0.13.3: `class_flag << 128 | nonce << 64 | n_updates`;
- 0.13.3 and later: `nonce << 10 | n_updates << 2 | 0b10 | class_flag` when n_updates < 256,
  else `nonce << 66 | n_updates << 2 | class_flag` (bit 1 says "n_updates fits in 8 bits").
Nonces must fit in 64 bits.
"""

from __future__ import annotations

from orchestrator.services.da.version import V0_13_3, StarknetVersion

_U64 = 1 << 64


class DaWordError(ValueError):
    pass


def da_word(class_flag: bool, nonce: int | None, n_updates: int, version: StarknetVersion) -> int:
    new_nonce = nonce or 0
    if not 0 <= new_nonce < _U64:
        raise DaWordError(f"nonce {new_nonce:#x} does not fit in 64 bits")
    if not 0 <= n_updates < _U64:
        raise DaWordError(f"update count {n_updates} does not fit in 64 bits")
    if version < V0_13_3:
        return (int(class_flag) << 128) | (new_nonce << 64) | n_updates
    if n_updates < 256:
        return (new_nonce << 10) | (n_updates << 2) | 0b10 | int(class_flag)
    return (new_nonce << 66) | (n_updates << 2) | int(class_flag)
