"""MongoDB documents exactly as the reference orchestrator (Madara, Rust, serde + bson) stores them,
so a deployment of the reference can be moved onto this orchestrator and back.

The reference's fields keep the reference's names and BSON types:

- UUIDs are BSON Binary subtype 4 (the client runs with `UuidRepresentation.STANDARD`);
- u64 / usize / i64 integers are Int64 (serde's bson serializer writes every u64 and usize as
  Int64), `version` is Int32; datetimes with the bson helper are BSON dates, and
  `storage_artifacts_tagged_at` (plain chrono serde) is an RFC 3339 string;
- enums are their variant names; the metadata is `{common, specific}` with `specific`
  internally tagged by `type`, and fields the reference skips when unset are left out;
- a lock's `value` is the externally tagged `LockValue` (`{"Boolean": false}`, ...).

What this orchestrator needs beyond them is stored *in addition*, under names the reference's
readers ignore (serde skips unknown fields): `id_text` (the UUID as text: the MongoDB test server
cannot match a binary value, README "The MongoDB test server's gaps"), `updated_at_ts` (epoch
seconds for range queries), `lease`, and `extras` (metadata fields the reference has no place for,
e.g. settlement attempts it would not parse). Decoding accepts documents without the extras
(written by the reference) and derives them; `adoption_fields` gives the extras to backfill.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bson import Binary, Int64
from bson.binary import UuidRepresentation

from orchestrator.core.models.batch import AggregatorBatch, SnosBatch
from orchestrator.core.models.job import JobItem, JobItemUpdates, JobLease, JobStatus, JobType
from orchestrator.core.models.metadata import CommonMetadata, JobMetadata, StateUpdateMetadata, TxAttemptStatus
from orchestrator.core.models.timestamps import as_utc as aware_utc

Doc = dict[str, Any]

#: the client option (`uuidRepresentation`) that makes `uuid.UUID` values BSON Binary subtype 4, as
#: the reference writes them (UuidRepresentation.STANDARD)
UUID_REPRESENTATION = "standard"
ID_TEXT = "id_text"
UPDATED_AT_TS = "updated_at_ts"
EXTRAS = "extras"

#: CommonMetadata's fields in the reference; the others go to `extras.common`
_REFERENCE_COMMON = (
    "process_attempt_no",
    "process_retry_attempt_no",
    "verification_attempt_no",
    "verification_retry_attempt_no",
    "process_started_at",
    "process_completed_at",
    "verification_started_at",
    "verification_completed_at",
    "failure_reason",
    "previous_failure_reasons",
    "orchestrator_version",
)
_PROJECT_COMMON = tuple(name for name in CommonMetadata.model_fields if name not in _REFERENCE_COMMON)
#: settlement attempt fields and statuses the reference knows (StateUpdateTxAttempt)
_REFERENCE_ATTEMPT = ("attempt_no", "tx_hash", "nonce", "gas_multiplier", "status", "error")
_REFERENCE_ATTEMPT_STATUSES = frozenset(
    {
        TxAttemptStatus.FINALIZED.value,
        TxAttemptStatus.REPLACED.value,
        TxAttemptStatus.TIMED_OUT.value,
        TxAttemptStatus.REJECTED_UNDERPRICED.value,
        TxAttemptStatus.SUBMISSION_FAILED.value,
    }
)
#: AggregatorMetadata fields that are `String` (not Option) in the reference: None is stored as ""
_AGGREGATOR_STRINGS = ("blob_data_path", "da_segment_path", "cairo_pie_path", "snos_output_path", "program_output_path")


# --- scalars --------------------------------------------------------------------------------------


def int64s(value: Any) -> Any:
    """Every integer (not bool) in `value` as Int64, the width serde gives u64, usize and i64."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return Int64(value)
    if isinstance(value, dict):
        return {k: int64s(v) for k, v in value.items()}
    if isinstance(value, list):
        return [int64s(v) for v in value]
    return value


def as_uuid(value: Any) -> uuid.UUID:
    """A stored id: a UUID (standard representation), a Binary subtype 4, 16 raw bytes (the test
    server drops the subtype) or text (documents of earlier versions of this orchestrator)."""
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, Binary) and value.subtype == 4:
        return value.as_uuid(UuidRepresentation.STANDARD)
    if isinstance(value, bytes) and len(value) == 16:
        return uuid.UUID(bytes=bytes(value))
    return uuid.UUID(str(value))


