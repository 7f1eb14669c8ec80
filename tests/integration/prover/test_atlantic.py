import asyncio
import json
import logging

import pytest

from orchestrator.clients.http import BreakerConfig, CircuitOpenError, RetryConfig
from orchestrator.clients.node.chain_details import CachedChainDetails
from orchestrator.clients.prover.atlantic import AtlanticProverClient
from orchestrator.core.errors import ConfigError, ServiceUnavailableError
from orchestrator.core.madara.node import ChainDetails
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
from tests.doubles.atlantic import AtlanticDouble
from tests.doubles.sharp import FakeGpsVerifier
from tests.integration.prover.support import FAST_RETRY, atlantic_options

P, S, F = TaskStatusKind.PROCESSING, TaskStatusKind.SUCCEEDED, TaskStatusKind.FAILED
ADD_QUERY = "POST /atlantic-query"
DEDUP = "GET /atlantic-query-by-dedup-id"


def job(pie: bytes, dedup: str = "job-1", bucket: str | None = None, index: int | None = None, steps=None):
    return CreateJobTask(cairo_pie=pie, dedup_id=dedup, bucket_id=bucket, bucket_job_index=index, num_steps=steps)


async def test_happy_path_bucket_job_aggregation_and_artifacts(
    atlantic: AtlanticProverClient, atlantic_double: AtlanticDouble, pie: bytes
) -> None:
    bucket_id = await atlantic.submit_task(CreateBucketTask())
    assert atlantic_double.buckets[bucket_id]["status"] == "OPEN"
    request = atlantic_double.bucket_requests[0]
    assert request["aggregatorVersion"] == "snos_aggregator_0.14.1"
    assert request["aggregatorParams"] == {"use_kzg_da": True, "full_output": False}
    assert request["mockProof"] is False

    query_id = await atlantic.submit_task(job(pie, bucket=bucket_id, index=1, steps=15_000_000))
    submitted = atlantic_double.queries[query_id]
    assert submitted.files["pieFile"] == pie
    assert submitted.form == {
        "declaredJobSize": "M",
        "result": "PROOF_GENERATION",
        "network": "TESTNET",
        "cairoVersion": "cairo0",
        "cairoVm": "rust",
        "sharpProver": "stone",
        "dedupId": "job-1",
        "bucketId": bucket_id,
        "bucketJobIndex": "1",
        "mockFactHash": "false",
    }

    assert (await atlantic.get_task_status(TaskType.JOB, query_id)).kind is P
    atlantic_double.set_query_status(query_id, "IN_PROGRESS")
    assert (await atlantic.get_task_status(TaskType.JOB, query_id)).kind is P
    atlantic_double.set_query_status(query_id, "DONE")
    assert (await atlantic.get_task_status(TaskType.JOB, query_id)).kind is S

    assert await atlantic.submit_task(RunAggregationTask(bucket_id)) == bucket_id
    assert atlantic_double.buckets[bucket_id]["status"] == "IN_PROGRESS"
    assert (await atlantic.get_task_status(TaskType.AGGREGATION, bucket_id)).kind is P

    proof = json.dumps({"proof": "aggregated"}).encode()
    aggregator_query = atlantic_double.finish_bucket(bucket_id, pie=b"PK-agg", da_blob=b'["0x1"]', proof=proof)
    assert (await atlantic.get_task_status(TaskType.AGGREGATION, bucket_id)).kind is S
    assert await atlantic.aggregator_query_id(bucket_id) == aggregator_query
    artifacts = await atlantic.get_aggregation_artifacts(bucket_id, include_proof=True)
    assert (artifacts.cairo_pie, artifacts.da_segment, artifacts.proof) == (b"PK-agg", b'["0x1"]', proof)
    without_proof = await atlantic.get_aggregation_artifacts(bucket_id, include_proof=False)
    assert without_proof.proof is None
    # The storage bucket never sees the API key.
    assert all("api-key" not in {k.lower() for k in headers} for headers in atlantic_double.artifact_headers)


async def test_resubmission_reuses_the_query(
    atlantic: AtlanticProverClient, atlantic_double: AtlanticDouble, pie: bytes
) -> None:
    first = await atlantic.submit_task(job(pie))
    atlantic_double.set_query_status(first, "IN_PROGRESS")
    second = await atlantic.submit_task(job(pie))
    assert first == second
    assert atlantic_double.calls[ADD_QUERY] == 1
    assert atlantic_double.calls[DEDUP] == 2
    assert atlantic.metrics.events["idempotency_hit:job"] == 1


