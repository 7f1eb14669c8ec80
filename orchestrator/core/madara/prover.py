"""Provers: SHARP, Atlantic, or the mock one."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from orchestrator.core.errors import OrchestratorError


class ProverError(OrchestratorError):
    """The prover could not do a task. Transient trouble (network, 5xx, a prover that is down)
    raises `ServiceUnavailableError` instead, so callers can retry that later."""


class UnsupportedTaskError(ProverError):
    """This prover does not offer the requested task (e.g. buckets on SHARP, L2 queries on the mock)."""


class ProverRequestError(ProverError):
    """The prover answered with an API error (e.g. a JSON 4xx); the same request will fail again."""


class TaskType(StrEnum):
    JOB = "Job"
    AGGREGATION = "Aggregation"


class TaskStatusKind(StrEnum):
    PROCESSING = "Processing"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


@dataclass(frozen=True)
class TaskStatus:
    kind: TaskStatusKind
    reason: str | None = None


@dataclass(frozen=True)
class CreateJobTask:
    cairo_pie: bytes
    dedup_id: str
    bucket_id: str | None = None
    bucket_job_index: int | None = None
    num_steps: int | None = None


@dataclass(frozen=True)
class CreateBucketTask:
    pass


@dataclass(frozen=True)
class RunAggregationTask:
    bucket_id: str


@dataclass(frozen=True)
class RunAggregationWithPieTask:
    pie_zip: bytes
    children_keys: list[str]
    fact_hash: str


ProverTask = CreateJobTask | CreateBucketTask | RunAggregationTask | RunAggregationWithPieTask


@dataclass
class AggregationArtifacts:
    cairo_pie: bytes | None = None
    da_segment: bytes | None = None
    proof: bytes | None = None
    extra: dict[str, bytes] = field(default_factory=dict)


class ProverClient(Protocol):
    async def submit_task(self, task: ProverTask) -> str:
        """Returns the prover's id for the task (query id, job key, bucket id)."""

    async def get_task_status(self, task_type: TaskType, task_id: str, fact: str | None = None) -> TaskStatus: ...

    async def get_proof(self, task_id: str) -> bytes: ...

    async def submit_l2_query(self, task_id: str, proof: bytes, n_steps: int | None) -> str: ...

    async def get_aggregation_artifacts(self, task_id: str, include_proof: bool) -> AggregationArtifacts: ...
