"""StateTransition: settle a batch on the settlement layer (`jobs/state_update.rs`).

Which batch: the job's `context.to_settle`, an aggregator batch on L2 and a SNOS batch on L3; its
`end_block` is what the core contract must reach.

Process:
1. nothing is sent when the contract's last settled block is already >= `end_block` (the tx hash is
   then the zero hash, unless an earlier attempt recorded one);
2. otherwise the artifacts: the program output (bincode) and
   - Ethereum (blob) settlement: the blobs; on L2 from the aggregator's DA segment (a JSON array of
     felts, padded to a multiple of 4096 and FFT'd per 4096 felts), on L3 the DA job's raw blob data;
     then `update_state_with_blobs`;
   - Starknet (calldata) settlement, L3: the SNOS output's KZG flag must be 0 or 1; the outputs of
     the SNOS proof and of the bridge proof (`{batch}/proof.json`, `{batch}/proof_part2.json`) go
     to `update_state_calldata`;
3. every attempt the settlement client makes is handed to a sink that writes it (and the nonce) into
   the job metadata and persists the job (`checkpoint`) *before* the client broadcasts, so a
   restarted job resumes the same nonce and transaction instead of sending a conflicting one;
4. on failure the attempts are persisted too; if the contract has meanwhile reached the batch the
   job succeeds, otherwise the error goes back to the queue (a nonce taken by someone else is fatal:
   an operator must look).
The external id is the batch number.

Verify: the contract's last settled block >= `end_block` -> the batch is Completed and the job
Verified; still at the previous batch's `end_block` -> Pending; anything else -> Rejected. A
contract that settled nothing is an error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from enum import StrEnum

from orchestrator.core.clients.database import AggregatorBatchQuery, DatabaseClient, SnosBatchQuery
from orchestrator.core.clients.storage import StorageClient
from orchestrator.core.madara.settlement import NonceConsumedError, SettlementClient, SettlementResult
from orchestrator.core.models.batch import AggregatorBatchStatus, SnosBatchStatus
from orchestrator.core.models.job import JobItem, JobType
from orchestrator.core.models.metadata import StateUpdateMetadata, TxAttempt
from orchestrator.core.models.queue import Layer
from orchestrator.services import storage_layout
from orchestrator.services.da.blob import BYTES_PER_BLOB, felts_to_blobs
from orchestrator.services.job.handler import FatalJobError, RetryableJobError, Verification
from orchestrator.services.job.handlers.bincode import decode_felts
from orchestrator.services.job.handlers.common import ZERO_TX_HASH, required, specific
from orchestrator.services.job.handlers.felts import decode_felts_json
from orchestrator.services.job.handlers.snos import KZG_FLAG_INDEX
from orchestrator.services.job.handlers.stark_proof import public_output

log = logging.getLogger("orchestrator.handlers.state_transition")

#: Persist a running job's metadata now (the engine's `JobEngine.checkpoint`).
Checkpoint = Callable[[JobItem], Awaitable[None]]


class SettlementMode(StrEnum):
    """How the settlement layer takes a state update; the values are the `settlement_layer` setting's."""

    #: Ethereum: updateStateKzgDA in a blob transaction
    ETHEREUM = "ethereum"
    #: Starknet (Piltover): update_state with the SNOS and bridge proof outputs as calldata
    STARKNET = "starknet"


class GapError(RetryableJobError):
    """A block-context job does not continue the contract's state (the reference's
    GapBetweenFirstAndLastBlock); the blocks before it must settle first."""


def da_segment_blobs(da_segment: bytes) -> list[bytes]:
    """The aggregator's DA segment as blobs (pad to a multiple of 4096, FFT each chunk)."""
    felts = decode_felts_json(da_segment)
    if not felts:
        raise ValueError("the DA segment is empty")
    return felts_to_blobs(felts)


def split_blob_data(data: bytes) -> list[bytes]:
    """The DA job's stored blob data: the blobs' raw bytes, one after the other."""
    if not data or len(data) % BYTES_PER_BLOB:
        raise ValueError(f"blob data of {len(data)} bytes is not a whole number of {BYTES_PER_BLOB}-byte blobs")
    return [data[i : i + BYTES_PER_BLOB] for i in range(0, len(data), BYTES_PER_BLOB)]


