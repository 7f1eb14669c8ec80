"""StateTransition: skip when settled, artifacts per layer and settlement, attempts persisted before
each broadcast (crash and resume through the real engine), failure reconciliation, verify branches."""

from __future__ import annotations

import json
from typing import cast

import pytest

from orchestrator.core.clients.database import DatabaseClient
from orchestrator.core.clients.storage import StorageClient
from orchestrator.core.madara.settlement import FeeCapExceededError, NonceConsumedError, SettlementError
from orchestrator.core.models.batch import AggregatorBatchStatus, SnosBatchStatus
from orchestrator.core.models.job import JobItem, JobStatus, JobType
from orchestrator.core.models.metadata import SettlementContext, StateUpdateMetadata, TxAttempt, TxAttemptStatus
from orchestrator.core.models.queue import Layer
from orchestrator.services import storage_layout
from orchestrator.services.da.blob import BYTES_PER_BLOB, blob_to_felts
from orchestrator.services.job.engine import EngineParams, JobEngine
from orchestrator.services.job.handler import FatalJobError, RetryableJobError, Verification
from orchestrator.services.job.handlers.bincode import encode_felts
from orchestrator.services.job.handlers.common import ZERO_TX_HASH
from orchestrator.services.job.handlers.state_transition import (
    Checkpoint,
    GapError,
    SettlementMode,
    StateTransitionHandler,
)
from tests.fakes import FakeAlerts, FakeClock, FakeQueue, FakeStorage
from tests.unit.handlers.fakes import BatchDatabase, Crash, FakeSettlement
from tests.unit.handlers.helpers import job_of
from tests.unit.handlers.test_formats import stone_proof

PROGRAM_OUTPUT = [0x10, 0x20, 0x30]
DA_SEGMENT = [5, 6, 7, 8]


class Checkpoints:
    """Stands in for JobEngine.checkpoint: records what was persisted and how many broadcasts preceded it."""

    def __init__(self, settlement: FakeSettlement) -> None:
        self.settlement = settlement
        self.snapshots: list[tuple[list[TxAttempt], int | None, int]] = []

    async def __call__(self, job: JobItem) -> None:
        meta = job.metadata.specific
        assert isinstance(meta, StateUpdateMetadata)
        self.snapshots.append(
            ([a.model_copy() for a in meta.tx_attempts], meta.tx_nonce, len(self.settlement.broadcasts))
        )


class World:
    def __init__(self, layer: Layer = Layer.L2, mode: SettlementMode = SettlementMode.ETHEREUM) -> None:
        self.db = BatchDatabase()
        self.storage = FakeStorage()
        self.settlement = FakeSettlement(last_settled=9, settle_to=19)
        self.checkpoints = Checkpoints(self.settlement)
        self.handler = self.make_handler(self.checkpoints, layer, mode)
        if layer is Layer.L2:
            self.db.add_aggregator_batch(0, 0, 9)
            self.db.add_aggregator_batch(1, 10, 19)
            self.storage.objects["artifacts/batch/1/program_output.txt"] = encode_felts(PROGRAM_OUTPUT)
            self.storage.objects["artifacts/batch/1/da_blob.json"] = json.dumps([hex(v) for v in DA_SEGMENT]).encode()
        else:
            self.db.add_snos_batch(0, 0, 9)
            self.db.add_snos_batch(1, 10, 19)
            self.storage.objects["1/program_output.txt"] = encode_felts(PROGRAM_OUTPUT)

    def make_handler(self, checkpoint: Checkpoint, layer: Layer, mode: SettlementMode) -> StateTransitionHandler:
        storage, db = cast(StorageClient, self.storage), cast(DatabaseClient, self.db)
        return StateTransitionHandler(self.settlement, storage, db, checkpoint, layer=layer, mode=mode)

    def job(self, to_settle: int = 1, context: str = "Batch") -> JobItem:
        if self.handler.layer is Layer.L2:
            meta = StateUpdateMetadata(
                program_output_path=storage_layout.aggregator_program_output_path(to_settle),
                da_segment_path=storage_layout.aggregator_da_segment_path(to_settle),
                context=SettlementContext(type=context, to_settle=to_settle),  # type: ignore[arg-type]
            )
        else:
            meta = StateUpdateMetadata(
                program_output_path=storage_layout.program_output_path(to_settle),
                snos_output_path=storage_layout.snos_output_path(to_settle),
                blob_data_path=storage_layout.blob_data_path(to_settle),
                context=SettlementContext(type=context, to_settle=to_settle),  # type: ignore[arg-type]
            )
        return job_of(JobType.STATE_TRANSITION, to_settle, meta)


