"""The Starknet OS run: an external program that turns L2 blocks into a Cairo PIE."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class SnosRequest:
    start_block: int
    end_block: int
    rpc_url: str
    layout: str = "all_cairo"
    full_output: bool = False
    use_kzg_da: bool = True


@dataclass(frozen=True)
class SnosOutput:
    cairo_pie: bytes  # the PIE zip
    snos_output: list[int]  # the raw OS output felts
    program_output: list[int]
    n_steps: int | None = None
    # The fact, when the runner knows it (the devnet runner); otherwise it is computed from the PIE.
    fact: bytes | None = None


class SnosError(Exception):
    """A failed OS run; `retryable` says whether running it again may succeed."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class SnosRunner(Protocol):
    async def run(self, request: SnosRequest) -> SnosOutput: ...
