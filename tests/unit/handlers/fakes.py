"""In-memory fakes of the rollup protocols the job handlers use (storage, batches, prover, SNOS,
node, DA, settlement). Each records its calls and can be scripted to fail."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from orchestrator.core.clients.database import AggregatorBatchQuery, SnosBatchQuery
from orchestrator.core.errors import NotFoundError, ServiceUnavailableError
from orchestrator.core.madara.aggregator import AggregatorOutput, AggregatorRequest
from orchestrator.core.madara.prover import AggregationArtifacts, ProverTask, TaskStatus, TaskStatusKind, TaskType
from orchestrator.core.madara.settlement import AttemptsSink, SettlementError, SettlementResult
from orchestrator.core.madara.snos import SnosOutput, SnosRequest
from orchestrator.core.models.batch import AggregatorBatch, AggregatorBatchStatus, SnosBatch, SnosBatchStatus
from orchestrator.core.models.job import JobItem, JobType
from orchestrator.core.models.metadata import TxAttempt, TxAttemptStatus
from tests.fakes import FakeDatabase


class BatchDatabase(FakeDatabase):
    """The job fake plus the batch queries the handlers use."""

    def __init__(self) -> None:
        super().__init__()
        self.snos_batches: dict[int, SnosBatch] = {}
        self.aggregator_batches: dict[int, AggregatorBatch] = {}

    def add_snos_batch(self, index: int, start: int, end: int, aggregator_batch: int | None = None) -> SnosBatch:
        batch = SnosBatch(
            index=index,
            start_block=start,
            end_block=end,
            num_blocks=end - start + 1,
            aggregator_batch_index=aggregator_batch,
        )
        self.snos_batches[index] = batch
        return batch

    def add_aggregator_batch(self, index: int, start: int, end: int) -> AggregatorBatch:
        batch = AggregatorBatch(index=index, start_block=start, end_block=end, num_blocks=end - start + 1)
        self.aggregator_batches[index] = batch
        return batch

    async def get_snos_batches(self, query: SnosBatchQuery) -> list[SnosBatch]:
        return [b for i, b in sorted(self.snos_batches.items()) if not query.indexes or i in query.indexes]

    async def get_aggregator_batches(self, query: AggregatorBatchQuery) -> list[AggregatorBatch]:
        return [b for i, b in sorted(self.aggregator_batches.items()) if not query.indexes or i in query.indexes]

    async def get_snos_batches_by_aggregator_index(self, aggregator_index: int) -> list[SnosBatch]:
        # insertion order, not index order: callers must not rely on the store sorting
        return [b for b in self.snos_batches.values() if b.aggregator_batch_index == aggregator_index]

    async def get_jobs_by_internal_ids_and_type(self, internal_ids: Sequence[int], job_type: JobType) -> list[JobItem]:
        found = [j for j in self.jobs.values() if j.job_type == job_type and j.internal_id in internal_ids]
        return [j.model_copy(deep=True) for j in sorted(found, key=lambda j: j.internal_id)]

    async def update_snos_batch_status_by_index(self, index: int, status: SnosBatchStatus) -> SnosBatch:
        if index not in self.snos_batches:
            raise NotFoundError(f"snos batch {index}")
        self.snos_batches[index].status = status
        return self.snos_batches[index]

    async def update_aggregator_batch_status_by_index(
        self, index: int, status: AggregatorBatchStatus
    ) -> AggregatorBatch:
        if index not in self.aggregator_batches:
            raise NotFoundError(f"aggregator batch {index}")
        self.aggregator_batches[index].status = status
        return self.aggregator_batches[index]


@dataclass
class FakeProver:
    task_id: str = "task-1"
    status: TaskStatus = field(default_factory=lambda: TaskStatus(TaskStatusKind.SUCCEEDED))
    proof: bytes = b'{"proof": 1}'
    artifacts: AggregationArtifacts = field(default_factory=AggregationArtifacts)
    submit_error: Exception | None = None
    submitted: list[ProverTask] = field(default_factory=list)
    l2_queries: list[tuple[str, bytes, int | None]] = field(default_factory=list)
    status_calls: list[tuple[TaskType, str, str | None]] = field(default_factory=list)
    artifact_calls: list[tuple[str, bool]] = field(default_factory=list)

    async def submit_task(self, task: ProverTask) -> str:
        if self.submit_error is not None:
            raise self.submit_error
        self.submitted.append(task)
        return self.task_id

    async def get_task_status(self, task_type: TaskType, task_id: str, fact: str | None = None) -> TaskStatus:
        self.status_calls.append((task_type, task_id, fact))
        return self.status

    async def get_proof(self, task_id: str) -> bytes:
        return self.proof

    async def submit_l2_query(self, task_id: str, proof: bytes, n_steps: int | None) -> str:
        if self.submit_error is not None:
            raise self.submit_error
        self.l2_queries.append((task_id, proof, n_steps))
        return self.task_id

    async def get_aggregation_artifacts(self, task_id: str, include_proof: bool) -> AggregationArtifacts:
        self.artifact_calls.append((task_id, include_proof))
        return self.artifacts


@dataclass
class FakeSnosRunner:
    output: SnosOutput | None = None
    error: Exception | None = None
    requests: list[SnosRequest] = field(default_factory=list)

    async def run(self, request: SnosRequest) -> SnosOutput:
        self.requests.append(request)
        if self.error is not None:
            raise self.error
        assert self.output is not None
        return self.output


@dataclass
class FakeAggregatorRunner:
    output: AggregatorOutput | None = None
    error: Exception | None = None
    requests: list[AggregatorRequest] = field(default_factory=list)

    async def run(self, request: AggregatorRequest) -> AggregatorOutput:
        self.requests.append(request)
        if self.error is not None:
            raise self.error
        assert self.output is not None
        return self.output


@dataclass
class FakeFactRegistry:
    """A fact registry (MockGpsVerifier): registerFact / isValid, in memory."""

    registered: set[str] = field(default_factory=set)
    #: when set, registration "succeeds" without registering (a verifier that lost the fact)
    forget: bool = False

    async def is_valid(self, fact: str) -> bool:
        return fact in self.registered

    async def ensure_registered(self, fact: str) -> str:
        if not self.forget:
            self.registered.add(fact)
        return "0x" + "ab" * 32


@dataclass
class FakeProbe:
    """A SNOS RPC's chain id: answers, or is down."""

    up: bool = True
    calls: int = 0

    async def chain_id(self) -> str:
        self.calls += 1
        if not self.up:
            raise ServiceUnavailableError("connection refused")
        return "0x534e5f5345504f4c4941"


