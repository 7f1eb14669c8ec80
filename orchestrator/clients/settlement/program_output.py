"""The Starknet OS program output (>= 0.13.2 layout) as the settlement layer reads it.

Header words: [0] previous state root, [1] new state root, [2] previous block number, [3] new block
number, [4] previous block hash, [5] new block hash, [6] OS program hash, [7] config hash,
[8] use_kzg_da, [9] full_output. With KZG DA the next words are [10] x_0, [11] n_blobs, then
n_blobs commitments as (low, high) 192-bit limbs, then n_blobs y_0 values as (low, high) 128-bit limbs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from orchestrator.core.errors import OrchestratorError
from orchestrator.core.madara.felt import STARK_PRIME

NEW_BLOCK_NUMBER_OFFSET = 3
USE_KZG_DA_OFFSET = 8
X_0_OFFSET = 10
N_BLOBS_OFFSET = 11
COMMITMENTS_OFFSET = 12


class ProgramOutputError(OrchestratorError, ValueError):
    """A program output that cannot be read or does not fit the expected layout."""


def parse_felts(text: str, *, source: str = "program output") -> list[int]:
    """One felt per line, decimal or 0x-hex; blank lines are ignored."""
    felts: list[int] = []
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        try:
            value = int(line, 16) if line.lower().startswith("0x") else int(line, 10)
        except ValueError:
            raise ProgramOutputError(f"{source}, line {line_no}: not a decimal or 0x-hex number: {line!r}") from None
        if not 0 <= value < STARK_PRIME:
            raise ProgramOutputError(f"{source}, line {line_no}: {line} is not a felt (0 <= x < P)")
        felts.append(value)
    if not felts:
        raise ProgramOutputError(f"{source} is empty")
    return felts


def new_block_number(program_output: Sequence[int]) -> int:
    """The last L2 block the output settles."""
    if len(program_output) <= NEW_BLOCK_NUMBER_OFFSET:
        raise ProgramOutputError(f"program output has {len(program_output)} words; the header needs 10")
    return program_output[NEW_BLOCK_NUMBER_OFFSET]


@dataclass(frozen=True)
class KzgSegment:
    """The KZG data-availability part of the output: the evaluation point and, per blob, the
    commitment and the value y_0 of the blob's polynomial at x_0."""

    x_0: int
    commitments: tuple[bytes, ...]
    y_0: tuple[int, ...]

    @property
    def n_blobs(self) -> int:
        return len(self.commitments)

    @classmethod
    def from_program_output(cls, program_output: Sequence[int]) -> KzgSegment:
        out = program_output
        if len(out) <= N_BLOBS_OFFSET:
            raise ProgramOutputError(f"program output has {len(out)} words; no KZG segment (needs > 11)")
        if out[USE_KZG_DA_OFFSET] != 1:
            raise ProgramOutputError(
                f"program output does not use KZG DA: word [8] (use_kzg_da) is {out[USE_KZG_DA_OFFSET]}, "
                "expected 1 in the Starknet OS >= 0.13.2 layout"
            )
        n_blobs = out[N_BLOBS_OFFSET] & 0xFFFFFFFFFFFFFFFF  # the reference reads the low 8 bytes
        if n_blobs == 0:
            raise ProgramOutputError("program output declares 0 blobs")
        y_offset = COMMITMENTS_OFFSET + 2 * n_blobs
        if len(out) < y_offset + 2 * n_blobs:
            raise ProgramOutputError(
                f"program output has {len(out)} words; {n_blobs} blobs need {y_offset + 2 * n_blobs}"
            )
        commitments = []
        y_values = []
        for i in range(n_blobs):
            c_low, c_high = out[COMMITMENTS_OFFSET + 2 * i], out[COMMITMENTS_OFFSET + 2 * i + 1]
            y_low, y_high = out[y_offset + 2 * i], out[y_offset + 2 * i + 1]
            if c_low >= 2**192 or c_high >= 2**192:
                raise ProgramOutputError(f"blob {i}: commitment limb wider than 192 bits")
            if y_low >= 2**128 or y_high >= 2**128:
                raise ProgramOutputError(f"blob {i}: y_0 limb wider than 128 bits")
            commitments.append(c_high.to_bytes(24, "big") + c_low.to_bytes(24, "big"))
            y_values.append((y_high << 128) | y_low)
        return cls(out[X_0_OFFSET], tuple(commitments), tuple(y_values))
