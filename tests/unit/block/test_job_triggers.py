"""The job-creating triggers against a SQLite database: which jobs they create, in which order, only once."""

from __future__ import annotations

from dataclasses import replace

import pytest

from orchestrator.core.clients.database import AggregatorBatchQuery
from orchestrator.core.models.batch import AggregatorBatch, AggregatorBatchStatus, SnosBatch, SnosBatchStatus
from orchestrator.core.models.job import JobItem, JobItemUpdates, JobStatus, JobType
from orchestrator.core.models.metadata import (
    AggregatorMetadata,
    DaMetadata,
    JobMetadata,
    JobSpecificMetadata,
    ProvingInputType,
    ProvingMetadata,
    SettlementContext,
    SnosMetadata,
    StateUpdateMetadata,
)
from orchestrator.core.models.queue import Layer, QueueType, decode_job_message
from orchestrator.core.version import ORCHESTRATOR_VERSION
from orchestrator.services.block.job_triggers import JobTriggers, MissingParentJobError
from orchestrator.services.block.job_window import (
    NO_UNSETTLED_SNOS_BATCH,
    buffer_slots,
    first_unsettled_snos_batch_index,
)
from orchestrator.services.block.params import JobTriggerParams
from tests.unit.block.conftest import Env

L2 = JobTriggerParams(layer=Layer.L2)
L3 = JobTriggerParams(layer=Layer.L3)
DONE = JobStatus.COMPLETED


def triggers(env: Env, params: JobTriggerParams = L2) -> JobTriggers:
    return JobTriggers(env.db, env.engine, params)


async def add_job(
    env: Env,
    job_type: JobType,
    internal_id: int,
    status: JobStatus,
    specific: JobSpecificMetadata,
    version: str = ORCHESTRATOR_VERSION,
) -> JobItem:
    metadata = JobMetadata(specific=specific)
    metadata.common.orchestrator_version = version
    return await env.db.create_job(
        JobItem(internal_id=internal_id, job_type=job_type, status=status, metadata=metadata)
    )


def snos_meta(index: int, start: int, end: int, fact: str | None = None) -> SnosMetadata:
    return SnosMetadata(
        snos_batch_index=index,
        start_block=start,
        end_block=end,
        num_blocks=end - start + 1,
        cairo_pie_path=f"{index}/cairo_pie.zip",
        snos_output_path=f"{index}/snos_output.json",
        program_output_path=f"{index}/program_output.txt",
        snos_fact=fact,
        snos_n_steps=1234,
    )


async def add_snos_batch(
    env: Env,
    index: int,
    start: int,
    end: int,
    aggregator: int | None = None,
    status: SnosBatchStatus = SnosBatchStatus.CLOSED,
    version: str = ORCHESTRATOR_VERSION,
) -> None:
    await env.db.update_or_create_snos_batch(
        SnosBatch(
            index=index,
            aggregator_batch_index=aggregator,
            start_block=start,
            end_block=end,
            status=status,
            orchestrator_version=version,
        )
    )


async def add_aggregator_batch(
    env: Env,
    index: int,
    start: int,
    end: int,
    status: AggregatorBatchStatus = AggregatorBatchStatus.CLOSED,
    bucket_id: str | None = None,
) -> None:
    await env.db.update_or_create_aggregator_batch(
        AggregatorBatch(
            index=index,
            start_block=start,
            end_block=end,
            status=status,
            bucket_id=bucket_id,
            orchestrator_version=ORCHESTRATOR_VERSION,
        )
    )


async def jobs_of(env: Env, job_type: JobType) -> dict[int, JobItem]:
    found = await env.db.get_jobs_by_types_and_statuses([job_type], [])
    return {job.internal_id: job for job in found}


async def settled(env: Env, to_settle: int, status: JobStatus = DONE) -> None:
    await add_job(
        env,
        JobType.STATE_TRANSITION,
        to_settle,
        status,
        StateUpdateMetadata(context=SettlementContext(type="Batch", to_settle=to_settle)),
    )