async def test_failed_query_is_submitted_again(
    atlantic: AtlanticProverClient, atlantic_double: AtlanticDouble, pie: bytes
) -> None:
    first = await atlantic.submit_task(job(pie))
    atlantic_double.set_query_status(first, "FAILED", error_reason="trace generation crashed")
    status = await atlantic.get_task_status(TaskType.JOB, first)
    assert status.kind is F and "trace generation crashed" in (status.reason or "")
    second = await atlantic.submit_task(job(pie))
    assert second != first
    assert atlantic_double.calls[ADD_QUERY] == 2


async def test_existing_query_in_another_bucket_slot_is_an_error(
    atlantic: AtlanticProverClient, atlantic_double: AtlanticDouble, pie: bytes
) -> None:
    bucket_id = await atlantic.submit_task(CreateBucketTask())
    await atlantic.submit_task(job(pie, bucket=bucket_id, index=1))
    with pytest.raises(ProverRequestError, match="expects bucket"):
        await atlantic.submit_task(job(pie, bucket=bucket_id, index=2))
    with pytest.raises(ProverRequestError):
        await atlantic.submit_task(job(pie))
    assert atlantic_double.calls[ADD_QUERY] == 1


async def test_bucket_is_closed_only_while_open(
    atlantic: AtlanticProverClient, atlantic_double: AtlanticDouble
) -> None:
    bucket_id = await atlantic.submit_task(CreateBucketTask())
    await atlantic.submit_task(RunAggregationTask(bucket_id))
    await atlantic.submit_task(RunAggregationTask(bucket_id))
    assert atlantic_double.calls["POST /buckets/close"] == 1


@pytest.mark.parametrize(("status", "expected"), [("OPEN", P), ("IN_PROGRESS", P), ("DONE", S), ("FAILED", F)])
async def test_bucket_status_mapping(
    atlantic: AtlanticProverClient, atlantic_double: AtlanticDouble, status: str, expected: TaskStatusKind
) -> None:
    bucket_id = await atlantic.submit_task(CreateBucketTask())
    atlantic_double.set_bucket_status(bucket_id, status)
    assert (await atlantic.get_task_status(TaskType.AGGREGATION, bucket_id)).kind is expected


@pytest.mark.parametrize(("status", "expected"), [("RECEIVED", P), ("IN_PROGRESS", P), ("DONE", S), ("FAILED", F)])
async def test_query_status_mapping(
    atlantic: AtlanticProverClient, atlantic_double: AtlanticDouble, pie: bytes, status: str, expected
) -> None:
    query_id = await atlantic.submit_task(job(pie))
    atlantic_double.set_query_status(query_id, status)
    assert (await atlantic.get_task_status(TaskType.JOB, query_id)).kind is expected


async def test_done_query_is_checked_on_chain_when_a_fact_checker_is_set(
    atlantic_double: AtlanticDouble, pie: bytes
) -> None:
    verifier = FakeGpsVerifier()
    fact = "0x" + "12" * 32
    client = AtlanticProverClient(atlantic_options(atlantic_double), fact_checker=verifier, retry=FAST_RETRY)
    mocked = AtlanticProverClient(
        atlantic_options(atlantic_double, mock_fact_hash=True), fact_checker=verifier, retry=FAST_RETRY
    )
    try:
        query_id = await client.submit_task(job(pie))
        atlantic_double.set_query_status(query_id, "DONE")
        missing = await client.get_task_status(TaskType.JOB, query_id, fact)
        assert missing.kind is F and "not registered" in (missing.reason or "")
        # Without a fact there is nothing to check.
        assert (await client.get_task_status(TaskType.JOB, query_id)).kind is S
        verifier.register(fact)
        assert (await client.get_task_status(TaskType.JOB, query_id, fact)).kind is S
        # With mocked fact hashes the checker is never asked.
        checks = verifier.checks
        verifier.facts.clear()
        assert (await mocked.get_task_status(TaskType.JOB, query_id, fact)).kind is S
        assert verifier.checks == checks
    finally:
        await client.close()
        await mocked.close()


async def test_mock_fact_hash_is_sent_on_every_form(atlantic_double: AtlanticDouble, pie: bytes) -> None:
    client = AtlanticProverClient(atlantic_options(atlantic_double, mock_fact_hash=True), retry=FAST_RETRY)
    try:
        query_id = await client.submit_task(job(pie))
        assert atlantic_double.queries[query_id].form["mockFactHash"] == "true"
        l2_id = await client.submit_l2_query("job-1", b'{"proof": 1}', None)
        assert atlantic_double.queries[l2_id].form["mockFactHash"] == "true"
        await client.submit_task(CreateBucketTask())
        assert atlantic_double.bucket_requests[-1]["mockProof"] is True
    finally:
        await client.close()


