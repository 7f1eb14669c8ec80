"""Atlantic (Herodotus' proving service): child queries, buckets for aggregation, L2 verification queries."""

from __future__ import annotations

import json
import logging
from typing import Any

from orchestrator.clients.http import BreakerConfig, FilePart, HttpService, RetryConfig, ServiceMetrics
from orchestrator.clients.prover.atlantic_api import (
    AGGREGATOR_STEPS,
    AGGREGATOR_VERSION,
    CAIRO_PIE_FILE,
    DA_SEGMENT_FILE,
    L2_VERIFICATION_LAYOUT,
    PROOF_FILE,
    AtlanticBucket,
    AtlanticOptions,
    AtlanticQuery,
    BucketStatus,
    QueryStatus,
    QueryStep,
    job_size,
    map_bucket_status,
    map_query_status,
    parse_enum,
    reply_field,
)
from orchestrator.clients.prover.errors import prover_call, reply_json
from orchestrator.clients.prover.fact_registry import FactChecker
from orchestrator.core.errors import ConfigError
from orchestrator.core.madara.node import ChainDetailsSource
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

__all__ = [
    "L2_VERIFICATION_LAYOUT",
    "AtlanticOptions",
    "AtlanticProverClient",
    "BucketStatus",
    "QueryStatus",
    "job_size",
    "map_bucket_status",
    "map_query_status",
]


class AtlanticProverClient:
    """Child proofs are queries deduplicated by `dedupId` (the proving job's id), so resubmitting a
    job reuses the existing query; aggregation is a bucket that is closed when the batch is full."""

    def __init__(
        self,
        options: AtlanticOptions,
        *,
        fact_checker: FactChecker | None = None,
        chain: ChainDetailsSource | None = None,
        retry: RetryConfig | None = None,
        breaker: BreakerConfig | None = None,
        request_timeout: float = 300.0,
        metrics: ServiceMetrics | None = None,
        artifacts_metrics: ServiceMetrics | None = None,
    ) -> None:
        if not options.api_key:
            raise ConfigError("Atlantic needs an API key")
        self.options = options
        # the chain id and fee token of the bucket's aggregator parameters, unless the options set them
        self._chain = chain
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
        checker_metrics = getattr(self._fact_checker, "metrics", None)
        if isinstance(checker_metrics, ServiceMetrics):
            services.append(checker_metrics)
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
        return AtlanticQuery.from_json(reply_field(reply_json(reply), "atlanticQuery"))

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
        return str(reply_field(reply_json(reply), "atlanticQueryId"))

    async def get_query(self, query_id: str) -> AtlanticQuery:
        reply = await prover_call(self.http.request("get_job_status", "GET", f"atlantic-query/{query_id}"))
        return AtlanticQuery.from_json(reply_field(reply_json(reply), "atlanticQuery"))

    async def create_bucket(self) -> str:
        o = self.options
        params: dict[str, Any] = {"use_kzg_da": True, "full_output": False}
        details = await self._chain.chain_details() if self._chain is not None else None
        chain_id_hex = o.chain_id_hex or (details.chain_id_hex if details else None)
        fee_token = o.fee_token_address or (details.strk_fee_token_address if details else None)
        if chain_id_hex is not None:
            params["chain_id_hex"] = chain_id_hex
        if fee_token is not None:
            params["fee_token_address"] = fee_token
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
        return str(reply_field(reply_json(reply), "atlanticBucket", "id"))

    async def close_bucket(self, bucket_id: str) -> None:
        await prover_call(self.http.request("close_bucket", "POST", "buckets/close", params={"bucketId": bucket_id}))

    async def get_bucket(self, bucket_id: str) -> AtlanticBucket:
        reply = await prover_call(self.http.request("get_bucket", "GET", f"buckets/{bucket_id}"))
        body = reply_json(reply)
        queries = reply_field(body, "queries") if isinstance(body, dict) and "queries" in body else []
        if not isinstance(queries, list):
            raise ProverError(f"Atlantic bucket {bucket_id}: queries is not a list")
        return AtlanticBucket(
            id=str(reply_field(body, "bucket", "id")),
            status=parse_enum(BucketStatus, reply_field(body, "bucket", "status"), "bucket status"),
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
        checker = self._fact_checker if status.kind is TaskStatusKind.SUCCEEDED else None
        if checker is not None and fact is not None and not await checker.is_valid(fact):
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
        query_id = str(reply_field(reply_json(reply), "atlanticQueryId"))
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
