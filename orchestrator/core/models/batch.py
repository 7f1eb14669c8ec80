"""Batches: consecutive L2 blocks proved together (SNOS batches) and settled together (aggregator batches)."""

from __future__ import annotations

import uuid
from enum import StrEnum

from pydantic import BaseModel, Field

from orchestrator.core.models.job import utc_now
from orchestrator.core.models.timestamps import UtcDatetime


class AggregatorBatchStatus(StrEnum):
    OPEN = "Open"
    CLOSED = "Closed"
    PENDING_AGGREGATOR_RUN = "PendingAggregatorRun"
    PENDING_AGGREGATOR_VERIFICATION = "PendingAggregatorVerification"
    READY_FOR_STATE_UPDATE = "ReadyForStateUpdate"
    COMPLETED = "Completed"
    AGGREGATION_FAILED = "AggregationFailed"
    VERIFICATION_FAILED = "VerificationFailed"
    STATE_UPDATE_FAILED = "StateUpdateFailed"


class SnosBatchStatus(StrEnum):
    OPEN = "Open"
    CLOSED = "Closed"
    SNOS_JOB_CREATED = "SnosJobCreated"
    COMPLETED = "Completed"


class AggregatorBuiltinWeights(BaseModel):
    l1_gas: int = 0
    message_segment_length: int = 0


class BouncerWeights(BaseModel):
    """The full blockifier bouncer weights of a block, as Madara's feeder gateway reports them."""

    l1_gas: int = 0
    message_segment_length: int = 0
    n_events: int = 0
    state_diff_size: int = 0
    sierra_gas: int = 0
    n_txs: int = 0
    proving_gas: int = 0
    receipt_l2_gas: int = 0


class AggregatorBatch(BaseModel):
    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    index: int
    bucket_id: str | None = None
    squashed_state_updates_path: str = ""
    blob_path: str = ""
    starknet_version: str = ""
    orchestrator_version: str = ""
    start_block: int
    end_block: int
    num_blocks: int = 1
    blob_len: int = 0
    aggregator_input_size_upper_bound: int = 750_000
    builtin_weights: AggregatorBuiltinWeights = Field(default_factory=AggregatorBuiltinWeights)
    status: AggregatorBatchStatus = AggregatorBatchStatus.OPEN
    created_at: UtcDatetime = Field(default_factory=utc_now)
    updated_at: UtcDatetime = Field(default_factory=utc_now)


class SnosBatch(BaseModel):
    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    index: int
    aggregator_batch_index: int | None = None
    starknet_version: str = ""
    orchestrator_version: str = ""
    start_block: int
    end_block: int
    num_blocks: int = 1
    builtin_weights: BouncerWeights = Field(default_factory=BouncerWeights)
    status: SnosBatchStatus = SnosBatchStatus.OPEN
    created_at: UtcDatetime = Field(default_factory=utc_now)
    updated_at: UtcDatetime = Field(default_factory=utc_now)


class BlockBatchLookup(BaseModel):
    block_number: int
    snos_batch_index: int | None = None
    aggregator_batch_index: int | None = None