async def test_starknet_settlement_asks_for_a_plain_proof_in_the_prover_layout(
    atlantic_double: AtlanticDouble, pie: bytes
) -> None:
    options = atlantic_options(
        atlantic_double, settlement_layer="starknet", result="PROOF_VERIFICATION_ON_L1", proof_layout="dynamic"
    )
    client = AtlanticProverClient(options, retry=FAST_RETRY)
    try:
        query_id = await client.submit_task(job(pie))
        form = atlantic_double.queries[query_id].form
        assert (form["result"], form["layout"]) == ("PROOF_GENERATION", "dynamic")
    finally:
        await client.close()


async def test_l2_verification_query(atlantic: AtlanticProverClient, atlantic_double: AtlanticDouble) -> None:
    proof = json.dumps({"proof": {"a": 1}}).encode()
    query_id = await atlantic.submit_l2_query("7", proof, 5_000_000)
    submitted = atlantic_double.queries[query_id]
    assert submitted.files["inputFile"] == proof
    assert submitted.form["result"] == "PROOF_VERIFICATION_ON_L2"
    assert submitted.form["layout"] == "recursive_with_poseidon"
    assert submitted.form["programHash"] == "0x1234"
    assert submitted.form["cairoVm"] == "python"
    assert submitted.form["declaredJobSize"] == "S"


async def test_l2_query_needs_the_verifier_program_hash(atlantic_double: AtlanticDouble) -> None:
    client = AtlanticProverClient(atlantic_options(atlantic_double, cairo_verifier_program_hash=None))
    with pytest.raises(ConfigError, match="program hash"):
        await client.submit_l2_query("7", b"{}", None)
    await client.close()


async def test_get_proof_checks_it_is_json(atlantic: AtlanticProverClient, atlantic_double: AtlanticDouble) -> None:
    atlantic_double.artifacts[("q1", "proof.json")] = b'{"proof": true}'
    atlantic_double.artifacts[("q2", "proof.json")] = b"\x00garbage"
    assert await atlantic.get_proof("q1") == b'{"proof": true}'
    with pytest.raises(ProverError, match="not JSON"):
        await atlantic.get_proof("q2")
    with pytest.raises(ProverRequestError, match="404"):
        await atlantic.get_proof("q3")


async def test_artifacts_need_an_aggregator_query(
    atlantic: AtlanticProverClient, atlantic_double: AtlanticDouble
) -> None:
    bucket_id = await atlantic.submit_task(CreateBucketTask())
    with pytest.raises(ProverError, match="no aggregator query"):
        await atlantic.get_aggregation_artifacts(bucket_id, include_proof=False)


async def test_pie_aggregation_is_not_supported(atlantic: AtlanticProverClient) -> None:
    with pytest.raises(UnsupportedTaskError):
        await atlantic.submit_task(RunAggregationWithPieTask(b"PK", ["a"], "0x" + "00" * 32))


async def test_wrong_api_key_is_rejected_without_retry(atlantic_double: AtlanticDouble) -> None:
    client = AtlanticProverClient(atlantic_options(atlantic_double, api_key="wrong"), retry=FAST_RETRY)
    with pytest.raises(ProverRequestError, match="401"):
        await client.get_task_status(TaskType.JOB, "q")
    assert atlantic_double.calls["GET /atlantic-query/{query_id}"] == 1
    await client.close()


# --- retries ---


@pytest.mark.parametrize("fault", [Fault.UNAVAILABLE, Fault.HTML, Fault.GATEWAY_TIMEOUT, Fault.NGINX_404, Fault.DROP])
async def test_infrastructure_failures_are_retried(
    atlantic: AtlanticProverClient, atlantic_double: AtlanticDouble, pie: bytes, fault: Fault
) -> None:
    atlantic_double.faults.fail_next(2, fault, route=ADD_QUERY)
    query_id = await atlantic.submit_task(job(pie))
    assert query_id in atlantic_double.queries
    assert atlantic_double.calls[ADD_QUERY] == 3
    assert len(atlantic_double.queries) == 1
    assert atlantic.metrics.retries["add_job"] == 2


async def test_json_400_is_not_retried(
    atlantic: AtlanticProverClient, atlantic_double: AtlanticDouble, pie: bytes
) -> None:
    atlantic_double.faults.fail_next(1, Fault.JSON_400, route=ADD_QUERY)
    with pytest.raises(ProverRequestError, match="injected bad request"):
        await atlantic.submit_task(job(pie))
    assert atlantic_double.calls[ADD_QUERY] == 1
    assert atlantic.metrics.retries["add_job"] == 0


async def test_json_500_from_the_api_is_not_retried(
    atlantic: AtlanticProverClient, atlantic_double: AtlanticDouble
) -> None:
    atlantic_double.faults.fail_next(1, Fault.JSON_500)
    with pytest.raises(ProverRequestError, match="500"):
        await atlantic.submit_task(CreateBucketTask())
    assert atlantic_double.calls["POST /buckets"] == 1


