"""StorageCleanup: mark the artifacts of settled batches for expiry.

Under the lock "StorageCleanupWorker", for up to 200 Completed StateTransition jobs whose artifacts are
not tagged yet, every artifact key of the settled batch gets the tag `expire-after-settlement=true`
(the bucket's lifecycle rule deletes tagged objects after the retention period). A missing key counts
as done. A job is marked (`storage_artifacts_tagged_at`) only once all its keys are tagged; otherwise
the next run tries again. This trigger runs even while failed jobs halt job creation.
"""

from __future__ import annotations

import logging

from orchestrator.core.clients.database import DatabaseClient
from orchestrator.core.clients.lock import LockClient
from orchestrator.core.clients.storage import StorageClient
from orchestrator.core.errors import ObjectNotFoundError, VersionConflictError
from orchestrator.core.models.job import JobItem, JobItemUpdates
from orchestrator.core.models.metadata import StateUpdateMetadata
from orchestrator.core.models.queue import Layer
from orchestrator.services.block.batch_state import DEFAULT_CLOCK, Clock, timestamp
from orchestrator.services.block.worker_lock import new_lock_owner, run_locked
from orchestrator.services.storage_layout import (
    BLOB_DATA_FILE,
    CAIRO_PIE_FILE,
    DA_SEGMENT_FILE,
    EXPIRY_TAG_KEY,
    EXPIRY_TAG_VALUE,
    PROGRAM_OUTPUT_FILE,
    PROOF_FILE,
    PROOF_PART2_FILE,
    SNOS_OUTPUT_FILE,
    batch_artifact_file,
    batch_blob_dir,
    snos_file,
    squashed_state_update_path,
)

log = logging.getLogger("orchestrator.block.storage_cleanup")

LOCK_KEY = "StorageCleanupWorker"
LOCK_SECONDS = 300
MAX_JOBS_PER_RUN = 200


class StorageCleanup:
    def __init__(
        self,
        database: DatabaseClient,
        storage: StorageClient,
        lock: LockClient,
        layer: Layer,
        clock: Clock = DEFAULT_CLOCK,
        lock_owner: str | None = None,
        max_jobs_per_run: int = MAX_JOBS_PER_RUN,
    ) -> None:
        self.db = database
        self.storage = storage
        self.lock = lock
        self.layer = layer
        self.clock = clock
        self.lock_owner = lock_owner or new_lock_owner()
        self.max_jobs_per_run = max_jobs_per_run

    async def run(self) -> None:
        await run_locked(self.lock, LOCK_KEY, self.lock_owner, LOCK_SECONDS, self.tag_settled_artifacts)

    async def tag_settled_artifacts(self) -> None:
        jobs = await self.db.get_jobs_without_storage_artifacts_tagged(self.max_jobs_per_run)
        done = 0
        for job in jobs:
            if not isinstance(job.metadata.specific, StateUpdateMetadata):
                log.error("StateTransition %d has %s metadata; skipping", job.internal_id, job.metadata.specific.type)
                continue
            try:
                keys = await self.artifact_keys(job, job.metadata.specific)
                await self._tag_all(keys)
            except Exception:
                log.exception("tagging the artifacts of StateTransition %d failed; retrying next run", job.internal_id)
                continue
            if await self._mark_tagged(job, job.metadata.specific):
                done += 1
        if jobs:
            log.info("storage cleanup: tagged the artifacts of %d of %d settled job(s)", done, len(jobs))

    async def artifact_keys(self, job: JobItem, metadata: StateUpdateMetadata) -> list[str]:
        number = job.internal_id
        keys = {
            batch_artifact_file(number, name)
            for name in (CAIRO_PIE_FILE, DA_SEGMENT_FILE, PROGRAM_OUTPUT_FILE, SNOS_OUTPUT_FILE, PROOF_FILE)
        }
        # Listed rather than guessed (the reference tags the fixed names 0..6.txt): max_num_blobs may exceed 6.
        keys.update(await self.storage.list(batch_blob_dir(number) + "/"))
        if self.layer is Layer.L2 and metadata.context.type == "Batch":
            for child in await self.db.get_snos_batches_by_aggregator_index(number):
                keys.update(
                    snos_file(child.index, name)
                    for name in (CAIRO_PIE_FILE, SNOS_OUTPUT_FILE, PROGRAM_OUTPUT_FILE, PROOF_FILE)
                )
        else:
            # L3 settles one SNOS batch per StateTransition; its artifacts sit at the root under that index.
            keys.update(
                snos_file(number, name)
                for name in (
                    CAIRO_PIE_FILE,
                    SNOS_OUTPUT_FILE,
                    PROGRAM_OUTPUT_FILE,
                    BLOB_DATA_FILE,
                    PROOF_FILE,
                    PROOF_PART2_FILE,
                )
            )
        keys.add(squashed_state_update_path(number))
        return sorted(keys)

    async def _tag_all(self, keys: list[str]) -> None:
        for key in keys:
            try:
                await self.storage.tag(key, {EXPIRY_TAG_KEY: EXPIRY_TAG_VALUE})
            except ObjectNotFoundError:
                continue  # nothing to expire

    async def _mark_tagged(self, job: JobItem, metadata: StateUpdateMetadata) -> bool:
        meta = job.metadata.model_copy(deep=True)
        meta.specific = metadata.model_copy(update={"storage_artifacts_tagged_at": timestamp(self.clock)})
        try:
            await self.db.update_job(job, JobItemUpdates(metadata=meta))
        except VersionConflictError:
            log.info("StateTransition %d changed while its artifacts were tagged; retrying next run", job.internal_id)
            return False
        return True
