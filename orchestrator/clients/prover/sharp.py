"""SHARP (StarkWare's shared prover) through its mTLS `/v1/gateway` API (L2 only)."""

from __future__ import annotations

import base64
import logging
import ssl
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from orchestrator.clients.http import BreakerConfig, HttpService, RetryConfig, ServiceMetrics
from orchestrator.clients.prover.errors import prover_call, reply_json
from orchestrator.clients.prover.fact_registry import FactChecker, fact_hex
from orchestrator.core.errors import ConfigError
from orchestrator.core.madara.prover import (
    AggregationArtifacts,
    CreateBucketTask,
    CreateJobTask,
    ProverError,
    ProverTask,
    RunAggregationTask,
    RunAggregationWithPieTask,
    TaskStatus,
    TaskStatusKind,
    TaskType,
    UnsupportedTaskError,
)

logger = logging.getLogger("orchestrator.clients.prover.sharp")

PROGRAM_HASH_FUNCTION = "PEDERSEN"
# Child proofs stay off-chain; the applicative (aggregator) proof is registered on L1 so the core
# contract finds isValid(fact) true at state update.
CHILD_OFFCHAIN_PROOF = "true"
CHILD_FOR_APPLICATIVE = "true"
APPLICATIVE_OFFCHAIN_PROOF = "false"


class CairoJobStatus(StrEnum):
    UNKNOWN = "UNKNOWN"
    NOT_CREATED = "NOT_CREATED"
    IN_PROGRESS = "IN_PROGRESS"
    PROCESSED = "PROCESSED"
    INVALID = "INVALID"
    FAILED = "FAILED"


@dataclass(frozen=True)
class SharpStatus:
    status: CairoJobStatus
    invalid_reason: str | None = None
    error_log: str | None = None
    validation_done: bool | None = None

    @classmethod
    def from_json(cls, body: Any) -> SharpStatus:
        if not isinstance(body, dict):
            raise ProverError(f"SHARP get_status reply is not an object: {body!r}")
        raw = body.get("status") or CairoJobStatus.UNKNOWN.value
        try:
            status = CairoJobStatus(raw)
        except ValueError:
            raise ProverError(f"SHARP get_status returned an unknown status {raw!r}") from None
        validation = body.get("validation_done")
        return cls(
            status=status,
            invalid_reason=body.get("invalid_reason"),
            error_log=body.get("error_log"),
            validation_done=validation if isinstance(validation, bool) else None,
        )


def sharp_ssl_context(user_crt_file: Path, user_key_file: Path, server_crt_file: Path) -> ssl.SSLContext:
    """mTLS: our identity from the PEM certificate + PKCS#8 key, and SHARP's certificate as trust root."""
    try:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(server_crt_file))
        context.load_cert_chain(certfile=str(user_crt_file), keyfile=str(user_key_file))
    except FileNotFoundError as error:
        raise ConfigError(f"SHARP certificate file not found: {error.filename}") from None
    except (ssl.SSLError, ValueError) as error:
        raise ConfigError(f"SHARP certificate or key is not valid PEM: {error}") from None
    return context


def map_sharp_status(task_type: TaskType, job_key: str, reply: SharpStatus, fact_on_chain: bool | None) -> TaskStatus:
    """SHARP status -> task status. `fact_on_chain` matters only for a PROCESSED aggregation
    (None: not checked, taken as succeeded)."""
    what = "job" if task_type is TaskType.JOB else "applicative job"
    match reply.status:
        case CairoJobStatus.FAILED:
            return TaskStatus(TaskStatusKind.FAILED, reply.error_log or f"SHARP {what} {job_key} failed")
        case CairoJobStatus.INVALID:
            reason = f"SHARP {what} {job_key} is invalid: {reply.invalid_reason or 'no reason given'}"
            if reply.error_log:
                reason += f"; error log: {reply.error_log}"
            return TaskStatus(TaskStatusKind.FAILED, reason)
        case CairoJobStatus.UNKNOWN:
            return TaskStatus(TaskStatusKind.FAILED, f"SHARP does not know {what} {job_key}")
        case CairoJobStatus.PROCESSED:
            if task_type is TaskType.AGGREGATION and fact_on_chain is False:
                return TaskStatus(TaskStatusKind.PROCESSING)
            return TaskStatus(TaskStatusKind.SUCCEEDED)
        case CairoJobStatus.IN_PROGRESS if task_type is TaskType.JOB and reply.validation_done:
            # Validated children are enough for SHARP to accept the applicative job: start it early.
            return TaskStatus(TaskStatusKind.SUCCEEDED)
    return TaskStatus(TaskStatusKind.PROCESSING)


