"""Aggregator with SHARP / the mock prover: the local aggregator run over the batch's children and blobs,
its artifacts, the RunAggregationWithPie task, verification, and the settlement of its DA segment."""

from __future__ import annotations

import json
from typing import cast

import pytest

from orchestrator.clients.aggregator.devnet import DevnetAggregatorRunner
from orchestrator.clients.prover.mock import MockProverClient
from orchestrator.clients.snos.devnet import DEVNET_PROGRAM
from orchestrator.clients.snos.pie_writer import write_cairo_pie
from orchestrator.core.clients.database import DatabaseClient
from orchestrator.core.clients.storage import StorageClient
from orchestrator.core.errors import ServiceUnavailableError
from orchestrator.core.madara.aggregator import AggregatorError, AggregatorOutput, AggregatorRunner
from orchestrator.core.madara.prover import (
    ProverClient,
    ProverRequestError,
    RunAggregationWithPieTask,
    TaskStatus,
    TaskStatusKind,
    TaskType,
)
from orchestrator.core.models.batch import AggregatorBatchStatus
from orchestrator.core.models.job import JobItem, JobStatus, JobType
from orchestrator.core.models.metadata import (
    AggregatorMetadata,
    ProvingInputType,
    ProvingMetadata,
    SettlementContext,
    SnosMetadata,
    StateUpdateMetadata,
)
from orchestrator.core.models.queue import Layer
from orchestrator.services import storage_layout
from orchestrator.services.job.handler import FatalJobError, RetryableJobError, Verification
from orchestrator.services.job.handlers.aggregator import AggregatorHandler
from orchestrator.services.job.handlers.bincode import decode_felts, encode_felts
from orchestrator.services.job.handlers.felts import decode_felts_json
from orchestrator.services.job.handlers.prover_status import ProverFlavour
from orchestrator.services.job.handlers.state_transition import (
    SettlementMode,
    StateTransitionHandler,
    da_segment_blobs,
)
from tests.fakes import FakeStorage
from tests.unit.aggregator.recorded import CHILD_RANGES, END, START, Recorded, RecordedNode, recorded
from tests.unit.handlers.fakes import (
    BatchDatabase,
    FakeAggregatorRunner,
    FakeFactRegistry,
    FakeProver,
    FakeSettlement,
)
from tests.unit.handlers.helpers import job_of

BATCH = 3
#: SNOS batch indexes of the aggregator batch's children (one per CHILD_RANGES entry)
CHILDREN = [7, 8, 9]
PIE_KEY = storage_layout.aggregator_cairo_pie_path(BATCH)
OUTPUT_KEY = storage_layout.aggregator_program_output_path(BATCH)
DA_KEY = storage_layout.aggregator_da_segment_path(BATCH)

# A runner output for the fake runner: its PIE echoes one child ([1, size, words...]) before its own output.
OWN_OUTPUT = [*range(100, 110), 0xE0, 1, 0x11, 0x12, 0x13, 0x14, 0, 0]
FAKE_OUTPUT = AggregatorOutput(
    program_output=OWN_OUTPUT,
    da_segment=[5, 6, 7],
    cairo_pie=write_cairo_pie(DEVNET_PROGRAM, [1, 3, 7, 8, *OWN_OUTPUT], n_steps=22),
    fact="0x" + "cd" * 32,
)


@pytest.fixture(scope="module")
def data() -> Recorded:
    return recorded()


class World:
    """An aggregator batch of three proven SNOS batches, its blobs stored by aggregator batching."""

    def __init__(self, data: Recorded, prover: ProverClient | None = None) -> None:
        self.data = data
        self.db = BatchDatabase()
        self.storage = FakeStorage()
        self.prover = prover or FakeProver(task_id="0x" + "cd" * 32)
        self.db.add_aggregator_batch(BATCH, START, END).status = AggregatorBatchStatus.PENDING_AGGREGATOR_RUN
        # stored out of order: the handler must order the children by SNOS batch index
        for index, (start, end), output, key in reversed(
            list(zip(CHILDREN, CHILD_RANGES, data.children_outputs, data.children_keys, strict=True))
        ):
            self.db.add_snos_batch(index, start, end, aggregator_batch=BATCH)
            self.add_child_jobs(index, start, end, key)
            self.storage.objects[storage_layout.program_output_path(index)] = encode_felts(output)
        for number, blob in enumerate(data.blobs, start=1):
            self.storage.objects[storage_layout.batch_blob_path(BATCH, number)] = blob

    def add_child_jobs(
        self, index: int, start: int, end: int, key: str, proof_status: JobStatus = JobStatus.COMPLETED
    ) -> None:
        snos = job_of(
            JobType.SNOS_RUN,
            index,
            SnosMetadata(
                snos_batch_index=index,
                start_block=start,
                end_block=end,
                num_blocks=end - start + 1,
                program_output_path=storage_layout.program_output_path(index),
            ),
        )
        snos.status = JobStatus.COMPLETED
        proof = job_of(
            JobType.PROOF_CREATION,
            index,
            ProvingMetadata(
                block_number=end, input_path=ProvingInputType.cairo_pie(storage_layout.cairo_pie_path(index))
            ),
        )
        proof.status, proof.external_id = proof_status, key
        for job in (snos, proof):
            self.db.jobs[job.id] = job

    def handler(
        self, runner: AggregatorRunner | None, flavour: ProverFlavour = ProverFlavour.MOCK
    ) -> AggregatorHandler:
        storage, db = cast(StorageClient, self.storage), cast(DatabaseClient, self.db)
        return AggregatorHandler(self.prover, storage, db, flavour=flavour, runner=runner)

    @property
    def status(self) -> AggregatorBatchStatus:
        return self.db.aggregator_batches[BATCH].status


