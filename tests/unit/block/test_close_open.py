"""Closing the open batches by hand (`POST /admin/batches/close-open`) while batching runs."""

from __future__ import annotations

import asyncio

import pytest

from orchestrator.clients.lock.sqlite import SqliteLockClient
from orchestrator.core.clients.database import AggregatorBatchQuery, SnosBatchQuery
from orchestrator.core.models.batch import AggregatorBatchStatus, SnosBatchStatus
from orchestrator.core.models.queue import Layer
from orchestrator.services.block.aggregator_batching import AggregatorBatching
from orchestrator.services.block.close_open import close_open_batches
from orchestrator.services.block.params import BatchingParams
from orchestrator.services.block.snos_batching import SnosBatching
from orchestrator.services.block.worker_lock import SNOS_BATCHING_LOCK, LockBusyError
from tests.unit.block.conftest import Env

PARAMS = BatchingParams(max_batch_processing_size=100)
DEADLINE = 5.0


class SpyLock:
    """The test's lock, telling when someone was refused a key."""

    def __init__(self, inner: SqliteLockClient) -> None:
        self.inner = inner
        self.refused = asyncio.Event()

    async def acquire(self, key: str, owner: str, ttl_seconds: int, value: object = None) -> bool:
        acquired = await self.inner.acquire(key, owner, ttl_seconds, value)
        if not acquired:
            self.refused.set()
        return acquired

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def aggregator(env: Env) -> AggregatorBatching:
    return AggregatorBatching(env.db, env.storage, env.lock, env.chain, PARAMS, clock=env.clock, lock_owner="test")


async def test_close_open_during_a_batching_run_is_not_undone_by_the_run(env: Env) -> None:
    # Defect 7 (issue 9): the admin route closed the batch in the database while a run held it in memory
    # as Open; the run's save then wrote Open back over Closed. (Written first against the old route:
    # it ended with batch 1 Open.) Closing now waits for the run's lock.
    env.chain.extend(3)
    await aggregator(env).run()
    env.chain.extend(1)
    entered, release = env.chain.hold(3)
    run = asyncio.create_task(aggregator(env).run())
    await asyncio.wait_for(entered.wait(), DEADLINE)  # the run holds batch 1 (blocks 0..2) as Open
    spy = SpyLock(env.lock)
    close = asyncio.create_task(close_open_batches(env.db, spy))  # type: ignore[arg-type]  # SpyLock forwards the rest
    await asyncio.wait_for(spy.refused.wait(), DEADLINE)  # closing waits for the run's lock
    assert not close.done()
    release.set()
    await asyncio.wait_for(run, DEADLINE)
    closed = await asyncio.wait_for(close, DEADLINE)
    assert (closed.snos, closed.aggregator) == (0, 1)
    rows = await env.db.get_aggregator_batches(AggregatorBatchQuery())
    assert [(b.start_block, b.end_block, b.status) for b in rows] == [(0, 3, AggregatorBatchStatus.CLOSED)]


async def test_close_open_closes_both_kinds_and_releases_the_locks(env: Env) -> None:
    env.chain.extend(4)
    await aggregator(env).run()
    await SnosBatching(env.db, env.lock, env.chain, PARAMS, Layer.L2, clock=env.clock).run()
    closed = await close_open_batches(env.db, env.lock)
    assert (closed.snos, closed.aggregator) == (1, 1)
    assert [b.status for b in await env.db.get_snos_batches(SnosBatchQuery())] == [SnosBatchStatus.CLOSED]
    assert await env.lock.holder(SNOS_BATCHING_LOCK) is None
    assert (await close_open_batches(env.db, env.lock)) == type(closed)(snos=0, aggregator=0)


async def test_close_open_gives_up_when_a_run_keeps_the_lock(env: Env) -> None:
    env.chain.extend(2)
    await aggregator(env).run()
    assert await env.lock.acquire(SNOS_BATCHING_LOCK, "stuck-run", 3600)
    with pytest.raises(LockBusyError, match="stuck-run"):
        await close_open_batches(env.db, env.lock, wait_seconds=0.1)
    # nothing was closed, and the lock it did take (aggregator batching's) was given back
    assert [b.status for b in await env.db.get_aggregator_batches(AggregatorBatchQuery())] == [
        AggregatorBatchStatus.OPEN
    ]
    assert await env.lock.holder("AggregatorBatchingWorker") is None