def meta_of(job: JobItem) -> StateUpdateMetadata:
    assert isinstance(job.metadata.specific, StateUpdateMetadata)
    return job.metadata.specific


def test_limits_are_the_reference_table() -> None:
    handler = World().handler
    assert handler.job_type is JobType.STATE_TRANSITION
    assert (handler.max_process_attempts, handler.max_verification_attempts) == (3, 10)
    assert handler.verification_polling_delay_seconds == 60


def test_an_l2_cannot_settle_on_starknet() -> None:
    with pytest.raises(ValueError, match="L2"):
        World(Layer.L2, SettlementMode.STARKNET)


# --- process: L2 ---------------------------------------------------------------------------------------
async def test_l2_sends_program_output_and_da_segment_blobs() -> None:
    w = World()
    job = w.job()
    assert await w.handler.check_ready_to_process(job) is None
    assert await w.handler.process_job(job) == "1"
    call = w.settlement.calls[0]
    assert call["kind"] == "blobs"
    assert call["first"] == PROGRAM_OUTPUT
    assert (call["nonce"], call["previous"]) == (None, [])
    [blob] = call["second"]
    assert len(blob) == BYTES_PER_BLOB
    # the blob is the FFT of the DA segment padded to 4096 felts: interpolating gives it back
    assert blob_to_felts(blob) == DA_SEGMENT + [0] * (4096 - len(DA_SEGMENT))
    meta = meta_of(job)
    assert meta.tx_hash == f"0x{1:064x}"
    assert meta.tx_nonce == 7
    assert [(a.attempt_no, a.status) for a in meta.tx_attempts] == [(1, TxAttemptStatus.FINALIZED)]


async def test_every_attempt_is_persisted_before_it_is_broadcast() -> None:
    w = World()
    w.settlement.attempts_per_call = 3  # two fee bumps
    job = w.job()
    await w.handler.process_job(job)
    # snapshot i holds attempts 1..i and was taken when i-1 transactions had been broadcast
    assert [([a.attempt_no for a in attempts], nonce, sent) for attempts, nonce, sent in w.checkpoints.snapshots] == [
        ([1], 7, 0),
        ([1, 2], 7, 1),
        ([1, 2, 3], 7, 2),
    ]
    assert meta_of(job).tx_hash == f"0x{3:064x}"


async def test_a_large_da_segment_becomes_several_blobs() -> None:
    w = World()
    segment = list(range(1, 5000))
    w.storage.objects["artifacts/batch/1/da_blob.json"] = json.dumps([hex(v) for v in segment]).encode()
    await w.handler.process_job(w.job())
    blobs = w.settlement.calls[0]["second"]
    assert len(blobs) == 2
    assert blob_to_felts(blobs[0]) == segment[:4096]
    assert blob_to_felts(blobs[1]) == segment[4096:] + [0] * (8192 - len(segment))


async def test_an_empty_da_segment_is_an_error_and_nothing_is_sent() -> None:
    w = World()
    w.storage.objects["artifacts/batch/1/da_blob.json"] = b"[]"
    with pytest.raises(ValueError, match="empty"):
        await w.handler.process_job(w.job())
    assert w.settlement.calls == []


@pytest.mark.parametrize("last", [19, 25])
async def test_skips_when_the_contract_is_already_past_the_batch(last: int) -> None:
    w = World()
    w.settlement.last_settled = last
    job = w.job()
    assert await w.handler.process_job(job) == "1"
    assert w.settlement.calls == []
    assert meta_of(job).tx_hash == ZERO_TX_HASH


async def test_skip_keeps_a_recorded_tx_hash() -> None:
    w = World()
    w.settlement.last_settled = 19
    job = w.job()
    meta_of(job).tx_hash = "0xabc"
    await w.handler.process_job(job)
    assert meta_of(job).tx_hash == "0xabc"


async def test_first_settlement_from_an_empty_contract() -> None:
    w = World()
    w.settlement.last_settled = None
    w.settlement.settle_to = 9
    w.storage.objects["artifacts/batch/0/program_output.txt"] = encode_felts(PROGRAM_OUTPUT)
    w.storage.objects["artifacts/batch/0/da_blob.json"] = b'["0x1"]'
    assert await w.handler.process_job(w.job(0)) == "0"
    assert len(w.settlement.calls) == 1


async def test_unknown_batch_is_an_error() -> None:
    w = World()
    with pytest.raises(ValueError, match="aggregator batch 5"):
        await w.handler.process_job(w.job(5))


async def test_block_context_must_continue_the_contract() -> None:
    w = World()
    with pytest.raises(GapError, match="expects block 10"):
        await w.handler.process_job(w.job(12, context="Block"))
    assert w.settlement.calls == []