async def test_dedup_lookup_retries_an_nginx_404_but_takes_a_json_404_as_none(
    atlantic: AtlanticProverClient, atlantic_double: AtlanticDouble, pie: bytes
) -> None:
    atlantic_double.faults.fail_next(1, Fault.NGINX_404, route=DEDUP)
    await atlantic.submit_task(job(pie))
    assert atlantic_double.calls[DEDUP] == 2
    assert atlantic_double.calls[ADD_QUERY] == 1


async def test_retries_stop_when_the_budget_is_spent(
    atlantic: AtlanticProverClient, atlantic_double: AtlanticDouble
) -> None:
    atlantic_double.faults.fail_next(1000, Fault.UNAVAILABLE)
    with pytest.raises(ServiceUnavailableError, match="503"):
        await atlantic.get_task_status(TaskType.AGGREGATION, "b")
    calls = atlantic_double.calls["GET /buckets/{bucket_id}"]
    assert 3 <= calls <= 12  # 10 ms doubling within 0.3 s
    atlantic_double.faults.clear()


# --- circuit breaker ---


async def test_circuit_opens_on_a_dead_service_and_closes_after_a_good_probe(
    atlantic_double: AtlanticDouble, pie: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="orchestrator.clients.http.breaker")
    client = AtlanticProverClient(
        atlantic_options(atlantic_double),
        retry=RetryConfig(base_delay=0.001, timeout=0.0),  # one attempt per call
        breaker=BreakerConfig(failure_threshold=3, reset_timeout=0.2),
    )
    try:
        atlantic_double.faults.fail_next(3, Fault.UNAVAILABLE)
        for _ in range(3):
            with pytest.raises(ServiceUnavailableError):
                await client.get_task_status(TaskType.JOB, "q")
        assert client.metrics.breaker_state == "open"
        assert client.metrics.breaker_opened_total == 1
        before = sum(atlantic_double.calls.values())
        with pytest.raises(CircuitOpenError, match="atlantic is considered down"):
            await client.submit_task(job(pie))
        assert sum(atlantic_double.calls.values()) == before  # refused without a request
        assert client.metrics.rejected["get_query_by_dedup_id"] == 1

        await asyncio.sleep(0.25)
        query_id = await client.submit_task(job(pie))  # the probe goes through and succeeds
        assert query_id in atlantic_double.queries
        assert client.metrics.breaker_state == "closed"
        assert client.metrics.snapshot()["breaker_opened_total"] == 1
        # The artifacts store has a circuit of its own, untouched by the API's trouble.
        assert client.artifacts.metrics.breaker_state == "closed"
    finally:
        await client.close()
    assert any("circuit of atlantic closed -> open" in r.getMessage() for r in caplog.records)
    assert any("half_open -> closed" in r.getMessage() for r in caplog.records)


async def test_api_errors_do_not_open_the_circuit(atlantic_double: AtlanticDouble) -> None:
    client = AtlanticProverClient(
        atlantic_options(atlantic_double), retry=FAST_RETRY, breaker=BreakerConfig(failure_threshold=2)
    )
    try:
        for _ in range(4):
            with pytest.raises(ProverRequestError):
                await client.get_task_status(TaskType.JOB, "unknown-query")
        assert client.metrics.breaker_state == "closed"
    finally:
        await client.close()


async def test_service_metrics_cover_api_and_artifacts(atlantic: AtlanticProverClient) -> None:
    await atlantic.submit_task(CreateBucketTask())
    api, artifacts = atlantic.service_metrics()
    assert (api.service, artifacts.service) == ("atlantic", "atlantic-artifacts")
    assert api.snapshot()["successes"] == {"create_bucket": 1}


class _Node:
    """The L2 node's chain details, counted: the orchestrator asks once, at start."""

    def __init__(self) -> None:
        self.asked = 0

    async def chain_details(self) -> ChainDetails:
        self.asked += 1
        return ChainDetails(chain_id="SN_SEPOLIA", strk_fee_token_address="0x4718f5a0", eth_fee_token_address="0x49d3")


async def test_buckets_carry_the_chain_details_fetched_from_the_node(atlantic_double: AtlanticDouble) -> None:
    node = _Node()
    chain = CachedChainDetails(node)
    client = AtlanticProverClient(atlantic_options(atlantic_double), retry=FAST_RETRY, chain=chain)
    try:
        await client.submit_task(CreateBucketTask())
        await client.submit_task(CreateBucketTask())
    finally:
        await client.close()
    params = [request["aggregatorParams"] for request in atlantic_double.bucket_requests]
    expected = {
        "use_kzg_da": True,
        "full_output": False,
        "chain_id_hex": "0x" + b"SN_SEPOLIA".hex(),
        "fee_token_address": "0x4718f5a0",
    }
    assert params == [expected, expected]
    assert node.asked == 1
