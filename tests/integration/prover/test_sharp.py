import ssl

import pytest

from orchestrator.clients.http import BreakerConfig, CircuitOpenError, RetryConfig
from orchestrator.clients.prover.sharp import SharpProverClient, sharp_ssl_context
from orchestrator.core.errors import ServiceUnavailableError
from orchestrator.core.madara.prover import (
    CreateBucketTask,
    CreateJobTask,
    ProverError,
    ProverRequestError,
    RunAggregationTask,
    RunAggregationWithPieTask,
    TaskStatusKind,
    TaskType,
    UnsupportedTaskError,
)
from tests.doubles import Fault
from tests.doubles.sharp import MtlsFiles, SharpDouble
from tests.integration.prover.support import FAST_RETRY

P, S, F = TaskStatusKind.PROCESSING, TaskStatusKind.SUCCEEDED, TaskStatusKind.FAILED
SNOS_FACT = "0xca15503f02f8406b599cb220879e842394f5cf2cef753f3ee430647b5981b782"  # fibonacci.zip
AGG_FACT = "0x" + "a9" * 32
ADD_JOB = "POST /v1/gateway/add_job"
GET_STATUS = "GET /v1/gateway/get_status"


def child(pie: bytes, key: str = SNOS_FACT) -> CreateJobTask:
    return CreateJobTask(cairo_pie=pie, dedup_id=key)


def client_for(double: SharpDouble, context: ssl.SSLContext | None, **kwargs: object) -> SharpProverClient:
    options: dict[str, object] = {"fact_checker": double.verifier, "retry": FAST_RETRY}
    options.update(kwargs)
    return SharpProverClient(double.url, double.customer_id, ssl_context=context, **options)  # type: ignore[arg-type]


async def test_child_job_over_mtls(sharp: SharpProverClient, sharp_double: SharpDouble, pie: bytes) -> None:
    assert await sharp.is_alive()
    assert await sharp.submit_task(child(pie)) == SNOS_FACT
    received = sharp_double.jobs[SNOS_FACT]
    assert received.pie == pie
    assert received.query == {
        "customer_id": "test-customer",
        "cairo_job_key": SNOS_FACT,
        "offchain_proof": "true",
        "for_applicative": "true",
        "program_hash_function": "PEDERSEN",
    }
    assert (await sharp.get_task_status(TaskType.JOB, SNOS_FACT)).kind is P
    sharp_double.set_status(SNOS_FACT, "IN_PROGRESS")
    assert (await sharp.get_task_status(TaskType.JOB, SNOS_FACT)).kind is P
    sharp_double.set_status(SNOS_FACT, "IN_PROGRESS", validation_done=True)
    assert (await sharp.get_task_status(TaskType.JOB, SNOS_FACT)).kind is S
    sharp_double.set_status(SNOS_FACT, "PROCESSED")
    assert (await sharp.get_task_status(TaskType.JOB, SNOS_FACT)).kind is S
    proof = await sharp.get_proof(SNOS_FACT)
    assert SNOS_FACT.encode() in proof


@pytest.mark.parametrize(
    ("status", "extra", "expected"),
    [
        ("NOT_CREATED", {}, P),
        ("IN_PROGRESS", {}, P),
        ("IN_PROGRESS", {"validation_done": False}, P),
        ("IN_PROGRESS", {"validation_done": True}, S),
        ("PROCESSED", {}, S),
        ("FAILED", {"error_log": "out of memory"}, F),
        ("INVALID", {"invalid_reason": "INVALID_CAIRO_PIE_FILE_FORMAT"}, F),
    ],
)
async def test_job_status_mapping(
    sharp: SharpProverClient, sharp_double: SharpDouble, pie: bytes, status: str, extra: dict, expected
) -> None:
    await sharp.submit_task(child(pie))
    sharp_double.set_status(SNOS_FACT, status, **extra)
    result = await sharp.get_task_status(TaskType.JOB, SNOS_FACT)
    assert result.kind is expected
    for detail in extra.values():
        if isinstance(detail, str):
            assert detail in (result.reason or "")


