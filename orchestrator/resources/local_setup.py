"""`orchestrator setup` for the local profile: the data directory, the SQLite database (tables and
indexes), the durable queue file and the storage directory, made by the same clients `run` uses."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from orchestrator.core.clients.database import DatabaseClient
from orchestrator.core.clients.lock import LockClient
from orchestrator.core.clients.queue import QueueClient
from orchestrator.core.clients.storage import StorageClient

Report = Callable[[str, str, str], None]


def _prepare(data_dir: Path) -> tuple[bool, set[str]]:
    existed = data_dir.is_dir()
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # private: it holds the database and queue
    return existed, {p.name for p in data_dir.iterdir()}


def _listing(data_dir: Path) -> list[Path]:
    # SQLite's side files come and go with connections; they are not resources.
    return sorted(p for p in data_dir.iterdir() if not p.name.endswith(("-wal", "-shm", "-journal")))


async def provision_local(
    data_dir: Path,
    database: DatabaseClient,
    lock: LockClient,
    queue: QueueClient,
    storage: StorageClient,
    report: Report,
) -> None:
    """Idempotent: each client creates what is missing and keeps what is there."""
    existed, before = await asyncio.to_thread(_prepare, data_dir)
    report("directory", str(data_dir), "already present" if existed else "created")
    await database.connect()
    await lock.connect()
    report("database", "jobs, batches, locks", "ready")
    await queue.setup()
    await queue.health_check()
    report("queues", "all queue types", "ready")
    await storage.setup()
    await storage.health_check()
    report("storage", "artifacts", "ready")
    for closer in (queue.close, storage.close, lock.close, database.close):
        await closer()
    for path in await asyncio.to_thread(_listing, data_dir):
        report("file", str(path), "already present" if path.name in before else "created")