class StateTransitionHandler:
    job_type = JobType.STATE_TRANSITION
    max_process_attempts = 3
    max_verification_attempts = 10
    verification_polling_delay_seconds = 60

    def __init__(
        self,
        settlement: SettlementClient,
        storage: StorageClient,
        database: DatabaseClient,
        checkpoint: Checkpoint,
        *,
        layer: Layer,
        mode: SettlementMode,
    ) -> None:
        if layer is Layer.L2 and mode is not SettlementMode.ETHEREUM:
            raise ValueError("an L2 settles on Ethereum with blobs; Starknet settlement is for L3s")
        self.settlement = settlement
        self.storage = storage
        self.db = database
        self.checkpoint = checkpoint
        self.layer = layer
        self.mode = mode

    async def check_ready_to_process(self, job: JobItem) -> int | None:
        return None

    # ------------------------------------------------------------------------------------------
    # batches
    async def batch_end_block(self, number: int) -> int | None:
        """The last block of batch `number` (aggregator batch on L2, SNOS batch on L3); None if unknown."""
        if self.layer is Layer.L2:
            aggregator = await self.db.get_aggregator_batches(AggregatorBatchQuery(indexes=[number]))
            return aggregator[0].end_block if aggregator else None
        snos = await self.db.get_snos_batches(SnosBatchQuery(indexes=[number]))
        return snos[0].end_block if snos else None

    async def required_end_block(self, number: int) -> int:
        end = await self.batch_end_block(number)
        if end is None:
            kind = "aggregator" if self.layer is Layer.L2 else "SNOS"
            raise ValueError(f"{kind} batch {number} is not in the database")
        return end

    async def mark_batch_completed(self, number: int) -> None:
        if self.layer is Layer.L2:
            await self.db.update_aggregator_batch_status_by_index(number, AggregatorBatchStatus.COMPLETED)
        else:
            await self.db.update_snos_batch_status_by_index(number, SnosBatchStatus.COMPLETED)

    async def settled_past(self, end_block: int) -> bool:
        last = await self.settlement.get_last_settled_block()
        return last is not None and last >= end_block

    # ------------------------------------------------------------------------------------------
    # process
    async def process_job(self, job: JobItem) -> str | int:
        meta = specific(job, StateUpdateMetadata)
        to_settle = meta.context.to_settle
        if meta.context.type == "Block":
            last = await self.settlement.get_last_settled_block()
            expected = 0 if last is None else last + 1
            if to_settle != expected:
                raise GapError(f"block {to_settle} cannot settle next: the contract expects block {expected}")
        end_block = await self.required_end_block(to_settle)

        if await self.settled_past(end_block):
            log.info("batch %s (to block %s) is settled already; no transaction sent", to_settle, end_block)
            meta.tx_hash = meta.tx_hash or ZERO_TX_HASH
            return str(to_settle)

        send = await self.prepare(job, meta)
        try:
            result = await send()
        except Exception as exc:  # noqa: BLE001 - after_failure checks the contract, then classifies or re-raises
            return await self.after_failure(job, meta, end_block, exc)
        self.record_result(meta, result)
        log.info("batch %s settled in %s (nonce %s)", to_settle, meta.tx_hash, meta.tx_nonce)
        return str(to_settle)

    async def prepare(self, job: JobItem, meta: StateUpdateMetadata) -> Callable[[], Awaitable[SettlementResult]]:
        """Read the artifacts and return the call that sends the state update."""
        program_output = decode_felts(
            await self.storage.get(required(meta.program_output_path, "program_output_path", job))
        )

        async def sink(attempts: list[TxAttempt]) -> None:
            # Runs before each broadcast: the attempt must be durable first (see the module docstring).
            self.record_attempts(meta, attempts)
            await self.checkpoint(job)

        if self.mode is SettlementMode.ETHEREUM:
            if self.layer is Layer.L2:
                segment = await self.storage.get(required(meta.da_segment_path, "da_segment_path", job))
                blobs = await asyncio.to_thread(da_segment_blobs, segment)
            else:
                blobs = split_blob_data(await self.storage.get(required(meta.blob_data_path, "blob_data_path", job)))

            def send_blobs() -> Awaitable[SettlementResult]:
                return self.settlement.update_state_with_blobs(
                    program_output,
                    blobs,
                    nonce=meta.tx_nonce,
                    previous_attempts=list(meta.tx_attempts),
                    on_attempt=sink,
                )

            return send_blobs

        snos_output = decode_felts_json(
            await self.storage.get(required(meta.snos_output_path, "snos_output_path", job))
        )
        flag = snos_output[KZG_FLAG_INDEX] if len(snos_output) > KZG_FLAG_INDEX else None
        if flag not in (0, 1):
            raise FatalJobError(f"batch {meta.context.to_settle}: unsupported KZG flag {flag!r} in the SNOS output")
        batch = meta.context.to_settle
        snos_proof_output = public_output(await self.storage.get(storage_layout.proof_path(batch)))
        bridge_output = public_output(await self.storage.get(storage_layout.proof_part2_path(batch)))

        def send_calldata() -> Awaitable[SettlementResult]:
            return self.settlement.update_state_calldata(
                snos_proof_output,
                bridge_output,
                nonce=meta.tx_nonce,
                previous_attempts=list(meta.tx_attempts),
                on_attempt=sink,
            )

        return send_calldata

    @staticmethod
    def record_attempts(meta: StateUpdateMetadata, attempts: list[TxAttempt]) -> None:
        if not attempts:
            return
        meta.tx_attempts = [a.model_copy() for a in attempts]
        meta.tx_nonce = attempts[-1].nonce
        hashes = [a.tx_hash for a in attempts if a.tx_hash]
        if hashes:
            meta.tx_hash = hashes[-1]

    def record_result(self, meta: StateUpdateMetadata, result: SettlementResult) -> None:
        self.record_attempts(meta, result.attempts)
        if result.nonce is not None:
            meta.tx_nonce = result.nonce
        if result.skipped:
            # Nothing was sent this time (the contract got there first): keep any hash on record.
            meta.tx_hash = meta.tx_hash or ZERO_TX_HASH
        else:
            meta.tx_hash = result.tx_hash

    async def after_failure(self, job: JobItem, meta: StateUpdateMetadata, end_block: int, exc: Exception) -> str:
        to_settle = meta.context.to_settle
        self.record_attempts(meta, list(getattr(exc, "attempts", [])))
        meta.context.last_failed = to_settle
        await self.checkpoint(job)
        try:
            settled = await self.settled_past(end_block)
        except Exception as check_error:  # noqa: BLE001 - the original error matters more
            log.warning("batch %s: could not read the contract after a failed update: %s", to_settle, check_error)
            settled = False
        if settled:
            log.info(
                "batch %s: the update failed (%s) but the contract has reached block %s", to_settle, exc, end_block
            )
            meta.tx_hash = meta.tx_hash or ZERO_TX_HASH
            return str(to_settle)
        if isinstance(exc, FatalJobError | RetryableJobError):
            raise exc
        if isinstance(exc, NonceConsumedError):
            raise FatalJobError(f"state update of batch {to_settle}: {exc}") from exc
        raise RetryableJobError(f"state update of batch {to_settle} failed: {exc}") from exc

    # ------------------------------------------------------------------------------------------
    # verify
    async def verify_job(self, job: JobItem) -> Verification:
        meta = specific(job, StateUpdateMetadata)
        number = meta.context.to_settle
        expected = await self.required_end_block(number)
        last = await self.settlement.get_last_settled_block()
        if last is None:
            raise ValueError(f"batch {number}: the settlement contract reports no settled block after the update")
        if last >= expected:
            await self.mark_batch_completed(number)
            return Verification.verified()
        if number > 0 and last == await self.batch_end_block(number - 1):
            return Verification.pending()
        return Verification.rejected(f"Last settle block expected was {expected} but found {last}")
