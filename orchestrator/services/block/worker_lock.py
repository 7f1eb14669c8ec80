"""Run a singleton worker under the distributed lock, releasing it whatever happens; or wait for locks."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

from tenacity import AsyncRetrying, retry_if_result, stop_after_delay, wait_random_exponential

from orchestrator.core.clients.lock import LockClient
from orchestrator.core.errors import OrchestratorError

log = logging.getLogger("orchestrator.block")

#: The reference stores `LockValue::Boolean(false)` with every worker lock.
LOCK_VALUE = {"Boolean": False}

#: The lock keys of the batching workers (the reference's names).
AGGREGATOR_BATCHING_LOCK = "AggregatorBatchingWorker"
SNOS_BATCHING_LOCK = "SnosBatchingWorker"


class LockBusyError(OrchestratorError):
    """A lock stayed held by another owner for as long as the caller would wait."""


def new_lock_owner() -> str:
    """Unique per trigger instance, readable in the locks table."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


async def run_locked(
    lock: LockClient, key: str, owner: str, ttl_seconds: int, work: Callable[[], Awaitable[None]]
) -> bool:
    """False (and nothing run) when another owner holds the lock.

    Each run holds the lock as `owner` plus a run id: re-acquiring one's own lock renews it, so two
    overlapping runs in one process must not share an owner name. The lock is released after the work,
    also when it fails; a failed release is raised only when the work succeeded, so that the work's own
    error is never hidden.
    """
    owner = f"{owner}/{uuid.uuid4().hex[:8]}"
    if not await lock.acquire(key, owner, ttl_seconds, LOCK_VALUE):
        log.info("%s is held by %s; skipping this run", key, await lock.holder(key))
        return False
    try:
        await work()
    except BaseException:
        try:
            await lock.release(key, owner)
        except Exception:
            log.exception("failed to release %s after a failed run", key)
        raise
    await lock.release(key, owner)
    return True


@asynccontextmanager
async def holding(
    lock: LockClient, keys: Sequence[str], owner: str, ttl_seconds: int, wait_seconds: float
) -> AsyncIterator[None]:
    """Hold every key (taken in the given order), waiting up to `wait_seconds` for each; released after.

    For one-off operations that must not interleave with a worker's run (closing the open batches):
    they wait for the run to finish instead of skipping as a worker does.
    """
    owner = f"{owner}/{uuid.uuid4().hex[:8]}"
    held: list[str] = []
    try:
        for key in keys:
            if not await _acquire_waiting(lock, key, owner, ttl_seconds, wait_seconds):
                raise LockBusyError(f"{key} is held by {await lock.holder(key)}; try again later")
            held.append(key)
        yield
    finally:
        for key in reversed(held):
            await lock.release(key, owner)


async def _acquire_waiting(lock: LockClient, key: str, owner: str, ttl_seconds: int, wait_seconds: float) -> bool:
    retrying = AsyncRetrying(
        stop=stop_after_delay(wait_seconds),
        wait=wait_random_exponential(multiplier=0.05, max=1.0),
        retry=retry_if_result(lambda acquired: not acquired),
        retry_error_callback=lambda _state: False,
    )
    acquired: bool = await retrying(lock.acquire, key, owner, ttl_seconds, LOCK_VALUE)
    return acquired
