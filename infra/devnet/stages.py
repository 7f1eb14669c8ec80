"""Where each aggregator batch (and so each of its blocks) stands: produced → batched → SNOS → proven →
aggregated → on L1.

Read from the local profile's store (the devnet owns the data directory) through the database port,
only for the batches not yet on L1 plus a few settled ones, so a poll costs the same at block 10 and
block 1000. A batch's stage is the least advanced of its blocks'.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.core.clients.database import AggregatorBatchQuery, DatabaseClient
from orchestrator.core.models.batch import AggregatorBatch, AggregatorBatchStatus
from orchestrator.core.models.job import JobStatus, JobType

PRODUCED, BATCHED, SNOS, PROVEN, AGGREGATED, ON_L1 = "produced", "batched", "SNOS", "proven", "aggregated", "on L1"
STAGES = (PRODUCED, BATCHED, SNOS, PROVEN, AGGREGATED, ON_L1)
#: Batches looked at per poll: every unsettled one up to this many, and the newest settled ones.
MAX_PENDING = 20
SETTLED_SHOWN = 8


@dataclass(frozen=True)
class BatchStage:
    index: int | None  # the aggregator batch; None for produced blocks in no batch yet
    start: int
    end: int
    stage: str
    detail: str = ""

    @property
    def label(self) -> str:
        return "—" if self.index is None else str(self.index)


async def batch_stages(db: DatabaseClient, settled: int, head: int) -> list[BatchStage]:
    """The newest settled batches, every unsettled one (up to MAX_PENDING), then the unbatched blocks."""
    newest = await db.get_aggregator_batches(AggregatorBatchQuery(limit=MAX_PENDING + SETTLED_SHOWN, sort="desc"))
    batches = sorted(newest, key=lambda b: b.index)
    rows = [await _stage(db, batch, settled) for batch in batches]
    batched_to = max((b.end_block for b in batches), default=settled)
    if head > batched_to:
        rows.append(BatchStage(None, batched_to + 1, head, PRODUCED))
    return rows


async def _stage(db: DatabaseClient, batch: AggregatorBatch, settled: int) -> BatchStage:
    row = (batch.index, batch.start_block, batch.end_block)
    if batch.end_block <= settled:
        return BatchStage(*row, ON_L1)
    if batch.status in (AggregatorBatchStatus.READY_FOR_STATE_UPDATE, AggregatorBatchStatus.COMPLETED):
        return BatchStage(*row, AGGREGATED)
    aggregator = await db.get_job_by_internal_id_and_type(batch.index, JobType.AGGREGATOR)
    if aggregator is not None and aggregator.status is JobStatus.COMPLETED:
        return BatchStage(*row, AGGREGATED)
    children = await db.get_snos_batches_by_aggregator_index(batch.index)
    is_open = batch.status is AggregatorBatchStatus.OPEN
    if not children:
        return BatchStage(*row, BATCHED, "open" if is_open else "closed")
    first, last = children[0].index, children[-1].index
    ran = len(await db.get_jobs_between_internal_ids(JobType.SNOS_RUN, JobStatus.COMPLETED, first, last))
    proven = len(await db.get_jobs_between_internal_ids(JobType.PROOF_CREATION, JobStatus.COMPLETED, first, last))
    detail = f"{'open' if is_open else 'closed'}; SNOS {ran}/{len(children)}, proven {proven}/{len(children)}"
    if is_open:
        return BatchStage(*row, BATCHED, detail)
    if proven == len(children):
        return BatchStage(*row, PROVEN, detail)
    if ran == len(children):
        return BatchStage(*row, SNOS, detail)
    return BatchStage(*row, BATCHED, detail)