def aggregator_job(**changes: str | None) -> JobItem:
    fields: dict[str, str | None] = {
        "blob_data_path": storage_layout.batch_blob_dir(BATCH),
        "da_segment_path": DA_KEY,
        "cairo_pie_path": PIE_KEY,
        "snos_output_path": storage_layout.aggregator_snos_output_path(BATCH),
        "program_output_path": OUTPUT_KEY,
    }
    fields.update(changes)
    return job_of(JobType.AGGREGATOR, BATCH, AggregatorMetadata(batch_num=BATCH, **fields))  # type: ignore[arg-type]


def meta_of(job: JobItem) -> AggregatorMetadata:
    assert isinstance(job.metadata.specific, AggregatorMetadata)
    return job.metadata.specific


def devnet_runner() -> DevnetAggregatorRunner:
    return DevnetAggregatorRunner(RecordedNode())  # type: ignore[arg-type]


# --- process -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("flavour", [ProverFlavour.MOCK, ProverFlavour.SHARP])
async def test_the_runner_gets_the_children_and_the_batch_da(data: Recorded, flavour: ProverFlavour) -> None:
    w = World(data)
    runner = FakeAggregatorRunner(output=FAKE_OUTPUT)
    assert await w.handler(runner, flavour).process_job(aggregator_job()) == "0x" + "cd" * 32
    [request] = runner.requests
    assert (request.batch_index, request.start_block, request.end_block) == (BATCH, START, END)
    assert request.children_outputs == data.children_outputs
    assert request.children_keys == data.children_keys
    assert request.blobs == data.blobs
    # the DA segment is what the blobs carry: 4096 coefficients per blob
    assert request.da_segment == data.da_segment and len(request.da_segment) == 2 * 4096


async def test_devnet_aggregation_stores_artifacts_and_submits_the_pie(data: Recorded) -> None:
    w = World(data)
    job = aggregator_job()
    task_id = await w.handler(devnet_runner()).process_job(job)
    fact = meta_of(job).ensure_on_chain_registration
    assert fact is not None and fact.startswith("0x") and len(fact) == 66
    pie = w.storage.objects[PIE_KEY]
    assert w.prover.submitted == [RunAggregationWithPieTask(pie, data.children_keys, fact)]  # type: ignore[attr-defined]
    assert task_id == "0x" + "cd" * 32
    output = decode_felts(w.storage.objects[OUTPUT_KEY])
    assert output[2:4] == [START - 1, END] and output[11] == len(data.blobs)
    assert decode_felts_json(w.storage.objects[DA_KEY]) == data.da_segment
    assert json.loads(w.storage.objects[DA_KEY])[0].startswith("0x")  # hex felts, as the reference writes them
    assert w.status is AggregatorBatchStatus.PENDING_AGGREGATOR_VERIFICATION