# --- process: failures ----------------------------------------------------------------------------------
async def test_settlement_error_persists_its_attempts_and_is_retried() -> None:
    w = World()
    w.settlement.attempts_per_call = 2
    w.settlement.outcomes = [FeeCapExceededError("fee above the cap")]
    job = w.job()
    with pytest.raises(RetryableJobError, match="fee above the cap"):
        await w.handler.process_job(job)
    meta = meta_of(job)
    assert [a.attempt_no for a in meta.tx_attempts] == [1, 2]
    assert meta.tx_nonce == 7
    assert meta.tx_hash == f"0x{2:064x}"
    assert meta.context.last_failed == 1
    attempts, _, _ = w.checkpoints.snapshots[-1]
    assert [a.attempt_no for a in attempts] == [1, 2], "the failure state is checkpointed too"


async def test_failure_is_success_when_the_contract_advanced_meanwhile() -> None:
    w = World()
    w.settlement.outcomes = [SettlementError("receipt timeout")]
    w.settlement.settle_on_error = True
    job = w.job()
    assert await w.handler.process_job(job) == "1"
    meta = meta_of(job)
    assert meta.context.last_failed == 1
    assert meta.tx_hash == f"0x{1:064x}"


async def test_a_foreign_nonce_is_fatal() -> None:
    w = World()
    w.settlement.outcomes = [NonceConsumedError("nonce 7 was used by a transaction that is not ours")]
    job = w.job()
    with pytest.raises(FatalJobError, match="not ours"):
        await w.handler.process_job(job)
    assert len(meta_of(job).tx_attempts) == 1


async def test_other_errors_are_retried_with_last_failed_recorded() -> None:
    w = World()
    w.settlement.outcomes = [ConnectionError("RPC down")]
    job = w.job()
    with pytest.raises(RetryableJobError, match="RPC down"):
        await w.handler.process_job(job)
    assert meta_of(job).context.last_failed == 1


async def test_a_crash_after_the_sink_resumes_the_same_nonce_through_the_engine() -> None:
    w = World()
    clock = FakeClock()
    queue = FakeQueue(clock)
    engines: list[JobEngine] = []

    async def checkpoint(job: JobItem) -> None:
        await engines[0].checkpoint(job)

    handler = w.make_handler(checkpoint, Layer.L2, SettlementMode.ETHEREUM)
    engine = JobEngine(
        w.db,  # type: ignore[arg-type]
        queue,  # type: ignore[arg-type]
        FakeAlerts(),
        {JobType.STATE_TRANSITION: handler},
        EngineParams(orchestrator_version="0.1.0", lease_seconds=300),
        clock=clock,
    )
    engines.append(engine)
    created = await engine.create_job(JobType.STATE_TRANSITION, 1, w.job().metadata.specific)
    assert created is not None

    w.settlement.outcomes = ["crash"]
    with pytest.raises(Crash):
        await engine.process_job(created.id)
    stored = await w.db.get_job_by_id(created.id)
    assert stored is not None and stored.status is JobStatus.LOCKED_FOR_PROCESSING
    meta = meta_of(stored)
    assert [(a.attempt_no, a.nonce) for a in meta.tx_attempts] == [(1, 7)]
    assert meta.tx_nonce == 7
    assert w.settlement.broadcasts == [], "the attempt was durable before anything was broadcast"

    # The account's next nonce moved on meanwhile; the restarted job must still use its own.
    w.settlement.nonce = 8
    w.settlement.outcomes = ["ok"]
    clock.advance(301)  # the lease expired: the redelivered message heals and reprocesses the job
    await engine.process_job(created.id)
    resumed = w.settlement.calls[-1]
    assert resumed["nonce"] == 7
    assert [a.attempt_no for a in resumed["previous"]] == [1]
    stored = await w.db.get_job_by_id(created.id)
    assert stored is not None and stored.status is JobStatus.PENDING_VERIFICATION
    assert stored.external_id == "1"
    assert meta_of(stored).tx_nonce == 7
    assert [a.nonce for a in meta_of(stored).tx_attempts] == [7, 7]


