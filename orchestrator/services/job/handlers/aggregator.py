"""Aggregator (L2): aggregate an aggregator batch's SNOS proofs into one proof (`jobs/aggregator.rs`).

Atlantic: process closes the batch's bucket (`RunAggregationTask(bucket_id)`), whose id is the
external id. Verification polls the bucket; on success the artifacts are downloaded and stored:
the aggregator PIE, its program output (recomputed from the PIE, the aggregator's own output
without the echoed children), the DA segment and, when asked, the proof. The batch moves to
PendingAggregatorVerification after processing, then ReadyForStateUpdate or VerificationFailed.

SHARP and the mock prover need the Cairo aggregator program run locally (the reference's
`aggregator-runner` crate on cairo-vm); no Cairo VM can run here, so those deployments fail the
job with a message saying so instead of pretending to aggregate.
"""

from __future__ import annotations

import asyncio
import logging

from orchestrator.core.clients.database import DatabaseClient
from orchestrator.core.clients.storage import StorageClient
from orchestrator.core.madara.prover import ProverClient, RunAggregationTask, TaskStatusKind, TaskType
from orchestrator.core.models.batch import AggregatorBatchStatus
from orchestrator.core.models.job import JobItem, JobType
from orchestrator.core.models.metadata import AggregatorMetadata
from orchestrator.services.job.handler import FatalJobError, Verification
from orchestrator.services.job.handlers.bincode import encode_felts
from orchestrator.services.job.handlers.common import external_id, specific
from orchestrator.services.job.handlers.prover_status import FATAL_PROVER_ERRORS, ProverFlavour
from orchestrator.services.proof.pie import read_cairo_pie
from orchestrator.services.proof.program_output import program_output

log = logging.getLogger("orchestrator.handlers.aggregator")

LOCAL_AGGREGATION_UNAVAILABLE = (
    "aggregation with the {flavour} prover needs the Cairo aggregator program run locally "
    "(the reference's aggregator-runner on cairo-vm), which this orchestrator cannot run; "
    "use the Atlantic prover, whose buckets aggregate on the prover's side"
)


def aggregator_program_output(pie_zip: bytes) -> list[int]:
    """The aggregator's own output: what the state update settles (CPU-bound)."""
    return program_output(read_cairo_pie(pie_zip), aggregator=True)


class AggregatorHandler:
    job_type = JobType.AGGREGATOR
    max_process_attempts = 1
    max_verification_attempts = 900
    verification_polling_delay_seconds = 30

    def __init__(
        self, prover: ProverClient, storage: StorageClient, database: DatabaseClient, *, flavour: ProverFlavour
    ) -> None:
        self.prover = prover
        self.storage = storage
        self.db = database
        self.flavour = flavour

    async def check_ready_to_process(self, job: JobItem) -> int | None:
        return None

    async def process_job(self, job: JobItem) -> str | int:
        meta = specific(job, AggregatorMetadata)
        if self.flavour is not ProverFlavour.ATLANTIC:
            raise FatalJobError(LOCAL_AGGREGATION_UNAVAILABLE.format(flavour=self.flavour))
        if not meta.bucket_id:
            raise FatalJobError(f"Atlantic aggregator job {meta.batch_num} has no bucket_id")
        try:
            task_id = await self.prover.submit_task(RunAggregationTask(meta.bucket_id))
        except FATAL_PROVER_ERRORS as exc:
            raise FatalJobError(f"the prover refused to aggregate bucket {meta.bucket_id}: {exc}") from exc
        await self.db.update_aggregator_batch_status_by_index(
            meta.batch_num, AggregatorBatchStatus.PENDING_AGGREGATOR_VERIFICATION
        )
        log.info("aggregator batch %s: bucket %s closed (task %s)", meta.batch_num, meta.bucket_id, task_id)
        return task_id

    async def verify_job(self, job: JobItem) -> Verification:
        meta = specific(job, AggregatorMetadata)
        task_id = external_id(job)
        status = await self.prover.get_task_status(TaskType.AGGREGATION, task_id, meta.ensure_on_chain_registration)
        if status.kind is TaskStatusKind.PROCESSING:
            return Verification.pending()
        if status.kind is TaskStatusKind.FAILED:
            await self.db.update_aggregator_batch_status_by_index(
                meta.batch_num, AggregatorBatchStatus.VERIFICATION_FAILED
            )
            return Verification.rejected(f"Aggregator job #{job.internal_id} failed: {status.reason}")

        await self.store_artifacts(meta, task_id)
        await self.db.update_aggregator_batch_status_by_index(
            meta.batch_num, AggregatorBatchStatus.READY_FOR_STATE_UPDATE
        )
        return Verification.verified()

    async def store_artifacts(self, meta: AggregatorMetadata, task_id: str) -> None:
        artifacts = await self.prover.get_aggregation_artifacts(task_id, include_proof=meta.download_proof is not None)
        if artifacts.cairo_pie is not None:
            pie_key, output_key = meta.cairo_pie_path, meta.program_output_path
            if not pie_key or not output_key:
                raise ValueError(f"aggregator job {meta.batch_num} lacks cairo_pie_path or program_output_path")
            output = await asyncio.to_thread(aggregator_program_output, artifacts.cairo_pie)
            await self.storage.put(pie_key, artifacts.cairo_pie)
            await self.storage.put(output_key, encode_felts(output))
        if artifacts.da_segment is not None:
            if not meta.da_segment_path:
                raise ValueError(f"aggregator job {meta.batch_num} lacks da_segment_path")
            await self.storage.put(meta.da_segment_path, artifacts.da_segment)
        if artifacts.proof is not None and meta.download_proof:
            await self.storage.put(meta.download_proof, artifacts.proof)
