"""The web3 fact registry and the mock prover against a real anvil with MockFactRegistry deployed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from web3 import AsyncHTTPProvider, AsyncWeb3

from infra.launch.anvil import DEV_PRIVATE_KEYS, Anvil
from infra.launch.base import free_port
from infra.launch.solc import SolcError, compile_project_contracts
from orchestrator.clients.http import BreakerConfig, CircuitOpenError, RetryConfig
from orchestrator.clients.prover.fact_registry import ZERO_HASH, Web3FactRegistry
from orchestrator.clients.prover.mock import MockProverClient
from orchestrator.clients.prover.sharp import SharpProverClient, sharp_ssl_context
from orchestrator.core.errors import ServiceUnavailableError
from orchestrator.core.madara.prover import (
    CreateJobTask,
    ProverError,
    RunAggregationWithPieTask,
    TaskStatusKind,
    TaskType,
)
from tests.doubles.sharp import MtlsFiles, SharpDouble
from tests.integration.prover.support import FAST_RETRY
from tests.services import service_unavailable

pytestmark = pytest.mark.services

# Account 2 of anvil's dev set, so these transactions do not race other suites' nonces on the shared node.
REGISTRAR_KEY = DEV_PRIVATE_KEYS[2]
DEPLOYER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"  # the address of DEV_PRIVATE_KEYS[2]


@pytest.fixture(scope="module")
def registry_contract() -> tuple[list, str]:
    try:
        built = compile_project_contracts("MockFactRegistry.sol")["MockFactRegistry"]
    except SolcError as error:
        service_unavailable(f"solc is not available ({error})")
    return built.abi, built.bytecode


@pytest.fixture
async def registry_address(anvil: Anvil, registry_contract: tuple[list, str]) -> AsyncIterator[str]:
    abi, bytecode = registry_contract
    w3 = AsyncWeb3(AsyncHTTPProvider(anvil.url))
    try:
        tx_hash = await w3.eth.contract(abi=abi, bytecode=bytecode).constructor().transact({"from": DEPLOYER})
        receipt = await w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
        assert receipt["status"] == 1
        yield str(receipt["contractAddress"])
    finally:
        await w3.provider.disconnect()


@pytest.fixture
async def registry(anvil: Anvil, registry_address: str) -> AsyncIterator[Web3FactRegistry]:
    client = Web3FactRegistry(anvil.url, registry_address, private_key=REGISTRAR_KEY, retry=FAST_RETRY)
    try:
        yield client
    finally:
        await client.close()


def fact(n: int) -> str:
    return "0x" + f"{n:064x}"


async def test_register_then_is_valid(registry: Web3FactRegistry, anvil: Anvil) -> None:
    assert not await registry.is_valid(fact(1))
    tx_hash = await registry.ensure_registered(fact(1))
    assert tx_hash != ZERO_HASH and len(tx_hash) == 66
    receipt = anvil.rpc("eth_getTransactionReceipt", [tx_hash])
    assert isinstance(receipt, dict) and receipt["status"] == "0x1"
    assert await registry.is_valid(fact(1))
    assert not await registry.is_valid(fact(2))
    assert await registry.ensure_registered(fact(1)) == ZERO_HASH  # already there: no transaction


async def test_mock_prover_registers_the_aggregator_fact(registry: Web3FactRegistry) -> None:
    prover = MockProverClient(registry)
    task = RunAggregationWithPieTask(pie_zip=b"PK", children_keys=[fact(9)], fact_hash=fact(10))
    assert (await prover.get_task_status(TaskType.AGGREGATION, "x", fact(10))).kind is TaskStatusKind.FAILED
    tx_hash = await prover.submit_task(task)
    assert tx_hash != ZERO_HASH
    status = await prover.get_task_status(TaskType.AGGREGATION, tx_hash, fact(10))
    assert status.kind is TaskStatusKind.SUCCEEDED
    assert await prover.submit_task(task) == ZERO_HASH
    assert await prover.submit_task(CreateJobTask(b"PK", dedup_id=fact(9))) == fact(9)


async def test_sharp_aggregation_waits_for_the_fact_on_chain(
    registry: Web3FactRegistry, mtls: MtlsFiles, pie: bytes
) -> None:
    double = SharpDouble(mtls.server_context)
    await double.start()
    sharp = SharpProverClient(
        double.url,
        double.customer_id,
        ssl_context=sharp_ssl_context(mtls.client_crt, mtls.client_key, mtls.ca_crt),
        fact_checker=registry,
        retry=FAST_RETRY,
    )
    try:
        await sharp.submit_task(CreateJobTask(pie, dedup_id=fact(20)))
        key = await sharp.submit_task(RunAggregationWithPieTask(pie, [fact(20)], fact(21)))
        double.set_status(key, "PROCESSED")  # SHARP is done; the fact is not on our chain yet
        assert (await sharp.get_task_status(TaskType.AGGREGATION, key, fact(21))).kind is TaskStatusKind.PROCESSING
        await registry.ensure_registered(fact(21))
        assert (await sharp.get_task_status(TaskType.AGGREGATION, key, fact(21))).kind is TaskStatusKind.SUCCEEDED
    finally:
        await sharp.close()
        await double.stop()


async def test_address_without_the_contract_is_a_clear_error(anvil: Anvil) -> None:
    client = Web3FactRegistry(anvil.url, DEPLOYER, retry=FAST_RETRY)
    try:
        with pytest.raises(ProverError, match="Is the address right"):
            await client.is_valid(fact(1))
        with pytest.raises(ProverError, match="private key"):
            await client.ensure_registered(fact(1))
        assert client.metrics.breaker_state == "closed"
    finally:
        await client.close()


async def test_dead_rpc_is_retried_then_the_circuit_opens() -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    client = Web3FactRegistry(
        dead,
        "0x" + "11" * 20,
        retry=RetryConfig(base_delay=0.01, timeout=0.05),
        breaker=BreakerConfig(failure_threshold=3, reset_timeout=60),
    )
    try:
        with pytest.raises(ServiceUnavailableError, match="isValid"):
            await client.is_valid(fact(1))
        assert client.metrics.retries["isValid"] >= 1
        for _ in range(3):
            try:
                await client.is_valid(fact(1))
            except CircuitOpenError:
                break
            except ServiceUnavailableError:
                await asyncio.sleep(0)
        with pytest.raises(CircuitOpenError, match="fact-registry is considered down"):
            await client.is_valid(fact(1))
        assert client.metrics.breaker_opened_total == 1
    finally:
        await client.close()


def test_bad_address_is_rejected() -> None:
    with pytest.raises(ValueError, match="not an Ethereum address"):
        Web3FactRegistry("http://127.0.0.1:1", "0x1234")


async def test_clients_expose_the_metrics_of_the_rpc(registry: Web3FactRegistry) -> None:
    await registry.is_valid(fact(3))
    (rpc,) = MockProverClient(registry).service_metrics()
    assert rpc.service == "fact-registry"
    assert rpc.snapshot()["successes"]["isValid"] >= 1
    assert MockProverClient().service_metrics() == []