def as_utc(value: Any) -> datetime:
    """A stored time: a BSON date, epoch seconds, or text (RFC 3339, or the test server's rendering
    of a date written by `$set`, which has no zone and is UTC)."""
    if isinstance(value, datetime):
        return aware_utc(value)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), UTC)
    return aware_utc(datetime.fromisoformat(str(value).replace("Z", "+00:00")))


def rfc3339(value: datetime) -> str:
    """chrono's serde form of a DateTime<Utc>: RFC 3339, `Z`, fraction digits only as needed (0/3/6)."""
    value = as_utc(value)
    if value.microsecond == 0:
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if value.microsecond % 1000 == 0:
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _updated_at(doc: Mapping[str, Any]) -> datetime:
    # A BSON date is authoritative (it is what the reference writes); the test server stores a date
    # written by `$set` as text, and then the epoch seconds are exact.
    if isinstance(doc.get("updated_at"), datetime) or UPDATED_AT_TS not in doc:
        return as_utc(doc["updated_at"])
    return as_utc(float(doc[UPDATED_AT_TS]))


# --- metadata -------------------------------------------------------------------------------------


def metadata_to_doc(metadata: JobMetadata) -> tuple[Doc, Doc]:
    """(the reference's `metadata`, this orchestrator's `extras`)."""
    common = metadata.common.model_dump(mode="json")
    specific = metadata.specific.model_dump(mode="json")
    extras: Doc = {"common": {name: common.pop(name) for name in _PROJECT_COMMON}}
    if isinstance(metadata.specific, StateUpdateMetadata):
        attempts = specific["tx_attempts"]
        extras["tx_attempts"] = attempts
        specific["tx_attempts"] = [
            {k: a[k] for k in _REFERENCE_ATTEMPT} for a in attempts if a["status"] in _REFERENCE_ATTEMPT_STATUSES
        ]
        tagged = metadata.specific.storage_artifacts_tagged_at
        specific["storage_artifacts_tagged_at"] = None if tagged is None else rfc3339(tagged)
    elif specific["type"] == "Aggregator":
        for name in _AGGREGATOR_STRINGS:
            specific[name] = specific[name] or ""
        if specific.get("bucket_id") is None:
            specific.pop("bucket_id", None)
    return int64s({"common": common, "specific": specific}), int64s(extras)


def metadata_from_doc(metadata: Mapping[str, Any], extras: Mapping[str, Any] | None) -> JobMetadata:
    extras = extras or {}
    common = {**dict(metadata.get("common") or {}), **dict(extras.get("common") or {})}
    specific = dict(metadata["specific"])
    if specific.get("type") == "StateUpdate" and "tx_attempts" in extras:
        specific["tx_attempts"] = extras["tx_attempts"]
    elif specific.get("type") == "Aggregator":
        for name in _AGGREGATOR_STRINGS:
            specific[name] = specific.get(name) or None
    return JobMetadata.model_validate({"common": common, "specific": specific})


# --- jobs -----------------------------------------------------------------------------------------


def lease_to_doc(lease: JobLease | None) -> Doc | None:
    if lease is None:
        return None
    return {"owner": lease.owner, "expires_at": lease.expires_at, "expires_at_ts": lease.expires_at.timestamp()}


def lease_from_doc(doc: Mapping[str, Any] | None) -> JobLease | None:
    if not doc:
        return None
    expires = doc["expires_at_ts"] if "expires_at_ts" in doc else doc["expires_at"]
    return JobLease(owner=str(doc["owner"]), expires_at=as_utc(expires))


def _external_id(value: str | int) -> str | Int64:
    # ExternalId is untagged: a string, or a number (usize, so Int64).
    return value if isinstance(value, str) else Int64(value)


def job_to_doc(job: JobItem) -> Doc:
    metadata, extras = metadata_to_doc(job.metadata)
    return {
        "id": job.id,
        "internal_id": Int64(job.internal_id),
        "job_type": job.job_type.value,
        "status": job.status.value,
        "external_id": _external_id(job.external_id),
        "metadata": metadata,
        "version": int(job.version),  # i32: PyMongo writes an int of this size as Int32
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        ID_TEXT: str(job.id),
        UPDATED_AT_TS: job.updated_at.timestamp(),
        "lease": lease_to_doc(job.lease),
        EXTRAS: extras,
    }