# --- buffer window ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("latest", "oldest", "size", "expected"),
    [(None, None, 5, 5), (10, None, 5, 5), (12, 10, 5, 2), (10, 10, 5, 4), (15, 10, 5, 0), (100, 10, 5, 0)],
)
def test_buffer_slots(latest: int | None, oldest: int | None, size: int, expected: int) -> None:
    assert buffer_slots(latest, oldest, size) == expected


# --- Snos ------------------------------------------------------------------------------------------


async def test_snos_creates_jobs_for_closed_batches_only_once(env: Env) -> None:
    await add_snos_batch(env, 1, 0, 2)
    await add_snos_batch(env, 2, 3, 5)
    await add_snos_batch(env, 3, 6, 6, status=SnosBatchStatus.OPEN)
    await triggers(env, replace(L2, snos_full_output=True)).snos()
    jobs = await jobs_of(env, JobType.SNOS_RUN)
    assert sorted(jobs) == [1, 2]
    meta = jobs[2].metadata.specific
    assert meta == SnosMetadata(
        snos_batch_index=2,
        start_block=3,
        end_block=5,
        num_blocks=3,
        full_output=True,
        cairo_pie_path="2/cairo_pie.zip",
        on_chain_data_path="2/onchain_data.json",
        snos_output_path="2/snos_output.json",
        program_output_path="2/program_output.txt",
    )
    assert jobs[2].metadata.common.orchestrator_version == ORCHESTRATOR_VERSION
    sent = [decode_job_message(m.body) for m in env.queue.pending(QueueType.SNOS_JOB_PROCESSING)]
    assert sorted(sent) == sorted(j.id for j in jobs.values())
    await triggers(env).snos()
    assert sorted(await jobs_of(env, JobType.SNOS_RUN)) == [1, 2]
    assert len(env.queue.pending(QueueType.SNOS_JOB_PROCESSING)) == 2


async def test_snos_stays_within_the_buffer_window(env: Env) -> None:
    for index in range(1, 7):
        await add_snos_batch(env, index, index * 10, index * 10 + 9)
    await add_job(env, JobType.SNOS_RUN, 1, DONE, snos_meta(1, 10, 19))
    await add_job(env, JobType.SNOS_RUN, 2, JobStatus.PENDING_VERIFICATION, snos_meta(2, 20, 29))
    # ids 2..2 in flight: 3 - 1 = 2 slots
    await triggers(env, replace(L2, snos_job_buffer_size=3)).snos()
    assert sorted(await jobs_of(env, JobType.SNOS_RUN)) == [1, 2, 3, 4]
    # now 2..4 in flight: the window is full
    await triggers(env, replace(L2, snos_job_buffer_size=3)).snos()
    assert sorted(await jobs_of(env, JobType.SNOS_RUN)) == [1, 2, 3, 4]


async def test_snos_ignores_batches_of_another_orchestrator_version(env: Env) -> None:
    await add_snos_batch(env, 1, 0, 0, version="0.0.9")
    await add_snos_batch(env, 2, 1, 1)
    await triggers(env).snos()
    assert sorted(await jobs_of(env, JobType.SNOS_RUN)) == [2]


async def test_snos_on_l2_starts_at_the_first_unsettled_aggregator_batch(env: Env) -> None:
    await add_snos_batch(env, 1, 0, 1, aggregator=1)
    await add_snos_batch(env, 2, 2, 3, aggregator=1)
    await add_snos_batch(env, 3, 4, 5, aggregator=2)
    await settled(env, 1)  # aggregator batch 1 is settled: its SNOS batches need no job any more
    await triggers(env).snos()
    assert sorted(await jobs_of(env, JobType.SNOS_RUN)) == [3]


