"""The job, block and batch routes of the reference (§9): envelopes, statuses, validation."""

from __future__ import annotations

import pytest

from orchestrator.bootstrap import Container
from orchestrator.core.models.batch import AggregatorBatch, AggregatorBatchStatus, SnosBatch
from orchestrator.core.models.job import JobStatus, JobType
from orchestrator.core.models.metadata import ProvingInputType, ProvingMetadata
from orchestrator.core.models.queue import QueueType
from tests.unit.routes.conftest import AUTH, ApiFactory, new_job

UNKNOWN = "00000000-0000-0000-0000-000000000000"


async def test_health_and_trace_id(api: ApiFactory) -> None:
    client = await api()
    r = await client.get("/health")
    assert r.status == 200 and (await r.json())["status"] == "UP"
    assert len(r.headers["x-trace-id"]) == 32
    r = await client.get("/health", headers={"x-trace-id": "ab" * 16})
    assert r.headers["x-trace-id"] == "ab" * 16
    r = await client.get("/health", headers={"x-trace-id": "not-hex"})
    assert r.headers["x-trace-id"] != "not-hex" and len(r.headers["x-trace-id"]) == 32


@pytest.mark.parametrize(
    "path",
    [
        "/jobs/block/-3/status",
        "/jobs/block/9223372036854775808/status",
        "/blocks/batch-for-block/9223372036854775808",
        "/blocks/settlement-status/9223372036854775808",
        "/blocks/batch-for-block/" + "9" * 5000,
        "/jobs/block/1e3/status",
        "/batches/snos?index=" + str(2**70),
        "/batches/aggregator?index=" + str(-(2**70)),
        "/batches/snos?limit=0",
        "/batches/snos?limit=501",
        "/batches/snos?sort=sideways",
        "/batches/snos?status=ReadyForStateUpdate",
        "/batches/aggregator?status=Nope",
        "/jobs?status=Bogus",
        "/jobs",
        "/jobs?status=Failed&limit=0",
        "/jobs/not-a-uuid",
    ],
)
async def test_bad_input_is_a_json_400(api: ApiFactory, path: str) -> None:
    client = await api()
    r = await client.get(path)
    body = await r.json()
    assert r.status == 400, body
    assert body["success"] is False and body["message"].startswith(("Invalid query", "Invalid job ID"))
    assert "Traceback" not in body["message"]


async def test_job_action_validation_and_not_found(api: ApiFactory) -> None:
    client = await api()
    r = await client.post("/jobs/not-a-uuid/process", headers=AUTH)
    assert r.status == 400 and (await r.json()) == {"success": False, "message": "Invalid job ID: not-a-uuid"}
    r = await client.post(f"/jobs/{UNKNOWN}/process", headers=AUTH)
    assert r.status == 404 and (await r.json())["success"] is False
    r = await client.post(f"/jobs/{UNKNOWN}/process?priority=maybe", headers=AUTH)
    assert r.status == 400
    r = await client.get("/nowhere")
    assert r.status == 404 and (await r.json())["message"] == "The requested resource was not found"


async def test_retry_flow_and_status_listing(api: ApiFactory, container: Container) -> None:
    job = await new_job(container, status=JobStatus.FAILED)
    client = await api()
    r = await client.get("/jobs", params={"status": "Failed"})
    assert (await r.json())["data"]["jobs"] == [{"job_type": "SnosRun", "id": str(job.id), "status": "Failed"}]
    r = await client.post(f"/jobs/{job.id}/retry", headers=AUTH)
    assert r.status == 200, await r.text()
    assert (await r.json())["message"] == f"Job with id {job.id} queued for normal retry"
    stored = await container.database.get_job_by_id(job.id)
    assert stored is not None and stored.status is JobStatus.PENDING_RETRY
    r = await client.post(f"/api/v1/jobs/{job.id}/retry", headers=AUTH)
    assert r.status == 409 and "Invalid status" in (await r.json())["message"]
    r = await client.get(f"/api/v1/jobs/{job.id}")
    assert (await r.json())["data"]["status"] == "PendingRetry"


