"""Leases: a job being processed is owned by one worker until its lease expires.

While the handler runs, the lease is renewed in the database (a compare-and-swap like every job write).
Renewals and the handler's own checkpoints go through one lock per job and both update the in-memory
job's version, so the engine's final write still applies. A renewal that loses the compare-and-swap,
or a lease that ran out before it could be renewed, means another worker may own the job now: the
handler is cancelled and the attempt ends without writing anything.

A lease is never renewed beyond the job type's handler timeout plus one lease period, and the handler
is cancelled at its timeout, so a hung handler cannot hold a job forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from orchestrator.core.errors import HandlerTimeoutError, LeaseLostError, VersionConflictError
from orchestrator.core.models.job import JobItem, JobItemUpdates, JobLease
from orchestrator.services.job.writes import JobWriter

log = logging.getLogger("orchestrator.job.lease")

T = TypeVar("T")


class Leases:
    def __init__(
        self,
        writer: JobWriter,
        clock: Callable[[], float],
        owner: str,
        lease_seconds: int,
        renew_every: float,
    ) -> None:
        self.writer = writer
        self.clock = clock
        self.owner = owner
        self.lease_seconds = lease_seconds
        self.renew_every = renew_every
        self._locks: dict[uuid.UUID, asyncio.Lock] = {}

    def new_lease(self, cap: float | None = None) -> JobLease:
        expires = self.clock() + self.lease_seconds
        if cap is not None:
            expires = min(expires, cap)
        return JobLease(owner=self.owner, expires_at=datetime.fromtimestamp(expires, UTC))

    def _expires_at(self, job: JobItem) -> float | None:
        """When the job's lease runs out; None when nothing tells (no lease and no start time)."""
        if job.lease is not None:
            return job.lease.expires_at.timestamp()
        # Locked before leases existed (or by an older version): its start time is all there is.
        started = job.metadata.common.process_started_at
        return None if started is None else started + self.lease_seconds

    def expired(self, job: JobItem) -> bool:
        """May this LockedForProcessing job be healed? Only when its lease ran out."""
        expires = self._expires_at(job)
        return expires is None or expires <= self.clock()

    def remaining(self, job: JobItem) -> int:
        """Whole seconds until the job's lease runs out (0 when it has, as `expired` tells)."""
        expires = self._expires_at(job)
        return 0 if expires is None else max(0, math.ceil(expires - self.clock()))

    async def write_serialised(self, job: JobItem, updates: JobItemUpdates) -> JobItem:
        """A write of a running job (a checkpoint), serialised with its lease renewals; `job` takes the
        new version so that the next write (renewal, checkpoint or the final one) still applies."""
        lock = self._locks.get(job.id)
        async with lock if lock is not None else contextlib.nullcontext():
            stored = await self.writer.update(job, updates)
            job.version, job.updated_at, job.lease = stored.version, stored.updated_at, stored.lease
        return stored

    async def run(self, job: JobItem, work: Awaitable[T], timeout: float) -> T:
        """Run `work` under the job's lease and timeout.

        Raises HandlerTimeoutError at the timeout, LeaseLostError when the job was taken over, and
        whatever `work` raises."""
        lock = self._locks.setdefault(job.id, asyncio.Lock())
        started = job.metadata.common.process_started_at
        cap = (started if started is not None else self.clock()) + timeout + self.lease_seconds
        handler = asyncio.ensure_future(timed(work, timeout))
        renewer = asyncio.ensure_future(self._keep(job, lock, cap))
        try:
            done, _ = await asyncio.wait({handler, renewer}, return_when=asyncio.FIRST_COMPLETED)
            if handler in done:
                return handler.result()
            handler.cancel()
            await asyncio.gather(handler, return_exceptions=True)
            renewer.result()  # raises why the lease was lost
            raise LeaseLostError(f"job {job.id}: the lease keeper stopped")
        finally:
            for task in (handler, renewer):
                task.cancel()
            await asyncio.gather(handler, renewer, return_exceptions=True)
            self._locks.pop(job.id, None)

    async def _keep(self, job: JobItem, lock: asyncio.Lock, cap: float) -> None:
        while True:
            await asyncio.sleep(self.renew_every)
            async with lock:
                await self._renew(job, cap)

    async def _renew(self, job: JobItem, cap: float) -> None:
        lease = self.new_lease(cap)
        try:
            stored = await self.writer.update(job, JobItemUpdates(lease=lease))
        except VersionConflictError as exc:
            raise LeaseLostError(f"job {job.id} was changed by someone else: {exc}") from exc
        except Exception as exc:
            # The database may be back before the lease runs out; if not, stop below.
            if job.lease is not None and job.lease.expires_at.timestamp() <= self.clock():
                raise LeaseLostError(f"job {job.id}: the lease expired and could not be renewed: {exc}") from exc
            log.warning("job %s: could not renew its lease (will try again): %s", job.id, exc)
            return
        job.version, job.updated_at, job.lease = stored.version, stored.updated_at, stored.lease


async def timed(work: Awaitable[T], timeout: float) -> T:
    """`work` under a deadline; its own TimeoutErrors stay what they are."""
    deadline = asyncio.timeout(timeout)
    try:
        async with deadline:
            return await work
    except TimeoutError:
        if deadline.expired():
            raise HandlerTimeoutError(f"the handler ran longer than its {timeout:g} s timeout") from None
        raise