async def test_snos_on_l2_waits_while_the_next_aggregator_batch_has_no_snos_batch(env: Env) -> None:
    await add_snos_batch(env, 1, 0, 1, aggregator=1)
    await settled(env, 1)
    await triggers(env).snos()
    assert await jobs_of(env, JobType.SNOS_RUN) == {}
    assert await first_unsettled_snos_batch_index(env.db, Layer.L2) == NO_UNSETTLED_SNOS_BATCH


async def test_snos_on_l3_starts_after_the_settled_index(env: Env) -> None:
    for index in range(1, 5):
        await add_snos_batch(env, index, index, index)
    await settled(env, 2)
    await triggers(env, L3).snos()
    assert sorted(await jobs_of(env, JobType.SNOS_RUN)) == [3, 4]


# --- Proving ---------------------------------------------------------------------------------------


async def test_proving_follows_completed_snos_jobs_once(env: Env) -> None:
    await add_job(env, JobType.SNOS_RUN, 1, DONE, snos_meta(1, 0, 4))
    await add_job(env, JobType.SNOS_RUN, 2, JobStatus.PENDING_VERIFICATION, snos_meta(2, 5, 9))
    await triggers(env).proving()
    jobs = await jobs_of(env, JobType.PROOF_CREATION)
    assert sorted(jobs) == [1]
    assert jobs[1].metadata.specific == ProvingMetadata(
        block_number=0, input_path=ProvingInputType.cairo_pie("1/cairo_pie.zip"), n_steps=1234
    )
    assert len(env.queue.pending(QueueType.PROVING_JOB_PROCESSING)) == 1
    await triggers(env).proving()
    assert sorted(await jobs_of(env, JobType.PROOF_CREATION)) == [1]


async def test_proving_on_l2_keeps_child_proofs_only_for_audits(env: Env) -> None:
    await add_job(env, JobType.SNOS_RUN, 7, DONE, snos_meta(7, 0, 4))
    await triggers(env, replace(L2, store_audit_artifacts=True)).proving()
    meta = (await jobs_of(env, JobType.PROOF_CREATION))[7].metadata.specific
    assert isinstance(meta, ProvingMetadata)
    assert meta.download_proof == "7/proof.json"
    assert meta.ensure_on_chain_registration is None


async def test_proving_with_buckets_takes_the_position_in_the_aggregator_bucket(env: Env) -> None:
    await add_aggregator_batch(env, 1, 0, 9, bucket_id="bucket-a")
    await add_aggregator_batch(env, 2, 10, 19)  # no bucket (yet)
    await add_snos_batch(env, 3, 0, 4, aggregator=1)
    await add_snos_batch(env, 4, 5, 9, aggregator=1)
    await add_snos_batch(env, 5, 10, 19, aggregator=2)
    await add_job(env, JobType.SNOS_RUN, 4, DONE, snos_meta(4, 5, 9))
    await add_job(env, JobType.SNOS_RUN, 5, DONE, snos_meta(5, 10, 19))
    await add_job(env, JobType.SNOS_RUN, 6, DONE, snos_meta(6, 20, 29))  # in no aggregator batch
    await triggers(env, replace(L2, uses_buckets=True)).proving()
    jobs = await jobs_of(env, JobType.PROOF_CREATION)
    assert sorted(jobs) == [4]
    meta = jobs[4].metadata.specific
    assert isinstance(meta, ProvingMetadata)
    assert (meta.bucket_id, meta.bucket_job_index) == ("bucket-a", 2)


async def test_proving_on_l3_needs_the_snos_fact_and_registers_it(env: Env) -> None:
    await add_job(env, JobType.SNOS_RUN, 1, DONE, snos_meta(1, 1, 1, fact="0xfact"))
    await add_job(env, JobType.SNOS_RUN, 2, DONE, snos_meta(2, 2, 2))
    await triggers(env, L3).proving()
    jobs = await jobs_of(env, JobType.PROOF_CREATION)
    assert sorted(jobs) == [1]
    meta = jobs[1].metadata.specific
    assert isinstance(meta, ProvingMetadata)
    assert (meta.download_proof, meta.ensure_on_chain_registration) == ("1/proof.json", "0xfact")


