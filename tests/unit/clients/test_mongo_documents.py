"""The MongoDB document codec against documents built from the reference's Rust types
(tests/reference_documents.py): same field names and the same BSON types, both ways."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import bson
import pytest
from bson import Binary, Int64
from bson.binary import UuidRepresentation
from bson.codec_options import CodecOptions

from orchestrator.clients.database.mongo_documents import (
    adoption_fields,
    as_utc,
    batch_fields,
    batch_to_doc,
    job_from_doc,
    job_to_doc,
    job_update_fields,
    lock_value_to_doc,
    rfc3339,
)
from orchestrator.core.models.batch import (
    AggregatorBatch,
    AggregatorBatchStatus,
    AggregatorBuiltinWeights,
    BouncerWeights,
    SnosBatch,
    SnosBatchStatus,
)
from orchestrator.core.models.job import JobItem, JobItemUpdates, JobLease, JobStatus, JobType
from orchestrator.core.models.metadata import (
    AggregatorMetadata,
    CommonMetadata,
    JobMetadata,
    ProvingInputType,
    ProvingMetadata,
    SettlementContext,
    SnosMetadata,
    StateUpdateMetadata,
    TxAttempt,
    TxAttemptStatus,
)
from tests import reference_documents as ref

#: how the orchestrator's client encodes, and a decoding that keeps every BSON type visible
WRITE: CodecOptions[dict[str, Any]] = CodecOptions(uuid_representation=UuidRepresentation.STANDARD, tz_aware=True)
RAW: CodecOptions[dict[str, Any]] = CodecOptions(uuid_representation=UuidRepresentation.UNSPECIFIED, tz_aware=True)
EXTRA_KEYS = ("id_text", "updated_at_ts", "lease", "extras")
JOB_ID = uuid.UUID("6f1c2a52-7f0e-4a43-9a34-0d3c1b4a9e11")


def typed(value: Any) -> Any:
    """The value with every leaf paired with its BSON-decoded type (Int64 vs int, Binary subtype)."""
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    if isinstance(value, Binary):
        return ("Binary", value.subtype, bytes(value))
    return (type(value).__name__, value)


def stored(doc: dict[str, Any]) -> dict[str, Any]:
    """The document as the server stores it (BSON), read back without interpretation."""
    return bson.decode(bson.encode(doc, codec_options=WRITE), codec_options=RAW)


def reference_view(doc: dict[str, Any]) -> Any:
    return typed({k: v for k, v in stored(doc).items() if k not in (*EXTRA_KEYS, "_id")})


def as_read(doc: dict[str, Any]) -> dict[str, Any]:
    """The document as the orchestrator's client reads it back."""
    return bson.decode(bson.encode(doc, codec_options=WRITE), codec_options=WRITE)


def common_meta(**kwargs: Any) -> CommonMetadata:
    return CommonMetadata(orchestrator_version="0.1.0", **kwargs)


def item(job_type: JobType, internal_id: int, status: JobStatus, metadata: JobMetadata, **kwargs: Any) -> JobItem:
    return JobItem(
        id=JOB_ID,
        internal_id=internal_id,
        job_type=job_type,
        status=status,
        metadata=metadata,
        created_at=ref.T0,
        updated_at=ref.T0,
        **kwargs,
    )


