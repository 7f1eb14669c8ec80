"""Aggregator (L2): aggregate an aggregator batch's SNOS proofs into one proof (`jobs/aggregator.rs`).

Atlantic: process closes the batch's bucket (`RunAggregationTask(bucket_id)`), whose id is the
external id. Verification polls the bucket; on success the artifacts are downloaded and stored:
the aggregator PIE, its program output (recomputed from the PIE, the aggregator's own output
without the echoed children), the DA segment and, when asked, the proof.

SHARP and the mock prover (the reference's "local aggregation"): the aggregator program runs here,
through the injected `AggregatorRunner`, over
- each child SNOS batch's program output (bincode, from its SnosRun job's `program_output_path`)
  and prover job key (its ProofCreation job's external id), in SNOS batch order;
- the batch's DA segment: the felts of the blobs aggregator batching stored at
  `{blob_data_path}/{j}.txt`, j = 1, 2, ... until one is missing.
Its program output (bincode), DA segment (JSON array of hex felts) and PIE go to the metadata
paths, its fact to `ensure_on_chain_registration`, and `RunAggregationWithPieTask(pie, children
keys, fact)` to the prover, whose answer is the external id. Without a runner (no aggregator
program available to this deployment) the job fails with a message saying so.

In every path the batch moves to PendingAggregatorVerification after processing; verification
polls `get_task_status(Aggregation, external id, fact)`, then ReadyForStateUpdate or
VerificationFailed.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass

from orchestrator.core.clients.database import AggregatorBatchQuery, DatabaseClient
from orchestrator.core.clients.storage import StorageClient
from orchestrator.core.errors import ObjectNotFoundError
from orchestrator.core.madara.aggregator import AggregatorError, AggregatorOutput, AggregatorRequest, AggregatorRunner
from orchestrator.core.madara.prover import (
    ProverClient,
    RunAggregationTask,
    RunAggregationWithPieTask,
    TaskStatusKind,
    TaskType,
)
from orchestrator.core.models.batch import AggregatorBatch, AggregatorBatchStatus
from orchestrator.core.models.job import JobItem, JobStatus, JobType
from orchestrator.core.models.metadata import AggregatorMetadata, SnosMetadata
from orchestrator.services.da.blob import BlobFormatError, blob_to_felts
from orchestrator.services.job.handler import FatalJobError, RetryableJobError, Verification
from orchestrator.services.job.handlers.bincode import BincodeError, decode_felts, encode_felts
from orchestrator.services.job.handlers.common import external_id, required, specific
from orchestrator.services.job.handlers.felts import encode_felts_json
from orchestrator.services.job.handlers.prover_status import FATAL_PROVER_ERRORS, ProverFlavour
from orchestrator.services.proof.pie import PieError, read_cairo_pie
from orchestrator.services.proof.program_output import program_output

log = logging.getLogger("orchestrator.handlers.aggregator")

FACT_HEX = re.compile(r"0x[0-9a-fA-F]{64}")

LOCAL_AGGREGATION_UNAVAILABLE = (
    "aggregation with the {flavour} prover needs the Cairo aggregator program run locally "
    "(the reference's aggregator-runner on cairo-vm), and no aggregator runner is configured; "
    "use the Atlantic prover, whose buckets aggregate on the prover's side, or a devnet runner"
)


def aggregator_program_output(pie_zip: bytes) -> list[int]:
    """The aggregator's own output: what the state update settles (CPU-bound)."""
    return program_output(read_cairo_pie(pie_zip), aggregator=True)


def da_segment_of(blobs: list[bytes]) -> list[int]:
    """The felts the blobs carry, blob after blob (the inverse FFT of each; CPU-bound)."""
    return [felt for blob in blobs for felt in blob_to_felts(blob)]


@dataclass(frozen=True)
class Child:
    """One SNOS batch of the aggregator batch, as the aggregator takes it."""

    snos_batch: int
    program_output: list[int]
    job_key: str


