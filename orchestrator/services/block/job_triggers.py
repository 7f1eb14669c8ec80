"""The job-creating triggers: which job each finished step (or closed batch) calls for next.

Every trigger only creates jobs through `JobCreator.create_job`, which is idempotent on
(job_type, internal_id) and enqueues the process message; running a trigger twice creates nothing new.

- Snos: Closed SNOS batches without a SnosRun job, at or after the first unsettled one, within the
  `snos_job_buffer_size` window.
- Proving: Completed SnosRun jobs without a ProofCreation job.
- ProofRegistration (L3): Completed ProofCreation jobs without a ProofRegistration job, from the first
  unsettled batch on (as Proving): each trigger query is bounded by the work ahead, not the history.
- DataSubmission (L3): Completed ProofRegistration jobs without a DataSubmission job, likewise.
- Aggregator (L2): Closed aggregator batches whose SNOS batches cover them exactly and are all proven,
  within the `aggregator_job_buffer_size` window; the batch moves to PendingAggregatorRun.
- UpdateState: strictly sequential; one StateTransition job for the batch after the last settled one,
  and only once the latest StateTransition job is Completed.
"""

from __future__ import annotations

import logging
from typing import Protocol, TypeVar

from orchestrator.core.clients.database import AggregatorBatchQuery, DatabaseClient
from orchestrator.core.errors import OrchestratorError
from orchestrator.core.models.batch import AggregatorBatch, AggregatorBatchStatus, SnosBatchStatus
from orchestrator.core.models.job import JobItem, JobStatus, JobType
from orchestrator.core.models.metadata import (
    AggregatorMetadata,
    DaMetadata,
    JobSpecificMetadata,
    ProvingInputType,
    ProvingMetadata,
    SettlementContext,
    SnosMetadata,
    StateUpdateMetadata,
)
from orchestrator.core.models.queue import Layer
from orchestrator.services.block.job_window import first_unsettled_snos_batch_index, jobs_to_create
from orchestrator.services.block.params import JobTriggerParams
from orchestrator.services.storage_layout import (
    BLOB_DATA_FILE,
    CAIRO_PIE_FILE,
    DA_SEGMENT_FILE,
    ON_CHAIN_DATA_FILE,
    PROGRAM_OUTPUT_FILE,
    PROOF_FILE,
    PROOF_PART2_FILE,
    SNOS_OUTPUT_FILE,
    batch_artifact_file,
    batch_blob_dir,
    snos_file,
)

log = logging.getLogger("orchestrator.block.jobs")


class JobCreator(Protocol):
    """`services.job.engine.JobEngine` satisfies this."""

    async def create_job(self, job_type: JobType, internal_id: int, specific: JobSpecificMetadata) -> JobItem | None:
        """Create and enqueue; None when the job exists already."""


class MissingParentJobError(OrchestratorError):
    """A job the next one takes its inputs from is missing or has the wrong metadata."""


_M = TypeVar("_M", SnosMetadata, ProvingMetadata, DaMetadata, AggregatorMetadata, StateUpdateMetadata)


def _metadata(job: JobItem, kind: type[_M]) -> _M:
    specific = job.metadata.specific
    if not isinstance(specific, kind):
        raise MissingParentJobError(
            f"{job.job_type} job {job.internal_id} has {specific.type} metadata, expected {kind.__name__}"
        )
    return specific


