"""MongoDB documents shaped exactly as the reference orchestrator (Madara, Rust) writes them, built by
hand from its Rust types (serde + the bson serializer), independently of this project's codec:

- `JobItem` (types/jobs/job_item.rs): `id` uuid_1_as_binary (Binary subtype 4), `internal_id` u64 as
  Int64, `version` i32 (Int32), `external_id` untagged (string or usize -> Int64), `created_at` /
  `updated_at` chrono_datetime_as_bson_datetime (BSON dates, whole seconds); Mongo's `_id` is an
  ObjectId the reference never reads.
- metadata (types/jobs/metadata/mod.rs): every u64 / usize -> Int64, `ts_seconds_option` -> Int64
  or null, `specific` internally tagged by `type`, `bucket_id` / `bucket_job_index` skipped when
  None, AggregatorMetadata paths are `String` (never null), `storage_artifacts_tagged_at` an RFC 3339
  string (plain chrono serde).
- `SnosBatch` / `AggregatorBatch` (types/batch.rs): `_id` Binary subtype 4, u64 / usize -> Int64,
  `builtin_weights` the blockifier BouncerWeights (all Int64) or `{l1_gas, message_segment_length}`.
- `LockInfo` (core/client/lock): `_id` the key, `value` externally tagged LockValue, dates, `owner`.
- `BlockBatchLookup`: Int64 numbers, dates.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import Binary, Int64, ObjectId

Doc = dict[str, Any]

#: a whole-second UTC time, as the reference rounds its timestamps
T0 = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)


def binary_uuid(value: uuid.UUID) -> Binary:
    return Binary(value.bytes, 4)


def common(**overrides: Any) -> Doc:
    doc: Doc = {
        "process_attempt_no": Int64(0),
        "process_retry_attempt_no": Int64(0),
        "verification_attempt_no": Int64(0),
        "verification_retry_attempt_no": Int64(0),
        "process_started_at": None,
        "process_completed_at": None,
        "verification_started_at": None,
        "verification_completed_at": None,
        "failure_reason": None,
        "previous_failure_reasons": [],
        "orchestrator_version": "0.1.0",
    }
    doc.update(overrides)
    return doc


def snos_specific(batch_index: int, start: int, end: int, **paths: Any) -> Doc:
    return {
        "type": "Snos",
        "snos_batch_index": Int64(batch_index),
        "start_block": Int64(start),
        "end_block": Int64(end),
        "num_blocks": Int64(end - start + 1),
        "full_output": False,
        "cairo_pie_path": paths.get("cairo_pie_path", f"{batch_index}/cairo_pie.zip"),
        "on_chain_data_path": paths.get("on_chain_data_path", f"{batch_index}/onchain_data.json"),
        "snos_output_path": paths.get("snos_output_path", f"{batch_index}/snos_output.json"),
        "program_output_path": paths.get("program_output_path", f"{batch_index}/program_output.txt"),
        "snos_fact": paths.get("snos_fact"),
        "snos_n_steps": paths.get("snos_n_steps"),
    }


def proving_specific(block_number: int, n_steps: int | None = None) -> Doc:
    return {
        "type": "Proving",
        "block_number": Int64(block_number),
        "input_path": {"CairoPie": f"{block_number}/cairo_pie.zip"},
        "ensure_on_chain_registration": f"0x{block_number:064x}",
        "download_proof": f"{block_number}/proof.json",
        "n_steps": None if n_steps is None else Int64(n_steps),
    }


def state_update_specific(to_settle: int, tagged_at: str | None = None) -> Doc:
    return {
        "type": "StateUpdate",
        "snos_output_path": f"{to_settle}/snos_output.json",
        "program_output_path": f"{to_settle}/program_output.txt",
        "blob_data_path": f"{to_settle}/blob_data.txt",
        "da_segment_path": None,
        "tx_hash": "0xabc",
        "tx_nonce": Int64(7),
        "tx_attempts": [
            {
                "attempt_no": Int64(1),
                "tx_hash": "0xabc",
                "nonce": Int64(7),
                "gas_multiplier": "1.10",
                "status": "Finalized",
                "error": None,
            }
        ],
        "context": {"type": "Block", "to_settle": Int64(to_settle), "last_failed": None},
        "storage_artifacts_tagged_at": tagged_at,
    }


def aggregator_specific(batch_num: int) -> Doc:
    return {
        "type": "Aggregator",
        "batch_num": Int64(batch_num),
        "ensure_on_chain_registration": None,
        "download_proof": None,
        "blob_data_path": f"blob/batch/{batch_num}",
        "da_segment_path": f"artifacts/batch/{batch_num}/da_blob.json",
        "cairo_pie_path": f"artifacts/batch/{batch_num}/cairo_pie.zip",
        "snos_output_path": "",
        "program_output_path": f"artifacts/batch/{batch_num}/program_output.txt",
        "aggregator_query_id": None,
    }


def job(
    job_type: str,
    internal_id: int,
    status: str,
    specific: Doc,
    *,
    job_id: uuid.UUID | None = None,
    version: int = 0,
    external_id: str | int = "",
    common_metadata: Doc | None = None,
    created_at: datetime = T0,
    updated_at: datetime = T0,
) -> Doc:
    return {
        "_id": ObjectId(),
        "id": binary_uuid(job_id or uuid.uuid4()),
        "internal_id": Int64(internal_id),
        "job_type": job_type,
        "status": status,
        "external_id": external_id if isinstance(external_id, str) else Int64(external_id),
        "metadata": {"common": common_metadata or common(), "specific": specific},
        "version": version,  # i32
        "created_at": created_at,
        "updated_at": updated_at,
    }


def bouncer_weights(**values: int) -> Doc:
    names = (
        "l1_gas",
        "message_segment_length",
        "n_events",
        "state_diff_size",
        "sierra_gas",
        "n_txs",
        "proving_gas",
        "receipt_l2_gas",
    )
    return {name: Int64(values.get(name, 0)) for name in names}


def snos_batch(
    index: int,
    start: int,
    end: int,
    status: str,
    *,
    batch_id: uuid.UUID | None = None,
    aggregator_batch_index: int | None = None,
    starknet_version: str = "0.13.2",
    orchestrator_version: str = "0.1.0",
    created_at: datetime = T0,
) -> Doc:
    return {
        "_id": binary_uuid(batch_id or uuid.uuid4()),
        "index": Int64(index),
        "aggregator_batch_index": None if aggregator_batch_index is None else Int64(aggregator_batch_index),
        "starknet_version": starknet_version,
        "orchestrator_version": orchestrator_version,
        "start_block": Int64(start),
        "end_block": Int64(end),
        "num_blocks": Int64(end - start + 1),
        "builtin_weights": bouncer_weights(n_txs=end - start + 1),
        "status": status,
        "created_at": created_at,
        "updated_at": created_at,
    }


def aggregator_batch(
    index: int,
    start: int,
    end: int,
    status: str,
    *,
    batch_id: uuid.UUID | None = None,
    starknet_version: str = "0.13.2",
    orchestrator_version: str = "0.1.0",
    created_at: datetime = T0,
) -> Doc:
    return {
        "_id": binary_uuid(batch_id or uuid.uuid4()),
        "index": Int64(index),
        "squashed_state_updates_path": f"state_update/batch/{index}.json",
        "blob_path": f"blob/batch/{index}",
        "starknet_version": starknet_version,
        "orchestrator_version": orchestrator_version,
        "start_block": Int64(start),
        "end_block": Int64(end),
        "num_blocks": Int64(end - start + 1),
        "blob_len": Int64(1),
        "aggregator_input_size_upper_bound": Int64(750_000),
        "builtin_weights": {"l1_gas": Int64(0), "message_segment_length": Int64(0)},
        "status": status,
        "created_at": created_at,
        "updated_at": created_at,
    }


def block_batch_lookup(block: int, snos_index: int | None, aggregator_index: int | None) -> Doc:
    return {
        "block_number": Int64(block),
        "snos_batch_index": None if snos_index is None else Int64(snos_index),
        "aggregator_batch_index": None if aggregator_index is None else Int64(aggregator_index),
        "created_at": T0,
        "updated_at": T0,
    }


def lock(key: str, expires_at: datetime, owner: str | None = "reference-pod") -> Doc:
    return {
        "_id": key,
        "value": {"Boolean": False},
        "expires_at": expires_at,
        "created_at": expires_at - timedelta(seconds=60),
        "updated_at": expires_at - timedelta(seconds=60),
        "owner": owner,
    }
