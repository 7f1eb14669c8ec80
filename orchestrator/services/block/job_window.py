"""How far job creation may run ahead: the buffer window and the settled watermark."""

from __future__ import annotations

from orchestrator.core.clients.database import DatabaseClient
from orchestrator.core.models.job import JobStatus, JobType
from orchestrator.core.models.metadata import StateUpdateMetadata
from orchestrator.core.models.queue import Layer

#: "Nothing to do yet": every SNOS batch up to the next aggregator batch is settled, and that batch
#: has no SNOS batch so far (the reference's i64::MAX sentinel).
NO_UNSETTLED_SNOS_BATCH = 2**63 - 1


def buffer_slots(latest_internal_id: int | None, oldest_incomplete_internal_id: int | None, buffer_size: int) -> int:
    """Jobs that may still be created so that at most `buffer_size` ids are in flight, from the oldest
    unfinished one: a stalled low id stops the pipeline from running far ahead of it."""
    if latest_internal_id is None or oldest_incomplete_internal_id is None:
        return buffer_size
    in_flight = max(latest_internal_id - oldest_incomplete_internal_id, 0) + 1
    return max(buffer_size - in_flight, 0)


async def jobs_to_create(db: DatabaseClient, job_type: JobType, buffer_size: int, orchestrator_version: str) -> int:
    latest = await db.get_latest_job_by_type(job_type, orchestrator_version)
    oldest = await db.get_oldest_job_by_type_excluding_statuses(job_type, [JobStatus.COMPLETED], orchestrator_version)
    return buffer_slots(
        latest.internal_id if latest is not None else None,
        oldest.internal_id if oldest is not None else None,
        buffer_size,
    )


async def first_unsettled_snos_batch_index(db: DatabaseClient, layer: Layer) -> int:
    """The lowest SNOS batch index not yet settled (0 when nothing is settled).

    From the latest Completed StateTransition: on L2 with a batch context, the first SNOS batch of the
    next aggregator batch (or `NO_UNSETTLED_SNOS_BATCH` while it has none); on L2 with a block context,
    the SNOS batch of the next block; on L3, where a SNOS batch index is the settled number, the next one.
    """
    settled = await db.get_latest_job_by_type_and_status(JobType.STATE_TRANSITION, JobStatus.COMPLETED)
    if settled is None:
        return 0
    specific = settled.metadata.specific
    if not isinstance(specific, StateUpdateMetadata):
        raise TypeError(f"StateTransition job {settled.id} has {specific.type} metadata")
    next_number = specific.context.to_settle + 1
    if layer is Layer.L3:
        return next_number
    if specific.context.type == "Batch":
        snos_batches = await db.get_snos_batches_by_aggregator_index(next_number)
        return snos_batches[0].index if snos_batches else NO_UNSETTLED_SNOS_BATCH
    lookup = await db.get_block_batch_lookup(next_number)
    return lookup.snos_batch_index if lookup is not None and lookup.snos_batch_index is not None else 0
