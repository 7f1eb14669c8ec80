"""Moving a deployment of the reference onto this orchestrator: documents written exactly as the
reference writes them (raw inserts of tests/reference_documents.py) and the orchestrator continuing
the pipeline from that state, on the MongoDB(-compatible) server."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bson import Int64
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from orchestrator.clients.database.mongo_documents import as_uuid
from orchestrator.clients.database.mongodb import MongoDatabaseClient
from orchestrator.clients.lock.mongodb import MongoLockClient
from orchestrator.core.clients.database import SnosBatchQuery
from orchestrator.core.models.batch import SnosBatchStatus
from orchestrator.core.models.job import JobStatus, JobType
from orchestrator.core.models.queue import Layer
from orchestrator.core.version import ORCHESTRATOR_VERSION
from orchestrator.services.block.params import BatchingParams
from orchestrator.services.block.snos_batching import LOCK_KEY, SnosBatching
from orchestrator.services.job.engine import JobEngine
from tests import reference_documents as ref
from tests.fakes import FakeAlerts, FakeQueue
from tests.unit.block.chain import FakeChain
from tests.unit.job.support import SteeredHandler, params

Raw = AsyncDatabase[dict[str, Any]]
PROOF_ID = uuid.UUID("9d8c8a1e-3f4b-4c61-8e0f-5b0b3e1c2a10")
SNOS_ID = uuid.UUID("1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d")
BATCH_ID = uuid.UUID("7e6d5c4b-3a29-4817-a6b5-c4d3e2f1a0b9")
#: the reference's CommonMetadata fields: what it reads back (this orchestrator's extras live elsewhere)
REFERENCE_COMMON = set(ref.common())


@dataclass
class Deployment:
    raw: Raw
    url: str
    name: str


@pytest.fixture
async def deployment(mongo_url: str, mongo_database_name: str) -> AsyncIterator[Deployment]:
    """A database as the reference left it: L2, three SNOS batches in aggregator batch 1 (closed) and
    aggregator batch 2 open; SNOS batch 1 proved up to a ProofCreation job in PendingVerification,
    SNOS batch 2's SnosRun job Created; an expired batching lock."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, tz_aware=True)
    raw = client[mongo_database_name]
    v = ORCHESTRATOR_VERSION
    started = int(ref.T0.timestamp())
    await raw["jobs"].insert_many(
        [
            ref.job(
                "SnosRun",
                1,
                "Completed",
                ref.snos_specific(1, 0, 2, snos_fact="0x5", snos_n_steps=Int64(100)),
                version=4,
                external_id="1",
                common_metadata=ref.common(process_attempt_no=Int64(1), orchestrator_version=v),
            ),
            ref.job(
                "ProofCreation",
                1,
                "PendingVerification",
                ref.proving_specific(1, n_steps=100),
                job_id=PROOF_ID,
                version=2,
                external_id="task-1",
                common_metadata=ref.common(
                    process_attempt_no=Int64(1),
                    process_started_at=Int64(started),
                    process_completed_at=Int64(started + 5),
                    orchestrator_version=v,
                ),
            ),
            ref.job(
                "SnosRun",
                2,
                "Created",
                ref.snos_specific(2, 3, 5),
                job_id=SNOS_ID,
                common_metadata=ref.common(orchestrator_version=v),
            ),
        ]
    )
    await raw["aggregator_batches"].insert_many(
        [
            ref.aggregator_batch(1, 0, 7, "Closed", orchestrator_version=v),
            ref.aggregator_batch(2, 8, 9, "Open", orchestrator_version=v),
        ]
    )
    await raw["snos_batches"].insert_many(
        [
            ref.snos_batch(1, 0, 2, "SnosJobCreated", aggregator_batch_index=1, orchestrator_version=v),
            ref.snos_batch(2, 3, 5, "SnosJobCreated", aggregator_batch_index=1, orchestrator_version=v),
            ref.snos_batch(3, 6, 7, "Open", batch_id=BATCH_ID, aggregator_batch_index=1, orchestrator_version=v),
        ]
    )
    snos_of = {b: 1 if b <= 2 else 2 if b <= 5 else 3 if b <= 7 else None for b in range(10)}
    await raw["block_batch_lookups"].insert_many(
        [ref.block_batch_lookup(b, snos_of[b], 1 if b <= 7 else 2) for b in range(10)]
    )
    await raw["locks"].insert_one(ref.lock(LOCK_KEY, datetime.now(UTC) - timedelta(minutes=5)))
    try:
        yield Deployment(raw, mongo_url, mongo_database_name)
    finally:
        await client.drop_database(mongo_database_name)
        await client.close()


@pytest.fixture
async def database(deployment: Deployment) -> AsyncIterator[MongoDatabaseClient]:
    db = MongoDatabaseClient(deployment.url, deployment.name)
    await db.connect()  # adopts the reference's documents
    try:
        yield db
    finally:
        await db.close()


def engine_on(db: MongoDatabaseClient, handler: SteeredHandler) -> JobEngine:
    handlers = {JobType.PROOF_CREATION: handler, JobType.SNOS_RUN: handler}
    return JobEngine(db, FakeQueue(), FakeAlerts(), handlers, params(), clock=time.time)  # type: ignore[arg-type]


