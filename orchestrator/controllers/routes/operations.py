"""The job, block, batch and admin routes of the reference (§9), as a route table."""

from __future__ import annotations

from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel

from orchestrator.controllers.routes.envelope import envelope
from orchestrator.controllers.routes.keys import OPS
from orchestrator.controllers.routes.schemas import (
    AggregatorBatchesData,
    AggregatorBatchParams,
    AuditData,
    AuditParams,
    BatchNumberData,
    BatchView,
    BlockParams,
    BulkData,
    CloseBatchesData,
    JobActionParams,
    JobIdParams,
    JobsData,
    JobSummary,
    JobTypesParams,
    JobView,
    SettlementStatusData,
    SnosBatchesData,
    SnosBatchItem,
    SnosBatchMetrics,
    SnosBatchParams,
    StatusParams,
)
from orchestrator.controllers.routes.table import Access, NoParams, Route, RouteHandler
from orchestrator.core.clients.database import AggregatorBatchQuery, SnosBatchQuery
from orchestrator.core.models.batch import AggregatorBatchStatus, SnosBatchStatus
from orchestrator.services.operations import BulkResult

_S = TypeVar("_S", SnosBatchStatus, AggregatorBatchStatus)


def _queued(job_id: object, priority: bool, what: str) -> web.Response:
    return envelope(message=f"Job with id {job_id} queued for {'PRIORITY' if priority else 'normal'} {what}")


# --- single jobs --------------------------------------------------------------------------------
async def process(request: web.Request, p: JobActionParams) -> web.Response:
    await request.app[OPS].process(p.id, p.priority)
    return _queued(p.id, p.priority, "processing")


async def verify(request: web.Request, p: JobActionParams) -> web.Response:
    await request.app[OPS].reverify(p.id, p.priority)
    return _queued(p.id, p.priority, "verification")


async def retry(request: web.Request, p: JobActionParams) -> web.Response:
    await request.app[OPS].retry(p.id, p.priority)
    return _queued(p.id, p.priority, "retry")


async def job(request: web.Request, p: JobIdParams) -> web.Response:
    return envelope(JobView.of(await request.app[OPS].job(p.id)).model_dump(mode="json"))


async def jobs_by_status(request: web.Request, p: StatusParams) -> web.Response:
    jobs = await request.app[OPS].jobs_by_status(p.status, p.limit)
    return envelope(JobsData(jobs=[JobSummary.of(j) for j in jobs]).model_dump(mode="json"))


async def jobs_for_block(request: web.Request, p: BlockParams) -> web.Response:
    jobs = await request.app[OPS].jobs_for_block(p.block)
    return envelope(JobsData(jobs=[JobSummary.of(j) for j in jobs]).model_dump(mode="json"))


# --- blocks and batches -------------------------------------------------------------------------
async def batch_for_block(request: web.Request, p: BlockParams) -> web.Response:
    batch = await request.app[OPS].batch_for_block(p.block)
    return envelope(BatchNumberData(batch_number=batch.index).model_dump())


async def settlement_status(request: web.Request, p: BlockParams) -> web.Response:
    s = await request.app[OPS].settlement_status(p.block)
    data = SettlementStatusData(
        block_number=s.block_number,
        snos_batch=BatchView.of(s.snos_batch) if s.snos_batch else None,
        aggregator_batch=BatchView.of(s.aggregator_batch) if s.aggregator_batch else None,
        block_jobs=[JobView.of(j) for j in s.block_jobs],
        aggregator_proof_jobs=[JobView.of(j) for j in s.aggregator_proof_jobs],
    )
    return envelope(data.model_dump(mode="json"))


def _statuses(kind: type[_S], wanted: _S | str | None) -> list[_S]:
    if wanted is None:
        return []
    if wanted == "closed":
        return [s for s in kind if s.value != "Open"]
    return [kind(wanted)]


async def snos_batches(request: web.Request, p: SnosBatchParams) -> web.Response:
    query = SnosBatchQuery(indexes=p.index, statuses=_statuses(SnosBatchStatus, p.status), limit=p.limit, sort=p.sort)
    items = []
    for b in await request.app[OPS].snos_batches(query):
        w = b.builtin_weights
        metrics = SnosBatchMetrics(
            state_diff_size=w.state_diff_size, sierra_gas=w.sierra_gas, proving_gas=w.proving_gas
        )
        items.append(SnosBatchItem(**b.model_dump(), metrics=metrics))
    return envelope(SnosBatchesData(batches=items).model_dump(mode="json"))


async def aggregator_batches(request: web.Request, p: AggregatorBatchParams) -> web.Response:
    query = AggregatorBatchQuery(
        indexes=p.index, statuses=_statuses(AggregatorBatchStatus, p.status), limit=p.limit, sort=p.sort
    )
    batches = await request.app[OPS].aggregator_batches(query)
    return envelope(AggregatorBatchesData(batches=batches).model_dump(mode="json"))


