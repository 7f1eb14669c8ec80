"""DataSubmission (L3): encode a block's state diff into blobs and hand them to the DA layer (`jobs/da.rs`).

Process: `starknet_getStateUpdate` of the block (a pre-confirmed block is retried later), the
per-block DA encoding for the configured Starknet version (missing nonces from the node), FFT into
131072-byte blobs, a check that they fit one transaction, the raw blob bytes stored at
`blob_data_path` (the L3 state transition reads them from there), then `publish_state_diff`. The
DA clients of both settlement layers answer "NA": the settlement transaction carries the data.
"""

from __future__ import annotations

import asyncio
import logging

from orchestrator.core.clients.storage import StorageClient
from orchestrator.core.madara.da import DaClient
from orchestrator.core.madara.node import L2NodeClient
from orchestrator.core.models.job import JobItem, JobType
from orchestrator.core.models.metadata import DaMetadata
from orchestrator.services.da.blob import felts_to_blobs
from orchestrator.services.da.encoder import encode_block_state_update
from orchestrator.services.da.state_update import StateUpdateFormatError
from orchestrator.services.da.version import SUPPORTED_STARKNET_VERSION, VersionLike
from orchestrator.services.job.handler import FatalJobError, RetryableJobError, Verification
from orchestrator.services.job.handlers.common import external_id, required, specific

log = logging.getLogger("orchestrator.handlers.data_submission")


class DataSubmissionHandler:
    job_type = JobType.DATA_SUBMISSION
    max_process_attempts = 1
    max_verification_attempts = 3
    verification_polling_delay_seconds = 60

    def __init__(
        self,
        node: L2NodeClient,
        da_client: DaClient,
        storage: StorageClient,
        *,
        starknet_version: VersionLike = SUPPORTED_STARKNET_VERSION,
    ) -> None:
        self.node = node
        self.da = da_client
        self.storage = storage
        self.starknet_version = starknet_version

    async def check_ready_to_process(self, job: JobItem) -> int | None:
        return None

    async def process_job(self, job: JobItem) -> str | int:
        meta = specific(job, DaMetadata)
        blob_key = required(meta.blob_data_path, "blob_data_path", job)
        block = meta.block_number
        update = await self.node.get_state_update(block)
        if not update.get("block_hash"):
            raise RetryableJobError(f"block {block} is still pending (pre-confirmed); its state diff may change")
        try:
            felts = await encode_block_state_update(update, block, self.starknet_version, self.node)
        except StateUpdateFormatError as exc:
            raise FatalJobError(f"the state update of block {block} cannot be encoded: {exc}") from exc
        # The FFT is CPU-bound: keep it off the event loop.
        blobs = await asyncio.to_thread(felts_to_blobs, felts)
        limit = self.da.max_blob_per_txn()
        if len(blobs) > limit:
            # The encoding of a block never changes, so retrying cannot make it fit.
            raise FatalJobError(f"block {block} needs {len(blobs)} blobs; one transaction holds at most {limit}")
        await self.storage.put(blob_key, b"".join(blobs))
        tx_hash = await self.da.publish_state_diff(blobs)
        meta.tx_hash = tx_hash
        log.info("block %s: %d felts in %d blob(s), DA id %s", block, len(felts), len(blobs), tx_hash)
        return tx_hash

    async def verify_job(self, job: JobItem) -> Verification:
        status = await self.da.verify_inclusion(external_id(job))
        if status == "Verified":
            return Verification.verified()
        if status == "Pending":
            return Verification.pending()
        return Verification.rejected(f"the DA layer rejected the state diff of block {job.internal_id} ({status})")
