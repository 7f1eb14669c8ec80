"""The chain's details (chain id, fee tokens), fetched from the node once and shared.

`Container.start()` asks first, so the orchestrator does not start against a node it cannot read
(the node client retries for up to its deadline, as the reference: every 5 s for 5 minutes); the
Atlantic buckets and the command runners then get the same answer without asking the node again.
"""

from __future__ import annotations

import asyncio

from orchestrator.core.madara.node import ChainDetails, ChainDetailsSource


class CachedChainDetails:
    def __init__(self, source: ChainDetailsSource) -> None:
        self._source = source
        self._details: ChainDetails | None = None
        self._lock = asyncio.Lock()

    async def chain_details(self) -> ChainDetails:
        if self._details is None:
            async with self._lock:  # concurrent first callers share one fetch
                if self._details is None:
                    self._details = await self._source.chain_details()
        return self._details