async def test_deprecated_get_needs_the_token_and_head_does_not_run_it(api: ApiFactory, container: Container) -> None:
    job = await new_job(container, status=JobStatus.COMPLETED)
    client = await api()
    r = await client.head(f"/jobs/{job.id}/verify", headers=AUTH)
    assert r.status == 405
    r = await client.get(f"/jobs/{job.id}/verify")
    assert r.status == 401
    stored = await container.database.get_job_by_id(job.id)
    assert stored is not None and stored.status is JobStatus.COMPLETED, "neither HEAD nor an anonymous GET acted"
    r = await client.get(f"/jobs/{job.id}/verify", headers=AUTH)
    assert r.status == 200
    stored = await container.database.get_job_by_id(job.id)
    assert stored is not None and stored.status is JobStatus.PENDING_VERIFICATION


async def test_verify_without_a_handler_is_409_and_changes_nothing(api: ApiFactory, container: Container) -> None:
    # Before: the route wrote PendingVerification, then failed to find the handler and answered 500.
    meta = ProvingMetadata(block_number=3, input_path=ProvingInputType.cairo_pie("3/cairo_pie.zip"))
    job = await container.engine.create_job(JobType.PROOF_CREATION, 3, meta)
    assert job is not None
    job = await container.engine.write(job, JobStatus.COMPLETED)
    client = await api()
    r = await client.post(f"/jobs/{job.id}/verify", headers=AUTH)
    assert r.status == 409, await r.text()
    stored = await container.database.get_job_by_id(job.id)
    assert stored is not None and stored.status is JobStatus.COMPLETED and stored.version == job.version


async def test_priority_queue_is_bounded(api: ApiFactory, container: Container) -> None:
    job = await new_job(container)
    client = await api(max_priority=1)
    r = await client.post(f"/jobs/{job.id}/process", params={"priority": "true"}, headers=AUTH)
    assert r.status == 200 and "PRIORITY" in (await r.json())["message"]
    assert await container.queue.approximate_count(QueueType.PRIORITY_PROCESSING_QUEUE) == 1
    r = await client.post(f"/jobs/{job.id}/process", params={"priority": "true"}, headers=AUTH)
    assert r.status == 429 and (await r.json())["success"] is False


async def test_block_and_batch_views(api: ApiFactory, container: Container) -> None:
    job = await new_job(container, internal_id=5)
    await container.database.create_aggregator_batch(
        AggregatorBatch(index=1, start_block=5, end_block=9, num_blocks=5, status=AggregatorBatchStatus.CLOSED)
    )
    await container.database.create_snos_batch(
        SnosBatch(index=5, aggregator_batch_index=1, start_block=5, end_block=6, num_blocks=2)
    )
    client = await api()
    r = await client.get("/jobs/block/6/status")
    assert [j["id"] for j in (await r.json())["data"]["jobs"]] == [str(job.id)]
    r = await client.get("/api/v1/blocks/batch-for-block/7")
    assert (await r.json())["data"] == {"batch_number": 1}
    r = await client.get("/blocks/batch-for-block/70")
    assert r.status == 404
    r = await client.get("/batches/snos", params={"limit": "10", "sort": "desc"})
    batches = (await r.json())["data"]["batches"]
    assert [b["index"] for b in batches] == [5] and set(batches[0]["metrics"]) == {
        "state_diff_size",
        "sierra_gas",
        "proving_gas",
    }
    r = await client.get("/batches/aggregator", params={"status": "closed"})
    assert [b["index"] for b in (await r.json())["data"]["batches"]] == [1]
    r = await client.get("/batches/aggregator", params=[("index", "1"), ("index", "2")])
    assert [b["index"] for b in (await r.json())["data"]["batches"]] == [1]