CASES = {
    "snos": (
        item(
            JobType.SNOS_RUN,
            3,
            JobStatus.PENDING_VERIFICATION,
            JobMetadata(
                common=common_meta(process_attempt_no=1, process_started_at=1_700_000_000),
                specific=SnosMetadata(
                    snos_batch_index=3,
                    start_block=10,
                    end_block=12,
                    num_blocks=3,
                    cairo_pie_path="3/cairo_pie.zip",
                    on_chain_data_path="3/onchain_data.json",
                    snos_output_path="3/snos_output.json",
                    program_output_path="3/program_output.txt",
                    snos_fact="0x12",
                    snos_n_steps=4096,
                ),
            ),
            version=2,
            external_id="task-3",
        ),
        ref.job(
            "SnosRun",
            3,
            "PendingVerification",
            ref.snos_specific(3, 10, 12, snos_fact="0x12", snos_n_steps=Int64(4096)),
            job_id=JOB_ID,
            version=2,
            external_id="task-3",
            common_metadata=ref.common(process_attempt_no=Int64(1), process_started_at=Int64(1_700_000_000)),
        ),
    ),
    "proving": (
        item(
            JobType.PROOF_CREATION,
            5,
            JobStatus.CREATED,
            JobMetadata(
                common=common_meta(),
                specific=ProvingMetadata(
                    block_number=5,
                    input_path=ProvingInputType.cairo_pie("5/cairo_pie.zip"),
                    ensure_on_chain_registration=f"0x{5:064x}",
                    download_proof="5/proof.json",
                    n_steps=123,
                ),
            ),
            external_id=77,
        ),
        ref.job("ProofCreation", 5, "Created", ref.proving_specific(5, 123), job_id=JOB_ID, external_id=77),
    ),
    "state_update": (
        item(
            JobType.STATE_TRANSITION,
            9,
            JobStatus.COMPLETED,
            JobMetadata(
                common=common_meta(),
                specific=StateUpdateMetadata(
                    snos_output_path="9/snos_output.json",
                    program_output_path="9/program_output.txt",
                    blob_data_path="9/blob_data.txt",
                    tx_hash="0xabc",
                    tx_nonce=7,
                    tx_attempts=[TxAttempt(attempt_no=1, tx_hash="0xabc", nonce=7, status=TxAttemptStatus.FINALIZED)],
                    context=SettlementContext(type="Block", to_settle=9),
                    storage_artifacts_tagged_at=datetime(2026, 11, 2, 8, 30, 1, tzinfo=UTC),
                ),
            ),
        ),
        ref.job(
            "StateTransition",
            9,
            "Completed",
            ref.state_update_specific(9, tagged_at="2026-11-02T08:30:01Z"),
            job_id=JOB_ID,
        ),
    ),
    "aggregator": (
        item(
            JobType.AGGREGATOR,
            2,
            JobStatus.CREATED,
            JobMetadata(
                common=common_meta(),
                specific=AggregatorMetadata(
                    batch_num=2,
                    blob_data_path="blob/batch/2",
                    da_segment_path="artifacts/batch/2/da_blob.json",
                    cairo_pie_path="artifacts/batch/2/cairo_pie.zip",
                    program_output_path="artifacts/batch/2/program_output.txt",
                ),
            ),
        ),
        ref.job("Aggregator", 2, "Created", ref.aggregator_specific(2), job_id=JOB_ID),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_job_is_stored_with_the_reference_fields_and_bson_types(case: str) -> None:
    job, reference = CASES[case]
    assert reference_view(job_to_doc(job)) == reference_view(reference)


@pytest.mark.parametrize("case", sorted(CASES))
def test_reference_job_decodes(case: str) -> None:
    job, reference = CASES[case]
    assert job_from_doc(as_read(reference)) == job


def test_reference_job_decodes_from_the_test_servers_rendering() -> None:
    # nx-27017 hands back a binary id without its subtype and Int64 as plain ints.
    job, reference = CASES["snos"]
    doc = as_read(reference)
    doc["id"] = JOB_ID.bytes
    doc["internal_id"] = int(doc["internal_id"])
    assert job_from_doc(doc) == job


def test_project_fields_round_trip_beside_the_reference_ones() -> None:
    lease = JobLease(owner="w1", expires_at=datetime(2026, 11, 1, 12, 5, tzinfo=UTC))
    attempts = [
        TxAttempt(attempt_no=1, tx_hash="0x1", nonce=4, status=TxAttemptStatus.REPLACED, max_fee_per_gas=10),
        TxAttempt(attempt_no=2, tx_hash="0x2", nonce=4, status=TxAttemptStatus.PENDING, raw_tx="0xf8", sent_at=5),
        TxAttempt(attempt_no=3, tx_hash="0x3", nonce=4, status=TxAttemptStatus.REVERTED),
    ]
    job = item(
        JobType.STATE_TRANSITION,
        4,
        JobStatus.LOCKED_FOR_PROCESSING,
        JobMetadata(
            common=common_meta(transient_failure_since=17, transient_failure_count=2, verification_next_at=1.5),
            specific=StateUpdateMetadata(tx_attempts=attempts, context=SettlementContext(to_settle=4)),
        ),
        lease=lease,
    )
    doc = job_to_doc(job)
    assert job_from_doc(as_read(doc)) == job
    # What the reference reads: only its CommonMetadata fields, only attempts in a status it knows.
    metadata = stored(doc)["metadata"]
    assert set(metadata["common"]) == set(ref.common())
    assert typed(metadata["specific"]["tx_attempts"]) == typed(
        [
            {
                "attempt_no": Int64(1),
                "tx_hash": "0x1",
                "nonce": Int64(4),
                "gas_multiplier": "1.10",
                "status": "Replaced",
                "error": None,
            }
        ]
    )


def test_update_fields_are_the_reference_ones_plus_extras() -> None:
    job, _ = CASES["proving"]
    now = datetime(2026, 11, 3, tzinfo=UTC)
    fields = job_update_fields(job.id, JobItemUpdates(status=JobStatus.COMPLETED, external_id=5), now)
    assert typed(stored(fields)) == typed(
        {
            "updated_at": now,
            "updated_at_ts": now.timestamp(),
            "id_text": str(job.id),
            "status": "Completed",
            "external_id": Int64(5),
            "lease": None,
        }
    )
    with_metadata = job_update_fields(job.id, JobItemUpdates(metadata=job.metadata), now)
    assert reference_view({"metadata": with_metadata["metadata"]}) == reference_view(
        {"metadata": CASES["proving"][1]["metadata"]}
    )


BATCH_ID = uuid.UUID("0b5e2a52-1f0e-4a43-9a34-0d3c1b4a9e22")


def snos_batch_model() -> SnosBatch:
    return SnosBatch(
        id=BATCH_ID,
        index=4,
        aggregator_batch_index=None,
        starknet_version="0.13.2",
        orchestrator_version="0.1.0",
        start_block=10,
        end_block=12,
        num_blocks=3,
        builtin_weights=BouncerWeights(n_txs=3),
        status=SnosBatchStatus.CLOSED,
        created_at=ref.T0,
        updated_at=ref.T0,
    )


def aggregator_batch_model(bucket_id: str | None = None) -> AggregatorBatch:
    return AggregatorBatch(
        id=BATCH_ID,
        index=2,
        bucket_id=bucket_id,
        squashed_state_updates_path="state_update/batch/2.json",
        blob_path="blob/batch/2",
        starknet_version="0.13.2",
        orchestrator_version="0.1.0",
        start_block=5,
        end_block=9,
        num_blocks=5,
        blob_len=1,
        builtin_weights=AggregatorBuiltinWeights(),
        status=AggregatorBatchStatus.OPEN,
        created_at=ref.T0,
        updated_at=ref.T0,
    )


def test_batches_are_stored_as_the_reference_writes_them() -> None:
    snos = ref.snos_batch(4, 10, 12, "Closed", batch_id=BATCH_ID)
    aggregator = ref.aggregator_batch(2, 5, 9, "Open", batch_id=BATCH_ID)
    assert reference_view(batch_to_doc(snos_batch_model())) == reference_view(snos)
    assert reference_view(batch_to_doc(aggregator_batch_model())) == reference_view(aggregator)
    with_bucket = reference_view(batch_to_doc(aggregator_batch_model("bucket-7")))
    assert with_bucket["bucket_id"] == ("str", "bucket-7")
    assert SnosBatch.model_validate(batch_fields(as_read(snos))) == snos_batch_model()
    assert AggregatorBatch.model_validate(batch_fields(as_read(aggregator))) == aggregator_batch_model()


def test_adoption_derives_the_extras_of_a_reference_document() -> None:
    doc = as_read(ref.job("SnosRun", 1, "Created", ref.snos_specific(1, 0, 0), job_id=JOB_ID))
    assert adoption_fields(doc, "id") == {"id_text": str(JOB_ID), "updated_at_ts": ref.T0.timestamp()}
    batch = as_read(ref.snos_batch(1, 0, 0, "Open", batch_id=BATCH_ID))
    assert adoption_fields(batch, "_id")["id_text"] == str(BATCH_ID)


def test_lock_values_are_the_reference_lock_value() -> None:
    assert typed(stored({"v": lock_value_to_doc({"Boolean": False})})["v"]) == typed({"Boolean": False})
    assert typed(stored({"v": lock_value_to_doc(5)})["v"]) == typed({"Number": Int64(5)})
    assert lock_value_to_doc(True) == {"Boolean": True}
    assert lock_value_to_doc("x") == {"String": "x"}
    assert lock_value_to_doc(None) == {"Json": None}
    assert lock_value_to_doc({"a": 1}) == {"Json": {"a": 1}}


def test_times_from_every_stored_form() -> None:
    moment = datetime(2026, 11, 1, 12, 0, 1, tzinfo=UTC)
    assert as_utc("2026-11-01 12:00:01") == moment  # the test server's text for a `$set` date
    assert as_utc("2026-11-01T12:00:01Z") == moment
    assert as_utc(moment.timestamp()) == moment
    assert as_utc(moment.replace(tzinfo=None)) == moment
    assert rfc3339(moment) == "2026-11-01T12:00:01Z"
    assert rfc3339(moment + timedelta(milliseconds=250)) == "2026-11-01T12:00:01.250Z"
    assert rfc3339(moment + timedelta(microseconds=5)) == "2026-11-01T12:00:01.000005Z"
