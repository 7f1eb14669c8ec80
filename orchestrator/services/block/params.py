"""Settings of the triggers, as plain values (bootstrap fills them from the configuration)."""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestrator.core.models.batch import BouncerWeights
from orchestrator.core.models.queue import Layer
from orchestrator.core.version import ORCHESTRATOR_VERSION

#: Felts per EIP-4844 blob.
FELTS_PER_BLOB = 4096

#: The reference's built-in limits when no bouncer-weights file is given.
DEFAULT_BOUNCER_WEIGHTS_LIMIT = BouncerWeights(
    l1_gas=4_400_000,
    message_segment_length=3_700,
    n_events=50_000,
    state_diff_size=24_556,
    sierra_gas=4_000_000_000,
    n_txs=10_000,
    proving_gas=5_000_000_000,
    receipt_l2_gas=2_500_000_000,
)


@dataclass(frozen=True)
class BatchingParams:
    """How blocks are cut into aggregator and SNOS batches (the reference's batching arguments)."""

    max_batch_time_seconds: int = 1800
    #: blocks per aggregator batch
    max_batch_size: int = 100
    max_num_blobs: int = 6
    blob_size_buffer: int = 15
    lock_duration_seconds: int = 3600
    max_blocks_per_snos_batch: int = 10
    #: when set, a SNOS batch closes at exactly this many blocks and nothing else is checked
    fixed_blocks_per_snos_batch: int | None = None
    max_aggregator_input_size: int = 750_000
    #: replaces a proving_gas of 0 (empty block): every block costs something to prove
    default_empty_block_proving_gas: int = 1_500_000
    #: blocks looked at per run
    max_batch_processing_size: int = 10
    min_block_to_process: int = 0
    max_block_to_process: int | None = None
    bouncer_weights_limit: BouncerWeights = field(default_factory=DEFAULT_BOUNCER_WEIGHTS_LIMIT.model_copy)
    orchestrator_version: str = ORCHESTRATOR_VERSION

    def __post_init__(self) -> None:
        if self.max_blob_size <= 0:
            raise ValueError(
                f"max_num_blobs*{FELTS_PER_BLOB} - blob_size_buffer must be positive, got {self.max_blob_size}"
            )
        for name in ("max_batch_size", "max_blocks_per_snos_batch", "max_batch_processing_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.fixed_blocks_per_snos_batch is not None and self.fixed_blocks_per_snos_batch < 1:
            raise ValueError("fixed_blocks_per_snos_batch must be at least 1")

    @property
    def max_blob_size(self) -> int:
        """Felts the compressed state diff of one aggregator batch may take."""
        return self.max_num_blobs * FELTS_PER_BLOB - self.blob_size_buffer


@dataclass(frozen=True)
class JobTriggerParams:
    """What the job-creating triggers need to know about the deployment."""

    layer: Layer = Layer.L2
    snos_job_buffer_size: int = 50
    aggregator_job_buffer_size: int = 5
    #: copied into SNOS job metadata (the OS hints actually follow the layer)
    snos_full_output: bool = False
    #: keep proofs that nothing reads (L2 child proofs, aggregator proofs) for audits
    store_audit_artifacts: bool = False
    #: the prover groups child proofs in buckets (Atlantic): proving jobs wait for their batch's bucket
    uses_buckets: bool = False
    orchestrator_version: str = ORCHESTRATOR_VERSION


def bouncer_weights_limit_from_json(data: object) -> BouncerWeights:
    """The limits of a bouncer-weights file (`--bouncer-weights-limit-file`), decoded JSON.

    Fields the file leaves out keep their built-in default (the reference's example file has no
    receipt_l2_gas); unknown fields and non-integer values are errors.
    """
    if not isinstance(data, dict):
        raise ValueError("a bouncer weights limit must be a JSON object")
    unknown = set(data) - set(BouncerWeights.model_fields)
    if unknown:
        raise ValueError(f"unknown bouncer weight(s): {', '.join(sorted(unknown))}")
    for name, value in data.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"bouncer weight {name} must be a non-negative integer, got {value!r}")
    return DEFAULT_BOUNCER_WEIGHTS_LIMIT.model_copy(update=data)
