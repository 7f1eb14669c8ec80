"""Atlantic's API vocabulary: statuses, steps, job sizes, the client's options and the replies it reads."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from orchestrator.core.errors import ConfigError
from orchestrator.core.madara.prover import ProverError, TaskStatus, TaskStatusKind

AGGREGATOR_VERSION = "snos_aggregator_0.14.1"
CAIRO_PIE_FILE = "pie.cairo0.zip"
DA_SEGMENT_FILE = "da_blob.json"
PROOF_FILE = "proof.json"
L2_VERIFICATION_LAYOUT = "recursive_with_poseidon"
DEFAULT_ASSUMED_STEPS = 40_000_000  # when the step count is unknown, assume a large job


class QueryStatus(StrEnum):
    RECEIVED = "RECEIVED"
    IN_PROGRESS = "IN_PROGRESS"
    DONE = "DONE"
    FAILED = "FAILED"


class BucketStatus(StrEnum):
    OPEN = "OPEN"
    IN_PROGRESS = "IN_PROGRESS"
    DONE = "DONE"
    FAILED = "FAILED"


class QueryStep(StrEnum):
    TRACE_GENERATION = "TRACE_GENERATION"
    PROOF_GENERATION = "PROOF_GENERATION"
    PROOF_VERIFICATION = "PROOF_VERIFICATION"
    PROOF_VERIFICATION_ON_L1 = "PROOF_VERIFICATION_ON_L1"
    PROOF_VERIFICATION_ON_L2 = "PROOF_VERIFICATION_ON_L2"
    PROOF_GENERATION_AND_VERIFICATION = "PROOF_GENERATION_AND_VERIFICATION"
    FACT_HASH_REGISTRATION = "FACT_HASH_REGISTRATION"
    TRACE_AND_METADATA_GENERATION = "TRACE_AND_METADATA_GENERATION"


# The bucket query that carries the aggregator's outputs.
AGGREGATOR_STEPS = frozenset({QueryStep.FACT_HASH_REGISTRATION, QueryStep.PROOF_GENERATION_AND_VERIFICATION})


def job_size(n_steps: int | None) -> str:
    """Atlantic's declaredJobSize: S up to 12M steps, M up to 29M, L above (counted in whole millions)."""
    millions = (n_steps if n_steps is not None else DEFAULT_ASSUMED_STEPS) // 1_000_000
    if millions <= 12:
        return "S"
    if millions <= 29:
        return "M"
    return "L"


@dataclass(frozen=True)
class AtlanticOptions:
    """Plain settings of the Atlantic client (MADARA_ORCHESTRATOR_ATLANTIC_* and the prover layout)."""

    service_url: str
    api_key: str
    network: str  # MAINNET | TESTNET
    mock_fact_hash: bool = False
    cairo_vm: str = "rust"
    result: str = QueryStep.PROOF_GENERATION.value
    sharp_prover: str = "stone"
    settlement_layer: str = "ethereum"
    proof_layout: str = "dynamic"
    cairo_verifier_program_hash: str | None = None
    artifacts_base_url: str = "https://storage.googleapis.com/hero-atlantic-bucket"
    chain_id_hex: str | None = None
    fee_token_address: str | None = None
    da_public_keys: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        allowed = {
            "network": ("MAINNET", "TESTNET"),
            "cairo_vm": ("rust", "python"),
            "sharp_prover": ("stone", "stwo"),
            "settlement_layer": ("ethereum", "starknet"),
            "result": tuple(step.value for step in QueryStep),
        }
        for name, values in allowed.items():
            value = getattr(self, name)
            if value not in values:
                raise ConfigError(f"Atlantic {name} must be one of {', '.join(values)}; got {value!r}")


@dataclass(frozen=True)
class AtlanticQuery:
    id: str
    status: QueryStatus
    step: str | None = None
    bucket_id: str | None = None
    bucket_job_index: int | None = None
    error_reason: str | None = None

    @classmethod
    def from_json(cls, body: Any) -> AtlanticQuery:
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            raise ProverError(f"Atlantic query without an id: {body!r}")
        index = body.get("bucketJobIndex")
        return cls(
            id=body["id"],
            status=parse_enum(QueryStatus, body.get("status"), "query status"),
            step=body.get("step"),
            bucket_id=body.get("bucketId"),
            bucket_job_index=index if isinstance(index, int) else None,
            error_reason=body.get("errorReason"),
        )


@dataclass(frozen=True)
class AtlanticBucket:
    id: str
    status: BucketStatus
    queries: tuple[AtlanticQuery, ...] = ()


E = TypeVar("E", bound=StrEnum)


def parse_enum(kind: type[E], value: Any, what: str) -> E:
    try:
        return kind(value)
    except ValueError:
        raise ProverError(f"Atlantic returned an unknown {what} {value!r}") from None


def reply_field(body: Any, *path: str) -> Any:
    value = body
    for key in path:
        if not isinstance(value, dict) or key not in value:
            raise ProverError(f"Atlantic reply lacks {'.'.join(path)}: {str(body)[:200]}")
        value = value[key]
    return value


def map_query_status(status: QueryStatus) -> TaskStatus:
    if status is QueryStatus.DONE:
        return TaskStatus(TaskStatusKind.SUCCEEDED)
    if status is QueryStatus.FAILED:
        return TaskStatus(TaskStatusKind.FAILED, "the query failed on Atlantic")
    return TaskStatus(TaskStatusKind.PROCESSING)


def map_bucket_status(status: BucketStatus) -> TaskStatus:
    if status is BucketStatus.DONE:
        return TaskStatus(TaskStatusKind.SUCCEEDED)
    if status is BucketStatus.FAILED:
        return TaskStatus(TaskStatusKind.FAILED, "the bucket failed on Atlantic")
    return TaskStatus(TaskStatusKind.PROCESSING)
