"""ProofCreation and ProofRegistration: submission, dedup ids, error classes, verification branches."""

from __future__ import annotations

import json

import pytest

from orchestrator.clients.snos.devnet import DEVNET_PROGRAM
from orchestrator.clients.snos.pie_writer import write_cairo_pie
from orchestrator.core.errors import ObjectNotFoundError, ServiceUnavailableError
from orchestrator.core.madara.prover import (
    CreateJobTask,
    ProverRequestError,
    TaskStatus,
    TaskStatusKind,
    TaskType,
    UnsupportedTaskError,
)
from orchestrator.core.models.job import JobItem, JobType
from orchestrator.core.models.metadata import ProvingInputType, ProvingMetadata, SnosMetadata
from orchestrator.services.job.handler import FatalJobError, Verification
from orchestrator.services.job.handlers.proof_registration import ProofRegistrationHandler
from orchestrator.services.job.handlers.prover_status import ProverFlavour
from orchestrator.services.job.handlers.proving import ProofCreationHandler
from tests.fakes import FakeStorage
from tests.unit.handlers.fakes import BatchDatabase, FakeProver
from tests.unit.handlers.helpers import job_of
from tests.unit.handlers.test_formats import stone_proof

PIE = write_cairo_pie(DEVNET_PROGRAM, [1, 2, 3], n_steps=3)


def proving_job(index: int = 4, *, download: str | None = None, **fields: object) -> JobItem:
    meta = ProvingMetadata(
        block_number=index,
        input_path=ProvingInputType.cairo_pie(f"{index}/cairo_pie.zip"),
        download_proof=download,
        n_steps=1234,
        **fields,  # type: ignore[arg-type]
    )
    return job_of(JobType.PROOF_CREATION, index, meta)


def make(
    flavour: ProverFlavour = ProverFlavour.ATLANTIC,
) -> tuple[ProofCreationHandler, FakeProver, FakeStorage, BatchDatabase]:
    prover, storage, db = FakeProver(task_id="query-9"), FakeStorage(), BatchDatabase()
    storage.objects["4/cairo_pie.zip"] = PIE
    return ProofCreationHandler(prover, storage, db, flavour=flavour), prover, storage, db  # type: ignore[arg-type]


async def add_snos_job(db: BatchDatabase, index: int = 4, fact: str | None = "0xfact") -> None:
    meta = SnosMetadata(snos_batch_index=index, start_block=index, end_block=index, num_blocks=1, snos_fact=fact)
    await db.create_job(job_of(JobType.SNOS_RUN, index, meta))


def test_limits_are_the_reference_table() -> None:
    creation, *_ = make()
    registration = ProofRegistrationHandler(FakeProver(), FakeStorage())  # type: ignore[arg-type]
    assert (creation.max_process_attempts, creation.max_verification_attempts) == (1, 900)
    assert creation.verification_polling_delay_seconds == 30
    assert (registration.max_process_attempts, registration.max_verification_attempts) == (2, 300)
    assert registration.verification_polling_delay_seconds == 300
    assert (creation.job_type, registration.job_type) == (JobType.PROOF_CREATION, JobType.PROOF_REGISTRATION)


async def test_atlantic_submits_the_pie_deduplicated_by_the_job_id() -> None:
    handler, prover, _, _ = make()
    job = proving_job(bucket_id="bucket-1", bucket_job_index=3)
    assert await handler.check_ready_to_process(job) is None
    assert await handler.process_job(job) == "query-9"
    assert prover.submitted == [
        CreateJobTask(cairo_pie=PIE, dedup_id=str(job.id), bucket_id="bucket-1", bucket_job_index=3, num_steps=1234)
    ]


@pytest.mark.parametrize("flavour", [ProverFlavour.SHARP, ProverFlavour.MOCK])
async def test_sharp_and_mock_deduplicate_by_the_snos_fact(flavour: ProverFlavour) -> None:
    handler, prover, _, db = make(flavour)
    await add_snos_job(db)
    await handler.process_job(proving_job())
    task = prover.submitted[0]
    assert isinstance(task, CreateJobTask)
    assert task.dedup_id == "0xfact"


@pytest.mark.parametrize("fact", [None, ""])
async def test_sharp_without_a_snos_fact_is_fatal(fact: str | None) -> None:
    handler, prover, _, db = make(ProverFlavour.SHARP)
    await add_snos_job(db, fact=fact)
    with pytest.raises(FatalJobError, match="snos_fact"):
        await handler.process_job(proving_job())
    assert prover.submitted == []


async def test_sharp_without_the_snos_job_is_fatal() -> None:
    handler, *_ = make(ProverFlavour.SHARP)
    with pytest.raises(FatalJobError, match="no SnosRun job"):
        await handler.process_job(proving_job())


async def test_input_must_be_a_readable_cairo_pie() -> None:
    handler, prover, storage, _ = make()
    with pytest.raises(FatalJobError, match="CairoPie"):
        await handler.process_job(_with_input(ProvingInputType.proof("x")))
    with pytest.raises(FatalJobError, match="input_path"):
        await handler.process_job(_with_input(None))
    storage.objects["4/cairo_pie.zip"] = b"garbage"
    with pytest.raises(FatalJobError, match="not readable"):
        await handler.process_job(proving_job())
    assert prover.submitted == []


