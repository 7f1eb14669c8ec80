"""A realistic job history for the trigger-query benchmark, written in bulk (not through the engine).

L2: per aggregator batch, SNOS_PER_BATCH SNOS batches (SnosRun + ProofCreation each), one Aggregator and
one StateTransition job: 10 jobs per batch. Everything is settled and tagged except the head: the
previous batch is settling (its StateTransition in PendingVerification), the newest one is half proven,
and an open batch follows. L3: per SNOS batch SnosRun, ProofCreation, ProofRegistration, DataSubmission
and StateTransition (5 jobs), the newest ones in flight.

Rows come from one real job per (type, status) through the adapter's own row/document builders, with
the ids substituted, so that a 1M-job history takes seconds rather than minutes.
"""

from __future__ import annotations

import copy
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bson import Int64

from orchestrator.clients.database.mongodb import job_to_doc
from orchestrator.clients.database.sqlite import _job_row
from orchestrator.core.models.batch import AggregatorBatch, AggregatorBatchStatus, SnosBatch, SnosBatchStatus
from orchestrator.core.models.job import JobItem, JobStatus, JobType
from orchestrator.core.models.metadata import (
    AggregatorMetadata,
    CommonMetadata,
    DaMetadata,
    JobMetadata,
    JobSpecificMetadata,
    ProvingMetadata,
    SettlementContext,
    SnosMetadata,
    StateUpdateMetadata,
)
from orchestrator.core.version import ORCHESTRATOR_VERSION

V = ORCHESTRATOR_VERSION

SNOS_PER_BATCH = 4
SENTINEL = 987654321  # stands for the internal id in the template rows
C, PV, CR = JobStatus.COMPLETED, JobStatus.PENDING_VERIFICATION, JobStatus.CREATED


@dataclass(frozen=True)
class Job:
    job_type: JobType
    internal_id: int
    status: JobStatus
    tagged: bool = True  # StateTransition only


@dataclass(frozen=True)
class History:
    layer: str
    jobs: list[Job]
    aggregator_batches: list[AggregatorBatch]
    snos_batches: list[SnosBatch]


