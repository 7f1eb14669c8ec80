"""Block→L1 latency: from a block's reveal on L2 (the sequencer) to the poll that saw it settled on L1.

A block is settled once the core contract's `stateBlockNumber` reaches it; the devnet polls that every
second, so a latency is late by at most one poll interval.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (the smallest value with at least `fraction` of the values at or below)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def latency_line(latencies: Sequence[float]) -> str:
    if not latencies:
        return "latency block→L1: no block settled"
    p50, p95, top = percentile(latencies, 0.5), percentile(latencies, 0.95), max(latencies)
    return f"latency block→L1: p50 {p50:.1f}s, p95 {p95:.1f}s, max {top:.1f}s over {len(latencies)} blocks"


class SettlementTracker:
    """Settle times of the produced blocks, as the L1 state block number advances."""

    def __init__(self, first: int, produced: Mapping[int, float]) -> None:
        self.first = first
        self.produced = produced  # the sequencer's reveal times, filled as it goes
        self.settled: dict[int, float] = {}
        self._high = first - 1

    def observe(self, state_block: int, now: float) -> list[int]:
        """The blocks newly seen settled (ascending); only produced blocks can be."""
        newly = []
        for block in range(max(self._high + 1, self.first), state_block + 1):
            if block in self.produced:
                self.settled[block] = now
                newly.append(block)
        if newly:
            self._high = newly[-1]
        return newly

    def latency(self, block: int) -> float | None:
        if block not in self.settled:
            return None
        return self.settled[block] - self.produced[block]

    def latencies(self) -> list[float]:
        return [self.settled[b] - self.produced[b] for b in sorted(self.settled)]

    def line(self) -> str:
        return latency_line(self.latencies())

    def record(self) -> dict[str, dict[str, float | None]]:
        """Every produced block's reveal and settle times (seconds since the epoch) and latency."""
        return {
            str(block): {"produced": produced, "settled": self.settled.get(block), "latency": self.latency(block)}
            for block, produced in sorted(self.produced.items())
        }