async def test_settlement_status_of_a_block(api: ApiFactory, container: Container) -> None:
    job = await new_job(container, internal_id=5)
    await container.database.create_aggregator_batch(AggregatorBatch(index=1, start_block=5, end_block=9, num_blocks=5))
    await container.database.update_or_create_snos_batch(
        SnosBatch(index=5, aggregator_batch_index=1, start_block=5, end_block=6, num_blocks=2)
    )
    # The batch's proof job names only the batch's first block; block 6 still shows it.
    meta = ProvingMetadata(block_number=5, input_path=ProvingInputType.cairo_pie("5/cairo_pie.zip"))
    proof = await container.engine.create_job(JobType.PROOF_CREATION, 5, meta)
    assert proof is not None
    client = await api()
    r = await client.get("/blocks/settlement-status/6")
    assert r.status == 200, await r.text()
    data = (await r.json())["data"]
    assert data["block_number"] == 6
    assert data["snos_batch"]["index"] == 5 and data["snos_batch"]["aggregator_batch_index"] == 1
    assert data["aggregator_batch"]["index"] == 1 and "aggregator_input_size_upper_bound" in data["aggregator_batch"]
    assert sorted(j["id"] for j in data["block_jobs"]) == sorted([str(job.id), str(proof.id)])
    assert isinstance(data["block_jobs"][0]["created_at"], int) and "timestamps" in data["block_jobs"][0]
    assert data["aggregator_proof_jobs"] == []
    r = await client.get("/api/v1/blocks/settlement-status/500")
    assert r.status == 404


async def test_admin_bulk_operations(api: ApiFactory, container: Container) -> None:
    failed, timed_out = await new_job(container, 1), await new_job(container, 3)
    failed = await container.engine.write(failed, JobStatus.FAILED)
    timed_out = await container.engine.write(timed_out, JobStatus.VERIFICATION_TIMEOUT)
    await container.database.create_snos_batch(SnosBatch(index=1, start_block=1, end_block=1))
    client = await api()
    r = await client.post("/admin/jobs/retry/failed", headers=AUTH)
    data = (await r.json())["data"]
    assert data["success_count"] == 1 and data["successful_job_ids"] == [str(failed.id)]
    path = "/api/v1/admin/jobs/reverify/verification-timeout"
    r = await client.post(path, params={"job_type": "SnosRun"}, headers=AUTH)
    assert (await r.json())["data"]["successful_job_ids"] == [str(timed_out.id)]
    r = await client.post("/admin/jobs/retry/failed", params={"job_type": "Nope"}, headers=AUTH)
    assert r.status == 400
    r = await client.post("/admin/jobs/requeue/created", headers=AUTH)
    assert r.status == 200 and (await r.json())["data"]["failed_count"] == 0
    r = await client.post("/admin/jobs/requeue/pending-verification", headers=AUTH)
    assert r.status == 200
    r = await client.post("/admin/batches/close-open", headers=AUTH)
    assert (await r.json())["data"] == {"snos_batches_closed": 1, "aggregator_batches_closed": 0}


async def test_status_json_and_page(api: ApiFactory, container: Container) -> None:
    job = await new_job(container, internal_id=3)
    await container.database.create_aggregator_batch(AggregatorBatch(index=0, start_block=3, end_block=4))
    await container.database.update_or_create_snos_batch(
        SnosBatch(index=3, aggregator_batch_index=0, start_block=3, end_block=4)
    )
    await container.engine.move_job_to_failed(job, "no <proof>")
    client = await api()
    r = await client.get("/api/v1/status")
    data = (await r.json())["data"]
    assert data["last_settled_block"] is None
    assert [b["block_number"] for b in data["blocks"]] == [4, 3]
    assert data["blocks"][0]["stages"] == [{"job_type": "SnosRun", "status": "Failed", "id": str(job.id)}]
    assert [j["failure_reason"] for j in data["failed_jobs"]] == ["no <proof>"]
    assert data["queue_depths"]["snos_job_processing"] == 1
    r = await client.get("/")
    page = await r.text()
    assert r.status == 200 and r.content_type == "text/html"
    assert "no &lt;proof&gt;" in page and "<proof>" not in page, "reasons are escaped"
    assert f'data-id="{job.id}"' in page and "setInterval(refresh" in page


async def test_health_ready_and_metrics_also_under_api_v1(api: ApiFactory) -> None:
    client = await api()
    for path in ("/api/v1/health", "/api/v1/ready", "/api/v1/metrics"):
        r = await client.get(path)
        assert r.status == 200, path
