"""Verification shared by ProofCreation and ProofRegistration: poll the prover task, keep the proof."""

from __future__ import annotations

import logging
from enum import StrEnum

from orchestrator.core.clients.storage import StorageClient
from orchestrator.core.madara.prover import (
    ProverClient,
    ProverRequestError,
    TaskStatusKind,
    TaskType,
    UnsupportedTaskError,
)
from orchestrator.core.models.job import JobItem
from orchestrator.core.models.metadata import ProvingMetadata
from orchestrator.services.job.handler import Verification
from orchestrator.services.job.handlers.common import external_id

log = logging.getLogger("orchestrator.handlers.prover")


class ProverFlavour(StrEnum):
    """Which prover backs the deployment; the values are the `prover` setting's."""

    ATLANTIC = "atlantic"
    SHARP = "sharp"
    MOCK = "mock"


#: A prover that does not offer the task, or rejects the request itself, answers the same way on
#: every retry: these fail the job with the prover's reason instead of using up the queue's retries.
#: Anything else (a prover that is down, a network error) is retried through the queue.
FATAL_PROVER_ERRORS = (UnsupportedTaskError, ProverRequestError)


async def verify_prover_task(
    job: JobItem,
    meta: ProvingMetadata,
    prover: ProverClient,
    storage: StorageClient,
    failure_label: str,
) -> Verification:
    task_id = external_id(job)
    status = await prover.get_task_status(TaskType.JOB, task_id, meta.ensure_on_chain_registration)
    if status.kind is TaskStatusKind.PROCESSING:
        return Verification.pending()
    if status.kind is TaskStatusKind.FAILED:
        return Verification.rejected(f"{failure_label} #{job.internal_id} failed with error: {status.reason}")
    if meta.download_proof:
        proof = await prover.get_proof(task_id)
        await storage.put(meta.download_proof, proof)
        log.info("stored the proof of task %s at %s", task_id, meta.download_proof)
    return Verification.verified()
