"""The halt, scoped to what it protects (the reference's open issue #590).

A Failed or VerificationTimeout job stops new work from the first block it covers on, not everything:
a job may still be created when every block it covers comes before that block. The admin retry (or
re-verify) takes the job out of a halting status, which lifts the halt.

Mapping internal ids to blocks (they are batch indexes, not block numbers):
- SnosRun: its metadata's start_block..end_block;
- ProofCreation, ProofRegistration, DataSubmission: the SNOS batch with that index;
- Aggregator: the aggregator batch with that index;
- StateTransition: the aggregator batch with that index on L2, the SNOS batch on L3.
A job whose blocks cannot be found is taken to cover block 0 onwards: when in doubt, halt.
"""

from __future__ import annotations

import logging

from orchestrator.core.clients.database import AggregatorBatchQuery, DatabaseClient, SnosBatchQuery
from orchestrator.core.models.job import HALTING_STATUSES, JobType
from orchestrator.core.models.metadata import JobSpecificMetadata, SnosMetadata
from orchestrator.core.models.queue import Layer

log = logging.getLogger("orchestrator.job.halt")

BlockRange = tuple[int, int]

_SNOS_BATCH_JOBS = frozenset({JobType.PROOF_CREATION, JobType.PROOF_REGISTRATION, JobType.DATA_SUBMISSION})


class HaltScope:
    def __init__(self, database: DatabaseClient, orchestrator_version: str, layer: Layer) -> None:
        self.db = database
        self.version = orchestrator_version
        self.layer = layer

    async def block_range(
        self, job_type: JobType, internal_id: int, specific: JobSpecificMetadata | None = None
    ) -> BlockRange | None:
        """The blocks a job covers, or None when they cannot be found."""
        if isinstance(specific, SnosMetadata):
            return specific.start_block, specific.end_block
        if job_type is JobType.SNOS_RUN or job_type in _SNOS_BATCH_JOBS:
            return await self._snos_batch(internal_id)
        if job_type is JobType.AGGREGATOR or self.layer is Layer.L2:
            return await self._aggregator_batch(internal_id)
        return await self._snos_batch(internal_id)

    async def halted_from_block(self) -> int | None:
        """The first block that no new job may cover, or None when nothing halts."""
        lowest: int | None = None
        for job_type in JobType:
            found = await self.db.get_jobs_by_types_and_statuses(
                [job_type], sorted(HALTING_STATUSES), limit=1, orchestrator_version=self.version
            )
            if not found:
                continue
            job = found[0]  # the lowest internal id of the type covers its lowest blocks
            covered = await self.block_range(job.job_type, job.internal_id, job.metadata.specific)
            first = covered[0] if covered is not None else 0
            lowest = first if lowest is None else min(lowest, first)
        return lowest

    async def refuses(
        self, job_type: JobType, internal_id: int, specific: JobSpecificMetadata
    ) -> tuple[int, BlockRange | None] | None:
        """(halt block, the job's blocks) when the halt refuses this job, else None."""
        halted_from = await self.halted_from_block()
        if halted_from is None:
            return None
        covered = await self.block_range(job_type, internal_id, specific)
        if covered is not None and covered[1] < halted_from:
            return None
        return halted_from, covered

    async def _snos_batch(self, index: int) -> BlockRange | None:
        batches = await self.db.get_snos_batches(SnosBatchQuery(indexes=[index], limit=1))
        return (batches[0].start_block, batches[0].end_block) if batches else None

    async def _aggregator_batch(self, index: int) -> BlockRange | None:
        batches = await self.db.get_aggregator_batches(AggregatorBatchQuery(indexes=[index], limit=1))
        return (batches[0].start_block, batches[0].end_block) if batches else None
