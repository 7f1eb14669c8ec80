"""The mock prover: proves nothing; optionally registers aggregator facts on a mock verifier (L2 only)."""

from __future__ import annotations

import logging

from orchestrator.clients.http import ServiceMetrics
from orchestrator.clients.prover.fact_registry import FactRegistrar, fact_hex
from orchestrator.core.madara.prover import (
    AggregationArtifacts,
    CreateBucketTask,
    CreateJobTask,
    ProverTask,
    RunAggregationTask,
    RunAggregationWithPieTask,
    TaskStatus,
    TaskStatusKind,
    TaskType,
    UnsupportedTaskError,
)

logger = logging.getLogger("orchestrator.clients.prover.mock")


class MockProverClient:
    """Child jobs succeed at once. With a registrar, RunAggregationWithPie registers the fact and the
    aggregation succeeds only when `isValid(fact)`; without one, every aggregation succeeds."""

    def __init__(self, registrar: FactRegistrar | None = None) -> None:
        self._registrar = registrar

    def service_metrics(self) -> list[ServiceMetrics]:
        """Counters and circuit state of the verifier RPC, when there is one."""
        metrics = getattr(self._registrar, "metrics", None)
        return [metrics] if isinstance(metrics, ServiceMetrics) else []

    async def submit_task(self, task: ProverTask) -> str:
        match task:
            case CreateJobTask(dedup_id=dedup_id):
                # Keeps the job's external id deterministic: the SNOS fact.
                return dedup_id
            case RunAggregationWithPieTask(fact_hash=fact):
                if self._registrar is None:
                    return fact_hex(fact)
                tx_hash = await self._registrar.ensure_registered(fact)
                logger.info("mock prover: fact %s registered (tx %s)", fact_hex(fact), tx_hash)
                return tx_hash
            case CreateBucketTask():
                raise UnsupportedTaskError("the mock prover has no buckets; aggregation runs locally")
            case RunAggregationTask():
                raise UnsupportedTaskError("the mock prover aggregates with RunAggregationWithPie only")
        raise UnsupportedTaskError(f"unknown prover task {type(task).__name__}")

    async def get_task_status(self, task_type: TaskType, task_id: str, fact: str | None = None) -> TaskStatus:
        if task_type is TaskType.JOB or self._registrar is None or fact is None:
            return TaskStatus(TaskStatusKind.SUCCEEDED)
        if await self._registrar.is_valid(fact):
            return TaskStatus(TaskStatusKind.SUCCEEDED)
        reason = f"fact {fact_hex(fact)} is not registered on the mock verifier"
        return TaskStatus(TaskStatusKind.FAILED, reason)

    async def get_proof(self, task_id: str) -> bytes:
        raise UnsupportedTaskError("the mock prover does not produce proofs")

    async def submit_l2_query(self, task_id: str, proof: bytes, n_steps: int | None) -> str:
        raise UnsupportedTaskError("the mock prover does not support L2 proof-verification queries")

    async def get_aggregation_artifacts(self, task_id: str, include_proof: bool) -> AggregationArtifacts:
        # The aggregator ran locally and its outputs are already stored: nothing to fetch.
        return AggregationArtifacts()