# --- ProofRegistration and DataSubmission (L3) -----------------------------------------------------


def proving_meta(block: int) -> ProvingMetadata:
    return ProvingMetadata(
        block_number=block,
        input_path=ProvingInputType.cairo_pie(f"{block}/cairo_pie.zip"),
        ensure_on_chain_registration="0xfact",
        download_proof=f"{block}/proof.json",
        n_steps=99,
    )


async def test_proof_registration_follows_completed_proofs(env: Env) -> None:
    await add_job(env, JobType.PROOF_CREATION, 3, DONE, proving_meta(3))
    await add_job(env, JobType.PROOF_CREATION, 4, JobStatus.CREATED, proving_meta(4))
    await triggers(env, L3).proof_registration()
    await triggers(env, L3).proof_registration()
    jobs = await jobs_of(env, JobType.PROOF_REGISTRATION)
    assert sorted(jobs) == [3]
    assert jobs[3].metadata.specific == ProvingMetadata(
        block_number=3,
        input_path=ProvingInputType.proof("3/proof.json"),
        ensure_on_chain_registration="0xfact",
        download_proof="3/proof_part2.json",
        n_steps=99,
    )
    assert jobs[3].metadata.common.process_attempt_no == 0
    assert len(env.queue.pending(QueueType.PROOF_REGISTRATION_JOB_PROCESSING)) == 1


async def test_data_submission_follows_completed_registrations(env: Env) -> None:
    await add_job(env, JobType.PROOF_REGISTRATION, 5, DONE, proving_meta(5))
    await add_job(env, JobType.PROOF_CREATION, 6, DONE, proving_meta(6))  # not registered yet
    await triggers(env, L3).data_submission()
    await triggers(env, L3).data_submission()
    jobs = await jobs_of(env, JobType.DATA_SUBMISSION)
    assert sorted(jobs) == [5]
    assert jobs[5].metadata.specific == DaMetadata(block_number=5, blob_data_path="5/blob_data.txt")


# --- Aggregator (L2) -------------------------------------------------------------------------------


async def proven_aggregator_batch(env: Env, index: int = 1, bucket_id: str | None = None) -> None:
    """Aggregator batch `index` over blocks 0..9 with SNOS batches 1 (0..4) and 2 (5..9), both proven."""
    await add_aggregator_batch(env, index, 0, 9, bucket_id=bucket_id)
    await add_snos_batch(env, 1, 0, 4, aggregator=index)
    await add_snos_batch(env, 2, 5, 9, aggregator=index)
    for i in (1, 2):
        await add_job(env, JobType.PROOF_CREATION, i, DONE, proving_meta(i))


async def batch_status(env: Env, index: int) -> AggregatorBatchStatus:
    return (await env.db.get_aggregator_batches(AggregatorBatchQuery(indexes=[index])))[0].status


async def test_aggregator_job_for_a_fully_proven_batch(env: Env) -> None:
    await proven_aggregator_batch(env, bucket_id="bucket-9")
    await triggers(env).aggregator()
    jobs = await jobs_of(env, JobType.AGGREGATOR)
    assert sorted(jobs) == [1]
    assert jobs[1].metadata.specific == AggregatorMetadata(
        batch_num=1,
        bucket_id="bucket-9",
        blob_data_path="blob/batch/1",
        da_segment_path="artifacts/batch/1/da_blob.json",
        cairo_pie_path="artifacts/batch/1/cairo_pie.zip",
        snos_output_path="artifacts/batch/1/snos_output.json",
        program_output_path="artifacts/batch/1/program_output.txt",
    )
    assert await batch_status(env, 1) is AggregatorBatchStatus.PENDING_AGGREGATOR_RUN
    await triggers(env).aggregator()
    assert len(env.queue.pending(QueueType.AGGREGATOR_JOB_PROCESSING)) == 1