class SharpProverClient:
    """Job keys are deterministic (the SNOS fact for children, the aggregator fact for the applicative
    job), so a resubmission first asks `get_status` and skips the upload unless SHARP says UNKNOWN."""

    def __init__(
        self,
        url: str,
        customer_id: str,
        *,
        ssl_context: ssl.SSLContext | None,
        fact_checker: FactChecker | None,
        retry: RetryConfig | None = None,
        breaker: BreakerConfig | None = None,
        request_timeout: float = 300.0,
        metrics: ServiceMetrics | None = None,
    ) -> None:
        if not customer_id:
            raise ConfigError("SHARP needs a customer id")
        self.http = HttpService(
            "sharp",
            url,
            default_params={"customer_id": customer_id},
            ssl_context=ssl_context,
            retry=retry,
            breaker=breaker,
            request_timeout=request_timeout,
            retry_all_5xx=True,
            metrics=metrics,
        )
        self._fact_checker = fact_checker

    @property
    def metrics(self) -> ServiceMetrics:
        return self.http.metrics

    def service_metrics(self) -> list[ServiceMetrics]:
        """Counters and circuit state of every external service this client talks to."""
        services = [self.http.metrics]
        checker_metrics = getattr(self._fact_checker, "metrics", None)
        if isinstance(checker_metrics, ServiceMetrics):
            services.append(checker_metrics)
        return services

    async def close(self) -> None:
        await self.http.close()

    # --- gateway calls ---

    async def get_status(self, job_key: str) -> SharpStatus:
        reply = await prover_call(
            self.http.request("get_status", "GET", "get_status", params={"cairo_job_key": job_key})
        )
        return SharpStatus.from_json(reply_json(reply))

    async def add_job(self, job_key: str, pie_zip: bytes) -> None:
        params = {
            "cairo_job_key": job_key,
            "offchain_proof": CHILD_OFFCHAIN_PROOF,
            "for_applicative": CHILD_FOR_APPLICATIVE,
            "program_hash_function": PROGRAM_HASH_FUNCTION,
        }
        body = {"cairo_pie_encoded": base64.b64encode(pie_zip).decode()}
        await prover_call(self.http.request("add_job", "POST", "add_job", params=params, json_body=body))

    async def add_applicative_job(self, job_key: str, pie_zip: bytes, children: list[str]) -> None:
        params = {
            "cairo_job_key": job_key,
            "offchain_proof": APPLICATIVE_OFFCHAIN_PROOF,
            "program_hash_function": PROGRAM_HASH_FUNCTION,
        }
        body = {"cairo_pie_encoded": base64.b64encode(pie_zip).decode(), "children_cairo_job_keys": children}
        request = self.http.request("add_applicative_job", "POST", "add_applicative_job", params=params, json_body=body)
        await prover_call(request)

    async def is_alive(self) -> bool:
        reply = await prover_call(self.http.request("is_alive", "GET", "is_alive"))
        return 200 <= reply.status < 300

    async def _already_submitted(self, job_key: str, kind: str) -> bool:
        status = await self.get_status(job_key)
        if status.status is CairoJobStatus.UNKNOWN:
            return False
        # Even a FAILED job is not resubmitted under the same key: its status surfaces the failure.
        logger.info("SHARP already has %s %s (%s); not submitting again", kind, job_key, status.status.value)
        self.metrics.events[f"idempotency_hit:{kind}"] += 1
        return True

    # --- ProverClient ---

    async def submit_task(self, task: ProverTask) -> str:
        match task:
            case CreateJobTask(cairo_pie=pie, dedup_id=job_key):
                if not await self._already_submitted(job_key, "job"):
                    await self.add_job(job_key, pie)
                    logger.info("submitted SNOS PIE to SHARP as %s", job_key)
                return job_key
            case RunAggregationWithPieTask(pie_zip=pie, children_keys=children, fact_hash=fact):
                job_key = fact_hex(fact)
                if not await self._already_submitted(job_key, "applicative_job"):
                    await self.add_applicative_job(job_key, pie, list(children))
                    logger.info("submitted applicative job %s with %d children", job_key, len(children))
                return job_key
            case CreateBucketTask():
                raise UnsupportedTaskError("SHARP has no buckets; aggregate with RunAggregationWithPie")
            case RunAggregationTask():
                raise UnsupportedTaskError("SHARP has no bucket aggregation; use RunAggregationWithPie")
        raise UnsupportedTaskError(f"unknown prover task {type(task).__name__}")

    async def get_task_status(self, task_type: TaskType, task_id: str, fact: str | None = None) -> TaskStatus:
        reply = await self.get_status(task_id)
        self.metrics.events[f"status:{task_type.value}:{reply.status.value}"] += 1
        fact_on_chain: bool | None = None
        if task_type is TaskType.AGGREGATION and reply.status is CairoJobStatus.PROCESSED:
            if fact is None:
                raise ProverError("checking a SHARP aggregation needs the aggregator fact")
            if self._fact_checker is not None:
                fact_on_chain = await self._fact_checker.is_valid(fact)
        status = map_sharp_status(task_type, task_id, reply, fact_on_chain)
        logger.debug("SHARP %s %s: %s -> %s", task_type.value, task_id, reply.status.value, status.kind.value)
        return status

    async def get_proof(self, task_id: str) -> bytes:
        reply = await prover_call(self.http.request("get_proof", "GET", "get_proof", params={"cairo_job_key": task_id}))
        return reply.body

    async def submit_l2_query(self, task_id: str, proof: bytes, n_steps: int | None) -> str:
        raise UnsupportedTaskError("SHARP does not run L2 proof-verification queries")

    async def get_aggregation_artifacts(self, task_id: str, include_proof: bool) -> AggregationArtifacts:
        # SHARP does not build the aggregator PIE (it ran locally); only the proof can be fetched.
        return AggregationArtifacts(proof=await self.get_proof(task_id) if include_proof else None)
