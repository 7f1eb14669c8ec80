"""The cost of every query the triggers run on each pass, against the size of the job history.

Fills a database with a realistic history (bench/history.py: L2 and L3, 10k / 100k / 1M jobs in SQLite,
10k / 100k on the MongoDB-compatible server nx-27017) and times each trigger query as the triggers make
it (with the same lower bounds), median of several runs, in milliseconds. The anti-joins also appear as
"from id 0", the unbounded form the L3 triggers used before, for comparison. Target: each trigger query
within 2x from the smallest to the largest history.

Run: `.venv/bin/python bench/bench_queries.py [--sqlite 10000,100000,1000000] [--mongo 10000,100000]`
(`--mongo ''` skips MongoDB).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.history import History, fill_sqlite, l2_history, l3_history, mongo_docs  # noqa: E402
from orchestrator.clients.database.sqlite import SqliteDatabaseClient  # noqa: E402
from orchestrator.core.clients.database import AggregatorBatchQuery, DatabaseClient  # noqa: E402
from orchestrator.core.models.batch import AggregatorBatchStatus, SnosBatchStatus  # noqa: E402
from orchestrator.core.models.job import HALTING_STATUSES, JobStatus, JobType  # noqa: E402
from orchestrator.core.models.queue import Layer  # noqa: E402
from orchestrator.core.version import ORCHESTRATOR_VERSION as V  # noqa: E402
from orchestrator.services.block.job_window import first_unsettled_snos_batch_index  # noqa: E402

Query = Callable[[DatabaseClient], Awaitable[Any]]
C = JobStatus.COMPLETED
SWEPT = [JobStatus.CREATED, JobStatus.LOCKED_FOR_PROCESSING, JobStatus.PENDING_VERIFICATION]


def l2_queries(bound: int, head_batch: int) -> dict[str, Query]:
    """The L2 triggers' calls (snos, proving, aggregator, update_state, cleanup, halt check, sweep)."""
    before = datetime.now(UTC) - timedelta(minutes=10)
    return {
        "halted (Failed/VerificationTimeout)": lambda db: db.get_jobs_by_types_and_statuses(
            [], sorted(HALTING_STATUSES), 1, V
        ),
        "latest_job_by_type(SnosRun)": lambda db: db.get_latest_job_by_type(JobType.SNOS_RUN, V),
        "oldest_job_by_type_excluding(SnosRun, [Completed])": lambda db: db.get_oldest_job_by_type_excluding_statuses(
            JobType.SNOS_RUN, [C], V
        ),
        "oldest_job_by_type_excluding(Aggregator, [Completed])": lambda db: (
            db.get_oldest_job_by_type_excluding_statuses(JobType.AGGREGATOR, [C], V)
        ),
        "latest_job_by_type_and_status(StateTransition, Completed)": lambda db: db.get_latest_job_by_type_and_status(
            JobType.STATE_TRANSITION, C
        ),
        "snos_batches_by_aggregator_index": lambda db: db.get_snos_batches_by_aggregator_index(head_batch),
        "snos_batches_without_jobs(Closed, bound)": lambda db: db.get_snos_batches_without_jobs(
            SnosBatchStatus.CLOSED, 10, V, bound
        ),
        "jobs_without_successor(SnosRun->ProofCreation, bound)": lambda db: db.get_jobs_without_successor(
            JobType.SNOS_RUN, C, JobType.PROOF_CREATION, V, bound
        ),
        "aggregator_batch_for_block": lambda db: db.get_aggregator_batch_for_block(bound),
        "start_snos_batch_for_aggregator": lambda db: db.get_start_snos_batch_for_aggregator(head_batch),
        "aggregator_batches(Closed)": lambda db: db.get_aggregator_batches(
            AggregatorBatchQuery(statuses=[AggregatorBatchStatus.CLOSED], limit=10, orchestrator_version=V)
        ),
        "jobs_between_internal_ids(ProofCreation)": lambda db: db.get_jobs_between_internal_ids(
            JobType.PROOF_CREATION, C, bound, bound + 3
        ),
        "latest_job_by_type(StateTransition)": lambda db: db.get_latest_job_by_type(JobType.STATE_TRANSITION),
        "jobs_after_internal_id(Aggregator, settled)": lambda db: db.get_jobs_after_internal_id_by_job_type(
            JobType.AGGREGATOR, C, head_batch - 2, V
        ),
        "job_by_internal_id_and_type": lambda db: db.get_job_by_internal_id_and_type(
            head_batch - 1, JobType.AGGREGATOR
        ),
        "jobs_without_storage_artifacts_tagged": lambda db: db.get_jobs_without_storage_artifacts_tagged(50),
        "jobs_updated_before (sweep)": lambda db: db.get_jobs_updated_before(SWEPT, before, 200),
        "latest_aggregator_batch": lambda db: db.get_latest_aggregator_batch(),
        "latest_snos_batch": lambda db: db.get_latest_snos_batch(),
    }