async def test_aggregator_keeps_the_proof_for_audits(env: Env) -> None:
    await proven_aggregator_batch(env)
    await triggers(env, replace(L2, store_audit_artifacts=True)).aggregator()
    meta = (await jobs_of(env, JobType.AGGREGATOR))[1].metadata.specific
    assert isinstance(meta, AggregatorMetadata) and meta.download_proof == "artifacts/batch/1/proof.json"


async def test_aggregator_waits_for_a_missing_proof(env: Env) -> None:
    await add_aggregator_batch(env, 1, 0, 9)
    await add_snos_batch(env, 1, 0, 4, aggregator=1)
    await add_snos_batch(env, 2, 5, 9, aggregator=1)
    await add_job(env, JobType.PROOF_CREATION, 1, DONE, proving_meta(1))
    await add_job(env, JobType.PROOF_CREATION, 2, JobStatus.PENDING_VERIFICATION, proving_meta(2))
    await triggers(env).aggregator()
    assert await jobs_of(env, JobType.AGGREGATOR) == {}
    assert await batch_status(env, 1) is AggregatorBatchStatus.CLOSED


async def test_aggregator_waits_until_snos_batches_cover_the_batch(env: Env) -> None:
    await add_aggregator_batch(env, 1, 0, 9)
    await add_snos_batch(env, 1, 0, 4, aggregator=1)
    await add_snos_batch(env, 2, 5, 8, aggregator=1)  # block 9 is not SNOS-batched yet
    for i in (1, 2):
        await add_job(env, JobType.PROOF_CREATION, i, DONE, proving_meta(i))
    await triggers(env).aggregator()
    assert await jobs_of(env, JobType.AGGREGATOR) == {}


async def test_aggregator_waits_while_a_snos_batch_is_open(env: Env) -> None:
    await add_aggregator_batch(env, 1, 0, 9)
    await add_snos_batch(env, 1, 0, 4, aggregator=1)
    await add_snos_batch(env, 2, 5, 9, aggregator=1, status=SnosBatchStatus.OPEN)
    for i in (1, 2):
        await add_job(env, JobType.PROOF_CREATION, i, DONE, proving_meta(i))
    await triggers(env).aggregator()
    assert await jobs_of(env, JobType.AGGREGATOR) == {}


async def test_aggregator_ignores_open_batches_and_respects_the_buffer(env: Env) -> None:
    await proven_aggregator_batch(env, index=2)
    await add_job(env, JobType.AGGREGATOR, 1, JobStatus.PENDING_VERIFICATION, AggregatorMetadata(batch_num=1))
    await triggers(env, replace(L2, aggregator_job_buffer_size=1)).aggregator()
    assert sorted(await jobs_of(env, JobType.AGGREGATOR)) == [1]
    await triggers(env, replace(L2, aggregator_job_buffer_size=2)).aggregator()
    assert sorted(await jobs_of(env, JobType.AGGREGATOR)) == [1, 2]


async def test_aggregator_moves_the_batch_on_when_its_job_exists_already(env: Env) -> None:
    # a crash between creating the job and updating the batch must not strand the batch
    await proven_aggregator_batch(env)
    await env.engine.create_job(JobType.AGGREGATOR, 1, AggregatorMetadata(batch_num=1))
    await triggers(env).aggregator()
    assert await batch_status(env, 1) is AggregatorBatchStatus.PENDING_AGGREGATOR_RUN


# --- UpdateState -----------------------------------------------------------------------------------


def aggregator_meta(i: int) -> AggregatorMetadata:
    return AggregatorMetadata(
        batch_num=i,
        blob_data_path=f"blob/batch/{i}",
        da_segment_path=f"artifacts/batch/{i}/da_blob.json",
        snos_output_path=f"artifacts/batch/{i}/snos_output.json",
        program_output_path=f"artifacts/batch/{i}/program_output.txt",
    )