class JobTriggers:
    def __init__(self, database: DatabaseClient, jobs: JobCreator, params: JobTriggerParams) -> None:
        self.db = database
        self.jobs = jobs
        self.params = params

    @property
    def version(self) -> str:
        return self.params.orchestrator_version

    # --- Snos -----------------------------------------------------------------------------------
    async def snos(self) -> None:
        slots = await jobs_to_create(self.db, JobType.SNOS_RUN, self.params.snos_job_buffer_size, self.version)
        if slots == 0:
            log.debug("SNOS job buffer is full")
            return
        bound = await first_unsettled_snos_batch_index(self.db, self.params.layer)
        batches = await self.db.get_snos_batches_without_jobs(SnosBatchStatus.CLOSED, slots, self.version, bound)
        for batch in batches:
            index = batch.index
            await self.jobs.create_job(
                JobType.SNOS_RUN,
                index,
                SnosMetadata(
                    snos_batch_index=index,
                    start_block=batch.start_block,
                    end_block=batch.end_block,
                    num_blocks=batch.end_block - batch.start_block + 1,
                    full_output=self.params.snos_full_output,
                    cairo_pie_path=snos_file(index, CAIRO_PIE_FILE),
                    on_chain_data_path=snos_file(index, ON_CHAIN_DATA_FILE),
                    snos_output_path=snos_file(index, SNOS_OUTPUT_FILE),
                    program_output_path=snos_file(index, PROGRAM_OUTPUT_FILE),
                ),
            )

    # --- Proving --------------------------------------------------------------------------------
    async def proving(self) -> None:
        bound = await first_unsettled_snos_batch_index(self.db, self.params.layer)
        snos_jobs = await self.db.get_jobs_without_successor(
            JobType.SNOS_RUN, JobStatus.COMPLETED, JobType.PROOF_CREATION, self.version, bound
        )
        for job in snos_jobs:
            snos = _metadata(job, SnosMetadata)
            if self.params.layer is Layer.L3:
                if snos.snos_fact is None:
                    log.error("SnosRun job %d has no snos_fact; cannot prove it", job.internal_id)
                    continue
                bucket: tuple[str | None, int | None] = (None, None)
                download_proof: str | None = snos_file(job.internal_id, PROOF_FILE)
                on_chain_fact: str | None = snos.snos_fact
            else:
                found = await self._bucket_of(job, snos) if self.params.uses_buckets else (None, None)
                if found is None:
                    continue
                bucket = found
                # L2 child proofs are read by nothing (the aggregator proof settles); keep them for audits only.
                download_proof = snos_file(job.internal_id, PROOF_FILE) if self.params.store_audit_artifacts else None
                on_chain_fact = None
            await self.jobs.create_job(
                JobType.PROOF_CREATION,
                job.internal_id,
                ProvingMetadata(
                    block_number=snos.start_block,
                    input_path=ProvingInputType.cairo_pie(snos.cairo_pie_path) if snos.cairo_pie_path else None,
                    ensure_on_chain_registration=on_chain_fact,
                    download_proof=download_proof,
                    n_steps=snos.snos_n_steps,
                    bucket_id=bucket[0],
                    bucket_job_index=bucket[1],
                ),
            )

    async def _bucket_of(self, job: JobItem, snos: SnosMetadata) -> tuple[str | None, int | None] | None:
        """(bucket id, 1-based position in the bucket) of a child proof; None to wait for the bucket."""
        batch = await self.db.get_aggregator_batch_for_block(snos.start_block)
        if batch is None:
            log.warning("no aggregator batch holds block %d; proving job %d waits", snos.start_block, job.internal_id)
            return None
        if batch.bucket_id is None:
            log.warning("aggregator batch %d has no bucket; proving job %d waits", batch.index, job.internal_id)
            return None
        first = await self.db.get_start_snos_batch_for_aggregator(batch.index)
        if first is None:
            log.warning("aggregator batch %d has no SNOS batch; proving job %d waits", batch.index, job.internal_id)
            return None
        return batch.bucket_id, snos.snos_batch_index - first.index + 1

    # --- ProofRegistration (L3) -----------------------------------------------------------------
    async def proof_registration(self) -> None:
        # From the first unsettled batch: every settled one has its successors, and the scan must
        # cost the work ahead, not the history.
        bound = await first_unsettled_snos_batch_index(self.db, self.params.layer)
        proving_jobs = await self.db.get_jobs_without_successor(
            JobType.PROOF_CREATION, JobStatus.COMPLETED, JobType.PROOF_REGISTRATION, self.version, bound
        )
        for job in proving_jobs:
            proving = _metadata(job, ProvingMetadata).model_copy(deep=True)
            proving.input_path = ProvingInputType.proof(snos_file(job.internal_id, PROOF_FILE))
            # L3: the bridge proof is what the settlement contract verifies, so it is kept.
            proving.download_proof = (
                snos_file(job.internal_id, PROOF_PART2_FILE) if self.params.layer is Layer.L3 else None
            )
            await self.jobs.create_job(JobType.PROOF_REGISTRATION, job.internal_id, proving)

    # --- DataSubmission (L3) --------------------------------------------------------------------
    async def data_submission(self) -> None:
        parent = JobType.PROOF_REGISTRATION if self.params.layer is Layer.L3 else JobType.PROOF_CREATION
        bound = await first_unsettled_snos_batch_index(self.db, self.params.layer)
        parents = await self.db.get_jobs_without_successor(
            parent, JobStatus.COMPLETED, JobType.DATA_SUBMISSION, self.version, bound
        )
        for job in parents:
            proving = _metadata(job, ProvingMetadata)
            await self.jobs.create_job(
                JobType.DATA_SUBMISSION,
                job.internal_id,
                DaMetadata(
                    block_number=proving.block_number, blob_data_path=snos_file(job.internal_id, BLOB_DATA_FILE)
                ),
            )

    # --- Aggregator (L2) ------------------------------------------------------------------------
    async def aggregator(self) -> None:
        slots = await jobs_to_create(self.db, JobType.AGGREGATOR, self.params.aggregator_job_buffer_size, self.version)
        if slots == 0:
            log.debug("aggregator job buffer is full")
            return
        batches = await self.db.get_aggregator_batches(
            AggregatorBatchQuery(
                statuses=[AggregatorBatchStatus.CLOSED], limit=slots, orchestrator_version=self.version, sort="asc"
            )
        )
        for batch in batches:
            try:
                ready = await self.children_proven(batch)
            except Exception:
                log.exception("checking the children of aggregator batch %d failed", batch.index)
                continue
            if not ready:
                log.debug("aggregator batch %d: not every child is proven yet", batch.index)
                continue
            i = batch.index
            await self.jobs.create_job(
                JobType.AGGREGATOR,
                i,
                AggregatorMetadata(
                    batch_num=i,
                    bucket_id=batch.bucket_id,
                    download_proof=batch_artifact_file(i, PROOF_FILE) if self.params.store_audit_artifacts else None,
                    blob_data_path=batch_blob_dir(i),
                    da_segment_path=batch_artifact_file(i, DA_SEGMENT_FILE),
                    cairo_pie_path=batch_artifact_file(i, CAIRO_PIE_FILE),
                    snos_output_path=batch_artifact_file(i, SNOS_OUTPUT_FILE),
                    program_output_path=batch_artifact_file(i, PROGRAM_OUTPUT_FILE),
                ),
            )
            # Also when the job existed already: a crash between the two writes must not strand the batch.
            await self.db.update_aggregator_batch_status_by_index(i, AggregatorBatchStatus.PENDING_AGGREGATOR_RUN)

    async def children_proven(self, batch: AggregatorBatch) -> bool:
        """The batch's SNOS batches cover exactly its blocks, without gaps, are all closed, and every one
        has a Completed ProofCreation job."""
        children = await self.db.get_snos_batches_by_aggregator_index(batch.index)
        if not children:
            return False
        if children[0].start_block != batch.start_block or children[-1].end_block != batch.end_block:
            return False
        expected_start = batch.start_block
        for child in children:
            if child.status is SnosBatchStatus.OPEN or child.start_block != expected_start:
                return False
            expected_start = child.end_block + 1
        first, last = children[0].index, children[-1].index
        proven = await self.db.get_jobs_between_internal_ids(JobType.PROOF_CREATION, JobStatus.COMPLETED, first, last)
        return len(proven) == last - first + 1

    # --- UpdateState ----------------------------------------------------------------------------
    async def update_state(self) -> None:
        parent_type = JobType.AGGREGATOR if self.params.layer is Layer.L2 else JobType.DATA_SUBMISSION
        latest = await self.db.get_latest_job_by_type(JobType.STATE_TRANSITION)
        if latest is not None:
            if latest.status is not JobStatus.COMPLETED:
                # One settlement transaction at a time: parallel ones would race for the nonce.
                log.info("StateTransition %d is %s; settling strictly in order", latest.internal_id, latest.status)
                return
            settled = _metadata(latest, StateUpdateMetadata).context.to_settle
            last_settled: int | None = settled
            parents = await self.db.get_jobs_after_internal_id_by_job_type(
                parent_type, JobStatus.COMPLETED, settled, self.version
            )
        else:
            last_settled = None
            parents = await self.db.get_jobs_without_successor(
                parent_type, JobStatus.COMPLETED, JobType.STATE_TRANSITION, self.version, 0
            )
        ready = sorted(job.internal_id for job in parents)
        expected = 1 if last_settled is None else last_settled + 1
        if not ready or ready[0] != expected:
            log.info("UpdateState: %s %d is not completed yet", parent_type, expected)
            return
        metadata = StateUpdateMetadata(context=SettlementContext(type="Batch", to_settle=expected))
        if self.params.layer is Layer.L2:
            aggregator = await self._parent(expected, JobType.AGGREGATOR)
            agg = _metadata(aggregator, AggregatorMetadata)
            metadata.snos_output_path = agg.snos_output_path
            metadata.program_output_path = agg.program_output_path
            metadata.blob_data_path = agg.blob_data_path
            metadata.da_segment_path = agg.da_segment_path
        else:
            snos = _metadata(await self._parent(expected, JobType.SNOS_RUN), SnosMetadata)
            da = _metadata(await self._parent(expected, JobType.DATA_SUBMISSION), DaMetadata)
            metadata.snos_output_path = snos.snos_output_path
            metadata.program_output_path = snos.program_output_path
            metadata.blob_data_path = da.blob_data_path
        await self.jobs.create_job(JobType.STATE_TRANSITION, expected, metadata)

    async def _parent(self, internal_id: int, job_type: JobType) -> JobItem:
        job = await self.db.get_job_by_internal_id_and_type(internal_id, job_type)
        if job is None:
            raise MissingParentJobError(f"{job_type} job {internal_id} not found")
        return job
