"""Job engine throughput on the local profile, against the raw cost of the same storage operations.

Drives N jobs through create -> process -> verify -> complete with instant handlers (one process,
SQLite database and queue in a temporary directory), counting every database and queue call. The
baseline then performs the same number of raw calls of each kind in a loop, with no engine logic.
Prints: mode | jobs | seconds | jobs/s | db ops | queue ops, and the ratio engine/baseline.

Run: `.venv/bin/python bench/bench_engine.py [--jobs N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orchestrator.clients.alerts.log import LogAlertClient  # noqa: E402
from orchestrator.clients.database.sqlite import SqliteDatabaseClient  # noqa: E402
from orchestrator.clients.queue.local import SqliteQueueClient  # noqa: E402
from orchestrator.core.models.job import JobItem, JobItemUpdates, JobType  # noqa: E402
from orchestrator.core.models.metadata import JobMetadata, SnosMetadata  # noqa: E402
from orchestrator.core.models.queue import QueueType, decode_job_message, encode_job_message  # noqa: E402
from orchestrator.core.version import ORCHESTRATOR_VERSION  # noqa: E402
from orchestrator.services.job.engine import EngineParams, JobEngine  # noqa: E402
from orchestrator.services.job.handler import Verification  # noqa: E402


class Counting:
    """Forwards every call and counts it by method name."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._inner, name)
        if not callable(target):
            return target

        async def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return await target(*args, **kwargs)

        return call


class InstantHandler:
    job_type = JobType.SNOS_RUN
    max_process_attempts = 1
    max_verification_attempts = 1
    verification_polling_delay_seconds = 0

    async def check_ready_to_process(self, job: JobItem) -> int | None:
        return None

    async def process_job(self, job: JobItem) -> str:
        return "done"

    async def verify_job(self, job: JobItem) -> Verification:
        return Verification.verified()


def snos(i: int) -> SnosMetadata:
    return SnosMetadata(snos_batch_index=i, start_block=i, end_block=i, num_blocks=1)


async def open_clients(directory: Path) -> tuple[SqliteDatabaseClient, SqliteQueueClient]:
    db = SqliteDatabaseClient(directory / "db.sqlite3")
    queue = SqliteQueueClient(directory / "queue.sqlite3", orchestrator_version=ORCHESTRATOR_VERSION)
    await db.connect()
    await queue.setup()
    return db, queue


async def drain(engine: JobEngine, queue: Any, name: QueueType, action: Any) -> int:
    handled = 0
    while (delivery := await queue.receive(name)) is not None:
        await action(decode_job_message(delivery.body))
        await queue.ack(delivery)
        handled += 1
    return handled


async def engine_run(n: int, directory: Path) -> tuple[float, Counter[str], Counter[str]]:
    raw_db, raw_queue = await open_clients(directory)
    db, queue = Counting(raw_db), Counting(raw_queue)
    engine = JobEngine(
        db, queue, LogAlertClient(), {JobType.SNOS_RUN: InstantHandler()},  # type: ignore[arg-type, dict-item]
        EngineParams(orchestrator_version=ORCHESTRATOR_VERSION),
    )  # fmt: skip
    start = time.perf_counter()
    for i in range(n):
        await engine.create_job(JobType.SNOS_RUN, i, snos(i))
    await drain(engine, queue, QueueType.SNOS_JOB_PROCESSING, engine.process_job)
    await drain(engine, queue, QueueType.SNOS_JOB_VERIFICATION, engine.verify_job)
    elapsed = time.perf_counter() - start
    done = await raw_db.get_jobs_by_types_and_statuses([JobType.SNOS_RUN], [], orchestrator_version=None)
    assert len(done) == n and all(j.status.value == "Completed" for j in done), "engine run incomplete"
    await raw_db.close()
    await raw_queue.close()
    return elapsed, db.calls, queue.calls


async def baseline_run(n: int, directory: Path, db_calls: Counter[str], queue_calls: Counter[str]) -> float:
    """The same number of raw calls of each kind, with no engine logic in between."""
    db, queue = await open_clients(directory)
    per_job = {k: v / n for k, v in (db_calls + queue_calls).items()}
    start = time.perf_counter()
    jobs: list[JobItem] = []
    for i in range(n):
        job = JobItem(internal_id=i, job_type=JobType.SNOS_RUN, metadata=JobMetadata(specific=snos(i)))
        jobs.append(await db.create_job(job))
    for _ in range(round(per_job.get("get_job_by_internal_id_and_type", 0) * n)):
        await db.get_job_by_internal_id_and_type(0, JobType.SNOS_RUN)
    for _ in range(round(per_job.get("get_job_by_id", 0) * n)):
        await db.get_job_by_id(jobs[0].id)
    writes = round(per_job.get("update_job", 0) * n)
    for k in range(writes):
        j = jobs[k % n]
        jobs[k % n] = await db.update_job(j, JobItemUpdates(metadata=j.metadata))
    body = encode_job_message(uuid.uuid4())
    for _ in range(round(per_job.get("send", 0) * n)):
        await queue.send(QueueType.SNOS_JOB_PROCESSING, body)
    while (d := await queue.receive(QueueType.SNOS_JOB_PROCESSING)) is not None:
        await queue.ack(d)
    elapsed = time.perf_counter() - start
    await db.close()
    await queue.close()
    return elapsed


async def main_async(n: int) -> None:
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        elapsed, db_calls, queue_calls = await engine_run(n, Path(a))
        base = await baseline_run(n, Path(b), db_calls, queue_calls)
    db_ops, q_ops = sum(db_calls.values()), sum(queue_calls.values())
    print(f"| {'mode':<9} | {'jobs':>5} | {'seconds':>8} | {'jobs/s':>8} | {'db ops':>7} | {'queue ops':>9} |")
    print(f"|{'-' * 11}|{'-' * 7}|{'-' * 10}|{'-' * 10}|{'-' * 9}|{'-' * 11}|")
    print(f"| {'engine':<9} | {n:>5} | {elapsed:>8.2f} | {n / elapsed:>8.1f} | {db_ops:>7} | {q_ops:>9} |")
    print(f"| {'baseline':<9} | {n:>5} | {base:>8.2f} | {n / base:>8.1f} | {db_ops:>7} | {q_ops:>9} |")
    print(f"\nengine / baseline time: {elapsed / base:.2f}x  (db calls: {dict(db_calls)}; queue: {dict(queue_calls)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=500)
    asyncio.run(main_async(parser.parse_args().jobs))


if __name__ == "__main__":
    main()
