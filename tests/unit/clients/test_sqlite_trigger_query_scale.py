"""The trigger queries cost the work ahead, not the history: counted in SQLite VM instructions
(deterministic, unlike time) on a realistic history of 1k and 10k jobs, the same head in both."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bench.history import History, fill_sqlite, l2_history, l3_history
from orchestrator.clients.database.sqlite import SqliteDatabaseClient
from orchestrator.core.models.job import JobStatus, JobType
from orchestrator.core.models.queue import Layer
from orchestrator.core.version import ORCHESTRATOR_VERSION as V
from orchestrator.services.block.job_triggers import JobTriggers
from orchestrator.services.block.job_window import first_unsettled_snos_batch_index
from orchestrator.services.block.params import JobTriggerParams

C = JobStatus.COMPLETED
Query = Callable[[SqliteDatabaseClient], Awaitable[Any]]


async def filled(path: Path, history: History) -> SqliteDatabaseClient:
    db = SqliteDatabaseClient(path)
    await db.connect()
    fill_sqlite(path, history)
    return db


async def instructions(db: SqliteDatabaseClient, query: Query) -> int:
    """SQLite VM instructions (in steps of 10) the query executes."""
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    await db._db.read(lambda conn: conn.set_progress_handler(count, 10))
    try:
        await query(db)
    finally:
        await db._db.read(lambda conn: conn.set_progress_handler(None, 10))
    return steps[0]


async def cost_at(tmp_path: Path, make: Callable[[int], History], query: Query) -> tuple[int, int]:
    costs = []
    for size in (1_000, 10_000):
        db = await filled(tmp_path / f"{size}.sqlite3", make(size))
        try:
            costs.append(await instructions(db, query))
        finally:
            await db.close()
    return costs[0], costs[1]


async def _anti_join_from_bound(db: SqliteDatabaseClient) -> Any:
    bound = await first_unsettled_snos_batch_index(db, Layer.L3)
    return await db.get_jobs_without_successor(JobType.PROOF_CREATION, C, JobType.PROOF_REGISTRATION, V, bound)


QUERIES: dict[str, tuple[Callable[[int], History], Query]] = {
    "oldest unfinished SnosRun": (
        l2_history,
        lambda db: db.get_oldest_job_by_type_excluding_statuses(JobType.SNOS_RUN, [C], V),
    ),
    "oldest unfinished Aggregator": (
        l2_history,
        lambda db: db.get_oldest_job_by_type_excluding_statuses(JobType.AGGREGATOR, [C], V),
    ),
    "untagged StateTransition jobs": (l2_history, lambda db: db.get_jobs_without_storage_artifacts_tagged(50)),
    "L3 anti-join from the first unsettled batch": (l3_history, _anti_join_from_bound),
}


@pytest.mark.parametrize("name", list(QUERIES))
async def test_a_trigger_query_does_not_grow_with_the_history(tmp_path: Path, name: str) -> None:
    make, query = QUERIES[name]
    small, large = await cost_at(tmp_path, make, query)
    # 10x the history: a scan would cost ~10x; an index seek a few more steps at most.
    assert large <= 2 * small + 20, (small, large)


async def test_the_oldest_unfinished_job_is_still_the_oldest(tmp_path: Path) -> None:
    db = await filled(tmp_path / "db.sqlite3", l2_history(200))
    try:
        oldest = await db.get_oldest_job_by_type_excluding_statuses(JobType.PROOF_CREATION, [C], V)
        unfinished = await db.get_jobs_by_types_and_statuses([JobType.PROOF_CREATION], [JobStatus.PENDING_VERIFICATION])
        assert oldest is not None and oldest.internal_id == min(j.internal_id for j in unfinished)
        assert oldest.status is JobStatus.PENDING_VERIFICATION
        assert await db.get_oldest_job_by_type_excluding_statuses(JobType.PROOF_CREATION, [C], "0.0.0") is None
    finally:
        await db.close()


async def test_the_untagged_query_reads_the_partial_index(tmp_path: Path) -> None:
    db = SqliteDatabaseClient(tmp_path / "db.sqlite3")
    await db.connect()
    try:
        plan = await db._db.read(
            lambda conn: conn.execute(
                "EXPLAIN QUERY PLAN SELECT data FROM jobs INDEXED BY jobs_untagged WHERE job_type = 'StateTransition'"
                " AND status = 'Completed' AND artifacts_tagged = 0"
            ).fetchall()
        )
        assert "jobs_untagged" in str([tuple(r) for r in plan])
    finally:
        await db.close()


class _Created:
    def __init__(self) -> None:
        self.created: list[tuple[JobType, int]] = []

    async def create_job(self, job_type: JobType, internal_id: int, specific: Any) -> None:
        self.created.append((job_type, internal_id))


async def test_l3_triggers_start_from_the_first_unsettled_batch(tmp_path: Path) -> None:
    """A settled batch's proof without a registration (an old, repaired history) is not the work
    ahead: the L3 triggers look only from the first unsettled batch on."""
    history = l3_history(100)  # SNOS batches 1..20: up to 18 settled, 19 settling, 20 proven
    db = await filled(tmp_path / "db.sqlite3", history)
    try:
        stale = await db.get_job_by_internal_id_and_type(3, JobType.PROOF_REGISTRATION)
        assert stale is not None
        await db._db.write(lambda conn: conn.execute("DELETE FROM jobs WHERE id = ?", (str(stale.id),)))
        jobs = _Created()
        triggers = JobTriggers(db, jobs, JobTriggerParams(layer=Layer.L3))  # type: ignore[arg-type]
        await triggers.proof_registration()
        assert jobs.created == [(JobType.PROOF_REGISTRATION, 20)]  # the newest proof only
    finally:
        await db.close()
