"""The local aggregator run (L2, SHARP/Mock): one program output and PIE for a whole aggregator batch.

With SHARP and the mock prover the orchestrator runs StarkWare's Cairo aggregator program itself
(the reference's `aggregator-runner` crate) over the batch's proven SNOS outputs; the prover then
takes the resulting PIE as an applicative job whose fact is what the core contract checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class AggregatorRequest:
    batch_index: int
    start_block: int
    end_block: int
    #: the children's (SNOS batches') program outputs, in SNOS batch order
    children_outputs: list[list[int]]
    #: the children's prover job keys (the ProofCreation jobs' external ids), same order
    children_keys: list[str]
    #: the batch's DA segment: the felts its blobs carry
    da_segment: list[int]
    #: the batch's raw 131072-byte blobs, in order
    blobs: list[bytes]


@dataclass(frozen=True)
class AggregatorOutput:
    #: the aggregator's own output (without the echoed children): what the state update settles
    program_output: list[int]
    da_segment: list[int]
    cairo_pie: bytes  # the PIE zip
    fact: str  # 0x + 64 hex digits


class AggregatorError(Exception):
    """A failed aggregator run; `retryable` says whether running it again may succeed."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class AggregatorRunner(Protocol):
    async def run(self, request: AggregatorRequest) -> AggregatorOutput: ...
