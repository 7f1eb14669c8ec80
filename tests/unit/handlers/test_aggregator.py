"""Aggregator: Atlantic bucket aggregation, artifacts and batch statuses; SHARP/Mock without an aggregator
runner fail clearly (the local aggregator run itself: test_aggregator_local.py)."""

from __future__ import annotations

import pytest

from orchestrator.clients.snos.devnet import DEVNET_PROGRAM
from orchestrator.clients.snos.pie_writer import write_cairo_pie
from orchestrator.core.errors import ServiceUnavailableError
from orchestrator.core.madara.prover import (
    AggregationArtifacts,
    ProverRequestError,
    RunAggregationTask,
    TaskStatus,
    TaskStatusKind,
    TaskType,
)
from orchestrator.core.models.batch import AggregatorBatchStatus
from orchestrator.core.models.job import JobItem, JobType
from orchestrator.core.models.metadata import AggregatorMetadata
from orchestrator.services import storage_layout
from orchestrator.services.job.handler import FatalJobError, Verification
from orchestrator.services.job.handlers.aggregator import AggregatorHandler
from orchestrator.services.job.handlers.bincode import decode_felts
from orchestrator.services.job.handlers.prover_status import ProverFlavour
from tests.fakes import FakeStorage
from tests.unit.handlers.fakes import BatchDatabase, FakeProver
from tests.unit.handlers.helpers import job_of

# The aggregator's own output: 10 header words, x_0, n_blobs = 1, 4 KZG words, no messages.
OWN_OUTPUT = [*range(100, 110), 0xE0, 1, 0x11, 0x12, 0x13, 0x14, 0, 0]
# It first echoes its one child's output ([size incl. itself, words...]).
FULL_OUTPUT = [1, 3, 7, 8, *OWN_OUTPUT]
PIE = write_cairo_pie(DEVNET_PROGRAM, FULL_OUTPUT, n_steps=10)


def aggregator_job(batch: int = 2, *, bucket: str | None = "bucket-2", download: str | None = None) -> JobItem:
    meta = AggregatorMetadata(
        batch_num=batch,
        bucket_id=bucket,
        download_proof=download,
        blob_data_path=storage_layout.batch_blob_dir(batch),
        da_segment_path=storage_layout.aggregator_da_segment_path(batch),
        cairo_pie_path=storage_layout.aggregator_cairo_pie_path(batch),
        snos_output_path=storage_layout.aggregator_snos_output_path(batch),
        program_output_path=storage_layout.aggregator_program_output_path(batch),
    )
    return job_of(JobType.AGGREGATOR, batch, meta)


def make(
    flavour: ProverFlavour = ProverFlavour.ATLANTIC,
) -> tuple[AggregatorHandler, FakeProver, FakeStorage, BatchDatabase]:
    prover, storage, db = FakeProver(task_id="bucket-2"), FakeStorage(), BatchDatabase()
    db.add_aggregator_batch(2, 10, 19).status = AggregatorBatchStatus.CLOSED
    return AggregatorHandler(prover, storage, db, flavour=flavour), prover, storage, db  # type: ignore[arg-type]


def test_limits_are_the_reference_table() -> None:
    handler, *_ = make()
    assert handler.job_type is JobType.AGGREGATOR
    assert (handler.max_process_attempts, handler.max_verification_attempts) == (1, 900)
    assert handler.verification_polling_delay_seconds == 30


async def test_atlantic_closes_the_bucket_and_marks_the_batch_pending_verification() -> None:
    handler, prover, _, db = make()
    job = aggregator_job()
    assert await handler.check_ready_to_process(job) is None
    assert await handler.process_job(job) == "bucket-2"
    assert prover.submitted == [RunAggregationTask("bucket-2")]
    assert db.aggregator_batches[2].status is AggregatorBatchStatus.PENDING_AGGREGATOR_VERIFICATION


