"""MongoDB specifics beyond the contract suite: the stored shape, the indexes, and anti-joins
that span several bounded windows."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from pymongo import AsyncMongoClient

from orchestrator.clients.database.mongo_documents import as_uuid
from orchestrator.clients.database.mongodb import ANTI_JOIN_WINDOW, MongoDatabaseClient, redact_url
from orchestrator.clients.lock.mongodb import MongoLockClient
from orchestrator.core.errors import ServiceUnavailableError
from orchestrator.core.models.batch import SnosBatch, SnosBatchStatus
from orchestrator.core.models.job import JobItem, JobItemUpdates, JobStatus, JobType
from orchestrator.core.models.metadata import JobMetadata, ProvingMetadata, SnosMetadata


@pytest.fixture
async def database(mongo_url: str, mongo_database_name: str) -> AsyncIterator[MongoDatabaseClient]:
    client = MongoDatabaseClient(mongo_url, mongo_database_name)
    await client.connect()
    yield client
    await client.drop_all()
    await client.close()


def snos_job(i: int, status: JobStatus = JobStatus.COMPLETED) -> JobItem:
    meta = JobMetadata(specific=SnosMetadata(snos_batch_index=i, start_block=i, end_block=i, num_blocks=1))
    return JobItem(internal_id=i, job_type=JobType.SNOS_RUN, status=status, metadata=meta)


def proving_job(i: int) -> JobItem:
    return JobItem(
        internal_id=i, job_type=JobType.PROOF_CREATION, metadata=JobMetadata(specific=ProvingMetadata(block_number=i))
    )


async def test_stored_shape_and_indexes(
    database: MongoDatabaseClient, mongo_url: str, mongo_database_name: str
) -> None:
    job = await database.create_job(snos_job(1, JobStatus.CREATED))
    updated = await database.update_job(job, JobItemUpdates(status=JobStatus.LOCKED_FOR_PROCESSING))
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongo_url, tz_aware=True)
    try:
        doc = await client[mongo_database_name]["jobs"].find_one({"id_text": str(job.id)})
        assert doc is not None
        # Binary subtype 4, as the reference (the test server keeps the bytes but drops the subtype)
        assert isinstance(doc["id"], bytes) and getattr(doc["id"], "subtype", 4) == 4
        assert as_uuid(doc["id"]) == job.id and doc["id_text"] == str(job.id)
        assert doc["internal_id"] == 1 and doc["version"] == 1 and doc["status"] == "LockedForProcessing"
        assert isinstance(doc["created_at"], datetime)
        assert doc["updated_at_ts"] == updated.updated_at.timestamp()
        assert doc["metadata"]["specific"]["type"] == "Snos"  # type: ignore[index]
        info = await client[mongo_database_name]["jobs"].index_information()
        unique = [v["key"] for v in info.values() if v.get("unique")]
        assert any([k for k, _ in key] == ["job_type", "internal_id"] for key in unique)
        batch_info = await client[mongo_database_name]["snos_batches"].index_information()
        assert sum(1 for v in batch_info.values() if v.get("unique")) == 3  # index, start_block, end_block
    finally:
        await client.close()


async def test_anti_join_spans_several_windows(database: MongoDatabaseClient) -> None:
    total = ANTI_JOIN_WINDOW * 2 + 17
    jobs = [snos_job(i) for i in range(total)]
    for job in jobs:
        await database.create_job(job)
    with_successor = set(range(0, total, 3))
    for i in sorted(with_successor):
        await database.create_job(proving_job(i))
    found = await database.get_jobs_without_successor(JobType.SNOS_RUN, JobStatus.COMPLETED, JobType.PROOF_CREATION)
    expected = [i for i in range(total) if i not in with_successor]
    assert [j.internal_id for j in found] == expected
    limited = await database.get_jobs_without_successor(
        JobType.SNOS_RUN, JobStatus.COMPLETED, JobType.PROOF_CREATION, min_internal_id=600, limit=5
    )
    assert [j.internal_id for j in limited] == [i for i in expected if i >= 600][:5]


async def test_batches_without_jobs_across_windows(database: MongoDatabaseClient) -> None:
    total = ANTI_JOIN_WINDOW + 30
    for i in range(total):
        await database.create_snos_batch(SnosBatch(index=i, start_block=i, end_block=i, status=SnosBatchStatus.CLOSED))
    for i in range(0, ANTI_JOIN_WINDOW + 10):
        await database.create_job(snos_job(i))
    found = await database.get_snos_batches_without_jobs(SnosBatchStatus.CLOSED, limit=100)
    assert [b.index for b in found] == list(range(ANTI_JOIN_WINDOW + 10, total))


async def test_unreachable_server_is_a_clear_error() -> None:
    client = MongoDatabaseClient("mongodb://user:secret@127.0.0.1:9", server_selection_timeout_ms=300)
    with pytest.raises(ServiceUnavailableError, match=r"127\.0\.0\.1:9") as info:
        await client.health_check()
    assert "secret" not in str(info.value)
    await client.close()
    assert redact_url("mongodb://u:p@h:1/db") == "mongodb://u:***@h:1/db"


async def test_lock_takeover_after_expiry_with_a_clock(mongo_url: str, mongo_database_name: str) -> None:
    # A real-time clock moved forward by hand: expires_at must stay in the future of the server's
    # clock, or the TTL index may remove the lock on its own.
    now = [time.time()]
    a = MongoLockClient(mongo_url, mongo_database_name, clock=lambda: now[0])
    b = MongoLockClient(mongo_url, mongo_database_name, clock=lambda: now[0])
    await a.connect()
    try:
        assert await a.acquire("batching", "a", ttl_seconds=10)
        assert not await b.acquire("batching", "b", ttl_seconds=10)
        now[0] += 11
        assert await a.holder("batching") is None
        assert await b.acquire("batching", "b", ttl_seconds=10)
        assert not await a.extend("batching", "a", 10)
        assert await b.extend("batching", "b", 10)
        assert await a.holder("batching") == "b"
    finally:
        await a.release("batching")
        await a.close()
        await b.close()