async def test_the_engine_continues_reference_jobs(deployment: Deployment, database: MongoDatabaseClient) -> None:
    handler = SteeredHandler()
    engine = engine_on(database, handler)

    pending = await database.get_job_by_id(PROOF_ID)
    assert pending is not None and pending.status is JobStatus.PENDING_VERIFICATION
    assert pending.external_id == "task-1" and pending.version == 2
    await engine.verify_job(PROOF_ID)
    proved = await database.get_job_by_id(PROOF_ID)
    assert proved is not None and proved.status is JobStatus.COMPLETED and handler.verify_calls == 1
    assert proved.metadata.common.process_attempt_no == 1 and proved.metadata.common.verification_attempt_no == 1

    await engine.process_job(SNOS_ID)
    assert (await database.get_job_by_id(SNOS_ID)).status is JobStatus.PENDING_VERIFICATION  # type: ignore[union-attr]
    await engine.verify_job(SNOS_ID)
    snos = await database.get_job_by_id(SNOS_ID)
    assert snos is not None and snos.status is JobStatus.COMPLETED and handler.process_calls == 1
    # The next trigger picks up from there: SnosRun 2 needs its proof, SnosRun 1 has one (the reference's).
    successorless = await database.get_jobs_without_successor(
        JobType.SNOS_RUN, JobStatus.COMPLETED, JobType.PROOF_CREATION
    )
    assert [j.internal_id for j in successorless] == [2]

    # Still the reference's documents: same ids, reference fields, extras only beside them.
    for job_id in (PROOF_ID, SNOS_ID):
        docs = [d async for d in deployment.raw["jobs"].find({"id_text": str(job_id)})]
        assert len(docs) == 1
        doc = docs[0]
        assert as_uuid(doc["id"]) == job_id
        assert doc["status"] == "Completed" and isinstance(doc["version"], int)
        assert set(doc["metadata"]["common"]) == REFERENCE_COMMON
        assert isinstance(doc["metadata"]["common"]["verification_completed_at"], int)
        assert doc["metadata"]["specific"]["type"] in ("Proving", "Snos")
    assert await deployment.raw["jobs"].count_documents({}) == 3


async def test_batching_continues_from_the_reference_batches(
    deployment: Deployment, database: MongoDatabaseClient
) -> None:
    lock = MongoLockClient(deployment.url, deployment.name)
    await lock.connect()
    chain = FakeChain()
    chain.extend(10)
    snos = SnosBatching(
        database, lock, chain, BatchingParams(max_batch_processing_size=100, max_blocks_per_snos_batch=3), Layer.L2
    )
    try:
        await snos.run()  # takes over the reference's expired lock
    finally:
        await lock.close()
    batches = await database.get_snos_batches(SnosBatchQuery())
    assert [(b.index, b.start_block, b.end_block, b.aggregator_batch_index, b.status) for b in batches] == [
        (1, 0, 2, 1, SnosBatchStatus.SNOS_JOB_CREATED),
        (2, 3, 5, 1, SnosBatchStatus.SNOS_JOB_CREATED),
        (3, 6, 7, 1, SnosBatchStatus.CLOSED),
        (4, 8, 9, 2, SnosBatchStatus.OPEN),
    ]
    assert batches[2].id == BATCH_ID  # the reference's batch, updated in place
    # The SnosRun trigger's next job: batch 3 (batches 1 and 2 have the reference's SnosRun jobs).
    assert [b.index for b in await database.get_snos_batches_without_jobs(SnosBatchStatus.CLOSED, 10)] == [3]
    assert await deployment.raw["snos_batches"].count_documents({}) == 4
    lookup = await database.get_block_batch_lookup(9)
    assert lookup is not None and (lookup.snos_batch_index, lookup.aggregator_batch_index) == (4, 2)
    latest = await database.get_latest_aggregator_batch()
    assert latest is not None and (latest.index, latest.start_block, latest.end_block) == (2, 8, 9)


async def test_an_unexpired_reference_lock_is_respected(deployment: Deployment) -> None:
    await deployment.raw["locks"].insert_one(ref.lock("held", datetime.now(UTC) + timedelta(minutes=5)))
    lock = MongoLockClient(deployment.url, deployment.name)
    await lock.connect()
    try:
        assert await lock.holder("held") == "reference-pod"
        assert not await lock.acquire("held", "us", 60)
        assert await lock.holder(LOCK_KEY) is None  # the expired one
        assert await lock.acquire(LOCK_KEY, "us", 60, {"Boolean": False})
        taken = await deployment.raw["locks"].find_one({"_id": LOCK_KEY})
        assert taken is not None and taken["owner"] == "us" and taken["value"] == {"Boolean": False}
        assert {"expires_at", "created_at", "updated_at"} <= set(taken)
    finally:
        await lock.close()


async def test_reference_documents_written_after_start_are_found(
    deployment: Deployment, database: MongoDatabaseClient
) -> None:
    late_id = uuid.uuid4()
    late = ref.job(
        "SnosRun",
        7,
        "PendingVerification",
        ref.snos_specific(7, 20, 22),
        job_id=late_id,
        version=2,
        common_metadata=ref.common(orchestrator_version=ORCHESTRATOR_VERSION),
    )
    await deployment.raw["jobs"].insert_one(late)  # no epoch field, no id_text
    stale = await database.get_jobs_updated_before([JobStatus.PENDING_VERIFICATION], ref.T0 + timedelta(seconds=1), 10)
    assert late_id in [j.id for j in stale]  # by its BSON date
    assert [j.internal_id for j in await database.get_jobs_by_status(JobStatus.PENDING_VERIFICATION)] == [1, 7]
    assert await database.adopt_reference_documents() == 1
    found = await database.get_job_by_id(late_id)
    assert found is not None and found.internal_id == 7
