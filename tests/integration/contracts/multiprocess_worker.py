"""A separate OS process for test_local_multiprocess.py: consumes the shared SQLite queue and
CAS-updates jobs in the shared SQLite database, then reports what it did as JSON on stdout.

    python -m tests.integration.contracts.multiprocess_worker consume DB QUEUE READY_DIR NAME
    python -m tests.integration.contracts.multiprocess_worker increment DB JOB_ID COUNT READY_DIR NAME
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from pathlib import Path

from orchestrator.clients.database.sqlite import SqliteDatabaseClient
from orchestrator.clients.queue.local import SqliteQueueClient
from orchestrator.core.errors import VersionConflictError
from orchestrator.core.models.job import JobItemUpdates, JobStatus
from orchestrator.core.models.queue import QueueType, decode_job_message
from orchestrator.core.version import ORCHESTRATOR_VERSION

QUEUE = QueueType.SNOS_JOB_PROCESSING


def barrier(ready_dir: Path, name: str, parties: int = 2, timeout: float = 60) -> None:
    """Start together, so that the processes really race."""
    (ready_dir / name).touch()
    deadline = time.monotonic() + timeout
    while len(list(ready_dir.iterdir())) < parties:
        if time.monotonic() > deadline:
            raise TimeoutError("the other worker did not start")
        time.sleep(0.01)


async def consume(db_path: str, queue_path: str, ready_dir: Path, name: str) -> dict[str, object]:
    db = SqliteDatabaseClient(db_path)
    queue = SqliteQueueClient(queue_path, ORCHESTRATOR_VERSION, poll_interval_seconds=0.02)
    await db.connect()
    await queue.setup()
    barrier(ready_dir, name)
    received: list[str] = []
    completed: list[str] = []
    duplicates = conflicts = 0
    try:
        while (delivery := await queue.receive(QUEUE, wait_seconds=1.0, visibility_timeout=120)) is not None:
            received.append(delivery.message_id)
            job = await db.get_job_by_id(decode_job_message(delivery.body))
            assert job is not None
            if job.status is JobStatus.CREATED:
                metadata = job.metadata.model_copy(deep=True)
                metadata.common.process_attempt_no += 1
                try:
                    await db.update_job(job, JobItemUpdates(status=JobStatus.COMPLETED, metadata=metadata))
                    completed.append(str(job.id))
                except VersionConflictError:
                    conflicts += 1
            else:
                duplicates += 1
            await queue.ack(delivery)
    finally:
        await queue.close()
        await db.close()
    return {"received": received, "completed": completed, "duplicates": duplicates, "conflicts": conflicts}


async def increment(db_path: str, job_id: str, count: int, ready_dir: Path, name: str) -> dict[str, object]:
    db = SqliteDatabaseClient(db_path)
    await db.connect()
    barrier(ready_dir, name)
    conflicts = 0
    try:
        for _ in range(count):
            while True:
                job = await db.get_job_by_id(uuid.UUID(job_id))
                assert job is not None
                metadata = job.metadata.model_copy(deep=True)
                metadata.common.process_attempt_no += 1
                try:
                    await db.update_job(job, JobItemUpdates(metadata=metadata))
                    break
                except VersionConflictError:
                    conflicts += 1
    finally:
        await db.close()
    return {"conflicts": conflicts}


def main(argv: list[str]) -> None:
    mode, *args = argv
    if mode == "consume":
        db_path, queue_path, ready_dir, name = args
        result = asyncio.run(consume(db_path, queue_path, Path(ready_dir), name))
    elif mode == "increment":
        db_path, job_id, count, ready_dir, name = args
        result = asyncio.run(increment(db_path, job_id, int(count), Path(ready_dir), name))
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
