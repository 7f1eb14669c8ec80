"""Contract of LockClient: every implementation must pass these."""

from __future__ import annotations

import asyncio

from orchestrator.core.clients.lock import LockClient
from tests.eventually import eventually

KEY = "SnosBatchingWorker"
PROBE = "probe"


async def expired(lock: LockClient, key: str) -> None:
    """Wait until `key` has no holder: its TTL ran out on the lock's own clock (the server's, for a remote
    store), with a deadline, instead of sleeping for a guessed time."""
    await eventually(lambda: _no_holder(lock, key), timeout=10, interval=0.05, what=f"{key} expired")


async def _no_holder(lock: LockClient, key: str) -> bool:
    return await lock.holder(key) is None


async def test_acquire_release(lock: LockClient) -> None:
    assert await lock.holder(KEY) is None
    assert await lock.acquire(KEY, "a", 60, value=False)
    assert await lock.holder(KEY) == "a"
    assert not await lock.acquire(KEY, "b", 60)
    assert await lock.holder(KEY) == "a"
    assert not await lock.release(KEY, owner="b")  # not b's lock
    assert await lock.holder(KEY) == "a"
    assert await lock.release(KEY, owner="a")
    assert await lock.holder(KEY) is None
    assert not await lock.release(KEY)
    assert await lock.acquire(KEY, "b", 60)


async def test_release_without_owner_removes_any_holder(lock: LockClient) -> None:
    assert await lock.acquire(KEY, "a", 60)
    assert await lock.release(KEY)
    assert await lock.holder(KEY) is None


async def test_reacquire_by_the_holder_renews(lock: LockClient) -> None:
    assert await lock.acquire(KEY, "a", 1)
    assert await lock.acquire(PROBE, "probe", 1)  # expires when the first 1 s TTL would have
    assert await lock.acquire(KEY, "a", 60)
    await expired(lock, PROBE)
    assert await lock.holder(KEY) == "a"
    assert not await lock.acquire(KEY, "b", 60)


async def test_expired_lock_is_taken_over(lock_harness) -> None:
    a, b = await lock_harness.new_client(), await lock_harness.new_client()
    assert await a.acquire(KEY, "a", 1)
    assert not await b.acquire(KEY, "b", 60)
    await expired(a, KEY)
    assert not await a.extend(KEY, "a", 60)  # expired: no longer a's to extend
    assert await b.acquire(KEY, "b", 60)
    assert await a.holder(KEY) == "b"
    assert not await a.release(KEY, owner="a")
    assert await b.holder(KEY) == "b"


async def test_extend_moves_the_expiry(lock: LockClient) -> None:
    assert await lock.acquire(KEY, "a", 1)
    assert await lock.acquire(PROBE, "probe", 1)
    assert await lock.extend(KEY, "a", 60)
    assert not await lock.extend(KEY, "b", 60)
    await expired(lock, PROBE)
    assert await lock.holder(KEY) == "a"
    assert not await lock.extend("other-key", "a", 60)


async def test_locks_are_independent_per_key(lock: LockClient) -> None:
    assert await lock.acquire("one", "a", 60)
    assert await lock.acquire("two", "b", 60)
    assert (await lock.holder("one"), await lock.holder("two")) == ("a", "b")


async def test_concurrent_acquires_have_one_winner(lock_harness) -> None:
    clients = [await lock_harness.new_client() for _ in range(3)]
    results = await asyncio.gather(
        *(client.acquire(KEY, f"owner-{i}-{j}", 60) for i, client in enumerate(clients) for j in range(3))
    )
    assert sum(results) == 1
    holder = await clients[0].holder(KEY)
    assert holder is not None and holder.startswith("owner-")