async def test_the_stored_da_segment_settles_as_the_batch_blobs(data: Recorded) -> None:
    """What StateTransition makes of the Aggregator's artifacts: exactly the blobs batching stored."""
    w = World(data)
    await w.handler(devnet_runner()).process_job(aggregator_job())
    assert da_segment_blobs(w.storage.objects[DA_KEY]) == data.blobs

    settlement = FakeSettlement(last_settled=START - 1, settle_to=END)

    async def no_checkpoint(job: JobItem) -> None:
        return None

    storage, db = cast(StorageClient, w.storage), cast(DatabaseClient, w.db)
    settle = StateTransitionHandler(
        settlement, storage, db, no_checkpoint, layer=Layer.L2, mode=SettlementMode.ETHEREUM
    )
    meta = StateUpdateMetadata(
        program_output_path=OUTPUT_KEY,
        da_segment_path=DA_KEY,
        context=SettlementContext(type="Batch", to_settle=BATCH),
    )
    assert await settle.process_job(job_of(JobType.STATE_TRANSITION, BATCH, meta)) == str(BATCH)
    [call] = settlement.calls
    assert call["first"] == decode_felts(w.storage.objects[OUTPUT_KEY])
    assert call["second"] == data.blobs


async def test_mock_prover_registers_the_fact_and_verification_succeeds(data: Recorded) -> None:
    registry = FakeFactRegistry()
    w = World(data, MockProverClient(registry))
    handler = w.handler(devnet_runner())
    job = aggregator_job()
    job.external_id = await handler.process_job(job)
    fact = meta_of(job).ensure_on_chain_registration
    assert registry.registered == {fact}
    stored = dict(w.storage.objects)
    assert await handler.verify_job(job) == Verification.verified()
    assert w.status is AggregatorBatchStatus.READY_FOR_STATE_UPDATE
    assert w.storage.objects == stored  # the mock has no artifacts: the local run's stay


async def test_mock_verification_fails_when_the_fact_is_not_registered(data: Recorded) -> None:
    w = World(data, MockProverClient(FakeFactRegistry(forget=True)))
    handler = w.handler(FakeAggregatorRunner(output=FAKE_OUTPUT))
    job = aggregator_job()
    job.external_id = await handler.process_job(job)
    verdict = await handler.verify_job(job)
    assert verdict.status is Verification.rejected("").status
    assert verdict.reason is not None and "is not registered on the mock verifier" in verdict.reason
    assert w.status is AggregatorBatchStatus.VERIFICATION_FAILED


async def test_verify_polls_the_aggregation_with_the_fact(data: Recorded) -> None:
    w = World(data)
    prover = cast(FakeProver, w.prover)
    handler = w.handler(FakeAggregatorRunner(output=FAKE_OUTPUT), ProverFlavour.SHARP)
    job = aggregator_job()
    job.external_id = await handler.process_job(job)
    prover.status = TaskStatus(TaskStatusKind.PROCESSING)
    assert await handler.verify_job(job) == Verification.pending()
    assert prover.status_calls == [(TaskType.AGGREGATION, "0x" + "cd" * 32, FAKE_OUTPUT.fact)]
    assert w.status is AggregatorBatchStatus.PENDING_AGGREGATOR_VERIFICATION
    prover.status = TaskStatus(TaskStatusKind.SUCCEEDED)
    assert await handler.verify_job(job) == Verification.verified()
    assert w.status is AggregatorBatchStatus.READY_FOR_STATE_UPDATE


# --- failures ------------------------------------------------------------------------------------------
def assert_nothing_done(w: World, before: dict[str, bytes]) -> None:
    assert w.storage.objects == before
    assert cast(FakeProver, w.prover).submitted == []
    assert w.status is AggregatorBatchStatus.PENDING_AGGREGATOR_RUN


@pytest.mark.parametrize("flavour", [ProverFlavour.SHARP, ProverFlavour.MOCK])
async def test_without_a_runner_the_job_fails_clearly(data: Recorded, flavour: ProverFlavour) -> None:
    w = World(data)
    before = dict(w.storage.objects)
    with pytest.raises(FatalJobError, match="no aggregator runner is configured"):
        await w.handler(None, flavour).process_job(aggregator_job())
    assert_nothing_done(w, before)


@pytest.mark.parametrize(("retryable", "error"), [(True, RetryableJobError), (False, FatalJobError)])
async def test_runner_errors_are_classified(data: Recorded, retryable: bool, error: type[Exception]) -> None:
    w = World(data)
    before = dict(w.storage.objects)
    runner = FakeAggregatorRunner(error=AggregatorError("node down", retryable=retryable))
    with pytest.raises(error, match=r"aggregator run failed.*node down"):
        await w.handler(runner).process_job(aggregator_job())
    assert_nothing_done(w, before)