async def test_unknown_job_is_failed(sharp: SharpProverClient) -> None:
    status = await sharp.get_task_status(TaskType.JOB, "0x1")
    assert status.kind is F and "does not know" in (status.reason or "")


async def test_resubmission_does_not_upload_again(
    sharp: SharpProverClient, sharp_double: SharpDouble, pie: bytes
) -> None:
    await sharp.submit_task(child(pie))
    assert await sharp.submit_task(child(pie)) == SNOS_FACT
    sharp_double.set_status(SNOS_FACT, "FAILED")
    # A failed job keeps its key: its status reports the failure, it is not silently resubmitted.
    assert await sharp.submit_task(child(pie)) == SNOS_FACT
    assert sharp_double.calls[ADD_JOB] == 1
    assert sharp_double.calls[GET_STATUS] == 3
    assert sharp.metrics.events["idempotency_hit:job"] == 2


async def test_applicative_job_and_on_chain_fact(
    sharp: SharpProverClient, sharp_double: SharpDouble, pie: bytes
) -> None:
    await sharp.submit_task(child(pie))
    task = RunAggregationWithPieTask(pie_zip=pie, children_keys=[SNOS_FACT], fact_hash=AGG_FACT.upper()[2:])
    assert await sharp.submit_task(task) == AGG_FACT
    job = sharp_double.jobs[AGG_FACT]
    assert job.applicative and job.children == [SNOS_FACT]
    assert job.query["offchain_proof"] == "false" and "for_applicative" not in job.query
    assert await sharp.submit_task(task) == AGG_FACT  # idempotent
    assert sharp_double.calls["POST /v1/gateway/add_applicative_job"] == 1

    assert (await sharp.get_task_status(TaskType.AGGREGATION, AGG_FACT, AGG_FACT)).kind is P
    sharp_double.set_status(AGG_FACT, "PROCESSED", register_fact=False)
    # SHARP says done but the fact is not on L1 yet: keep waiting.
    assert (await sharp.get_task_status(TaskType.AGGREGATION, AGG_FACT, AGG_FACT)).kind is P
    sharp_double.verifier.register(AGG_FACT)
    assert (await sharp.get_task_status(TaskType.AGGREGATION, AGG_FACT, AGG_FACT)).kind is S
    with pytest.raises(ProverError, match="needs the aggregator fact"):
        await sharp.get_task_status(TaskType.AGGREGATION, AGG_FACT)
    artifacts = await sharp.get_aggregation_artifacts(AGG_FACT, include_proof=True)
    assert artifacts.proof is not None and artifacts.cairo_pie is None
    assert (await sharp.get_aggregation_artifacts(AGG_FACT, include_proof=False)).proof is None


@pytest.mark.parametrize(("status", "expected"), [("FAILED", F), ("INVALID", F), ("IN_PROGRESS", P)])
async def test_aggregation_status_mapping(
    sharp: SharpProverClient, sharp_double: SharpDouble, pie: bytes, status: str, expected
) -> None:
    await sharp.submit_task(child(pie))
    await sharp.submit_task(RunAggregationWithPieTask(pie, [SNOS_FACT], AGG_FACT))
    sharp_double.set_status(AGG_FACT, status, validation_done=True)
    assert (await sharp.get_task_status(TaskType.AGGREGATION, AGG_FACT, AGG_FACT)).kind is expected


async def test_api_rejection_is_not_retried(sharp: SharpProverClient, sharp_double: SharpDouble, pie: bytes) -> None:
    task = RunAggregationWithPieTask(pie, ["0xunknownchild"], AGG_FACT)
    with pytest.raises(ProverRequestError, match="unknown children"):
        await sharp.submit_task(task)
    assert sharp_double.calls["POST /v1/gateway/add_applicative_job"] == 1


