"""Job metadata: a common part every job has and a per-type part (internally tagged by "type")."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, RootModel, SerializerFunctionWrapHandler, model_serializer

from orchestrator.core.models.timestamps import UtcDatetime


class CommonMetadata(BaseModel):
    process_attempt_no: int = 0
    process_retry_attempt_no: int = 0
    verification_attempt_no: int = 0
    verification_retry_attempt_no: int = 0
    #: unix seconds
    process_started_at: int | None = None
    process_completed_at: int | None = None
    verification_started_at: int | None = None
    verification_completed_at: int | None = None
    failure_reason: str | None = None
    previous_failure_reasons: list[str] = Field(default_factory=list)
    orchestrator_version: str = ""
    #: unix seconds of the first transient failure of the current step (process or verify); the
    #: transient retry budget is counted from it; cleared when the step succeeds
    transient_failure_since: int | None = None
    transient_failure_count: int = 0
    #: unix seconds when the current verification window opened (the time budget counts from it)
    verification_since: int | None = None
    #: unix seconds (fractional) when the next verification check is due; earlier messages are duplicates
    verification_next_at: float | None = None

    def record_failure(self, reason: str) -> None:
        """Keep the history: the current reason moves to the list before the new one is set."""
        if self.failure_reason:
            self.previous_failure_reasons.append(self.failure_reason)
        self.failure_reason = reason


class SnosMetadata(BaseModel):
    type: Literal["Snos"] = "Snos"
    snos_batch_index: int
    start_block: int
    end_block: int
    num_blocks: int
    full_output: bool = False
    cairo_pie_path: str | None = None
    on_chain_data_path: str | None = None
    snos_output_path: str | None = None
    program_output_path: str | None = None
    snos_fact: str | None = None
    snos_n_steps: int | None = None


class ProvingInputType(RootModel[dict[Literal["CairoPie", "Proof"], str]]):
    """Externally tagged as the reference: {"CairoPie": path} or {"Proof": path}."""

    @classmethod
    def cairo_pie(cls, path: str) -> ProvingInputType:
        return cls({"CairoPie": path})

    @classmethod
    def proof(cls, path: str) -> ProvingInputType:
        return cls({"Proof": path})

    @property
    def kind(self) -> str:
        return next(iter(self.root))

    @property
    def path(self) -> str:
        return next(iter(self.root.values()))


class ProvingMetadata(BaseModel):
    type: Literal["Proving"] = "Proving"
    block_number: int
    input_path: ProvingInputType | None = None
    ensure_on_chain_registration: str | None = None
    download_proof: str | None = None
    n_steps: int | None = None
    bucket_id: str | None = None
    bucket_job_index: int | None = None

    @model_serializer(mode="wrap")
    def _omit_empty_bucket(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # The reference omits bucket fields when they are unset.
        data: dict[str, Any] = handler(self)
        for key in ("bucket_id", "bucket_job_index"):
            if data.get(key) is None:
                data.pop(key, None)
        return data


class DaMetadata(BaseModel):
    type: Literal["Da"] = "Da"
    block_number: int
    blob_data_path: str | None = None
    tx_hash: str | None = None


class TxAttemptStatus(StrEnum):
    PENDING = "Pending"
    FINALIZED = "Finalized"
    REPLACED = "Replaced"
    TIMED_OUT = "TimedOut"
    REJECTED_UNDERPRICED = "RejectedUnderpriced"
    SUBMISSION_FAILED = "SubmissionFailed"
    REVERTED = "Reverted"


class TxAttempt(BaseModel):
    """One signed settlement transaction, persisted before the next step so a restart can resume it."""

    attempt_no: int
    tx_hash: str | None = None
    nonce: int
    gas_multiplier: str = "1.10"
    status: TxAttemptStatus = TxAttemptStatus.PENDING
    error: str | None = None
    max_fee_per_gas: int | None = None
    max_priority_fee_per_gas: int | None = None
    max_fee_per_blob_gas: int | None = None
    raw_tx: str | None = None
    sent_at: int | None = None


class SettlementContext(BaseModel):
    type: Literal["Batch", "Block"] = "Batch"
    to_settle: int
    last_failed: int | None = None


class StateUpdateMetadata(BaseModel):
    type: Literal["StateUpdate"] = "StateUpdate"
    snos_output_path: str | None = None
    program_output_path: str | None = None
    blob_data_path: str | None = None
    da_segment_path: str | None = None
    tx_hash: str | None = None
    tx_nonce: int | None = None
    tx_attempts: list[TxAttempt] = Field(default_factory=list)
    context: SettlementContext
    storage_artifacts_tagged_at: UtcDatetime | None = None


class AggregatorMetadata(BaseModel):
    type: Literal["Aggregator"] = "Aggregator"
    batch_num: int
    bucket_id: str | None = None
    ensure_on_chain_registration: str | None = None
    download_proof: str | None = None
    blob_data_path: str | None = None
    da_segment_path: str | None = None
    cairo_pie_path: str | None = None
    snos_output_path: str | None = None
    program_output_path: str | None = None
    aggregator_query_id: str | None = None


JobSpecificMetadata = Annotated[
    SnosMetadata | ProvingMetadata | DaMetadata | StateUpdateMetadata | AggregatorMetadata,
    Field(discriminator="type"),
]


class JobMetadata(BaseModel):
    common: CommonMetadata = Field(default_factory=CommonMetadata)
    specific: JobSpecificMetadata
