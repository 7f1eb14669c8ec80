"""`/metrics`: Prometheus text with the reference's names, moving as jobs run."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from orchestrator.bootstrap import Container
from orchestrator.core.models.batch import AggregatorBatch
from orchestrator.core.models.job import JobStatus
from orchestrator.core.models.queue import QueueType
from tests.unit.routes.conftest import ApiFactory, new_job

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

REFERENCE_NAMES = {
    "successful_job_operations",
    "failed_job_operations",
    "failed_jobs",
    "job_state_transitions",
    "job_retry_count",
    "job_timeout_count",
    "orphaned_jobs",
    "healed_jobs",
    "batch_creation",
    "block_state",
    "verification_time",
    "jobs_response_time",
    "job_e2e_latency",
    "job_queue_depth",
    "settlement_time",
    "aggregator_batching_batch_number",
    "snos_job_processing_time",
    "circuit_breaker_state",
}


async def scrape(client: object) -> tuple[set[str], Samples]:
    r = await client.get("/metrics")  # type: ignore[attr-defined]
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain")
    names: set[str] = set()
    samples: Samples = {}
    for family in text_string_to_metric_families(await r.text()):
        names.add(family.name)
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return names, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_metrics_have_the_reference_names_and_move_as_a_job_completes(
    api: ApiFactory, container: Container
) -> None:
    snapshot = {"service": "atlantic", "breaker_state": "open", "calls": {"add_job": 3}, "failures": {"add_job": 1}}
    client = await api(service_metrics=lambda: [snapshot])
    _, before = await scrape(client)
    job = await new_job(container, internal_id=7)
    await container.engine.process_job(job.id)
    await container.engine.verify_job(job.id)
    stored = await container.database.get_job_by_id(job.id)
    assert stored is not None and stored.status is JobStatus.COMPLETED
    await container.database.create_aggregator_batch(AggregatorBatch(index=4, start_block=0, end_block=1))
    names, after = await scrape(client)

    missing = REFERENCE_NAMES - names
    assert not missing, f"missing metric families: {sorted(missing)}"
    snos = {"operation_job_type": "SnosRun"}
    for operation in ("create_job", "process_job", "verify_job"):
        name = "successful_job_operations_total"
        assert (
            value(after, name, **snos, operation_type=operation)
            == value(before, name, **snos, operation_type=operation) + 1
        ), operation
    transition = {**snos, "from_state": "PendingVerification", "to_state": "Completed"}
    assert value(after, "job_state_transitions_total", **transition) >= 1
    assert value(after, "block_state", **snos, operation_type="verify_job") == 7
    assert ("job_e2e_latency", frozenset(snos.items())) in after
    assert (
        value(after, "batch_creation_total", batch_type="aggregator")
        == value(before, "batch_creation_total", batch_type="aggregator") + 1
    )
    assert value(after, "job_queue_depth", queue=QueueType.SNOS_JOB_PROCESSING.value) == 1, "the creation message"
    assert value(after, "circuit_breaker_state", service="atlantic", state="open") == 1
    assert value(after, "circuit_breaker_state", service="atlantic", state="closed") == 0
    assert value(after, "atlantic_api_calls_total", operation="add_job") == 3
    assert value(after, "atlantic_api_errors_total", operation="add_job") == 1
    assert not any("job_id" in dict(labels) for _, labels in after), "no job ids as labels"


async def test_failures_retries_and_queue_depth_are_counted(api: ApiFactory, container: Container) -> None:
    client = await api()
    _, before = await scrape(client)
    job = await new_job(container, internal_id=9)
    await container.engine.move_job_to_failed(job, "boom")
    r = await client.post(f"/jobs/{job.id}/retry", headers={"Authorization": "Bearer test-admin-token-0123456789"})
    assert r.status == 200
    _, after = await scrape(client)
    snos = {"operation_job_type": "SnosRun"}
    assert value(after, "failed_jobs_total", **snos) == value(before, "failed_jobs_total", **snos) + 1
    retries = {**snos, "retry_reason": "manual_retry"}
    assert value(after, "job_retry_count_total", **retries) == value(before, "job_retry_count_total", **retries) + 1
    assert value(after, "job_queue_depth", queue=QueueType.SNOS_JOB_PROCESSING.value) >= 1
