"""Atlantic (Herodotus' proving service): child queries, buckets for aggregation, L2 verification queries."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from orchestrator.clients.http import BreakerConfig, FilePart, HttpService, RetryConfig, ServiceMetrics
from orchestrator.clients.prover.errors import prover_call, reply_json
from orchestrator.clients.prover.fact_registry import FactChecker
from orchestrator.core.errors import ConfigError
from orchestrator.core.madara.prover import (
    AggregationArtifacts,
    CreateBucketTask,
    CreateJobTask,
    ProverError,
    ProverRequestError,
    ProverTask,
    RunAggregationTask,
    RunAggregationWithPieTask,
    TaskStatus,
    TaskStatusKind,
    TaskType,
    UnsupportedTaskError,
)

logger = logging.getLogger("orchestrator.clients.prover.atlantic")

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
            status=_enum(QueryStatus, body.get("status"), "query status"),
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


def _enum(kind: type[E], value: Any, what: str) -> E:
    try:
        return kind(value)
    except ValueError:
        raise ProverError(f"Atlantic returned an unknown {what} {value!r}") from None


def _field(body: Any, *path: str) -> Any:
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


class AtlanticProverClient:
    """Child proofs are queries deduplicated by `dedupId` (the proving job's id), so resubmitting a
    job reuses the existing query; aggregation is a bucket that is closed when the batch is full."""

    def __init__(
        self,
        options: AtlanticOptions,
        *,
        fact_checker: FactChecker | None = None,
        retry: RetryConfig | None = None,
        breaker: BreakerConfig | None = None,
        request_timeout: float = 300.0,
        metrics: ServiceMetrics | None = None,
        artifacts_metrics: ServiceMetrics | None = None,
    ) -> None:
        if not options.api_key:
            raise ConfigError("Atlantic needs an API key")
        self.options = options
        self.http = HttpService(
            "atlantic",
            options.service_url,
            default_headers={"api-key": options.api_key},
            retry=retry,
            breaker=breaker,
            request_timeout=request_timeout,
            metrics=metrics,
        )
        # Artifacts live in a storage bucket elsewhere: no API key, and a circuit of their own.
        self.artifacts = HttpService(
            "atlantic-artifacts",
            options.artifacts_base_url,
            retry=retry,
            breaker=breaker,
            request_timeout=request_timeout,
            metrics=artifacts_metrics,
        )
        # With mocked fact hashes nothing is registered on chain, so there is nothing to check.
        self._fact_checker = None if options.mock_fact_hash else fact_checker

    @property
    def metrics(self) -> ServiceMetrics:
        return self.http.metrics

    def service_metrics(self) -> list[ServiceMetrics]:
        """Counters and circuit state of every external service this client talks to."""
        services = [self.http.metrics, self.artifacts.metrics]
        if isinstance(getattr(self._fact_checker, "metrics", None), ServiceMetrics):
            services.append(self._fact_checker.metrics)  # type: ignore[union-attr]
        return services

    async def close(self) -> None:
        await self.http.close()
        await self.artifacts.close()

    # --- API calls ---

    def _form(self, fields: list[tuple[str, str | FilePart]]) -> list[tuple[str, str | FilePart]]:
        # Every multipart POST carries mockFactHash.
        return [*fields, ("mockFactHash", "true" if self.options.mock_fact_hash else "false")]

    async def get_query_by_dedup_id(self, dedup_id: str) -> AtlanticQuery | None:
        reply = await prover_call(
            self.http.request(
                "get_query_by_dedup_id",
                "GET",
                "atlantic-query-by-dedup-id",
                params={"dedupId": dedup_id},
                pass_statuses=frozenset({404}),
            )
        )
        if reply.status == 404:
            return None
        return AtlanticQuery.from_json(_field(reply_json(reply), "atlanticQuery"))

    async def add_query(self, task: CreateJobTask) -> str:
        o = self.options
        # Settling on Starknet needs a plain proof in the prover layout.
        result = QueryStep.PROOF_GENERATION.value if o.settlement_layer == "starknet" else o.result
        fields: list[tuple[str, str | FilePart]] = [
            ("declaredJobSize", job_size(task.num_steps)),
            ("result", result),
            ("network", o.network),
            ("cairoVersion", "cairo0"),
            ("cairoVm", o.cairo_vm),
            ("sharpProver", o.sharp_prover),
            ("dedupId", task.dedup_id),
            ("pieFile", FilePart(task.cairo_pie, "pie.zip", "application/zip")),
        ]
        if o.settlement_layer == "starknet":
            fields.append(("layout", o.proof_layout))
        if task.bucket_id is not None:
            fields.append(("bucketId", task.bucket_id))
        if task.bucket_job_index is not None:
            fields.append(("bucketJobIndex", str(task.bucket_job_index)))
        reply = await prover_call(self.http.request("add_job", "POST", "atlantic-query", form=self._form(fields)))
        return str(_field(reply_json(reply), "atlanticQueryId"))

    async def get_query(self, query_id: str) -> AtlanticQuery:
        reply = await prover_call(self.http.request("get_job_status", "GET", f"atlantic-query/{query_id}"))
        return AtlanticQuery.from_json(_field(reply_json(reply), "atlanticQuery"))

    async def create_bucket(self) -> str:
        o = self.options
        params: dict[str, Any] = {"use_kzg_da": True, "full_output": False}
        if o.chain_id_hex is not None:
            params["chain_id_hex"] = o.chain_id_hex
        if o.fee_token_address is not None:
            params["fee_token_address"] = o.fee_token_address
        if o.da_public_keys is not None:
            params["public_keys"] = list(o.da_public_keys)
        body = {
            "externalId": None,
            "nodeWidth": None,
            "aggregatorVersion": AGGREGATOR_VERSION,
            "aggregatorParams": params,
            "mockProof": o.mock_fact_hash,
        }
        reply = await prover_call(self.http.request("create_bucket", "POST", "buckets", json_body=body))
        return str(_field(reply_json(reply), "atlanticBucket", "id"))

    async def close_bucket(self, bucket_id: str) -> None:
        await prover_call(self.http.request("close_bucket", "POST", "buckets/close", params={"bucketId": bucket_id}))

    async def get_bucket(self, bucket_id: str) -> AtlanticBucket:
        reply = await prover_call(self.http.request("get_bucket", "GET", f"buckets/{bucket_id}"))
        body = reply_json(reply)
        queries = _field(body, "queries") if isinstance(body, dict) and "queries" in body else []
        if not isinstance(queries, list):
            raise ProverError(f"Atlantic bucket {bucket_id}: queries is not a list")
        return AtlanticBucket(
            id=str(_field(body, "bucket", "id")),
            status=_enum(BucketStatus, _field(body, "bucket", "status"), "bucket status"),
            queries=tuple(AtlanticQuery.from_json(query) for query in queries),
        )

    async def get_artifact(self, query_id: str, file_name: str) -> bytes:
        reply = await prover_call(self.artifacts.request("get_artifacts", "GET", f"queries/{query_id}/{file_name}"))
        return reply.body

    # --- ProverClient ---

    async def submit_task(self, task: ProverTask) -> str:
        match task:
            case CreateJobTask():
                return await self._submit_job(task)
            case CreateBucketTask():
                bucket_id = await self.create_bucket()
                logger.info("created Atlantic bucket %s", bucket_id)
                return bucket_id
            case RunAggregationTask(bucket_id=bucket_id):
                bucket = await self.get_bucket(bucket_id)
                if bucket.status is BucketStatus.OPEN:
                    await self.close_bucket(bucket_id)
                    logger.info("closed Atlantic bucket %s", bucket_id)
                else:
                    logger.warning("Atlantic bucket %s is %s; not closing it", bucket_id, bucket.status)
                return bucket.id
            case RunAggregationWithPieTask():
                raise UnsupportedTaskError("Atlantic aggregates in buckets; use RunAggregation")
        raise UnsupportedTaskError(f"unknown prover task {type(task).__name__}")

    async def _submit_job(self, task: CreateJobTask) -> str:
        existing = await self.get_query_by_dedup_id(task.dedup_id)
        if existing is not None:
            if existing.status is not QueryStatus.FAILED:
                _check_same_bucket(existing, task)
                logger.info("Atlantic query %s already exists for %s; reusing it", existing.id, task.dedup_id)
                self.metrics.events["idempotency_hit:job"] += 1
                return existing.id
            logger.warning("Atlantic query %s for %s failed; submitting again", existing.id, task.dedup_id)
        query_id = await self.add_query(task)
        logger.info("submitted Atlantic query %s for %s", query_id, task.dedup_id)
        return query_id

    async def get_task_status(self, task_type: TaskType, task_id: str, fact: str | None = None) -> TaskStatus:
        if task_type is TaskType.AGGREGATION:
            bucket = await self.get_bucket(task_id)
            self.metrics.events[f"status:Aggregation:{bucket.status.value}"] += 1
            return map_bucket_status(bucket.status)
        query = await self.get_query(task_id)
        self.metrics.events[f"status:Job:{query.status.value}"] += 1
        status = map_query_status(query.status)
        if query.status is QueryStatus.FAILED and query.error_reason:
            return TaskStatus(TaskStatusKind.FAILED, f"the query failed on Atlantic: {query.error_reason}")
        if status.kind is TaskStatusKind.SUCCEEDED and self._fact_checker is not None and fact is not None:
            if not await self._fact_checker.is_valid(fact):
                return TaskStatus(TaskStatusKind.FAILED, f"fact {fact} is not registered on chain")
        return status

    async def get_proof(self, task_id: str) -> bytes:
        proof = await self.get_artifact(task_id, PROOF_FILE)
        try:
            json.loads(proof)
        except ValueError:
            raise ProverError(f"the proof of Atlantic query {task_id} is not JSON") from None
        return proof

    async def submit_l2_query(self, task_id: str, proof: bytes, n_steps: int | None) -> str:
        o = self.options
        if not o.cairo_verifier_program_hash:
            raise ConfigError("an L2 verification query needs the Cairo verifier program hash")
        fields: list[tuple[str, str | FilePart]] = [
            ("inputFile", FilePart(proof, "proof.json", "application/json")),
            ("programHash", o.cairo_verifier_program_hash),
            ("layout", L2_VERIFICATION_LAYOUT),
            ("declaredJobSize", job_size(n_steps)),
            ("network", o.network),
            ("result", QueryStep.PROOF_VERIFICATION_ON_L2.value),
            ("cairoVm", "python"),
            ("cairoVersion", "cairo0"),
            ("sharpProver", o.sharp_prover),
        ]
        reply = await prover_call(
            self.http.request("submit_l2_query", "POST", "atlantic-query", form=self._form(fields))
        )
        query_id = str(_field(reply_json(reply), "atlanticQueryId"))
        logger.info("submitted Atlantic L2 verification query %s for %s", query_id, task_id)
        return query_id

    async def get_aggregation_artifacts(self, task_id: str, include_proof: bool) -> AggregationArtifacts:
        query_id = await self.aggregator_query_id(task_id)
        return AggregationArtifacts(
            cairo_pie=await self.get_artifact(query_id, CAIRO_PIE_FILE),
            da_segment=await self.get_artifact(query_id, DA_SEGMENT_FILE),
            proof=await self.get_artifact(query_id, PROOF_FILE) if include_proof else None,
        )

    async def aggregator_query_id(self, bucket_id: str) -> str:
        bucket = await self.get_bucket(bucket_id)
        for query in bucket.queries:
            if query.step in AGGREGATOR_STEPS:
                return query.id
        raise ProverError(f"Atlantic bucket {bucket_id} has no aggregator query yet")


def _check_same_bucket(existing: AtlanticQuery, task: CreateJobTask) -> None:
    """A reused query must sit in the bucket slot this job expects, or the aggregation would be wrong."""
    if existing.bucket_id != task.bucket_id or existing.bucket_job_index != task.bucket_job_index:
        raise ProverRequestError(
            f"Atlantic query {existing.id} for {task.dedup_id} is in bucket {existing.bucket_id!r} "
            f"at index {existing.bucket_job_index!r}, but this job expects bucket {task.bucket_id!r} "
            f"at index {task.bucket_job_index!r}"
        )