@dataclass
class FakeNode:
    updates: dict[int, dict[str, Any]] = field(default_factory=dict)
    nonces: dict[int, int] = field(default_factory=dict)
    nonce_calls: list[tuple[int, int]] = field(default_factory=list)

    async def get_state_update(self, block_number: int) -> dict[str, Any]:
        return self.updates[block_number]

    async def get_nonce(self, block_number: int, address: int) -> int:
        self.nonce_calls.append((block_number, address))
        return self.nonces[address]


@dataclass
class FakeDa:
    max_blobs: int = 6
    status: str = "Verified"
    published: list[list[bytes]] = field(default_factory=list)

    def max_bytes_per_blob(self) -> int:
        return 131072

    def max_blob_per_txn(self) -> int:
        return self.max_blobs

    async def publish_state_diff(self, blobs: Sequence[bytes]) -> str:
        self.published.append(list(blobs))
        return "NA"

    async def verify_inclusion(self, external_id: str) -> str:
        return self.status


class Crash(BaseException):
    """A process dying mid-call (not an Exception, so no handler code can swallow it)."""


@dataclass
class FakeSettlement:
    """A core contract that records state updates. `send` behaves like the real clients: every
    attempt goes to the sink before it is "broadcast"; scripted outcomes can fail or crash."""

    last_settled: int | None = None
    nonce: int = 7
    #: per call: "ok" settles to `settle_to`; an exception is raised after the attempts were sunk;
    #: "crash" dies right after the sink returned (before the broadcast)
    outcomes: list[object] = field(default_factory=lambda: ["ok"])
    settle_to: int | None = None
    settle_on_error: bool = False
    attempts_per_call: int = 1
    calls: list[dict[str, Any]] = field(default_factory=list)
    broadcasts: list[str] = field(default_factory=list)

    async def get_last_settled_block(self) -> int | None:
        return self.last_settled

    async def get_nonce(self) -> int:
        return self.nonce

    async def _send(
        self,
        kind: str,
        first: Sequence[int],
        second: Sequence[Any],
        nonce: int | None,
        previous_attempts: Sequence[TxAttempt],
        on_attempt: AttemptsSink | None,
    ) -> SettlementResult:
        self.calls.append(
            {
                "kind": kind,
                "first": list(first),
                "second": list(second),
                "nonce": nonce,
                "previous": [a.model_copy() for a in previous_attempts],
            }
        )
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        attempts = [a.model_copy() for a in previous_attempts]
        pinned = attempts[-1].nonce if attempts else (nonce if nonce is not None else self.nonce)
        for _ in range(self.attempts_per_call):
            n = len(attempts) + 1
            attempt = TxAttempt(attempt_no=n, tx_hash=f"0x{n:064x}", nonce=pinned)
            attempts.append(attempt)
            if on_attempt is not None:
                await on_attempt([a.model_copy() for a in attempts])
            if outcome == "crash":
                raise Crash("process died after persisting the attempt")
            self.broadcasts.append(str(attempt.tx_hash))
        if isinstance(outcome, Exception):
            if self.settle_on_error:
                self.last_settled = self.settle_to
            if isinstance(outcome, SettlementError):
                outcome.attempts = [a.model_copy() for a in attempts]
            raise outcome
        attempts[-1].status = TxAttemptStatus.FINALIZED
        self.last_settled = self.settle_to
        return SettlementResult(tx_hash=str(attempts[-1].tx_hash), nonce=pinned, attempts=attempts)

    async def update_state_with_blobs(
        self,
        program_output: Sequence[int],
        blobs: Sequence[bytes],
        *,
        nonce: int | None = None,
        previous_attempts: Sequence[TxAttempt] = (),
        on_attempt: AttemptsSink | None = None,
    ) -> SettlementResult:
        return await self._send("blobs", program_output, blobs, nonce, previous_attempts, on_attempt)

    async def update_state_calldata(
        self,
        program_output: Sequence[int],
        onchain_data: Sequence[int],
        *,
        nonce: int | None = None,
        previous_attempts: Sequence[TxAttempt] = (),
        on_attempt: AttemptsSink | None = None,
    ) -> SettlementResult:
        return await self._send("calldata", program_output, onchain_data, nonce, previous_attempts, on_attempt)

    async def verify_tx_inclusion(self, tx_hash: str) -> tuple[str, str | None]:
        return "Verified", None
