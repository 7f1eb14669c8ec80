"""ProofRegistration (L3): verify the SNOS proof on L2 through Atlantic (`jobs/proof_registration.rs`).

Process: read the proof at `input_path` (a `Proof` input), check it is a proof with a public input,
wrap it as `{"proof": <proof>}` and submit it as an L2 verification query (task id = the job's
internal id). The external id is the query id. Verification is ProofCreation's; on success the
bridge proof is stored at `download_proof` (`{id}/proof_part2.json`).
"""

from __future__ import annotations

import logging

from orchestrator.core.clients.storage import StorageClient
from orchestrator.core.madara.prover import ProverClient
from orchestrator.core.models.job import JobItem, JobType
from orchestrator.core.models.metadata import ProvingMetadata
from orchestrator.services.job.handler import FatalJobError, Verification
from orchestrator.services.job.handlers.common import input_path, specific
from orchestrator.services.job.handlers.prover_status import FATAL_PROVER_ERRORS, verify_prover_task
from orchestrator.services.job.handlers.stark_proof import StarkProofError, parse_proof

log = logging.getLogger("orchestrator.handlers.proof_registration")


def wrap_proof(proof: bytes) -> bytes:
    """The query's input file: the proof under a "proof" key, as the reference formats it."""
    return b'{\n\t"proof": ' + proof + b"\n}"


class ProofRegistrationHandler:
    job_type = JobType.PROOF_REGISTRATION
    max_process_attempts = 2
    max_verification_attempts = 300
    verification_polling_delay_seconds = 300

    def __init__(self, prover: ProverClient, storage: StorageClient) -> None:
        self.prover = prover
        self.storage = storage

    async def check_ready_to_process(self, job: JobItem) -> int | None:
        return None

    async def process_job(self, job: JobItem) -> str | int:
        meta = specific(job, ProvingMetadata)
        proof_path = input_path(job, "Proof")
        proof = await self.storage.get(proof_path)
        try:
            parse_proof(proof)
        except StarkProofError as exc:
            raise FatalJobError(f"the proof at {proof_path} is not usable: {exc}") from exc
        try:
            query_id = await self.prover.submit_l2_query(str(job.internal_id), wrap_proof(proof), meta.n_steps)
        except FATAL_PROVER_ERRORS as exc:
            raise FatalJobError(f"the prover refused the L2 verification query: {exc}") from exc
        log.info("proof of %s submitted for L2 verification as query %s", job.internal_id, query_id)
        return query_id

    async def verify_job(self, job: JobItem) -> Verification:
        meta = specific(job, ProvingMetadata)
        return await verify_prover_task(job, meta, self.prover, self.storage, "Proof registration job")