async def test_atlantic_without_bucket_is_fatal() -> None:
    handler, prover, _, db = make()
    with pytest.raises(FatalJobError, match="bucket_id"):
        await handler.process_job(aggregator_job(bucket=None))
    assert prover.submitted == []
    assert db.aggregator_batches[2].status is AggregatorBatchStatus.CLOSED


async def test_prover_errors_classified() -> None:
    handler, prover, _, db = make()
    prover.submit_error = ProverRequestError("404 bucket not found")
    with pytest.raises(FatalJobError, match="bucket not found"):
        await handler.process_job(aggregator_job())
    prover.submit_error = ServiceUnavailableError("502")
    with pytest.raises(ServiceUnavailableError):
        await handler.process_job(aggregator_job())
    assert db.aggregator_batches[2].status is AggregatorBatchStatus.CLOSED


@pytest.mark.parametrize("flavour", [ProverFlavour.SHARP, ProverFlavour.MOCK])
async def test_local_aggregation_without_a_runner_is_refused_with_a_clear_reason(flavour: ProverFlavour) -> None:
    handler, prover, _, db = make(flavour)
    assert handler.runner is None
    with pytest.raises(FatalJobError, match=f"aggregation with the {flavour} prover needs the Cairo aggregator"):
        await handler.process_job(aggregator_job())
    assert prover.submitted == []
    assert db.aggregator_batches[2].status is AggregatorBatchStatus.CLOSED


async def test_verify_pending_while_the_bucket_runs() -> None:
    handler, prover, storage, db = make()
    prover.status = TaskStatus(TaskStatusKind.PROCESSING)
    job = aggregator_job()
    job.external_id = "bucket-2"
    assert await handler.verify_job(job) == Verification.pending()
    assert prover.status_calls == [(TaskType.AGGREGATION, "bucket-2", None)]
    assert storage.objects == {} and prover.artifact_calls == []
    assert db.aggregator_batches[2].status is AggregatorBatchStatus.CLOSED


async def test_verify_success_stores_the_artifacts_and_readies_the_batch() -> None:
    handler, prover, storage, db = make()
    prover.artifacts = AggregationArtifacts(cairo_pie=PIE, da_segment=b'["0x1", "0x2"]', proof=b"proof")
    job = aggregator_job(download=storage_layout.aggregator_proof_path(2))
    job.external_id = "bucket-2"
    assert await handler.verify_job(job) == Verification.verified()
    assert prover.artifact_calls == [("bucket-2", True)]
    assert storage.objects["artifacts/batch/2/cairo_pie.zip"] == PIE
    # the program output is the aggregator's own, without the echoed child output
    assert decode_felts(storage.objects["artifacts/batch/2/program_output.txt"]) == OWN_OUTPUT
    assert storage.objects["artifacts/batch/2/da_blob.json"] == b'["0x1", "0x2"]'
    assert storage.objects["artifacts/batch/2/proof.json"] == b"proof"
    assert db.aggregator_batches[2].status is AggregatorBatchStatus.READY_FOR_STATE_UPDATE


async def test_verify_success_without_proof_download() -> None:
    handler, prover, storage, _ = make()
    prover.artifacts = AggregationArtifacts(cairo_pie=PIE, da_segment=b"[]", proof=b"unasked")
    job = aggregator_job()
    job.external_id = "bucket-2"
    assert await handler.verify_job(job) == Verification.verified()
    assert prover.artifact_calls == [("bucket-2", False)]
    assert "artifacts/batch/2/proof.json" not in storage.objects


async def test_verify_failure_marks_the_batch_and_rejects() -> None:
    handler, prover, storage, db = make()
    prover.status = TaskStatus(TaskStatusKind.FAILED, "bucket FAILED")
    job = aggregator_job()
    job.external_id = "bucket-2"
    assert await handler.verify_job(job) == Verification.rejected("Aggregator job #2 failed: bucket FAILED")
    assert db.aggregator_batches[2].status is AggregatorBatchStatus.VERIFICATION_FAILED
    assert storage.objects == {}