# --- admin --------------------------------------------------------------------------------------
def _bulk(result: BulkResult) -> web.Response:
    data = BulkData(
        success_count=len(result.successful),
        successful_job_ids=result.successful,
        failed_count=len(result.failed),
        failed_job_ids=result.failed,
    )
    return envelope(data.model_dump(mode="json"))


async def retry_failed(request: web.Request, p: JobTypesParams) -> web.Response:
    return _bulk(await request.app[OPS].retry_failed(p.job_type))


async def reverify_timed_out(request: web.Request, p: JobTypesParams) -> web.Response:
    return _bulk(await request.app[OPS].reverify_timed_out(p.job_type))


async def requeue_pending_verification(request: web.Request, p: JobTypesParams) -> web.Response:
    return _bulk(await request.app[OPS].requeue_pending_verification(p.job_type))


async def requeue_created(request: web.Request, p: JobTypesParams) -> web.Response:
    return _bulk(await request.app[OPS].requeue_created(p.job_type))


async def close_open_batches(request: web.Request, p: object) -> web.Response:
    snos, aggregator = await request.app[OPS].close_open_batches()
    return envelope(CloseBatchesData(snos_batches_closed=snos, aggregator_batches_closed=aggregator).model_dump())


async def audit_log(request: web.Request, p: AuditParams) -> web.Response:
    entries = await request.app[OPS].audit_entries(p.limit, p.actor)
    return envelope(AuditData(entries=entries).model_dump(mode="json"))


_DEPRECATED = (
    "Deprecated: the reference's GET form, kept for compatibility; it needs ADMIN_ENABLED and a token "
    "like the POST form, and HEAD does not run it. Use POST."
)


def _job_routes() -> list[Route]:
    actions: tuple[tuple[RouteHandler, str], ...] = (
        (process, "Enqueue the job for processing (status unchanged)"),
        (verify, "Reset verification counters and enqueue the job for verification"),
        (retry, "Retry a Failed job (PendingRetry, fresh attempt budget)"),
    )
    routes: list[Route] = []
    for handler, summary in actions:
        path = f"/jobs/{{id}}/{handler.__name__}"
        for method, deprecated in (("POST", False), ("GET", True)):
            routes.append(
                Route(
                    method, path, handler, summary + (" (deprecated GET)" if deprecated else ""), Access.ADMIN,
                    JobActionParams, errors=(404, 409, 429), deprecated=deprecated,
                    description=_DEPRECATED if deprecated else "",
                )
            )  # fmt: skip
    return routes


def _admin(
    path: str, handler: RouteHandler, summary: str, params: type[BaseModel] = JobTypesParams, data: type = BulkData
) -> Route:
    return Route("POST", path, handler, summary, Access.ADMIN, params, data, tag="admin")


ROUTES: list[Route] = [
    *_job_routes(),
    Route("GET", "/jobs", jobs_by_status, "Jobs in a status", Access.READ, StatusParams, JobsData),
    Route("GET", "/jobs/{id}", job, "One job", Access.READ, JobIdParams, JobView, errors=(404,)),
    Route("GET", "/jobs/block/{block}/status", jobs_for_block, "Jobs of a block", Access.READ, BlockParams, JobsData),
    Route("GET", "/blocks/batch-for-block/{block}", batch_for_block, "The aggregator batch holding a block",
          Access.READ, BlockParams, BatchNumberData, errors=(404,), tag="blocks"),
    Route("GET", "/blocks/settlement-status/{block}", settlement_status, "How far a block got towards L1",
          Access.READ, BlockParams, SettlementStatusData, errors=(404,), tag="blocks"),
    Route("GET", "/batches/snos", snos_batches, "SNOS batches", Access.READ, SnosBatchParams, SnosBatchesData,
          tag="batches"),
    Route("GET", "/batches/aggregator", aggregator_batches, "Aggregator batches", Access.READ, AggregatorBatchParams,
          AggregatorBatchesData, tag="batches"),
    _admin("/admin/jobs/retry/failed", retry_failed, "Retry every Failed job"),
    _admin("/admin/jobs/reverify/verification-timeout", reverify_timed_out, "Re-verify every VerificationTimeout job"),
    _admin("/admin/jobs/requeue/pending-verification", requeue_pending_verification,
           "Re-send every PendingVerification job to its verification queue"),
    _admin("/admin/jobs/requeue/created", requeue_created, "Re-send every Created job to its processing queue"),
    _admin("/admin/batches/close-open", close_open_batches, "Close every Open SNOS and aggregator batch",
           params=NoParams, data=CloseBatchesData),
    Route("GET", "/admin/audit", audit_log, "The audit log of admin actions, newest first", Access.ADMIN,
          AuditParams, AuditData, tag="admin"),
]  # fmt: skip
