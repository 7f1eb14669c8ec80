"""Where the devnet stands: the block settled on L1 and the orchestrator's jobs by status.

Jobs are read through the orchestrator's own HTTP API (`GET /jobs?status=...`, up to 1000 per status),
so the devnet does not depend on how the local profile stores them. The same API closes the open
batches at the end of the recorded chain (see `OrchestratorApi.close_open_batches`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import aiohttp

from orchestrator.core.models.job import JobStatus

#: Statuses that stop the pipeline until an operator acts.
STUCK = (JobStatus.FAILED, JobStatus.VERIFICATION_TIMEOUT)


@dataclass(frozen=True)
class Progress:
    settled: int  # the core contract's stateBlockNumber
    target: int  # the last block the devnet settles
    jobs: Counter[JobStatus] = field(default_factory=Counter)
    by_type: Counter[str] = field(default_factory=Counter)  # "JobType/Status"

    @property
    def reached(self) -> bool:
        return self.settled >= self.target

    @property
    def all_completed(self) -> bool:
        total = sum(self.jobs.values())
        return total > 0 and self.jobs[JobStatus.COMPLETED] == total

    @property
    def stuck(self) -> bool:
        return any(self.jobs[s] for s in STUCK)

    def line(self, first: int) -> str:
        done = max(0, self.settled - first + 1)
        statuses = ", ".join(f"{s.value} {n}" for s, n in sorted(self.jobs.items()) if n) or "none yet"
        return f"L1 settled block {self.settled} ({done}/{self.target - first + 1}) | jobs: {statuses}"


class OrchestratorApi:
    def __init__(self, base_url: str) -> None:
        self._base = base_url.rstrip("/")
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))

    async def healthy(self) -> bool:
        try:
            async with self._session.get(self._base + "/health") as response:
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def jobs(self, status: JobStatus) -> list[dict[str, str]]:
        async with self._session.get(self._base + "/jobs", params={"status": status.value}) as response:
            response.raise_for_status()
            body = await response.json()
        return list(body.get("data", {}).get("jobs", []))

    async def counts(self) -> tuple[Counter[JobStatus], Counter[str]]:
        by_status: Counter[JobStatus] = Counter()
        by_type: Counter[str] = Counter()
        for status in JobStatus:
            for job in await self.jobs(status):
                by_status[status] += 1
                by_type[f"{job['job_type']}/{status.value}"] += 1
        return by_status, by_type

    async def is_batched(self, block: int) -> bool:
        """Whether `block` is in an aggregator batch yet."""
        async with self._session.get(f"{self._base}/blocks/batch-for-block/{block}") as response:
            if response.status == 404:
                return False
            response.raise_for_status()
            return True

    async def close_open_batches(self) -> dict[str, int]:
        """Close the open SNOS and aggregator batches (the admin API; the devnet enables it).

        A batch closes when a block arrives that does not fit it (size, time, weights); the devnet's
        chain ends, so no such block comes for the last batch. Once that batch holds the last block,
        the devnet closes it as an operator would when a sequencer stops.
        """
        async with self._session.post(self._base + "/admin/batches/close-open") as response:
            response.raise_for_status()
            body = await response.json()
        return dict(body.get("data", {}))

    async def close(self) -> None:
        await self._session.close()
