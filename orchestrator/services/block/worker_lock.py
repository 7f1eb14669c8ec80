"""Run a singleton worker under the distributed lock, releasing it whatever happens."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable

from orchestrator.core.clients.lock import LockClient

log = logging.getLogger("orchestrator.block")

#: The reference stores `LockValue::Boolean(false)` with every worker lock.
LOCK_VALUE = {"Boolean": False}


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
