"""Parameter and response models of the API; the OpenAPI document is generated from them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, JsonValue

from orchestrator.core.models.audit import AuditEntry
from orchestrator.core.models.batch import AggregatorBatch, AggregatorBatchStatus, SnosBatch, SnosBatchStatus
from orchestrator.core.models.job import JobItem, JobStatus, JobType

#: the largest number the databases store (a signed 64-bit integer); larger is a 400, not a 500
MAX_INT = 2**63 - 1


def _path(description: str) -> dict[str, JsonValue]:
    return {"in": "path", "description": description}


# --- parameters ---------------------------------------------------------------------------------
class JobIdParams(BaseModel):
    id: uuid.UUID = Field(json_schema_extra=_path("the job's id (a UUID)"))


class JobActionParams(JobIdParams):
    priority: bool = Field(False, description="use the priority queue (bounded; 429 when full)")


class StatusParams(BaseModel):
    status: JobStatus = Field(description="a job status, e.g. Failed")
    limit: int = Field(1000, ge=1, le=10_000, description="at most this many jobs")


class BlockParams(BaseModel):
    block: int = Field(ge=0, le=MAX_INT, json_schema_extra=_path("an L2 block number"))


class BatchQueryParams(BaseModel):
    index: list[Annotated[int, Field(ge=0, le=MAX_INT)]] = Field(
        default_factory=list, description="batch indexes (repeatable, at most 100)", max_length=100
    )
    limit: int = Field(50, ge=1, le=500)
    sort: Literal["asc", "desc"] = "asc"


class SnosBatchParams(BatchQueryParams):
    status: SnosBatchStatus | Literal["closed"] | None = Field(
        None, description="a SNOS batch status, or `closed` for every non-Open status"
    )


class AggregatorBatchParams(BatchQueryParams):
    status: AggregatorBatchStatus | Literal["closed"] | None = Field(
        None, description="an aggregator batch status, or `closed` for every non-Open status"
    )


class JobTypesParams(BaseModel):
    job_type: list[JobType] = Field(default_factory=list, description="only these job types (repeatable)")


class AuditParams(BaseModel):
    limit: int = Field(100, ge=1, le=1000)
    actor: str | None = Field(None, max_length=64, description="only this token id")


# --- response data ------------------------------------------------------------------------------
class JobSummary(BaseModel):
    job_type: JobType
    id: uuid.UUID
    status: JobStatus

    @classmethod
    def of(cls, job: JobItem) -> JobSummary:
        return cls(job_type=job.job_type, id=job.id, status=job.status)


class JobsData(BaseModel):
    jobs: list[JobSummary]


class JobTimestamps(BaseModel):
    process_started_at: int | None = None
    process_completed_at: int | None = None
    verification_started_at: int | None = None
    verification_completed_at: int | None = None


class JobView(BaseModel):
    job_type: JobType
    id: uuid.UUID
    internal_id: int
    status: JobStatus
    external_id: str
    created_at: int
    updated_at: int
    timestamps: JobTimestamps
    process_attempt_no: int
    process_retry_attempt_no: int
    verification_attempt_no: int
    failure_reason: str | None = None

    @classmethod
    def of(cls, job: JobItem) -> JobView:
        c = job.metadata.common
        return cls(
            job_type=job.job_type,
            id=job.id,
            internal_id=job.internal_id,
            status=job.status,
            external_id=str(job.external_id),
            created_at=int(job.created_at.timestamp()),
            updated_at=int(job.updated_at.timestamp()),
            timestamps=JobTimestamps(
                process_started_at=c.process_started_at,
                process_completed_at=c.process_completed_at,
                verification_started_at=c.verification_started_at,
                verification_completed_at=c.verification_completed_at,
            ),
            process_attempt_no=c.process_attempt_no,
            process_retry_attempt_no=c.process_retry_attempt_no,
            verification_attempt_no=c.verification_attempt_no,
            failure_reason=c.failure_reason,
        )


class BatchView(BaseModel):
    index: int
    aggregator_batch_index: int | None = None
    start_block: int
    end_block: int
    status: str
    created_at: int
    updated_at: int
    aggregator_input_size_upper_bound: int | None = None

    @classmethod
    def of(cls, batch: SnosBatch | AggregatorBatch) -> BatchView:
        view = cls(
            index=batch.index,
            start_block=batch.start_block,
            end_block=batch.end_block,
            status=batch.status.value,
            created_at=int(batch.created_at.timestamp()),
            updated_at=int(batch.updated_at.timestamp()),
        )
        if isinstance(batch, SnosBatch):
            view.aggregator_batch_index = batch.aggregator_batch_index
        else:
            view.aggregator_input_size_upper_bound = batch.aggregator_input_size_upper_bound
        return view


class SettlementStatusData(BaseModel):
    block_number: int
    snos_batch: BatchView | None = None
    aggregator_batch: BatchView | None = None
    block_jobs: list[JobView]
    aggregator_proof_jobs: list[JobView]


class BatchNumberData(BaseModel):
    batch_number: int


class SnosBatchMetrics(BaseModel):
    state_diff_size: int
    sierra_gas: int
    proving_gas: int


class SnosBatchItem(SnosBatch):
    metrics: SnosBatchMetrics


class SnosBatchesData(BaseModel):
    batches: list[SnosBatchItem]


class AggregatorBatchesData(BaseModel):
    batches: list[AggregatorBatch]


class BulkData(BaseModel):
    success_count: int
    successful_job_ids: list[uuid.UUID]
    failed_count: int
    failed_job_ids: list[uuid.UUID]


class CloseBatchesData(BaseModel):
    snos_batches_closed: int
    aggregator_batches_closed: int


class AuditData(BaseModel):
    entries: list[AuditEntry]


class StageCell(BaseModel):
    job_type: JobType
    status: JobStatus
    id: uuid.UUID


class BlockRow(BaseModel):
    block_number: int
    snos_batch: int | None = None
    aggregator_batch: int | None = None
    stages: list[StageCell]


class BreakerView(BaseModel):
    service: str
    breaker_state: str
    breaker_opened_total: int = 0


class StatusData(BaseModel):
    generated_at: datetime
    last_settled_block: int | None
    blocks: list[BlockRow]
    snos_batches: list[BatchView]
    aggregator_batches: list[BatchView]
    failed_jobs: list[JobView]
    queue_depths: dict[str, int]
    circuit_breakers: list[BreakerView]
