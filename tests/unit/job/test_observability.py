"""The job metrics recorded from stored status changes, the batch counts, and that a failing
recorder never fails a write."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest

from orchestrator.clients.database.sqlite import SqliteDatabaseClient
from orchestrator.core.clients.database import DatabaseClient
from orchestrator.core.models.batch import AggregatorBatch, SnosBatch
from orchestrator.core.models.job import JobItem, JobItemUpdates, JobStatus, JobType
from orchestrator.core.models.metadata import JobMetadata, SnosMetadata
from orchestrator.services.observability import instrumented_database

S = JobStatus


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.counts: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        self.gauges: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}

    def count(self, name: str, labels: Mapping[str, str], amount: float = 1.0) -> None:
        if self.fail:
            raise ValueError("broken recorder")
        key = (name, frozenset(labels.items()))
        self.counts[key] = self.counts.get(key, 0) + amount

    def gauge(self, name: str, labels: Mapping[str, str], value: float) -> None:
        if self.fail:
            raise ValueError("broken recorder")
        self.gauges[(name, frozenset(labels.items()))] = value

    def observe(self, name: str, labels: Mapping[str, str], value: float) -> None:
        pass

    @contextmanager
    def span(self, name: str, attributes: Mapping[str, str | int], trace_id: str | None = None) -> Iterator[str]:
        yield trace_id or "0" * 32

    def n(self, name: str, **labels: str) -> float:
        return self.counts.get((name, frozenset(labels.items())), 0)


@pytest.fixture
async def inner(tmp_path: Path) -> AsyncIterator[SqliteDatabaseClient]:
    db = SqliteDatabaseClient(tmp_path / "db.sqlite3")
    await db.connect()
    yield db
    await db.close()


def snos_job(i: int = 1) -> JobItem:
    meta = JobMetadata(specific=SnosMetadata(snos_batch_index=i, start_block=i, end_block=i, num_blocks=1))
    return JobItem(internal_id=i, job_type=JobType.SNOS_RUN, metadata=meta)


async def write(db: DatabaseClient, job: JobItem, status: JobStatus, **common: int | None) -> JobItem:
    meta = job.metadata.model_copy(deep=True)
    for name, value in common.items():
        setattr(meta.common, name, value)
    return await db.update_job(job, JobItemUpdates(status=status, metadata=meta))


async def test_a_job_run_is_counted_from_its_status_changes(inner: SqliteDatabaseClient) -> None:
    rec = Recorder()
    db = instrumented_database(inner, rec)
    job = await db.create_job(snos_job())
    job = await write(db, job, S.LOCKED_FOR_PROCESSING, process_started_at=100)
    job = await write(db, job, S.PENDING_VERIFICATION, process_completed_at=130)
    job = await write(db, job, S.COMPLETED, verification_completed_at=135)
    labels = {"operation_job_type": "SnosRun"}
    for operation in ("create_job", "process_job", "verify_job"):
        assert rec.n("successful_job_operations", **labels, operation_type=operation) == 1
    assert rec.n("job_state_transitions", **labels, from_state="PendingVerification", to_state="Completed") == 1
    assert rec.gauges[("verification_time", frozenset(labels.items()))] == 5000
    assert rec.gauges[("jobs_response_time", frozenset({**labels, "operation_type": "process_job"}.items()))] == 30


async def test_heal_release_failure_and_retry_are_told_apart(inner: SqliteDatabaseClient) -> None:
    rec = Recorder()
    db = instrumented_database(inner, rec)
    labels = {"operation_job_type": "SnosRun"}
    job = await db.create_job(snos_job())
    job = await write(db, job, S.LOCKED_FOR_PROCESSING, process_started_at=1)
    job = await write(db, job, S.CREATED, process_started_at=None)  # healed: no attempt was recorded
    assert rec.n("healed_jobs", **labels) == 1 and rec.n("orphaned_jobs", **labels) == 1
    job = await write(db, job, S.LOCKED_FOR_PROCESSING, process_started_at=2)
    job = await write(db, job, S.CREATED, process_retry_attempt_no=1)  # released after a failed attempt
    assert rec.n("job_retry_count", **labels, retry_reason="processing_failed") == 1
    assert rec.n("healed_jobs", **labels) == 1
    job = await write(db, job, S.FAILED)
    assert rec.n("failed_jobs", **labels) == 1
    await write(db, job, S.PENDING_RETRY)
    assert rec.n("job_retry_count", **labels, retry_reason="manual_retry") == 1


async def test_batches_are_counted_once_and_a_broken_recorder_fails_no_write(inner: SqliteDatabaseClient) -> None:
    rec = Recorder()
    db = instrumented_database(inner, rec)
    batch = await db.update_or_create_snos_batch(SnosBatch(index=1, start_block=1, end_block=1))
    await db.update_or_create_snos_batch(batch.model_copy(update={"end_block": 2}))
    await db.update_or_create_snos_batch(SnosBatch(index=2, start_block=3, end_block=3))
    assert rec.n("batch_creation", batch_type="snos") == 2
    old = AggregatorBatch(index=7, start_block=0, end_block=0)
    old.created_at -= timedelta(hours=1)  # grown after a restart: not a creation
    await db.update_or_create_aggregator_batch(old)
    assert rec.n("batch_creation", batch_type="aggregator") == 0

    broken = instrumented_database(inner, Recorder(fail=True))
    job = await broken.create_job(snos_job(5))
    stored = await write(broken, job, S.LOCKED_FOR_PROCESSING, process_started_at=1)
    assert stored.status is S.LOCKED_FOR_PROCESSING