def _with_input(input_path: ProvingInputType | None) -> JobItem:
    job = proving_job()
    assert isinstance(job.metadata.specific, ProvingMetadata)
    job.metadata.specific.input_path = input_path
    return job


async def test_missing_pie_in_storage_is_retried() -> None:
    handler, _, storage, _ = make()
    del storage.objects["4/cairo_pie.zip"]
    with pytest.raises(ObjectNotFoundError):
        await handler.process_job(proving_job())


@pytest.mark.parametrize("error", [UnsupportedTaskError("no buckets here"), ProverRequestError("400 bad dedupId")])
async def test_prover_refusals_are_fatal(error: Exception) -> None:
    handler, prover, _, _ = make()
    prover.submit_error = error
    with pytest.raises(FatalJobError, match=str(error)):
        await handler.process_job(proving_job())


async def test_prover_outage_is_retried() -> None:
    handler, prover, _, _ = make()
    prover.submit_error = ServiceUnavailableError("503")
    with pytest.raises(ServiceUnavailableError):
        await handler.process_job(proving_job())


async def test_verify_processing_is_pending_with_the_registration_fact() -> None:
    handler, prover, _, _ = make()
    prover.status = TaskStatus(TaskStatusKind.PROCESSING)
    job = proving_job(ensure_on_chain_registration="0xabc")
    job.external_id = "query-9"
    assert await handler.verify_job(job) == Verification.pending()
    assert prover.status_calls == [(TaskType.JOB, "query-9", "0xabc")]


async def test_verify_succeeded_stores_the_proof_when_asked() -> None:
    handler, prover, storage, _ = make()
    job = proving_job(download="4/proof.json")
    job.external_id = "query-9"
    assert await handler.verify_job(job) == Verification.verified()
    assert storage.objects["4/proof.json"] == prover.proof


async def test_verify_succeeded_without_download_stores_nothing() -> None:
    handler, _, storage, _ = make()
    job = proving_job()
    job.external_id = "query-9"
    assert await handler.verify_job(job) == Verification.verified()
    assert set(storage.objects) == {"4/cairo_pie.zip"}


async def test_verify_failed_is_rejected_with_the_provers_reason() -> None:
    handler, prover, _, _ = make()
    prover.status = TaskStatus(TaskStatusKind.FAILED, "out of memory")
    job = proving_job()
    job.external_id = "query-9"
    assert await handler.verify_job(job) == Verification.rejected("Prover job #4 failed with error: out of memory")


async def test_verify_without_external_id_is_an_error() -> None:
    handler, *_ = make()
    with pytest.raises(ValueError, match="external id"):
        await handler.verify_job(proving_job())


# --- ProofRegistration --------------------------------------------------------------------------------
def registration_job(index: int = 8) -> JobItem:
    meta = ProvingMetadata(
        block_number=index,
        input_path=ProvingInputType.proof(f"{index}/proof.json"),
        download_proof=f"{index}/proof_part2.json",
        n_steps=77,
    )
    return job_of(JobType.PROOF_REGISTRATION, index, meta)


async def test_registration_submits_the_wrapped_proof_as_an_l2_query() -> None:
    prover, storage = FakeProver(task_id="l2-query"), FakeStorage()
    proof = stone_proof([5, 6])
    storage.objects["8/proof.json"] = proof
    handler = ProofRegistrationHandler(prover, storage)  # type: ignore[arg-type]
    assert await handler.process_job(registration_job()) == "l2-query"
    task_id, sent, n_steps = prover.l2_queries[0]
    assert (task_id, n_steps) == ("8", 77)
    assert json.loads(sent) == {"proof": json.loads(proof)}


async def test_registration_rejects_bad_inputs_fatally() -> None:
    prover, storage = FakeProver(), FakeStorage()
    handler = ProofRegistrationHandler(prover, storage)  # type: ignore[arg-type]
    pie_input = registration_job()
    assert isinstance(pie_input.metadata.specific, ProvingMetadata)
    pie_input.metadata.specific.input_path = ProvingInputType.cairo_pie("8/cairo_pie.zip")
    with pytest.raises(FatalJobError, match="Proof input"):
        await handler.process_job(pie_input)
    storage.objects["8/proof.json"] = b'{"no": "public input"}'
    with pytest.raises(FatalJobError, match="not usable"):
        await handler.process_job(registration_job())
    storage.objects["8/proof.json"] = stone_proof([1])
    prover.submit_error = UnsupportedTaskError("the mock prover has no L2 queries")
    with pytest.raises(FatalJobError, match="L2 queries"):
        await handler.process_job(registration_job())
    assert prover.l2_queries == []


async def test_registration_verify_stores_the_bridge_proof() -> None:
    prover, storage = FakeProver(proof=b"bridge"), FakeStorage()
    handler = ProofRegistrationHandler(prover, storage)  # type: ignore[arg-type]
    job = registration_job()
    job.external_id = "l2-query"
    assert await handler.verify_job(job) == Verification.verified()
    assert storage.objects["8/proof_part2.json"] == b"bridge"
    prover.status = TaskStatus(TaskStatusKind.FAILED, "invalid proof")
    assert await handler.verify_job(job) == Verification.rejected(
        "Proof registration job #8 failed with error: invalid proof"
    )
    prover.status = TaskStatus(TaskStatusKind.PROCESSING)
    assert await handler.verify_job(job) == Verification.pending()
