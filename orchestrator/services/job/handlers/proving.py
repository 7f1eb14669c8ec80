"""ProofCreation: submit the SNOS batch's PIE to the prover and wait for its proof (`jobs/proving.rs`).

The prover deduplicates submissions by an id: Atlantic by the job's own id, SHARP and the mock
prover by the SNOS fact (their job key), read from the SnosRun job of the same batch. The external
id is the prover's task id. Verification polls the task; on success the proof is stored at
`download_proof` when the metadata asks for it.
"""

from __future__ import annotations

import asyncio
import logging

from orchestrator.core.clients.database import DatabaseClient
from orchestrator.core.clients.storage import StorageClient
from orchestrator.core.madara.prover import CreateJobTask, ProverClient
from orchestrator.core.models.job import JobItem, JobType
from orchestrator.core.models.metadata import ProvingMetadata, SnosMetadata
from orchestrator.services.job.handler import FatalJobError, Verification
from orchestrator.services.job.handlers.common import input_path, specific
from orchestrator.services.job.handlers.prover_status import FATAL_PROVER_ERRORS, ProverFlavour, verify_prover_task
from orchestrator.services.proof.pie import PieError, read_cairo_pie

log = logging.getLogger("orchestrator.handlers.proving")


class ProofCreationHandler:
    job_type = JobType.PROOF_CREATION
    # One attempt: a failed proof also fails the Atlantic bucket it belongs to (reference comment).
    max_process_attempts = 1
    max_verification_attempts = 900  # 7.5 h at 30 s
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

    async def dedup_id(self, job: JobItem) -> str:
        if self.flavour is ProverFlavour.ATLANTIC:
            return str(job.id)
        snos_job = await self.db.get_job_by_internal_id_and_type(job.internal_id, JobType.SNOS_RUN)
        if snos_job is None:
            raise FatalJobError(f"no SnosRun job {job.internal_id}: the {self.flavour} job key is its SNOS fact")
        snos_meta = specific(snos_job, SnosMetadata)
        if not snos_meta.snos_fact:
            raise FatalJobError(f"SnosRun job {job.internal_id} has no snos_fact, the {self.flavour} job key")
        return snos_meta.snos_fact

    async def process_job(self, job: JobItem) -> str | int:
        meta = specific(job, ProvingMetadata)
        pie_path = input_path(job, "CairoPie")
        dedup_id = await self.dedup_id(job)
        pie = await self.storage.get(pie_path)
        try:
            # Reading checks the zip is a PIE before a prover is paid to find out.
            await asyncio.to_thread(read_cairo_pie, pie)
        except PieError as exc:
            raise FatalJobError(f"the Cairo PIE at {pie_path} is not readable: {exc}") from exc
        task = CreateJobTask(
            cairo_pie=pie,
            dedup_id=dedup_id,
            bucket_id=meta.bucket_id,
            bucket_job_index=meta.bucket_job_index,
            num_steps=meta.n_steps,
        )
        try:
            task_id = await self.prover.submit_task(task)
        except FATAL_PROVER_ERRORS as exc:
            raise FatalJobError(f"the prover refused the proof job: {exc}") from exc
        log.info("proof job %s submitted to %s as task %s", job.internal_id, self.flavour, task_id)
        return task_id

    async def verify_job(self, job: JobItem) -> Verification:
        meta = specific(job, ProvingMetadata)
        return await verify_prover_task(job, meta, self.prover, self.storage, "Prover job")
