"""Two OS processes share one SQLite database file and one SQLite queue file: every message is
handled by exactly one of them, and every job's side effect happens exactly once."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from orchestrator.clients.database.sqlite import SqliteDatabaseClient
from orchestrator.clients.queue.local import SqliteQueueClient
from orchestrator.core.models.job import JobItem, JobStatus, JobType
from orchestrator.core.models.metadata import JobMetadata, SnosMetadata
from orchestrator.core.models.queue import QueueType, encode_job_message
from orchestrator.core.version import ORCHESTRATOR_VERSION

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
WORKER = "tests.integration.contracts.multiprocess_worker"
JOBS = 200
DUPLICATES = 50  # extra messages for jobs that already have one (a redelivery, a double enqueue)


def job(i: int) -> JobItem:
    specific = SnosMetadata(snos_batch_index=i, start_block=i, end_block=i, num_blocks=1)
    return JobItem(internal_id=i, job_type=JobType.SNOS_RUN, metadata=JobMetadata(specific=specific))


async def run_workers(*argvs: list[str]) -> list[dict[str, Any]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            WORKER,
            *argv,
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for argv in argvs
    ]
    results = []
    for proc in procs:
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise
        assert proc.returncode == 0, err.decode()[-3000:]
        results.append(json.loads(out.decode().strip().splitlines()[-1]))
    return results


@pytest.mark.parametrize("one_file", [False, True], ids=["two-files", "one-file"])
async def test_two_processes_handle_each_message_and_job_once(tmp_path: Path, one_file: bool) -> None:
    db_path, ready = tmp_path / "db.sqlite3", tmp_path / "ready"
    queue_path = db_path if one_file else tmp_path / "queue.sqlite3"
    ready.mkdir()
    db = SqliteDatabaseClient(db_path)
    queue = SqliteQueueClient(queue_path, ORCHESTRATOR_VERSION)
    jobs = [await db.create_job(job(i)) for i in range(JOBS)]
    for j in jobs:
        await queue.send(QueueType.SNOS_JOB_PROCESSING, encode_job_message(j.id))
    for j in jobs[:DUPLICATES]:
        await queue.send(QueueType.SNOS_JOB_PROCESSING, encode_job_message(j.id))

    results = await run_workers(
        ["consume", str(db_path), str(queue_path), str(ready), "a"],
        ["consume", str(db_path), str(queue_path), str(ready), "b"],
    )
    received = [m for r in results for m in r["received"]]
    completed = [j for r in results for j in r["completed"]]
    assert len(received) == JOBS + DUPLICATES
    assert len(set(received)) == len(received)  # no message was handed out twice
    assert all(r["received"] for r in results), "both processes took part"
    assert sorted(completed) == sorted(str(j.id) for j in jobs)  # each job's side effect once
    assert sum(r["duplicates"] + r["conflicts"] for r in results) == DUPLICATES

    for j in jobs:
        stored = await db.get_job_by_id(j.id)
        assert stored is not None
        assert (stored.status, stored.version, stored.metadata.common.process_attempt_no) == (
            JobStatus.COMPLETED,
            1,
            1,
        )
    assert await queue.approximate_count(QueueType.SNOS_JOB_PROCESSING) == 0
    assert await queue.in_flight_count(QueueType.SNOS_JOB_PROCESSING) == 0
    await queue.close()
    await db.close()


async def test_two_processes_compare_and_swap_one_job(tmp_path: Path) -> None:
    db_path, ready = tmp_path / "db.sqlite3", tmp_path / "ready"
    ready.mkdir()
    db = SqliteDatabaseClient(db_path)
    counter = await db.create_job(job(1))
    per_process = 100
    await run_workers(
        ["increment", str(db_path), str(counter.id), str(per_process), str(ready), "a"],
        ["increment", str(db_path), str(counter.id), str(per_process), str(ready), "b"],
    )
    stored = await db.get_job_by_id(counter.id)
    assert stored is not None
    assert stored.version == 2 * per_process  # no lost update
    assert stored.metadata.common.process_attempt_no == 2 * per_process
    await db.close()