async def test_update_state_starts_with_batch_one(env: Env) -> None:
    await add_job(env, JobType.AGGREGATOR, 2, DONE, aggregator_meta(2))
    await triggers(env).update_state()
    assert await jobs_of(env, JobType.STATE_TRANSITION) == {}
    await add_job(env, JobType.AGGREGATOR, 1, DONE, aggregator_meta(1))
    await triggers(env).update_state()
    await triggers(env).update_state()
    jobs = await jobs_of(env, JobType.STATE_TRANSITION)
    assert sorted(jobs) == [1]  # one at a time, even with batch 2 ready
    assert jobs[1].metadata.specific == StateUpdateMetadata(
        context=SettlementContext(type="Batch", to_settle=1),
        snos_output_path="artifacts/batch/1/snos_output.json",
        program_output_path="artifacts/batch/1/program_output.txt",
        blob_data_path="blob/batch/1",
        da_segment_path="artifacts/batch/1/da_blob.json",
    )
    assert len(env.queue.pending(QueueType.UPDATE_STATE_JOB_PROCESSING)) == 1


async def test_update_state_waits_for_the_running_settlement(env: Env) -> None:
    await settled(env, 1, status=JobStatus.PENDING_VERIFICATION)
    await add_job(env, JobType.AGGREGATOR, 2, DONE, aggregator_meta(2))
    await triggers(env).update_state()
    assert sorted(await jobs_of(env, JobType.STATE_TRANSITION)) == [1]


async def test_update_state_settles_the_next_batch_only_in_order(env: Env) -> None:
    await settled(env, 1)
    await add_job(env, JobType.AGGREGATOR, 1, DONE, aggregator_meta(1))
    await add_job(env, JobType.AGGREGATOR, 2, JobStatus.PENDING_VERIFICATION, aggregator_meta(2))
    await add_job(env, JobType.AGGREGATOR, 3, DONE, aggregator_meta(3))
    await triggers(env).update_state()
    assert sorted(await jobs_of(env, JobType.STATE_TRANSITION)) == [1]  # 3 may not overtake 2
    stored = (await jobs_of(env, JobType.AGGREGATOR))[2]
    await env.db.update_job(stored, JobItemUpdates(status=DONE))
    await triggers(env).update_state()
    jobs = await jobs_of(env, JobType.STATE_TRANSITION)
    assert sorted(jobs) == [1, 2]
    meta = jobs[2].metadata.specific
    assert isinstance(meta, StateUpdateMetadata) and meta.context.to_settle == 2


async def test_update_state_on_l3_takes_paths_from_snos_and_da_jobs(env: Env) -> None:
    await add_job(env, JobType.SNOS_RUN, 1, DONE, snos_meta(1, 1, 1))
    await add_job(env, JobType.DATA_SUBMISSION, 1, DONE, DaMetadata(block_number=1, blob_data_path="1/blob_data.txt"))
    await triggers(env, L3).update_state()
    meta = (await jobs_of(env, JobType.STATE_TRANSITION))[1].metadata.specific
    assert meta == StateUpdateMetadata(
        context=SettlementContext(type="Batch", to_settle=1),
        snos_output_path="1/snos_output.json",
        program_output_path="1/program_output.txt",
        blob_data_path="1/blob_data.txt",
    )


async def test_update_state_fails_loudly_without_the_parent_paths(env: Env) -> None:
    await add_job(env, JobType.DATA_SUBMISSION, 1, DONE, DaMetadata(block_number=1, blob_data_path="1/blob_data.txt"))
    with pytest.raises(MissingParentJobError, match="SnosRun job 1"):
        await triggers(env, L3).update_state()
    assert await jobs_of(env, JobType.STATE_TRANSITION) == {}
