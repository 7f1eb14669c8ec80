"""The HTTP API (aiohttp): health, job operations, block and batch views, admin bulk operations.

Responses use the reference's envelope `{"success": bool, "data": ..., "message": ...}`; every error is
a JSON body with a 4xx/5xx status, never a traceback. `x-trace-id` is accepted (32 hex) or made, and
echoed back.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from orchestrator.controllers.routes.health import register_health
from orchestrator.core.clients.database import AggregatorBatchQuery, SnosBatchQuery
from orchestrator.core.clients.lock import LockClient
from orchestrator.core.errors import InvalidJobStatusError, JobNotFoundError, OrchestratorError
from orchestrator.core.models.batch import AggregatorBatchStatus, SnosBatchStatus
from orchestrator.core.models.job import JobItem, JobStatus, JobType
from orchestrator.core.models.queue import QueueType
from orchestrator.services.block.close_open import close_open_batches
from orchestrator.services.block.worker_lock import LockBusyError
from orchestrator.services.job.engine import JobEngine

log = logging.getLogger("orchestrator.http")

ENGINE: web.AppKey[JobEngine] = web.AppKey("engine", JobEngine)
ADMIN: web.AppKey[bool] = web.AppKey("admin", bool)
MAX_PRIORITY: web.AppKey[int] = web.AppKey("max_priority", int)
METRICS: web.AppKey[Callable[[], list[dict[str, Any]]]] = web.AppKey("metrics")
BATCHING_LOCK: web.AppKey[LockClient] = web.AppKey("batching_lock")

_TRACE_ID = re.compile(r"^[0-9a-fA-F]{32}$")


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def envelope(data: Any = None, message: str | None = None, status: int = 200, success: bool = True) -> web.Response:
    body: dict[str, Any] = {"success": success}
    if data is not None:
        body["data"] = data
    if message is not None:
        body["message"] = message
    return web.json_response(body, status=status)


@web.middleware
async def errors_and_trace(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    trace = request.headers.get("x-trace-id", "")
    if not _TRACE_ID.match(trace):
        trace = uuid.uuid4().hex
    try:
        response = await handler(request)
    except ApiError as exc:
        response = envelope(message=exc.message, status=exc.status, success=False)
    except JobNotFoundError as exc:
        response = envelope(message=str(exc), status=404, success=False)
    except InvalidJobStatusError as exc:
        response = envelope(message=f"Invalid status: {exc}", status=409, success=False)
    except web.HTTPException as exc:
        text = "The requested resource was not found" if exc.status == 404 else exc.reason
        response = envelope(message=text, status=exc.status, success=False)
    except OrchestratorError as exc:
        response = envelope(message=f"Processing error: {exc}", status=400, success=False)
    except Exception:
        log.exception("request %s %s failed", request.method, request.path)
        response = envelope(message="Internal error", status=500, success=False)
    response.headers["x-trace-id"] = trace
    return response


def _job_id(request: web.Request) -> uuid.UUID:
    raw = request.match_info["id"]
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise ApiError(400, f"Invalid job ID: {raw}") from None


def _priority(request: web.Request) -> bool:
    raw = request.query.get("priority", "false").lower()
    if raw not in ("true", "false", "1", "0"):
        raise ApiError(400, f"Invalid query: priority must be true or false, got {raw!r}")
    return raw in ("true", "1")


async def _priority_queue(request: web.Request, queue: QueueType) -> QueueType:
    engine = request.app[ENGINE]
    if await engine.queue.approximate_count(queue) >= request.app[MAX_PRIORITY]:
        raise ApiError(429, "Priority queue is full; try again later")
    return queue


def _job_summary(job: JobItem) -> dict[str, Any]:
    return {"job_type": job.job_type.value, "id": str(job.id), "status": job.status.value}


def _int_param(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"Invalid query: {name} must be an integer, got {raw!r}") from None
    if value < 0:
        raise ApiError(400, f"Invalid query: {name} must not be negative")
    return value


# --- public -------------------------------------------------------------------------------------
async def metrics(request: web.Request) -> web.Response:
    """Counters and circuit-breaker state of every external service the process talks to."""
    return envelope({"services": request.app[METRICS]()})


JobAction = Callable[[JobEngine, uuid.UUID, QueueType | None], Awaitable[Any]]


async def _queue_job(request: web.Request, action: JobAction, priority_queue: QueueType, what: str) -> web.Response:
    """The shape of the three job routes: the id, the optional priority queue, the action, the message."""
    job_id = _job_id(request)
    priority = _priority(request)
    queue = await _priority_queue(request, priority_queue) if priority else None
    await action(request.app[ENGINE], job_id, queue)
    return envelope(message=f"Job with id {job_id} queued for {'PRIORITY' if priority else 'normal'} {what}")


async def process(request: web.Request) -> web.Response:
    return await _queue_job(request, JobEngine.queue_for_processing, QueueType.PRIORITY_PROCESSING_QUEUE, "processing")


async def verify(request: web.Request) -> web.Response:
    return await _queue_job(request, JobEngine.reverify_job, QueueType.PRIORITY_VERIFICATION_QUEUE, "verification")


async def retry(request: web.Request) -> web.Response:
    try:
        return await _queue_job(request, JobEngine.retry_job, QueueType.PRIORITY_PROCESSING_QUEUE, "retry")
    except InvalidJobStatusError as exc:
        raise ApiError(400, f"Invalid status: {exc}") from None


async def jobs_by_status(request: web.Request) -> web.Response:
    raw = request.query.get("status")
    if raw is None:
        raise ApiError(400, "Invalid query: status is required")
    try:
        status = JobStatus(raw)
    except ValueError:
        raise ApiError(400, f"Invalid query: unknown status {raw!r}") from None
    jobs = await request.app[ENGINE].db.get_jobs_by_status(status, limit=1000)
    return envelope({"jobs": [_job_summary(j) for j in jobs]})


async def jobs_for_block(request: web.Request) -> web.Response:
    block = _int_param(request, "block")
    jobs = await request.app[ENGINE].db.get_jobs_by_block_number(block)
    return envelope({"jobs": [_job_summary(j) for j in jobs]})


async def batch_for_block(request: web.Request) -> web.Response:
    block = _int_param(request, "block")
    batch = await request.app[ENGINE].db.get_aggregator_batch_for_block(block)
    if batch is None:
        raise ApiError(404, f"Block not found: no batch contains block {block}")
    return envelope({"batch_number": batch.index})


def _batch_query_params(request: web.Request) -> tuple[list[int], str | None, int, str]:
    q = request.query
    try:
        indexes = [int(v) for v in q.getall("index", [])]
        limit = int(q.get("limit", "50"))
    except ValueError:
        raise ApiError(400, "Invalid query: index and limit must be integers") from None
    if not 1 <= limit <= 500:
        raise ApiError(400, "Invalid query: limit must be between 1 and 500")
    sort = q.get("sort", "asc")
    if sort not in ("asc", "desc"):
        raise ApiError(400, "Invalid query: sort must be asc or desc")
    return indexes, q.get("status"), limit, sort


async def snos_batches(request: web.Request) -> web.Response:
    indexes, status, limit, sort = _batch_query_params(request)
    statuses: list[SnosBatchStatus] = []
    if status == "closed":
        statuses = [s for s in SnosBatchStatus if s is not SnosBatchStatus.OPEN]
    elif status is not None:
        try:
            statuses = [SnosBatchStatus(status)]
        except ValueError:
            raise ApiError(400, f"Invalid query: unknown status {status!r}") from None
    batches = await request.app[ENGINE].db.get_snos_batches(
        SnosBatchQuery(indexes=indexes, statuses=statuses, limit=limit, sort=sort)  # type: ignore[arg-type]
    )
    data = []
    for b in batches:
        item = b.model_dump(mode="json")
        w = b.builtin_weights
        item["metrics"] = {
            "state_diff_size": w.state_diff_size,
            "sierra_gas": w.sierra_gas,
            "proving_gas": w.proving_gas,
        }
        data.append(item)
    return envelope({"batches": data})


async def aggregator_batches(request: web.Request) -> web.Response:
    indexes, status, limit, sort = _batch_query_params(request)
    statuses: list[AggregatorBatchStatus] = []
    if status == "closed":
        statuses = [s for s in AggregatorBatchStatus if s is not AggregatorBatchStatus.OPEN]
    elif status is not None:
        try:
            statuses = [AggregatorBatchStatus(status)]
        except ValueError:
            raise ApiError(400, f"Invalid query: unknown status {status!r}") from None
    batches = await request.app[ENGINE].db.get_aggregator_batches(
        AggregatorBatchQuery(indexes=indexes, statuses=statuses, limit=limit, sort=sort)  # type: ignore[arg-type]
    )
    return envelope({"batches": [b.model_dump(mode="json") for b in batches]})


# --- admin ----------------------------------------------------------------------------------------
def _job_types_filter(request: web.Request) -> list[JobType]:
    try:
        return [JobType(v) for v in request.query.getall("job_type", [])]
    except ValueError as exc:
        raise ApiError(400, f"Invalid query: {exc}") from None


async def _bulk(request: web.Request, status: JobStatus, action: Callable[[JobItem], Awaitable[Any]]) -> web.Response:
    if not request.app[ADMIN]:
        raise ApiError(403, "Admin API is disabled (MADARA_ORCHESTRATOR_ADMIN_ENABLED)")
    engine = request.app[ENGINE]
    jobs = await engine.db.get_jobs_by_types_and_statuses(_job_types_filter(request), [status])
    ok: list[str] = []
    failed: list[str] = []
    for job in jobs:
        try:
            await action(job)
            ok.append(str(job.id))
        except Exception as exc:  # one bad job must not stop the rest
            log.warning("admin action on job %s failed: %s", job.id, exc)
            failed.append(str(job.id))
    return envelope(
        {
            "success_count": len(ok),
            "successful_job_ids": ok,
            "failed_count": len(failed),
            "failed_job_ids": failed,
        }
    )


async def admin_retry_failed(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    return await _bulk(request, JobStatus.FAILED, lambda j: engine.retry_job(j.id))


async def admin_reverify_timeouts(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    return await _bulk(request, JobStatus.VERIFICATION_TIMEOUT, lambda j: engine.reverify_job(j.id))


async def admin_requeue_pending_verification(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    return await _bulk(request, JobStatus.PENDING_VERIFICATION, lambda j: engine.enqueue_verify(j, 0))


async def admin_requeue_created(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    return await _bulk(request, JobStatus.CREATED, lambda j: engine.enqueue_process(j))


async def admin_close_open_batches(request: web.Request) -> web.Response:
    if not request.app[ADMIN]:
        raise ApiError(403, "Admin API is disabled (MADARA_ORCHESTRATOR_ADMIN_ENABLED)")
    lock = request.app.get(BATCHING_LOCK)
    if lock is None:
        raise ApiError(503, "Closing batches needs the batching lock, which this server was not given")
    try:
        # Under the batching locks: a run in progress would write its in-memory Open batch back.
        closed = await close_open_batches(request.app[ENGINE].db, lock)
    except LockBusyError as exc:
        raise ApiError(409, f"A batching run is in progress: {exc}") from None
    return envelope({"snos_batches_closed": closed.snos, "aggregator_batches_closed": closed.aggregator})


def create_app(
    engine: JobEngine,
    admin_enabled: bool = False,
    max_priority_queue_size: int = 20,
    service_metrics: Callable[[], list[dict[str, Any]]] = list,
    batching_lock: LockClient | None = None,
) -> web.Application:
    app = web.Application(middlewares=[errors_and_trace])
    app[ENGINE] = engine
    if batching_lock is not None:
        app[BATCHING_LOCK] = batching_lock
    app[ADMIN] = admin_enabled
    app[MAX_PRIORITY] = max_priority_queue_size
    app[METRICS] = service_metrics
    register_health(app)  # /health and /ready: their sources are attached by `orchestrator run`
    app.router.add_get("/metrics", metrics)
    for prefix in ("", "/api/v1"):
        app.router.add_get(prefix + "/jobs/{id}/process", process)
        app.router.add_get(prefix + "/jobs/{id}/verify", verify)
        app.router.add_get(prefix + "/jobs/{id}/retry", retry)
    app.router.add_get("/jobs", jobs_by_status)
    app.router.add_get("/jobs/block/{block}/status", jobs_for_block)
    app.router.add_get("/blocks/batch-for-block/{block}", batch_for_block)
    app.router.add_get("/batches/snos", snos_batches)
    app.router.add_get("/batches/aggregator", aggregator_batches)
    if admin_enabled:
        app.router.add_post("/admin/jobs/retry/failed", admin_retry_failed)
        app.router.add_post("/admin/jobs/reverify/verification-timeout", admin_reverify_timeouts)
        app.router.add_post("/admin/jobs/requeue/pending-verification", admin_requeue_pending_verification)
        app.router.add_post("/admin/jobs/requeue/created", admin_requeue_created)
        app.router.add_post("/admin/batches/close-open", admin_close_open_batches)
    return app
