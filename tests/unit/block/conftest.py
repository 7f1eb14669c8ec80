"""A SQLite database and lock, a local storage directory and a job engine, fresh for every test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestrator.clients.database.sqlite import SqliteDatabaseClient
from orchestrator.clients.lock.sqlite import SqliteLockClient
from orchestrator.clients.storage.local import LocalStorageClient
from orchestrator.core.version import ORCHESTRATOR_VERSION
from orchestrator.services.job.engine import EngineParams, JobEngine
from tests.fakes import FakeAlerts, FakeClock, FakeQueue
from tests.unit.block.chain import FakeChain


@dataclass
class Env:
    db: SqliteDatabaseClient
    lock: SqliteLockClient
    storage: LocalStorageClient
    queue: FakeQueue
    engine: JobEngine
    chain: FakeChain
    clock: FakeClock


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    clock = FakeClock()
    db = SqliteDatabaseClient(tmp_path / "orchestrator.db")
    lock = SqliteLockClient(tmp_path / "orchestrator.db", clock=clock)
    storage = LocalStorageClient(tmp_path / "storage", fsync=False)
    await db.connect()
    await lock.connect()
    await storage.setup()
    queue = FakeQueue(clock)
    # FakeQueue has the sends create_job makes; it omits the consumer-side members of QueueClient.
    engine = JobEngine(db, queue, FakeAlerts(), {}, EngineParams(ORCHESTRATOR_VERSION), clock=clock)  # type: ignore[arg-type]
    try:
        yield Env(db, lock, storage, queue, engine, FakeChain(), clock)
    finally:
        await lock.close()
        await db.close()