class AggregatorHandler:
    job_type = JobType.AGGREGATOR
    max_process_attempts = 1
    max_verification_attempts = 900
    verification_polling_delay_seconds = 30

    def __init__(
        self,
        prover: ProverClient,
        storage: StorageClient,
        database: DatabaseClient,
        *,
        flavour: ProverFlavour,
        runner: AggregatorRunner | None = None,
    ) -> None:
        self.prover = prover
        self.storage = storage
        self.db = database
        self.flavour = flavour
        self.runner = runner

    async def check_ready_to_process(self, job: JobItem) -> int | None:
        return None

    async def process_job(self, job: JobItem) -> str | int:
        meta = specific(job, AggregatorMetadata)
        if self.flavour is ProverFlavour.ATLANTIC:
            task_id = await self.close_bucket(meta)
        elif self.runner is None:
            raise FatalJobError(LOCAL_AGGREGATION_UNAVAILABLE.format(flavour=self.flavour))
        else:
            task_id = await self.aggregate_locally(job, meta, self.runner)
        await self.db.update_aggregator_batch_status_by_index(
            meta.batch_num, AggregatorBatchStatus.PENDING_AGGREGATOR_VERIFICATION
        )
        return task_id

    # ------------------------------------------------------------------------------------------
    # Atlantic
    async def close_bucket(self, meta: AggregatorMetadata) -> str:
        if not meta.bucket_id:
            raise FatalJobError(f"Atlantic aggregator job {meta.batch_num} has no bucket_id")
        try:
            task_id = await self.prover.submit_task(RunAggregationTask(meta.bucket_id))
        except FATAL_PROVER_ERRORS as exc:
            raise FatalJobError(f"the prover refused to aggregate bucket {meta.bucket_id}: {exc}") from exc
        log.info("aggregator batch %s: bucket %s closed (task %s)", meta.batch_num, meta.bucket_id, task_id)
        return task_id

    # ------------------------------------------------------------------------------------------
    # SHARP / Mock: the local aggregator run
    async def aggregate_locally(self, job: JobItem, meta: AggregatorMetadata, runner: AggregatorRunner) -> str:
        # Checked before the run: without them its results could not be stored.
        output_key = required(meta.program_output_path, "program_output_path", job)
        da_segment_key = required(meta.da_segment_path, "da_segment_path", job)
        pie_key = required(meta.cairo_pie_path, "cairo_pie_path", job)
        blob_dir = required(meta.blob_data_path, "blob_data_path", job)

        batch = await self.batch(meta.batch_num)
        children = await self.children(meta.batch_num)
        blobs = await self.batch_blobs(meta.batch_num, blob_dir)
        try:
            da_segment = await asyncio.to_thread(da_segment_of, blobs)
        except BlobFormatError as exc:
            raise FatalJobError(f"aggregator batch {meta.batch_num}: a stored blob is not a blob: {exc}") from exc
        request = AggregatorRequest(
            batch_index=meta.batch_num,
            start_block=batch.start_block,
            end_block=batch.end_block,
            children_outputs=[child.program_output for child in children],
            children_keys=[child.job_key for child in children],
            da_segment=da_segment,
            blobs=blobs,
        )
        try:
            result = await runner.run(request)
        except AggregatorError as exc:
            if exc.retryable:
                raise RetryableJobError(f"aggregator run failed (retryable): {exc}") from exc
            raise FatalJobError(f"aggregator run failed: {exc}") from exc
        await self.check_output(meta.batch_num, result)

        meta.ensure_on_chain_registration = result.fact
        await self.storage.put(output_key, encode_felts(result.program_output))
        await self.storage.put(da_segment_key, encode_felts_json(result.da_segment))
        await self.storage.put(pie_key, result.cairo_pie)
        task = RunAggregationWithPieTask(result.cairo_pie, request.children_keys, result.fact)
        try:
            task_id = await self.prover.submit_task(task)
        except FATAL_PROVER_ERRORS as exc:
            raise FatalJobError(f"the prover refused the aggregation of batch {meta.batch_num}: {exc}") from exc
        log.info(
            "aggregator batch %s (blocks %s..%s, %d children, %d blobs): fact %s, prover task %s",
            meta.batch_num,
            batch.start_block,
            batch.end_block,
            len(children),
            len(blobs),
            result.fact,
            task_id,
        )
        return task_id

    async def check_output(self, batch_num: int, result: AggregatorOutput) -> None:
        """The settled output must be the one the proven PIE holds, or the fact proves something else."""
        try:
            in_pie = await asyncio.to_thread(aggregator_program_output, result.cairo_pie)
        except PieError as exc:
            raise FatalJobError(f"aggregator batch {batch_num}: the aggregator PIE cannot be read: {exc}") from exc
        if in_pie != result.program_output:
            raise FatalJobError(
                f"aggregator batch {batch_num}: the runner's program output differs from the output in its PIE"
            )
        if not FACT_HEX.fullmatch(result.fact):
            raise FatalJobError(f"aggregator batch {batch_num}: the runner's fact {result.fact!r} is not 32-byte hex")

    async def batch(self, batch_num: int) -> AggregatorBatch:
        found = await self.db.get_aggregator_batches(AggregatorBatchQuery(indexes=[batch_num]))
        if not found:
            raise FatalJobError(f"aggregator batch {batch_num} is not in the database")
        return found[0]

    async def children(self, batch_num: int) -> list[Child]:
        """The batch's SNOS batches with their program outputs and prover job keys, in index order.
        The job was created once every child was proven, so anything missing is an inconsistency."""
        batches = sorted(await self.db.get_snos_batches_by_aggregator_index(batch_num), key=lambda b: b.index)
        if not batches:
            raise FatalJobError(f"aggregator batch {batch_num} has no SNOS batches")
        indexes = [b.index for b in batches]
        snos_jobs = {
            j.internal_id: j for j in await self.db.get_jobs_by_internal_ids_and_type(indexes, JobType.SNOS_RUN)
        }
        proofs = {
            j.internal_id: j for j in await self.db.get_jobs_by_internal_ids_and_type(indexes, JobType.PROOF_CREATION)
        }
        children = []
        for index in indexes:
            snos, proof = snos_jobs.get(index), proofs.get(index)
            if snos is None or proof is None:
                missing = "SnosRun" if snos is None else "ProofCreation"
                raise FatalJobError(f"aggregator batch {batch_num}: SNOS batch {index} has no {missing} job")
            if proof.status is not JobStatus.COMPLETED or not proof.external_id:
                raise FatalJobError(
                    f"aggregator batch {batch_num}: the proof of SNOS batch {index} is {proof.status}, not Completed"
                )
            output_key = required(specific(snos, SnosMetadata).program_output_path, "program_output_path", snos)
            stored = await self.artifact(output_key, f"SNOS batch {index}'s program output")
            try:
                output = decode_felts(stored)
            except BincodeError as exc:
                raise FatalJobError(f"SNOS batch {index}'s program output ({output_key}) is corrupt: {exc}") from exc
            children.append(Child(index, output, str(proof.external_id)))
        return children

    async def artifact(self, key: str, what: str) -> bytes:
        try:
            return await self.storage.get(key)
        except ObjectNotFoundError as exc:
            raise FatalJobError(f"{what} is missing from storage ({key})") from exc

    async def batch_blobs(self, batch_num: int, blob_dir: str) -> list[bytes]:
        """The blobs aggregator batching stored for the batch, numbered from 1, up to the first gap."""
        blobs: list[bytes] = []
        while True:
            try:
                blobs.append(await self.storage.get(f"{blob_dir.rstrip('/')}/{len(blobs) + 1}.txt"))
            except ObjectNotFoundError:
                break
        if not blobs:
            raise FatalJobError(f"aggregator batch {batch_num} has no blobs at {blob_dir}/1.txt")
        return blobs

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