async def test_engine_retries_a_failed_update_with_the_persisted_attempts() -> None:
    w = World()
    clock = FakeClock()
    engines: list[JobEngine] = []

    async def checkpoint(job: JobItem) -> None:
        await engines[0].checkpoint(job)

    handler = w.make_handler(checkpoint, Layer.L2, SettlementMode.ETHEREUM)
    engine = JobEngine(
        w.db,  # type: ignore[arg-type]
        FakeQueue(clock),  # type: ignore[arg-type]
        FakeAlerts(),
        {JobType.STATE_TRANSITION: handler},  # type: ignore[arg-type]
        EngineParams(orchestrator_version="0.1.0"),
        clock=clock,
    )
    engines.append(engine)
    created = await engine.create_job(JobType.STATE_TRANSITION, 1, w.job().metadata.specific)
    assert created is not None
    w.settlement.outcomes = [SettlementError("not mined in time"), "ok"]
    # A failed update is transient: retried later through a fresh delayed message (no receive spent).
    await engine.process_job(created.id)
    stored = await w.db.get_job_by_id(created.id)
    assert stored is not None and stored.status is JobStatus.CREATED
    assert stored.metadata.common.transient_failure_count == 1
    assert [a.attempt_no for a in meta_of(stored).tx_attempts] == [1]
    await engine.process_job(created.id)
    assert [a.attempt_no for a in w.settlement.calls[-1]["previous"]] == [1]
    assert w.settlement.calls[-1]["nonce"] == 7


# --- process: L3 ----------------------------------------------------------------------------------------
async def test_l3_on_ethereum_sends_the_stored_blob_data() -> None:
    w = World(Layer.L3, SettlementMode.ETHEREUM)
    blobs = [bytes([1]) * BYTES_PER_BLOB, bytes([2]) * BYTES_PER_BLOB]
    w.storage.objects["1/blob_data.txt"] = b"".join(blobs)
    assert await w.handler.process_job(w.job()) == "1"
    call = w.settlement.calls[0]
    assert (call["kind"], call["first"], call["second"]) == ("blobs", PROGRAM_OUTPUT, blobs)


async def test_l3_blob_data_must_be_whole_blobs() -> None:
    w = World(Layer.L3, SettlementMode.ETHEREUM)
    w.storage.objects["1/blob_data.txt"] = b"\x00" * 100
    with pytest.raises(ValueError, match="whole number"):
        await w.handler.process_job(w.job())


def l3_starknet_world(kzg_flag: int = 1) -> World:
    w = World(Layer.L3, SettlementMode.STARKNET)
    w.storage.objects["1/snos_output.json"] = json.dumps([hex(v) for v in [0] * 8 + [kzg_flag, 0]]).encode()
    w.storage.objects["1/proof.json"] = stone_proof([41, 42, 43])
    w.storage.objects["1/proof_part2.json"] = stone_proof([51, 52])
    return w


async def test_l3_on_starknet_sends_both_proof_outputs_as_calldata() -> None:
    w = l3_starknet_world()
    job = w.job()
    assert await w.handler.process_job(job) == "1"
    call = w.settlement.calls[0]
    assert (call["kind"], call["first"], call["second"]) == ("calldata", [41, 42, 43], [51, 52])
    assert meta_of(job).tx_hash == f"0x{1:064x}"


async def test_l3_on_starknet_needs_a_known_kzg_flag() -> None:
    w = l3_starknet_world(kzg_flag=3)
    with pytest.raises(FatalJobError, match="KZG flag"):
        await w.handler.process_job(w.job())
    assert w.settlement.calls == []


# --- verify ---------------------------------------------------------------------------------------------
async def test_verify_settled_completes_the_aggregator_batch() -> None:
    w = World()
    w.settlement.last_settled = 19
    assert await w.handler.verify_job(w.job()) == Verification.verified()
    assert w.db.aggregator_batches[1].status is AggregatorBatchStatus.COMPLETED
    assert w.db.aggregator_batches[0].status is AggregatorBatchStatus.OPEN


async def test_verify_settled_completes_the_snos_batch_on_l3() -> None:
    w = World(Layer.L3, SettlementMode.STARKNET)
    w.settlement.last_settled = 22
    assert await w.handler.verify_job(w.job()) == Verification.verified()
    assert w.db.snos_batches[1].status is SnosBatchStatus.COMPLETED


async def test_verify_pending_while_at_the_previous_batch_end() -> None:
    w = World()
    w.settlement.last_settled = 9
    assert await w.handler.verify_job(w.job()) == Verification.pending()
    assert w.db.aggregator_batches[1].status is AggregatorBatchStatus.OPEN


@pytest.mark.parametrize("last", [5, 15])
async def test_verify_rejects_any_other_block(last: int) -> None:
    w = World()
    w.settlement.last_settled = last
    assert await w.handler.verify_job(w.job()) == Verification.rejected(
        f"Last settle block expected was 19 but found {last}"
    )


async def test_verify_first_batch_has_no_previous_boundary() -> None:
    w = World()
    w.settlement.last_settled = 3
    assert await w.handler.verify_job(w.job(0)) == Verification.rejected("Last settle block expected was 9 but found 3")


async def test_verify_with_nothing_settled_is_an_error() -> None:
    w = World()
    w.settlement.last_settled = None
    with pytest.raises(ValueError, match="no settled block"):
        await w.handler.verify_job(w.job())
