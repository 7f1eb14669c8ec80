"""The devnet's sequencer: it reveals the recorded blocks one at a time, as a chain produces them.

The recorded node serves blocks up to its chain's `latest`; the sequencer starts it at the block before
the first one to settle (served, never settled: see l2.py) and raises it by one every `block_time`
seconds. Each block's reveal time is its produced-on-L2 time: the start of its block→L1 latency, and
its header's timestamp. `block_time` 0 reveals every block at once (the throughput benchmark).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from infra.devnet.recorded_chain import RecordedChain

Clock = Callable[[], float]


class Sequencer:
    def __init__(
        self, chain: RecordedChain, first: int, last: int, block_time: float, clock: Clock = time.time
    ) -> None:
        if block_time < 0:
            raise ValueError("the block time cannot be negative")
        if first > last:
            raise ValueError(f"no block to reveal: {first} > {last}")
        self.chain = chain
        self.first = first
        self.last = last
        self.block_time = block_time
        self.clock = clock
        #: block number -> reveal time (seconds since the epoch)
        self.produced: dict[int, float] = {}
        chain.latest = first - 1

    @property
    def head(self) -> int:
        return self.chain.head

    @property
    def done(self) -> bool:
        return self.head >= self.last

    def reveal_next(self) -> int:
        """Make the next block visible on the node; its number."""
        number = self.head + 1
        if number > self.last:
            raise RuntimeError(f"every block up to {self.last} is revealed already")
        now = self.clock()
        self.produced[number] = now
        self.chain.timestamps[number] = int(now)
        self.chain.latest = number
        return number

    async def run(self) -> None:
        """Reveal every block at the cadence (the first one at once); returns after the last one."""
        if self.block_time == 0:
            while not self.done:
                self.reveal_next()
            return
        start = time.monotonic()
        revealed = 0
        while True:
            self.reveal_next()
            revealed += 1
            if self.done:
                return
            # A steady cadence: the next reveal is due at start + n * block_time, however long this took.
            await asyncio.sleep(max(0.0, start + revealed * self.block_time - time.monotonic()))