async def test_wrong_customer_is_rejected(sharp_double: SharpDouble, mtls: MtlsFiles) -> None:
    context = sharp_ssl_context(mtls.client_crt, mtls.client_key, mtls.ca_crt)
    client = SharpProverClient(sharp_double.url, "someone-else", ssl_context=context, fact_checker=None)
    with pytest.raises(ProverRequestError, match="403"):
        await client.get_task_status(TaskType.JOB, SNOS_FACT)
    await client.close()


@pytest.mark.parametrize("fault", [Fault.UNAVAILABLE, Fault.HTML, Fault.JSON_500, Fault.DROP])
async def test_transient_failures_are_retried(
    sharp: SharpProverClient, sharp_double: SharpDouble, pie: bytes, fault: Fault
) -> None:
    sharp_double.faults.fail_next(2, fault, route=ADD_JOB)
    assert await sharp.submit_task(child(pie)) == SNOS_FACT
    assert sharp_double.calls[ADD_JOB] == 3
    assert sharp.metrics.retries["add_job"] == 2


async def test_json_400_is_not_retried(sharp: SharpProverClient, sharp_double: SharpDouble, pie: bytes) -> None:
    sharp_double.faults.fail_next(1, Fault.JSON_400, route=ADD_JOB)
    with pytest.raises(ProverRequestError):
        await sharp.submit_task(child(pie))
    assert sharp_double.calls[ADD_JOB] == 1


async def test_client_without_certificate_is_refused(sharp_double: SharpDouble, mtls: MtlsFiles) -> None:
    context = ssl.create_default_context(cafile=str(mtls.ca_crt))  # trusts the server, no identity
    client = client_for(sharp_double, context)
    try:
        with pytest.raises(ServiceUnavailableError):
            await client.get_task_status(TaskType.JOB, SNOS_FACT)
        assert sharp_double.calls[GET_STATUS] == 0
    finally:
        await client.close()


async def test_untrusted_server_is_refused(sharp_double: SharpDouble, mtls: MtlsFiles) -> None:
    context = ssl.create_default_context()  # the system roots do not include the test CA
    context.load_cert_chain(mtls.client_crt, mtls.client_key)
    client = client_for(sharp_double, context)
    try:
        with pytest.raises(ServiceUnavailableError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.get_task_status(TaskType.JOB, SNOS_FACT)
    finally:
        await client.close()


async def test_circuit_breaker_opens_and_closes(sharp_double: SharpDouble, mtls: MtlsFiles, pie: bytes) -> None:
    context = sharp_ssl_context(mtls.client_crt, mtls.client_key, mtls.ca_crt)
    clock = {"now": 0.0}
    client = client_for(
        sharp_double, context, retry=RetryConfig(0.001, 0.0), breaker=BreakerConfig(2, reset_timeout=30)
    )
    client.http.guard.breaker._clock = lambda: clock["now"]  # drive the cool-down by hand
    try:
        sharp_double.faults.fail_next(2, Fault.UNAVAILABLE)
        for _ in range(2):
            with pytest.raises(ServiceUnavailableError):
                await client.submit_task(child(pie))
        assert client.metrics.breaker_state == "open"
        with pytest.raises(CircuitOpenError):
            await client.submit_task(child(pie))
        assert sharp_double.calls[GET_STATUS] == 2
        clock["now"] += 30
        assert await client.submit_task(child(pie)) == SNOS_FACT
        assert client.metrics.breaker_state == "closed"
    finally:
        await client.close()


async def test_bucket_tasks_are_not_supported(sharp: SharpProverClient) -> None:
    with pytest.raises(UnsupportedTaskError):
        await sharp.submit_task(CreateBucketTask())
    with pytest.raises(UnsupportedTaskError):
        await sharp.submit_task(RunAggregationTask("b"))
    with pytest.raises(UnsupportedTaskError):
        await sharp.submit_l2_query("x", b"{}", None)