def l3_queries(bound: int) -> dict[str, Query]:
    """The L3 proof-registration and data-submission anti-joins, bounded as the triggers make them."""
    pc, pr, ds = JobType.PROOF_CREATION, JobType.PROOF_REGISTRATION, JobType.DATA_SUBMISSION
    return {
        "L3 jobs_without_successor(ProofCreation->ProofRegistration, bound)": lambda db: db.get_jobs_without_successor(
            pc, C, pr, V, bound
        ),
        "L3 jobs_without_successor(ProofRegistration->DataSubmission, bound)": lambda db: db.get_jobs_without_successor(
            pr, C, ds, V, bound
        ),
        "L3 the same from id 0 (unbounded, for comparison)": lambda db: db.get_jobs_without_successor(pc, C, pr, V, 0),
    }


async def median_ms(db: DatabaseClient, query: Query, runs: int) -> float:
    await query(db)  # warm the cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        await query(db)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


async def time_history(db: DatabaseClient, history: History, runs: int) -> dict[str, float]:
    layer = Layer.L2 if history.layer == "l2" else Layer.L3
    bound = await first_unsettled_snos_batch_index(db, layer)
    queries = l2_queries(bound, len(history.aggregator_batches) - 1) if layer is Layer.L2 else l3_queries(bound)
    # The unbounded comparison scans the history: a few runs suffice.
    return {name: await median_ms(db, query, 3 if "from id 0" in name else runs) for name, query in queries.items()}


async def sqlite_run(size: int, runs: int) -> dict[str, float]:
    results: dict[str, float] = {}
    for make in (l2_history, l3_history):
        history = make(size)
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "db.sqlite3"
            db = SqliteDatabaseClient(path)
            await db.connect()
            started = time.perf_counter()
            await asyncio.to_thread(fill_sqlite, path, history)
            await _write_batches(db, history)
            print(f"  sqlite {history.layer} {len(history.jobs)} jobs filled in {time.perf_counter() - started:.1f}s")
            results.update(await time_history(db, history, runs))
            await db.close()
    return results


async def _write_batches(db: SqliteDatabaseClient, history: History) -> None:
    # Through the adapter (rows and block lookups as it keeps them); the jobs are the bulk of the history.
    for agg in history.aggregator_batches:
        await db.create_aggregator_batch(agg)
    for snos in history.snos_batches:
        await db.create_snos_batch(snos)


async def mongo_run(url: str, size: int, runs: int) -> dict[str, float]:
    from orchestrator.clients.database.mongodb import MongoDatabaseClient
    from orchestrator.clients.database.mongodb_batches import batch_to_doc
    from orchestrator.clients.database.mongodb_common import AGGREGATOR_BATCHES, JOBS, SNOS_BATCHES

    results: dict[str, float] = {}
    for make in (l2_history, l3_history):
        history = make(size)
        db = MongoDatabaseClient(url, database_name=f"bench_{history.layer}_{size}")
        await db.connect()
        await db.drop_all()
        await db.connect()  # the indexes again
        started = time.perf_counter()
        docs = list(mongo_docs(history))
        for i in range(0, len(docs), 10_000):
            await db._coll(JOBS).insert_many(docs[i : i + 10_000], ordered=False)
        for name, batches in ((AGGREGATOR_BATCHES, history.aggregator_batches), (SNOS_BATCHES, history.snos_batches)):
            rows = [batch_to_doc(b) for b in batches]
            for i in range(0, len(rows), 10_000):
                await db._coll(name).insert_many(rows[i : i + 10_000], ordered=False)
        print(f"  mongo {history.layer} {len(history.jobs)} jobs filled in {time.perf_counter() - started:.1f}s")
        results.update(await time_history(db, history, runs))
        await db.drop_all()
        await db.close()
    return results


def table(title: str, sizes: list[int], by_size: dict[int, dict[str, float]]) -> None:
    names = list(next(iter(by_size.values())))
    head = " | ".join(f"{s:>9,}" for s in sizes)
    print(f"\n{title} (median ms)\n{'query':<70} | {head} | ratio")
    for name in names:
        cells = [by_size[s][name] for s in sizes]
        ratio = cells[-1] / cells[0] if cells[0] else float("inf")
        print(f"{name:<70} | " + " | ".join(f"{c:>9.3f}" for c in cells) + f" | {ratio:5.1f}x")


def sizes(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sqlite", type=sizes, default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--mongo", type=sizes, default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    if args.sqlite:
        sqlite = {size: await sqlite_run(size, args.runs) for size in args.sqlite}
        table("SQLite", args.sqlite, sqlite)
    if args.mongo:
        from infra.launch.mongo import start_mongo

        server = await asyncio.to_thread(start_mongo, None, "bench-nx27017")
        try:
            mongo = {size: await mongo_run(server.url, size, args.runs) for size in args.mongo}
        finally:
            server.stop()
        table("MongoDB (nx-27017)", args.mongo, mongo)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
