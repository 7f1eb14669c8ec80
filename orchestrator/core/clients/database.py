"""The job and batch store. Every job write is a compare-and-swap on `version`."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from orchestrator.core.errors import OrchestratorError
from orchestrator.core.models.audit import AuditEntry
from orchestrator.core.models.batch import (
    AggregatorBatch,
    AggregatorBatchStatus,
    BlockBatchLookup,
    SnosBatch,
    SnosBatchStatus,
)
from orchestrator.core.models.job import JobItem, JobItemUpdates, JobStatus, JobType

#: Which jobs name a block, for `get_jobs_by_block_number` (the reference's three finds): these by
#: `metadata.specific.block_number`, StateTransition by its `context.to_settle`, and the range types
#: by `start_block..end_block`. One place, so the adapters cannot disagree.
JOB_TYPES_BY_BLOCK_NUMBER: tuple[JobType, ...] = (
    JobType.PROOF_CREATION,
    JobType.PROOF_REGISTRATION,
    JobType.DATA_SUBMISSION,
)
JOB_TYPES_BY_TO_SETTLE: tuple[JobType, ...] = (JobType.STATE_TRANSITION,)
JOB_TYPES_BY_BLOCK_RANGE: tuple[JobType, ...] = (JobType.SNOS_RUN, JobType.AGGREGATOR)


class BatchAlreadyExistsError(OrchestratorError):
    """A batch with the same id, index, start_block or end_block is stored already."""


@dataclass(frozen=True)
class SnosBatchQuery:
    indexes: Sequence[int] = ()
    statuses: Sequence[SnosBatchStatus] = ()
    aggregator_batch_index: int | None = None
    orchestrator_version: str | None = None
    limit: int | None = None
    sort: Literal["asc", "desc"] = "asc"


@dataclass(frozen=True)
class AggregatorBatchQuery:
    indexes: Sequence[int] = ()
    statuses: Sequence[AggregatorBatchStatus] = ()
    orchestrator_version: str | None = None
    limit: int | None = None
    sort: Literal["asc", "desc"] = "asc"


@dataclass(frozen=True)
class JobQuery:
    """A bounded scan over jobs; empty sequences mean "no filter"."""

    job_types: Sequence[JobType] = ()
    statuses: Sequence[JobStatus] = ()
    orchestrator_version: str | None = None
    updated_before: datetime | None = None
    limit: int | None = None
    extra: dict[str, object] = field(default_factory=dict)


class JobRepository(Protocol):
    """The jobs. Every job write is a compare-and-swap on `version`."""

    async def create_job(self, job: JobItem) -> JobItem:
        """Insert; raise JobAlreadyExistsError when (job_type, internal_id) exists."""

    async def get_job_by_id(self, job_id: uuid.UUID) -> JobItem | None: ...

    async def get_job_by_internal_id_and_type(self, internal_id: int, job_type: JobType) -> JobItem | None: ...

    async def get_jobs_by_internal_ids_and_type(self, internal_ids: Sequence[int], job_type: JobType) -> list[JobItem]:
        """Sorted by internal_id ascending."""

    async def update_job(self, job: JobItem, updates: JobItemUpdates) -> JobItem:
        """CAS on (id, version): returns the stored job with version+1 and a fresh updated_at.

        The non-None fields of `updates` are applied to the *stored* record; other fields of `job`
        are ignored. Raises VersionConflictError when the stored version differs (or the job does
        not exist, as the reference's filter-based update cannot tell), EmptyUpdateError for no fields.
        """

    async def get_latest_job_by_type(
        self, job_type: JobType, orchestrator_version: str | None = None
    ) -> JobItem | None:
        """Highest internal_id of that type."""

    async def get_latest_job_by_type_and_status(self, job_type: JobType, status: JobStatus) -> JobItem | None: ...

    async def get_oldest_job_by_type_excluding_statuses(
        self, job_type: JobType, statuses: Sequence[JobStatus], orchestrator_version: str | None = None
    ) -> JobItem | None:
        """Lowest internal_id of that type whose status is not in `statuses`."""

    async def get_jobs_without_successor(
        self,
        job_type: JobType,
        status: JobStatus,
        successor_type: JobType,
        orchestrator_version: str | None = None,
        min_internal_id: int = 0,
        limit: int | None = None,
    ) -> list[JobItem]:
        """Jobs of `job_type` in `status` with no `successor_type` job of the same internal_id, ascending."""

    async def get_jobs_after_internal_id_by_job_type(
        self, job_type: JobType, status: JobStatus, internal_id: int, orchestrator_version: str | None = None
    ) -> list[JobItem]:
        """internal_id strictly greater, ascending."""

    async def get_jobs_by_types_and_statuses(
        self,
        job_types: Sequence[JobType],
        statuses: Sequence[JobStatus],
        limit: int | None = None,
        orchestrator_version: str | None = None,
    ) -> list[JobItem]:
        """Empty sequences mean no filter; ascending internal_id."""

    async def get_jobs_between_internal_ids(
        self, job_type: JobType, status: JobStatus, gte: int, lte: int
    ) -> list[JobItem]: ...

    async def get_jobs_by_status(self, status: JobStatus, limit: int | None = None) -> list[JobItem]:
        """Ascending internal_id."""

    async def get_jobs_updated_before(
        self, statuses: Sequence[JobStatus], before: datetime, limit: int
    ) -> list[JobItem]:
        """Jobs in `statuses` (empty: any) whose updated_at < `before`, oldest write first
        (the lost-message sweep)."""

    async def get_jobs_without_storage_artifacts_tagged(self, limit: int) -> list[JobItem]:
        """Completed StateTransition jobs whose storage_artifacts_tagged_at is unset."""

    async def get_jobs_by_block_number(self, block_number: int) -> list[JobItem]:
        """The reference's union: `JOB_TYPES_BY_BLOCK_NUMBER` jobs whose metadata.specific.block_number
        is the block, `JOB_TYPES_BY_TO_SETTLE` jobs whose context.to_settle is it, and
        `JOB_TYPES_BY_BLOCK_RANGE` jobs whose start_block..end_block holds it; by type, then internal_id."""


class BatchRepository(Protocol):
    """SNOS and aggregator batches, and the block lookups that every batch write keeps in sync."""

    async def get_latest_snos_batch(self) -> SnosBatch | None: ...

    async def get_latest_aggregator_batch(self) -> AggregatorBatch | None: ...

    async def get_oldest_aggregator_batch(self, orchestrator_version: str | None = None) -> AggregatorBatch | None: ...

    async def get_snos_batches(self, query: SnosBatchQuery) -> list[SnosBatch]: ...

    async def get_aggregator_batches(self, query: AggregatorBatchQuery) -> list[AggregatorBatch]: ...

    async def update_snos_batch_status_by_index(self, index: int, status: SnosBatchStatus) -> SnosBatch:
        """Returns the updated batch; NotFoundError when no batch has that index."""

    async def update_aggregator_batch_status_by_index(
        self, index: int, status: AggregatorBatchStatus
    ) -> AggregatorBatch:
        """Returns the updated batch; NotFoundError when no batch has that index."""

    async def update_or_create_snos_batch(self, batch: SnosBatch) -> SnosBatch:
        """Upsert by id (num_blocks recomputed, updated_at refreshed, created_at kept); keeps
        block_batch_lookups in sync, also when the range shrinks."""

    async def update_or_create_aggregator_batch(self, batch: AggregatorBatch) -> AggregatorBatch:
        """Upsert by id; keeps block_batch_lookups in sync."""

    async def create_snos_batch(self, batch: SnosBatch) -> SnosBatch:
        """Insert; BatchAlreadyExistsError on a duplicate id, index, start_block or end_block."""

    async def create_aggregator_batch(self, batch: AggregatorBatch) -> AggregatorBatch:
        """Insert; BatchAlreadyExistsError on a duplicate id, index, start_block or end_block."""

    async def get_aggregator_batch_for_block(self, block_number: int) -> AggregatorBatch | None:
        """From block_batch_lookups, else the batch whose start_block..end_block holds the block."""

    async def get_block_batch_lookup(self, block_number: int) -> BlockBatchLookup | None: ...

    async def get_start_snos_batch_for_aggregator(self, aggregator_index: int) -> SnosBatch | None:
        """The lowest-index SNOS batch of that aggregator batch."""

    async def get_snos_batches_by_aggregator_index(self, aggregator_index: int) -> list[SnosBatch]:
        """Ascending index."""

    async def get_snos_batches_without_jobs(
        self,
        status: SnosBatchStatus,
        limit: int,
        orchestrator_version: str | None = None,
        min_index: int = 0,
    ) -> list[SnosBatch]:
        """Batches in `status` with no SnosRun job whose internal_id is the batch index, ascending."""


class DatabaseClient(JobRepository, BatchRepository, Protocol):
    """The whole store: jobs, batches, the audit log, and the connection."""

    async def connect(self) -> None:
        """Open connections and create collections/tables and indexes (idempotent)."""

    async def close(self) -> None: ...

    async def health_check(self) -> None:
        """Raise if the database does not answer."""

    # --- audit log (admin actions) ------------------------------------------------------------
    async def add_audit_entry(self, entry: AuditEntry) -> None:
        """Append one admin action; entries are never changed."""

    async def get_audit_entries(self, limit: int, actor: str | None = None) -> list[AuditEntry]:
        """The newest `limit` entries (optionally of one actor), newest first."""
