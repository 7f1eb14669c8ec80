import pytest

from orchestrator.clients.prover.fact_registry import ZERO_HASH, fact_hex, parse_fact
from orchestrator.clients.prover.mock import MockProverClient
from orchestrator.core.madara.prover import (
    CreateBucketTask,
    CreateJobTask,
    ProverError,
    RunAggregationTask,
    RunAggregationWithPieTask,
    TaskStatusKind,
    TaskType,
    UnsupportedTaskError,
)

FACT = "0x" + "ab" * 32


class FakeRegistrar:
    """In-memory stand-in for the mock verifier contract."""

    def __init__(self) -> None:
        self.facts: set[str] = set()
        self.transactions = 0

    async def is_valid(self, fact: str) -> bool:
        return fact_hex(fact) in self.facts

    async def ensure_registered(self, fact: str) -> str:
        if await self.is_valid(fact):
            return ZERO_HASH
        self.facts.add(fact_hex(fact))
        self.transactions += 1
        return "0x" + f"{self.transactions:064x}"


def aggregation(fact: str = FACT) -> RunAggregationWithPieTask:
    return RunAggregationWithPieTask(pie_zip=b"PK", children_keys=["0x1"], fact_hash=fact)


async def test_create_job_returns_the_dedup_id_and_succeeds() -> None:
    prover = MockProverClient()
    assert await prover.submit_task(CreateJobTask(cairo_pie=b"PK", dedup_id="0xfact")) == "0xfact"
    status = await prover.get_task_status(TaskType.JOB, "0xfact")
    assert status.kind is TaskStatusKind.SUCCEEDED


async def test_without_verifier_aggregation_returns_the_fact_and_succeeds() -> None:
    prover = MockProverClient()
    assert await prover.submit_task(aggregation("AB" * 32)) == FACT
    status = await prover.get_task_status(TaskType.AGGREGATION, FACT, FACT)
    assert status.kind is TaskStatusKind.SUCCEEDED


async def test_with_registrar_the_fact_is_registered_once() -> None:
    registrar = FakeRegistrar()
    prover = MockProverClient(registrar)
    before = await prover.get_task_status(TaskType.AGGREGATION, "x", FACT)
    assert before.kind is TaskStatusKind.FAILED and "not registered" in (before.reason or "")
    first = await prover.submit_task(aggregation())
    assert first == "0x" + "00" * 31 + "01"
    assert await prover.submit_task(aggregation()) == ZERO_HASH
    assert registrar.transactions == 1
    after = await prover.get_task_status(TaskType.AGGREGATION, first, FACT)
    assert after.kind is TaskStatusKind.SUCCEEDED


async def test_unsupported_tasks_are_clear_errors() -> None:
    prover = MockProverClient()
    with pytest.raises(UnsupportedTaskError, match="no buckets"):
        await prover.submit_task(CreateBucketTask())
    with pytest.raises(UnsupportedTaskError):
        await prover.submit_task(RunAggregationTask("b"))
    with pytest.raises(UnsupportedTaskError, match="proofs"):
        await prover.get_proof("x")
    with pytest.raises(UnsupportedTaskError):
        await prover.submit_l2_query("x", b"{}", None)
    artifacts = await prover.get_aggregation_artifacts("x", include_proof=True)
    assert artifacts.cairo_pie is None and artifacts.proof is None


async def test_bad_fact_is_a_clear_error() -> None:
    with pytest.raises(ProverError, match="not hex"):
        await MockProverClient().submit_task(aggregation("0xzz"))


def test_parse_fact() -> None:
    assert parse_fact("0x" + "01" * 32) == bytes([1] * 32)
    assert parse_fact("01" * 32) == bytes([1] * 32)
    assert parse_fact(bytes(32)) == bytes(32)
    with pytest.raises(ProverError, match="32 bytes"):
        parse_fact("0x0011")
    with pytest.raises(ProverError, match="not hex"):
        parse_fact("0x" + "gg" * 32)