def l2_history(total_jobs: int) -> History:
    batches = max(3, total_jobs // (2 * SNOS_PER_BATCH + 2))
    jobs: list[Job] = []
    aggs: list[AggregatorBatch] = []
    snos: list[SnosBatch] = []
    for a in range(1, batches + 1):
        settled, settling, newest = a < batches - 1, a == batches - 1, a == batches
        first = (a - 1) * SNOS_PER_BATCH + 1
        for k, s in enumerate(range(first, first + SNOS_PER_BATCH)):
            jobs.append(Job(JobType.SNOS_RUN, s, C))
            jobs.append(Job(JobType.PROOF_CREATION, s, PV if newest and k >= SNOS_PER_BATCH // 2 else C))
            status = SnosBatchStatus.COMPLETED if settled else SnosBatchStatus.CLOSED
            snos.append(
                SnosBatch(
                    index=s, aggregator_batch_index=a, start_block=s, end_block=s, status=status, orchestrator_version=V
                )
            )
        if not newest:
            jobs.append(Job(JobType.AGGREGATOR, a, C))
            # the newest settled batches are not tagged for cleanup yet
            jobs.append(Job(JobType.STATE_TRANSITION, a, PV if settling else C, tagged=a < batches - 4))
        agg_status = (
            AggregatorBatchStatus.COMPLETED
            if settled
            else AggregatorBatchStatus.READY_FOR_STATE_UPDATE
            if settling
            else AggregatorBatchStatus.CLOSED
        )
        aggs.append(
            AggregatorBatch(
                index=a,
                start_block=first,
                end_block=first + SNOS_PER_BATCH - 1,
                status=agg_status,
                orchestrator_version=V,
            )
        )
    end = batches * SNOS_PER_BATCH
    aggs.append(AggregatorBatch(index=batches + 1, start_block=end + 1, end_block=end + 1, orchestrator_version=V))
    snos.append(
        SnosBatch(
            index=end + 1,
            aggregator_batch_index=batches + 1,
            start_block=end + 1,
            end_block=end + 1,
            orchestrator_version=V,
        )
    )
    return History("l2", jobs, aggs, snos)


def l3_history(total_jobs: int) -> History:
    batches = max(3, total_jobs // 5)
    jobs: list[Job] = []
    snos: list[SnosBatch] = []
    for s in range(1, batches + 1):
        newest, settling = s == batches, s == batches - 1
        jobs.append(Job(JobType.SNOS_RUN, s, C))
        jobs.append(Job(JobType.PROOF_CREATION, s, C))
        if newest:  # proven; its registration is still to be created
            continue
        jobs.append(Job(JobType.PROOF_REGISTRATION, s, C))
        jobs.append(Job(JobType.DATA_SUBMISSION, s, C))
        jobs.append(Job(JobType.STATE_TRANSITION, s, PV if settling else C, tagged=s < batches - 4))
        status = SnosBatchStatus.CLOSED if settling else SnosBatchStatus.COMPLETED
        snos.append(SnosBatch(index=s, start_block=s, end_block=s, status=status, orchestrator_version=V))
    last = SnosBatch(
        index=batches, start_block=batches, end_block=batches, status=SnosBatchStatus.CLOSED, orchestrator_version=V
    )
    snos.append(last)
    return History("l3", jobs, [], snos)


def _specific(job_type: JobType, tagged: bool) -> JobSpecificMetadata:
    i = SENTINEL
    if job_type is JobType.SNOS_RUN:
        return SnosMetadata(snos_batch_index=i, start_block=i, end_block=i, num_blocks=1, cairo_pie_path="p")
    if job_type in (JobType.PROOF_CREATION, JobType.PROOF_REGISTRATION):
        return ProvingMetadata(block_number=i)
    if job_type is JobType.DATA_SUBMISSION:
        return DaMetadata(block_number=i, blob_data_path="b")
    if job_type is JobType.AGGREGATOR:
        return AggregatorMetadata(batch_num=i, snos_output_path="s", program_output_path="p", blob_data_path="b")
    meta = StateUpdateMetadata(context=SettlementContext(type="Batch", to_settle=i))
    if tagged:
        meta.storage_artifacts_tagged_at = datetime(2026, 1, 1, tzinfo=UTC)
    return meta


def _template(job_type: JobType, status: JobStatus, tagged: bool) -> JobItem:
    common = CommonMetadata(orchestrator_version=ORCHESTRATOR_VERSION)
    metadata = JobMetadata(common=common, specific=_specific(job_type, tagged))
    return JobItem(id=uuid.UUID(int=0), internal_id=SENTINEL, job_type=job_type, status=status, metadata=metadata)


def sqlite_rows(history: History) -> Iterator[tuple[Any, ...]]:
    templates: dict[tuple[JobType, JobStatus, bool], tuple[Any, ...]] = {}
    zero = str(uuid.UUID(int=0))
    for job in history.jobs:
        key = (job.job_type, job.status, job.tagged)
        if key not in templates:
            templates[key] = _job_row(_template(*key))
        row = list(templates[key])
        new_id = str(uuid.uuid4())
        row[0] = new_id
        row[2] = job.internal_id
        row[6:10] = [job.internal_id if v == SENTINEL else v for v in row[6:10]]
        row[-1] = row[-1].replace(zero, new_id).replace(str(SENTINEL), str(job.internal_id))
        yield tuple(row)


def fill_sqlite(path: Path, history: History) -> None:
    """Bulk rows into a database the adapter has created (its schema and indexes)."""
    from orchestrator.clients.database.sqlite import _JOB_COLUMNS

    conn = sqlite3.connect(path)
    try:
        marks = ", ".join("?" for _ in _JOB_COLUMNS.split(","))
        conn.executemany(f"INSERT INTO jobs ({_JOB_COLUMNS}) VALUES ({marks})", sqlite_rows(history))
        conn.commit()
    finally:
        conn.close()


def mongo_docs(history: History) -> Iterator[dict[str, Any]]:
    templates: dict[tuple[JobType, JobStatus, bool], dict[str, Any]] = {}
    for job in history.jobs:
        key = (job.job_type, job.status, job.tagged)
        if key not in templates:
            templates[key] = job_to_doc(_template(*key))
        doc = copy.deepcopy(templates[key])
        job_id = uuid.uuid4()
        doc["id"], doc["id_text"] = job_id, str(job_id)  # the reference's binary id and its text extra
        doc["internal_id"] = Int64(job.internal_id)
        specific = doc["metadata"]["specific"]
        for name in ("snos_batch_index", "start_block", "end_block", "block_number", "batch_num"):
            if specific.get(name) == SENTINEL:
                specific[name] = job.internal_id
        if "context" in specific:
            specific["context"]["to_settle"] = job.internal_id
        yield doc