@pytest.mark.parametrize(
    ("output", "message"),
    [
        (
            AggregatorOutput([1, 2, 3], [], FAKE_OUTPUT.cairo_pie, FAKE_OUTPUT.fact),
            "differs from the output in its PIE",
        ),
        (AggregatorOutput(OWN_OUTPUT, [], b"not a zip", FAKE_OUTPUT.fact), "PIE cannot be read"),
        (AggregatorOutput(OWN_OUTPUT, [], FAKE_OUTPUT.cairo_pie, "0x1234"), "is not 32-byte hex"),
        (AggregatorOutput(OWN_OUTPUT, [], FAKE_OUTPUT.cairo_pie, "0x" + "zz" * 32), "is not 32-byte hex"),
    ],
)
async def test_inconsistent_runner_output_is_fatal(data: Recorded, output: AggregatorOutput, message: str) -> None:
    w = World(data)
    before = dict(w.storage.objects)
    with pytest.raises(FatalJobError, match=message):
        await w.handler(FakeAggregatorRunner(output=output)).process_job(aggregator_job())
    assert_nothing_done(w, before)


async def test_blobs_are_read_up_to_the_first_gap(data: Recorded) -> None:
    w = World(data)
    w.storage.objects[storage_layout.batch_blob_path(BATCH, 4)] = data.blobs[0]  # 3 is missing
    runner = FakeAggregatorRunner(output=FAKE_OUTPUT)
    await w.handler(runner).process_job(aggregator_job())
    assert runner.requests[0].blobs == data.blobs


async def test_missing_inputs_are_fatal(data: Recorded) -> None:
    runner = FakeAggregatorRunner(output=FAKE_OUTPUT)

    w = World(data)
    for number in (1, 2):
        del w.storage.objects[storage_layout.batch_blob_path(BATCH, number)]
    with pytest.raises(FatalJobError, match=r"has no blobs at blob/batch/3/1\.txt"):
        await w.handler(runner).process_job(aggregator_job())

    w = World(data)
    del w.storage.objects[storage_layout.program_output_path(8)]
    with pytest.raises(FatalJobError, match=r"SNOS batch 8's program output is missing from storage \(8/program"):
        await w.handler(runner).process_job(aggregator_job())

    w = World(data)
    w.storage.objects[storage_layout.program_output_path(9)] = b"\x05"
    with pytest.raises(FatalJobError, match=r"SNOS batch 9.s program output .* is corrupt"):
        await w.handler(runner).process_job(aggregator_job())

    w = World(data)
    w.storage.objects[storage_layout.batch_blob_path(BATCH, 2)] = b"\x00" * 100
    with pytest.raises(FatalJobError, match="a stored blob is not a blob: a blob must be 131072 bytes"):
        await w.handler(runner).process_job(aggregator_job())

    w = World(data)
    del w.db.aggregator_batches[BATCH]
    with pytest.raises(FatalJobError, match="aggregator batch 3 is not in the database"):
        await w.handler(runner).process_job(aggregator_job())

    w = World(data)
    w.db.snos_batches.clear()
    with pytest.raises(FatalJobError, match="aggregator batch 3 has no SNOS batches"):
        await w.handler(runner).process_job(aggregator_job())

    with pytest.raises(FatalJobError, match="da_segment_path is not set"):
        await World(data).handler(runner).process_job(aggregator_job(da_segment_path=None))
    assert runner.requests == []


async def test_children_without_completed_proofs_are_fatal(data: Recorded) -> None:
    runner = FakeAggregatorRunner(output=FAKE_OUTPUT)
    w = World(data)
    for job in list(w.db.jobs.values()):
        if job.job_type is JobType.PROOF_CREATION and job.internal_id == 8:
            job.status = JobStatus.PENDING_VERIFICATION
    with pytest.raises(FatalJobError, match="the proof of SNOS batch 8 is PendingVerification"):
        await w.handler(runner).process_job(aggregator_job())

    w = World(data)
    for job_id, job in list(w.db.jobs.items()):
        if job.job_type is JobType.SNOS_RUN and job.internal_id == 7:
            del w.db.jobs[job_id]
    with pytest.raises(FatalJobError, match="SNOS batch 7 has no SnosRun job"):
        await w.handler(runner).process_job(aggregator_job())
    assert runner.requests == []


async def test_prover_errors_are_classified(data: Recorded) -> None:
    w = World(data)
    prover = cast(FakeProver, w.prover)
    handler = w.handler(FakeAggregatorRunner(output=FAKE_OUTPUT))
    prover.submit_error = ProverRequestError("400 invalid pie")
    with pytest.raises(FatalJobError, match="refused the aggregation of batch 3: 400 invalid pie"):
        await handler.process_job(aggregator_job())
    prover.submit_error = ServiceUnavailableError("503")
    with pytest.raises(ServiceUnavailableError):
        await handler.process_job(aggregator_job())
    assert w.status is AggregatorBatchStatus.PENDING_AGGREGATOR_RUN