def job_update_fields(job_id: uuid.UUID, updates: JobItemUpdates, now: datetime) -> Doc:
    """The `$set` of a versioned update: what the reference sets (non-null fields, updated_at), and
    the extras (also `id_text`, which adopts a reference-written job on its first update)."""
    fields: Doc = {"updated_at": now, UPDATED_AT_TS: now.timestamp(), ID_TEXT: str(job_id)}
    if updates.status is not None:
        fields["status"] = updates.status.value
    if updates.external_id is not None:
        fields["external_id"] = _external_id(updates.external_id)
    if updates.metadata is not None:
        fields["metadata"], fields[EXTRAS] = metadata_to_doc(updates.metadata)
    if updates.status is not None or updates.lease is not None:
        fields["lease"] = lease_to_doc(updates.lease)
    return fields


def job_from_doc(doc: Mapping[str, Any]) -> JobItem:
    external = doc.get("external_id", "")
    return JobItem(
        id=as_uuid(doc["id"]),
        internal_id=int(doc["internal_id"]),
        job_type=JobType(doc["job_type"]),
        status=JobStatus(doc["status"]),
        external_id=external if isinstance(external, str) else int(external),
        metadata=metadata_from_doc(doc["metadata"], doc.get(EXTRAS)),
        version=int(doc["version"]),
        created_at=as_utc(doc["created_at"]),
        updated_at=_updated_at(doc),
        lease=lease_from_doc(doc.get("lease")),
    )


def id_filters(field: str, value: uuid.UUID) -> tuple[Doc, Doc]:
    """Filters for a document by UUID, tried in order: the text extra (matches on every server),
    then the reference's binary field (a reference-written document not adopted yet)."""
    return {ID_TEXT: str(value)}, {field: value}


# --- batches --------------------------------------------------------------------------------------


def batch_to_doc(batch: SnosBatch | AggregatorBatch) -> Doc:
    doc: Doc = {"_id": batch.id}
    fields = batch.model_dump(mode="json", exclude={"id", "created_at", "updated_at"})
    if isinstance(batch, AggregatorBatch) and fields.get("bucket_id") is None:
        fields.pop("bucket_id", None)  # skipped when None by the reference
    doc.update(int64s(fields))
    doc["created_at"] = batch.created_at
    doc["updated_at"] = batch.updated_at
    doc[ID_TEXT] = str(batch.id)
    doc[UPDATED_AT_TS] = batch.updated_at.timestamp()
    return doc


def batch_fields(doc: Mapping[str, Any]) -> Doc:
    """A stored batch's fields for the model (SnosBatch or AggregatorBatch)."""
    fields = {k: v for k, v in doc.items() if k not in ("_id", ID_TEXT, UPDATED_AT_TS, "created_at", "updated_at")}
    fields["id"] = as_uuid(doc["_id"])
    fields["created_at"] = as_utc(doc["created_at"])
    fields["updated_at"] = _updated_at(doc)
    return fields


# --- adoption of reference-written documents ------------------------------------------------------


def adoption_fields(doc: Mapping[str, Any], id_field: str) -> Doc:
    """The extras a document written by the reference lacks, derived from its own fields."""
    fields: Doc = {ID_TEXT: str(as_uuid(doc[id_field]))}
    if UPDATED_AT_TS not in doc and doc.get("updated_at") is not None:
        fields[UPDATED_AT_TS] = as_utc(doc["updated_at"]).timestamp()
    return fields


# --- locks ----------------------------------------------------------------------------------------

_LOCK_VALUE_TAGS = frozenset({"String", "Number", "Boolean", "Json"})


def lock_value_to_doc(value: object) -> Doc:
    """The reference's externally tagged LockValue: String, Number (i64), Boolean or Json; a value
    already in that form (one of those tags, e.g. the workers' `{"Boolean": False}`) is kept."""
    if isinstance(value, Mapping) and len(value) == 1 and next(iter(value)) in _LOCK_VALUE_TAGS:
        return {str(tag): int64s(inner) for tag, inner in value.items()}
    if isinstance(value, bool):
        return {"Boolean": value}
    if isinstance(value, int):
        return {"Number": Int64(value)}
    if isinstance(value, str):
        return {"String": value}
    return {"Json": value}
