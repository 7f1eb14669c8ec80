"""Contract of DatabaseClient: every implementation must pass these (see contract_backends.py).

The job tests take `jobs` (a JobRepository): they also run against the in-memory fake of tests/fakes.py,
which the unit tests of the services use, so the fake cannot drift from the real stores."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from orchestrator.core.clients.database import (
    AggregatorBatchQuery,
    BatchAlreadyExistsError,
    DatabaseClient,
    JobRepository,
    SnosBatchQuery,
)
from orchestrator.core.errors import (
    EmptyUpdateError,
    JobAlreadyExistsError,
    NotFoundError,
    VersionConflictError,
)
from orchestrator.core.models.batch import (
    AggregatorBatch,
    AggregatorBatchStatus,
    SnosBatch,
    SnosBatchStatus,
)
from orchestrator.core.models.job import JobItem, JobItemUpdates, JobStatus, JobType
from orchestrator.core.models.metadata import (
    AggregatorMetadata,
    CommonMetadata,
    DaMetadata,
    JobMetadata,
    ProvingInputType,
    ProvingMetadata,
    SettlementContext,
    SnosMetadata,
    StateUpdateMetadata,
)

S = JobStatus
T = JobType
V1 = "0.1.0"


def _common(version: str) -> CommonMetadata:
    return CommonMetadata(orchestrator_version=version)


def snos(
    i: int, status: JobStatus = S.CREATED, start: int | None = None, end: int | None = None, version: str = V1
) -> JobItem:
    start = i * 10 if start is None else start
    end = start + 9 if end is None else end
    specific = SnosMetadata(snos_batch_index=i, start_block=start, end_block=end, num_blocks=end - start + 1)
    return JobItem(
        internal_id=i,
        job_type=T.SNOS_RUN,
        status=status,
        metadata=JobMetadata(common=_common(version), specific=specific),
    )


def proving(i: int, status: JobStatus = S.CREATED, block: int | None = None, version: str = V1) -> JobItem:
    specific = ProvingMetadata(
        block_number=i if block is None else block, input_path=ProvingInputType.cairo_pie(f"{i}/cairo_pie.zip")
    )
    return JobItem(
        internal_id=i,
        job_type=T.PROOF_CREATION,
        status=status,
        metadata=JobMetadata(common=_common(version), specific=specific),
    )


def da(i: int, status: JobStatus = S.CREATED, block: int | None = None) -> JobItem:
    specific = DaMetadata(block_number=i if block is None else block)
    return JobItem(
        internal_id=i,
        job_type=T.DATA_SUBMISSION,
        status=status,
        metadata=JobMetadata(common=_common(V1), specific=specific),
    )


def state(
    i: int, status: JobStatus = S.CREATED, to_settle: int | None = None, tagged: datetime | None = None
) -> JobItem:
    specific = StateUpdateMetadata(
        context=SettlementContext(to_settle=i if to_settle is None else to_settle), storage_artifacts_tagged_at=tagged
    )
    return JobItem(
        internal_id=i,
        job_type=T.STATE_TRANSITION,
        status=status,
        metadata=JobMetadata(common=_common(V1), specific=specific),
    )


def aggregator(i: int, status: JobStatus = S.CREATED) -> JobItem:
    specific = AggregatorMetadata(batch_num=i)
    return JobItem(
        internal_id=i, job_type=T.AGGREGATOR, status=status, metadata=JobMetadata(common=_common(V1), specific=specific)
    )


async def create_all(db: JobRepository, *jobs: JobItem) -> list[JobItem]:
    return [await db.create_job(job) for job in jobs]


def ids(jobs: list[JobItem]) -> list[int]:
    return [job.internal_id for job in jobs]


def keys(jobs: list[JobItem]) -> list[tuple[str, int]]:
    return [(job.job_type.value, job.internal_id) for job in jobs]


# --- create / get -----------------------------------------------------------------------------


async def test_create_then_get_round_trips_the_whole_record(jobs: JobRepository) -> None:
    job = proving(7, block=70)
    job.external_id = "task-7"
    job.metadata.common.record_failure("first")
    await jobs.create_job(job)

    assert await jobs.get_job_by_id(job.id) == job
    assert await jobs.get_job_by_internal_id_and_type(7, T.PROOF_CREATION) == job
    assert await jobs.get_job_by_internal_id_and_type(7, T.SNOS_RUN) is None
    assert await jobs.get_job_by_id(snos(1).id) is None


async def test_create_is_idempotent_on_type_and_internal_id(jobs: JobRepository) -> None:
    first = await jobs.create_job(snos(1))
    with pytest.raises(JobAlreadyExistsError):
        await jobs.create_job(snos(1))  # another id, same (job_type, internal_id)
    await jobs.create_job(proving(1))  # same internal_id, other type: fine

    stored = await jobs.get_job_by_internal_id_and_type(1, T.SNOS_RUN)
    assert stored is not None and stored.id == first.id


async def test_concurrent_creates_from_two_clients_have_one_winner(jobs_harness) -> None:
    a, b = await jobs_harness.new_client(), await jobs_harness.new_client()
    results = await asyncio.gather(
        *(client.create_job(snos(5)) for client in (a, b, a, b, a, b)), return_exceptions=True
    )
    winners = [r for r in results if isinstance(r, JobItem)]
    assert len(winners) == 1
    assert all(isinstance(r, JobAlreadyExistsError) for r in results if not isinstance(r, JobItem))
    stored = await b.get_job_by_internal_id_and_type(5, T.SNOS_RUN)
    assert stored is not None and stored.id == winners[0].id


async def test_get_jobs_by_internal_ids_and_type_is_sorted(jobs: JobRepository) -> None:
    await create_all(jobs, snos(3), snos(1), snos(2), proving(2))
    found = await jobs.get_jobs_by_internal_ids_and_type([3, 1, 9], T.SNOS_RUN)
    assert keys(found) == [("SnosRun", 1), ("SnosRun", 3)]
    assert await jobs.get_jobs_by_internal_ids_and_type([], T.SNOS_RUN) == []


# --- compare-and-swap update ------------------------------------------------------------------


async def test_update_is_a_compare_and_swap_on_version(jobs: JobRepository) -> None:
    old_stamp = datetime(2020, 1, 1, tzinfo=UTC)
    job = snos(1)
    job.updated_at = old_stamp
    job.external_id = "keep-me"
    await jobs.create_job(job)

    metadata = job.metadata.model_copy(deep=True)
    metadata.common.process_attempt_no = 1
    updated = await jobs.update_job(job, JobItemUpdates(status=S.LOCKED_FOR_PROCESSING, metadata=metadata))
    assert updated.version == 1
    assert updated.status is S.LOCKED_FOR_PROCESSING
    assert updated.metadata.common.process_attempt_no == 1
    assert updated.external_id == "keep-me"  # not in the update: unchanged
    assert updated.updated_at > old_stamp
    assert updated.created_at == job.created_at
    assert await jobs.get_job_by_id(job.id) == updated

    with pytest.raises(VersionConflictError):  # `job` still says version 0
        await jobs.update_job(job, JobItemUpdates(status=S.COMPLETED))
    stored = await jobs.get_job_by_id(job.id)
    assert stored is not None and stored.status is S.LOCKED_FOR_PROCESSING and stored.version == 1

    again = await jobs.update_job(updated, JobItemUpdates(external_id=42))
    assert again.version == 2 and again.external_id == 42 and again.status is S.LOCKED_FOR_PROCESSING


async def test_update_rejects_empty_updates_and_unknown_jobs(jobs: JobRepository) -> None:
    job = (await create_all(jobs, snos(1)))[0]
    with pytest.raises(EmptyUpdateError):
        await jobs.update_job(job, JobItemUpdates())
    with pytest.raises(VersionConflictError):
        await jobs.update_job(snos(2), JobItemUpdates(status=S.COMPLETED))


async def test_concurrent_updates_of_one_version_have_one_winner(jobs_harness) -> None:
    a, b = await jobs_harness.new_client(), await jobs_harness.new_client()
    job = await a.create_job(snos(1))
    results = await asyncio.gather(
        *(
            client.update_job(job, JobItemUpdates(status=status))
            for client, status in ((a, S.LOCKED_FOR_PROCESSING), (b, S.COMPLETED), (a, S.FAILED), (b, S.PENDING_RETRY))
        ),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, JobItem)]
    assert len(winners) == 1
    assert sum(isinstance(r, VersionConflictError) for r in results) == 3
    stored = await b.get_job_by_id(job.id)
    assert stored is not None and stored.version == 1 and stored.status is winners[0].status


async def test_a_second_client_sees_what_the_first_wrote(jobs_harness) -> None:
    a = await jobs_harness.new_client()
    job = await a.create_job(snos(1))
    await a.update_job(job, JobItemUpdates(status=S.COMPLETED))
    b = await jobs_harness.new_client()
    stored = await b.get_job_by_id(job.id)
    assert stored is not None and stored.status is S.COMPLETED and stored.version == 1


# --- query patterns ---------------------------------------------------------------------------


async def test_latest_and_oldest_by_type(jobs: JobRepository) -> None:
    await create_all(
        jobs,
        snos(1, S.COMPLETED),
        snos(2, S.COMPLETED, version="0.0.9"),
        snos(3, S.FAILED, version="0.0.9"),
        snos(4, S.CREATED),
        proving(9, S.COMPLETED),
    )
    latest = await jobs.get_latest_job_by_type(T.SNOS_RUN)
    assert latest is not None and latest.internal_id == 4
    latest_old = await jobs.get_latest_job_by_type(T.SNOS_RUN, orchestrator_version="0.0.9")
    assert latest_old is not None and latest_old.internal_id == 3
    assert await jobs.get_latest_job_by_type(T.AGGREGATOR) is None

    done = await jobs.get_latest_job_by_type_and_status(T.SNOS_RUN, S.COMPLETED)
    assert done is not None and done.internal_id == 2
    assert await jobs.get_latest_job_by_type_and_status(T.SNOS_RUN, S.PENDING_RETRY) is None

    oldest = await jobs.get_oldest_job_by_type_excluding_statuses(T.SNOS_RUN, [S.COMPLETED])
    assert oldest is not None and oldest.internal_id == 3
    oldest_v1 = await jobs.get_oldest_job_by_type_excluding_statuses(T.SNOS_RUN, [S.COMPLETED], V1)
    assert oldest_v1 is not None and oldest_v1.internal_id == 4
    assert await jobs.get_oldest_job_by_type_excluding_statuses(T.PROOF_CREATION, [S.COMPLETED]) is None
    any_status = await jobs.get_oldest_job_by_type_excluding_statuses(T.SNOS_RUN, [])
    assert any_status is not None and any_status.internal_id == 1


async def test_jobs_without_successor_is_an_anti_join(jobs: JobRepository) -> None:
    await create_all(
        jobs,
        *(snos(i, S.COMPLETED) for i in range(1, 7)),
        snos(7, S.CREATED),  # wrong status
        snos(8, S.COMPLETED, version="0.0.9"),
        proving(2),  # successor of 2
        proving(4, S.FAILED),  # a successor in any status counts
        da(5),  # not the successor type
    )
    found = await jobs.get_jobs_without_successor(T.SNOS_RUN, S.COMPLETED, T.PROOF_CREATION)
    assert ids(found) == [1, 3, 5, 6, 8]
    assert all(job.job_type is T.SNOS_RUN for job in found)

    versioned = await jobs.get_jobs_without_successor(T.SNOS_RUN, S.COMPLETED, T.PROOF_CREATION, V1)
    assert ids(versioned) == [1, 3, 5, 6]
    from_3 = await jobs.get_jobs_without_successor(
        T.SNOS_RUN, S.COMPLETED, T.PROOF_CREATION, min_internal_id=3, limit=2
    )
    assert ids(from_3) == [3, 5]
    assert await jobs.get_jobs_without_successor(T.SNOS_RUN, S.FAILED, T.PROOF_CREATION) == []


async def test_jobs_after_and_between_internal_ids(jobs: JobRepository) -> None:
    await create_all(
        jobs,
        *(snos(i, S.COMPLETED) for i in range(1, 6)),
        snos(6, S.CREATED),
        snos(7, S.COMPLETED, version="0.0.9"),
        proving(4, S.COMPLETED),
    )
    after = await jobs.get_jobs_after_internal_id_by_job_type(T.SNOS_RUN, S.COMPLETED, 3)
    assert ids(after) == [4, 5, 7]
    after_v1 = await jobs.get_jobs_after_internal_id_by_job_type(T.SNOS_RUN, S.COMPLETED, 3, V1)
    assert ids(after_v1) == [4, 5]

    between = await jobs.get_jobs_between_internal_ids(T.SNOS_RUN, S.COMPLETED, 2, 4)
    assert ids(between) == [2, 3, 4]
    assert ids(await jobs.get_jobs_between_internal_ids(T.SNOS_RUN, S.CREATED, 0, 100)) == [6]


async def test_jobs_by_types_and_statuses(jobs: JobRepository) -> None:
    await create_all(
        jobs,
        snos(1, S.COMPLETED),
        snos(2, S.FAILED),
        proving(1, S.FAILED),
        proving(3, S.VERIFICATION_TIMEOUT, version="0.0.9"),
        aggregator(2, S.CREATED),
    )
    failed_any = await jobs.get_jobs_by_types_and_statuses([], [S.FAILED, S.VERIFICATION_TIMEOUT])
    assert sorted(keys(failed_any)) == [("ProofCreation", 1), ("ProofCreation", 3), ("SnosRun", 2)]
    assert ids(failed_any) == sorted(ids(failed_any))

    assert len(await jobs.get_jobs_by_types_and_statuses([], [])) == 5
    snos_only = await jobs.get_jobs_by_types_and_statuses([T.SNOS_RUN], [])
    assert keys(snos_only) == [("SnosRun", 1), ("SnosRun", 2)]
    v1_halting = await jobs.get_jobs_by_types_and_statuses(
        [], [S.FAILED, S.VERIFICATION_TIMEOUT], orchestrator_version=V1
    )
    assert sorted(keys(v1_halting)) == [("ProofCreation", 1), ("SnosRun", 2)]
    limited = await jobs.get_jobs_by_types_and_statuses([T.SNOS_RUN, T.PROOF_CREATION], [S.FAILED], limit=1)
    assert len(limited) == 1 and limited[0].internal_id == 1


async def test_jobs_by_status(jobs: JobRepository) -> None:
    await create_all(jobs, *(snos(i, S.PENDING_VERIFICATION) for i in (4, 2, 9)), snos(5, S.CREATED))
    assert ids(await jobs.get_jobs_by_status(S.PENDING_VERIFICATION)) == [2, 4, 9]
    assert ids(await jobs.get_jobs_by_status(S.PENDING_VERIFICATION, limit=2)) == [2, 4]
    assert await jobs.get_jobs_by_status(S.FAILED) == []


async def test_jobs_updated_before_finds_the_stale_ones(jobs: JobRepository) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    stale = []
    for i, age in ((1, 3600), (2, 600), (3, 7200)):
        job = snos(i, S.LOCKED_FOR_PROCESSING)
        job.updated_at = now - timedelta(seconds=age)
        stale.append(job)
    old_but_done = snos(4, S.COMPLETED)
    old_but_done.updated_at = now - timedelta(days=1)
    fresh = snos(5, S.LOCKED_FOR_PROCESSING)
    rewritten = snos(6, S.PENDING_VERIFICATION)
    rewritten.updated_at = now - timedelta(days=1)
    await create_all(jobs, *stale, old_but_done, fresh, rewritten)
    await jobs.update_job(rewritten, JobItemUpdates(status=S.PENDING_VERIFICATION))  # a fresh write

    cutoff = now - timedelta(seconds=300)
    found = await jobs.get_jobs_updated_before([S.LOCKED_FOR_PROCESSING, S.PENDING_VERIFICATION], cutoff, 10)
    assert ids(found) == [3, 1, 2]  # oldest write first
    assert ids(await jobs.get_jobs_updated_before([S.LOCKED_FOR_PROCESSING], cutoff, 1)) == [3]
    assert ids(await jobs.get_jobs_updated_before([S.COMPLETED], cutoff, 10)) == [4]


async def test_jobs_without_storage_artifacts_tagged(jobs: JobRepository) -> None:
    await create_all(
        jobs,
        state(1, S.COMPLETED),
        state(2, S.COMPLETED, tagged=datetime(2026, 1, 1, tzinfo=UTC)),
        state(3, S.PENDING_VERIFICATION),
        state(4, S.COMPLETED),
        snos(5, S.COMPLETED),
    )
    assert ids(await jobs.get_jobs_without_storage_artifacts_tagged(10)) == [1, 4]
    assert ids(await jobs.get_jobs_without_storage_artifacts_tagged(1)) == [1]

    job = await jobs.get_job_by_internal_id_and_type(1, T.STATE_TRANSITION)
    assert job is not None
    metadata = job.metadata.model_copy(deep=True)
    assert isinstance(metadata.specific, StateUpdateMetadata)
    metadata.specific.storage_artifacts_tagged_at = datetime.now(UTC).replace(microsecond=0)
    await jobs.update_job(job, JobItemUpdates(metadata=metadata))
    assert ids(await jobs.get_jobs_without_storage_artifacts_tagged(10)) == [4]


async def test_jobs_by_block_number_is_the_union_of_the_three_finds(jobs: JobRepository) -> None:
    await create_all(
        jobs,
        snos(1, start=100, end=109),
        snos(2, start=110, end=119),
        proving(1, block=105),
        proving(2, block=106),
        da(3, block=105),
        state(4, to_settle=105),
        state(5, to_settle=1),
        aggregator(105),
    )
    found = await jobs.get_jobs_by_block_number(105)
    assert sorted(keys(found)) == [
        ("DataSubmission", 3),
        ("ProofCreation", 1),
        ("SnosRun", 1),
        ("StateTransition", 4),
    ]
    assert sorted(keys(await jobs.get_jobs_by_block_number(110))) == [("SnosRun", 2)]
    assert await jobs.get_jobs_by_block_number(5000) == []


# --- batches ----------------------------------------------------------------------------------


def snos_batch(index: int, start: int, end: int, aggregator_index: int | None = None, **kw) -> SnosBatch:
    return SnosBatch(
        index=index,
        start_block=start,
        end_block=end,
        num_blocks=end - start + 1,
        aggregator_batch_index=aggregator_index,
        orchestrator_version=kw.pop("orchestrator_version", V1),
        **kw,
    )


def aggregator_batch(index: int, start: int, end: int, **kw) -> AggregatorBatch:
    return AggregatorBatch(
        index=index,
        start_block=start,
        end_block=end,
        num_blocks=end - start + 1,
        orchestrator_version=kw.pop("orchestrator_version", V1),
        **kw,
    )


async def test_batches_create_get_and_duplicates(database: DatabaseClient) -> None:
    assert await database.get_latest_snos_batch() is None
    assert await database.get_latest_aggregator_batch() is None
    first = await database.create_snos_batch(snos_batch(1, 0, 4))
    await database.create_snos_batch(snos_batch(2, 5, 9))
    latest = await database.get_latest_snos_batch()
    assert latest is not None and latest.index == 2 and latest.start_block == 5

    with pytest.raises(BatchAlreadyExistsError):
        await database.create_snos_batch(snos_batch(1, 50, 60))  # same index
    with pytest.raises(BatchAlreadyExistsError):
        await database.create_snos_batch(snos_batch(3, 0, 2))  # same start_block

    await database.create_aggregator_batch(aggregator_batch(1, 0, 9, orchestrator_version="0.0.9"))
    await database.create_aggregator_batch(aggregator_batch(2, 10, 19))
    with pytest.raises(BatchAlreadyExistsError):
        await database.create_aggregator_batch(aggregator_batch(2, 20, 29))
    agg_latest = await database.get_latest_aggregator_batch()
    assert agg_latest is not None and agg_latest.index == 2
    oldest = await database.get_oldest_aggregator_batch()
    assert oldest is not None and oldest.index == 1
    oldest_v1 = await database.get_oldest_aggregator_batch(V1)
    assert oldest_v1 is not None and oldest_v1.index == 2

    found = await database.get_snos_batches(SnosBatchQuery(indexes=[1]))
    assert len(found) == 1 and found[0] == first


async def test_batch_queries(database: DatabaseClient) -> None:
    await database.create_snos_batch(snos_batch(1, 0, 4, 1, status=SnosBatchStatus.COMPLETED))
    await database.create_snos_batch(snos_batch(2, 5, 9, 1, status=SnosBatchStatus.CLOSED))
    await database.create_snos_batch(
        snos_batch(3, 10, 14, 2, status=SnosBatchStatus.CLOSED, orchestrator_version="0.0.9")
    )
    await database.create_snos_batch(snos_batch(4, 15, 19, 2, status=SnosBatchStatus.OPEN))

    def idx(batches: list) -> list[int]:
        return [b.index for b in batches]

    assert idx(await database.get_snos_batches(SnosBatchQuery())) == [1, 2, 3, 4]
    assert idx(await database.get_snos_batches(SnosBatchQuery(sort="desc", limit=2))) == [4, 3]
    assert idx(await database.get_snos_batches(SnosBatchQuery(statuses=[SnosBatchStatus.CLOSED]))) == [2, 3]
    assert idx(await database.get_snos_batches(SnosBatchQuery(aggregator_batch_index=2))) == [3, 4]
    assert idx(await database.get_snos_batches(SnosBatchQuery(orchestrator_version=V1))) == [1, 2, 4]
    assert idx(await database.get_snos_batches(SnosBatchQuery(indexes=[4, 1, 7]))) == [1, 4]
    assert idx(await database.get_snos_batches_by_aggregator_index(2)) == [3, 4]
    start = await database.get_start_snos_batch_for_aggregator(2)
    assert start is not None and start.index == 3
    assert await database.get_start_snos_batch_for_aggregator(9) is None

    await database.create_aggregator_batch(aggregator_batch(1, 0, 9, status=AggregatorBatchStatus.COMPLETED))
    await database.create_aggregator_batch(aggregator_batch(2, 10, 19, status=AggregatorBatchStatus.OPEN))
    await database.create_aggregator_batch(
        aggregator_batch(3, 20, 29, status=AggregatorBatchStatus.OPEN, orchestrator_version="0.0.9")
    )
    assert idx(await database.get_aggregator_batches(AggregatorBatchQuery(statuses=[AggregatorBatchStatus.OPEN]))) == [
        2,
        3,
    ]
    assert idx(await database.get_aggregator_batches(AggregatorBatchQuery(sort="desc"))) == [3, 2, 1]
    assert idx(await database.get_aggregator_batches(AggregatorBatchQuery(orchestrator_version=V1, limit=1))) == [1]
    assert idx(await database.get_aggregator_batches(AggregatorBatchQuery(indexes=[3]))) == [3]


async def test_batch_status_update_by_index(database: DatabaseClient) -> None:
    await database.create_snos_batch(snos_batch(1, 0, 4))
    await database.create_aggregator_batch(aggregator_batch(1, 0, 9))
    updated = await database.update_snos_batch_status_by_index(1, SnosBatchStatus.SNOS_JOB_CREATED)
    assert updated.status is SnosBatchStatus.SNOS_JOB_CREATED
    stored = (await database.get_snos_batches(SnosBatchQuery(indexes=[1])))[0]
    assert stored.status is SnosBatchStatus.SNOS_JOB_CREATED and stored.start_block == 0

    agg = await database.update_aggregator_batch_status_by_index(1, AggregatorBatchStatus.CLOSED)
    assert agg.status is AggregatorBatchStatus.CLOSED
    agg_stored = await database.get_latest_aggregator_batch()
    assert agg_stored is not None and agg_stored.status is AggregatorBatchStatus.CLOSED

    with pytest.raises(NotFoundError):
        await database.update_snos_batch_status_by_index(9, SnosBatchStatus.CLOSED)
    with pytest.raises(NotFoundError):
        await database.update_aggregator_batch_status_by_index(9, AggregatorBatchStatus.CLOSED)


async def test_upserts_keep_block_batch_lookups_in_sync(database: DatabaseClient) -> None:
    agg = aggregator_batch(1, 100, 102)
    stored = await database.update_or_create_aggregator_batch(agg)
    assert stored.num_blocks == 3
    for block in (100, 101, 102):
        lookup = await database.get_block_batch_lookup(block)
        assert lookup is not None and lookup.aggregator_batch_index == 1 and lookup.snos_batch_index is None

    # The open batch grows: num_blocks recomputed, the new blocks point at it.
    agg.end_block = 105
    agg.num_blocks = 1  # stale on purpose
    grown = await database.update_or_create_aggregator_batch(agg)
    assert grown.num_blocks == 6 and grown.created_at == stored.created_at
    assert (await database.get_latest_aggregator_batch()) == grown
    found = await database.get_aggregator_batch_for_block(105)
    assert found is not None and found.index == 1
    assert await database.get_aggregator_batch_for_block(106) is None

    sb = snos_batch(1, 100, 103, 1)
    await database.update_or_create_snos_batch(sb)
    sb.end_block = 101  # shrinks: blocks 102, 103 lose their SNOS batch
    sb.status = SnosBatchStatus.CLOSED
    shrunk = await database.update_or_create_snos_batch(sb)
    assert shrunk.num_blocks == 2 and shrunk.status is SnosBatchStatus.CLOSED
    l101, l102 = await database.get_block_batch_lookup(101), await database.get_block_batch_lookup(102)
    assert l101 is not None and (l101.snos_batch_index, l101.aggregator_batch_index) == (1, 1)
    assert l102 is not None and (l102.snos_batch_index, l102.aggregator_batch_index) == (None, 1)
    assert await database.get_block_batch_lookup(99) is None

    # create_* keep the lookups too.
    await database.create_snos_batch(snos_batch(2, 102, 105, 1))
    l103 = await database.get_block_batch_lookup(103)
    assert l103 is not None and l103.snos_batch_index == 2


async def test_snos_batches_without_jobs(database: DatabaseClient) -> None:
    for i in range(1, 6):
        await database.create_snos_batch(snos_batch(i, i * 10, i * 10 + 9, status=SnosBatchStatus.CLOSED))
    await database.create_snos_batch(snos_batch(6, 60, 69, status=SnosBatchStatus.OPEN))
    await database.create_snos_batch(snos_batch(7, 70, 79, status=SnosBatchStatus.CLOSED, orchestrator_version="0.0.9"))
    await create_all(database, snos(2), snos(4), proving(3))  # a ProofCreation job does not count

    def idx(batches: list) -> list[int]:
        return [b.index for b in batches]

    assert idx(await database.get_snos_batches_without_jobs(SnosBatchStatus.CLOSED, 10)) == [1, 3, 5, 7]
    assert idx(await database.get_snos_batches_without_jobs(SnosBatchStatus.CLOSED, 10, V1)) == [1, 3, 5]
    assert idx(await database.get_snos_batches_without_jobs(SnosBatchStatus.CLOSED, 2, min_index=2)) == [3, 5]
    assert idx(await database.get_snos_batches_without_jobs(SnosBatchStatus.OPEN, 10)) == [6]


async def test_health_check(database: DatabaseClient) -> None:
    await database.health_check()
