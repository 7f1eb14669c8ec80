"""The HTTP API on the local profile's real database and queue (files in a temp dir)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from orchestrator.bootstrap import Container, build
from orchestrator.config import load_settings
from orchestrator.controllers.routes.app import create_app
from orchestrator.core.models.batch import AggregatorBatch, AggregatorBatchStatus, SnosBatch
from orchestrator.core.models.job import JobItem, JobStatus, JobType
from orchestrator.core.models.metadata import SnosMetadata
from orchestrator.core.models.queue import QueueType
from tests.e2e.counting_orchestrator import CountingHandler


@pytest.fixture
async def container(tmp_path: Path) -> AsyncIterator[Container]:
    settings = load_settings(environ={"MADARA_ORCHESTRATOR_DATA_DIR": str(tmp_path)}, env_file=None)
    c = build(settings, handlers={JobType.SNOS_RUN: CountingHandler(str(tmp_path / "effects"))})
    await c.start()
    yield c
    await c.close()


async def client_for(container: Container, admin: bool = False, max_priority: int = 20) -> TestClient:
    app = create_app(container.engine, admin, max_priority, batching_lock=container.infra.lock)
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


async def new_job(container: Container, internal_id: int = 1, status: JobStatus | None = None) -> JobItem:
    meta = SnosMetadata(snos_batch_index=internal_id, start_block=internal_id, end_block=internal_id + 1, num_blocks=2)
    job = await container.engine.create_job(JobType.SNOS_RUN, internal_id, meta)
    assert job is not None
    if status is not None:
        job = await container.engine.write(job, status)
    return job


async def test_health_and_trace_id(container: Container) -> None:
    client = await client_for(container)
    try:
        r = await client.get("/health")
        assert r.status == 200 and (await r.json())["status"] == "UP"
        assert len(r.headers["x-trace-id"]) == 32
        r = await client.get("/health", headers={"x-trace-id": "ab" * 16})
        assert r.headers["x-trace-id"] == "ab" * 16
    finally:
        await client.close()


async def test_errors_are_json_4xx(container: Container) -> None:
    client = await client_for(container)
    try:
        r = await client.get("/jobs/not-a-uuid/process")
        assert r.status == 400 and (await r.json()) == {"success": False, "message": "Invalid job ID: not-a-uuid"}
        r = await client.get("/jobs/00000000-0000-0000-0000-000000000000/process")
        assert r.status == 404 and (await r.json())["success"] is False
        r = await client.get("/nowhere")
        assert r.status == 404 and (await r.json())["message"] == "The requested resource was not found"
        r = await client.get("/jobs", params={"status": "Bogus"})
        assert r.status == 400
        r = await client.get("/jobs/block/-3/status")
        assert r.status == 400
        r = await client.post("/admin/jobs/retry/failed")
        assert r.status in (404, 405), "admin routes are not mounted when disabled"
    finally:
        await client.close()


async def test_retry_flow_and_status_listing(container: Container) -> None:
    job = await new_job(container, status=JobStatus.FAILED)
    client = await client_for(container)
    try:
        r = await client.get("/jobs", params={"status": "Failed"})
        assert (await r.json())["data"]["jobs"] == [{"job_type": "SnosRun", "id": str(job.id), "status": "Failed"}]
        r = await client.get(f"/jobs/{job.id}/retry")
        assert r.status == 200, await r.text()
        assert (await r.json())["message"] == f"Job with id {job.id} queued for normal retry"
        stored = await container.database.get_job_by_id(job.id)
        assert stored is not None and stored.status is JobStatus.PENDING_RETRY
        r = await client.get(f"/api/v1/jobs/{job.id}/retry")
        assert r.status == 400 and "Invalid status" in (await r.json())["message"]
    finally:
        await client.close()


async def test_priority_queue_is_bounded(container: Container) -> None:
    job = await new_job(container)
    client = await client_for(container, max_priority=1)
    try:
        r = await client.get(f"/jobs/{job.id}/process", params={"priority": "true"})
        assert r.status == 200 and "PRIORITY" in (await r.json())["message"]
        assert await container.queue.approximate_count(QueueType.PRIORITY_PROCESSING_QUEUE) == 1
        r = await client.get(f"/jobs/{job.id}/process", params={"priority": "true"})
        assert r.status == 429
        r = await client.get(f"/jobs/{job.id}/process", params={"priority": "maybe"})
        assert r.status == 400
    finally:
        await client.close()


async def test_block_and_batch_views(container: Container) -> None:
    job = await new_job(container, internal_id=5)
    await container.database.create_aggregator_batch(
        AggregatorBatch(index=1, start_block=5, end_block=9, num_blocks=5, status=AggregatorBatchStatus.CLOSED)
    )
    await container.database.create_snos_batch(
        SnosBatch(index=5, aggregator_batch_index=1, start_block=5, end_block=6, num_blocks=2)
    )
    client = await client_for(container)
    try:
        r = await client.get("/jobs/block/6/status")
        assert [j["id"] for j in (await r.json())["data"]["jobs"]] == [str(job.id)]
        r = await client.get("/blocks/batch-for-block/7")
        assert (await r.json())["data"] == {"batch_number": 1}
        r = await client.get("/blocks/batch-for-block/70")
        assert r.status == 404
        r = await client.get("/batches/snos", params={"limit": "10", "sort": "desc"})
        batches = (await r.json())["data"]["batches"]
        assert [b["index"] for b in batches] == [5] and "metrics" in batches[0]
        r = await client.get("/batches/aggregator", params={"status": "closed"})
        assert [b["index"] for b in (await r.json())["data"]["batches"]] == [1]
        r = await client.get("/batches/aggregator", params={"limit": "0"})
        assert r.status == 400
    finally:
        await client.close()


async def test_admin_bulk_operations(container: Container) -> None:
    failed = await new_job(container, 1, JobStatus.FAILED)
    timed_out = await new_job(container, 2, JobStatus.VERIFICATION_TIMEOUT)
    await container.database.create_snos_batch(SnosBatch(index=1, start_block=1, end_block=1))
    client = await client_for(container, admin=True)
    try:
        r = await client.post("/admin/jobs/retry/failed")
        data = (await r.json())["data"]
        assert data["success_count"] == 1 and data["successful_job_ids"] == [str(failed.id)]
        r = await client.post("/admin/jobs/reverify/verification-timeout", params={"job_type": "SnosRun"})
        assert (await r.json())["data"]["successful_job_ids"] == [str(timed_out.id)]
        r = await client.post("/admin/jobs/retry/failed", params={"job_type": "Nope"})
        assert r.status == 400
        r = await client.post("/admin/batches/close-open")
        assert (await r.json())["data"] == {"snos_batches_closed": 1, "aggregator_batches_closed": 0}
    finally:
        await client.close()


async def test_metrics_lists_the_external_services(container: Container) -> None:
    snapshot = {"service": "l2-node", "breaker_state": "closed", "calls": {"starknet_blockNumber": 2}}
    client = TestClient(TestServer(create_app(container.engine, service_metrics=lambda: [snapshot])))
    await client.start_server()
    try:
        r = await client.get("/metrics")
        assert r.status == 200 and (await r.json())["data"] == {"services": [snapshot]}
    finally:
        await client.close()
