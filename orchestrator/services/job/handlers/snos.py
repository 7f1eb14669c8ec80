"""SnosRun: run the Starknet OS over a SNOS batch's blocks and store its PIE and outputs.

Process (the reference's `jobs/snos.rs`):
1. run the OS through the `SnosRunner` for `start_block..=end_block` against the SNOS RPC (the
   backup RPC once the job is being retried and one is configured); the OS hints follow the layer
   (L2: full output, no KZG DA; L3: KZG DA, no full output);
2. the fact: the runner's, when it gives one; otherwise from the PIE, chosen by the KZG flag at
   `os_output[8]`: 1 -> GPS (keccak) fact, 0 -> L2 (Poseidon) fact, anything else is fatal;
3. store `cairo_pie.zip`, `snos_output.json` and `program_output.txt` at the metadata paths and
   record `snos_fact` and `snos_n_steps`. The external id is the SNOS batch index.
A non-retryable OS failure fails the job at once; a retryable one goes back to the queue.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from orchestrator.core.clients.storage import StorageClient
from orchestrator.core.madara.snos import SnosError, SnosOutput, SnosRequest, SnosRunner
from orchestrator.core.models.job import JobItem, JobType
from orchestrator.core.models.metadata import SnosMetadata
from orchestrator.core.models.queue import Layer
from orchestrator.core.redact import redact_url
from orchestrator.services.job.handler import FatalJobError, RetryableJobError, Verification
from orchestrator.services.job.handlers.bincode import encode_felts
from orchestrator.services.job.handlers.common import required, specific
from orchestrator.services.job.handlers.felts import encode_felts_json
from orchestrator.services.proof.fact import get_fact_info, get_fact_l2
from orchestrator.services.proof.pie import PieError, read_cairo_pie
from orchestrator.services.proof.program_output import program_output as pie_program_output

log = logging.getLogger("orchestrator.handlers.snos")

#: Where the Starknet OS output says whether the state diff goes to KZG blobs (1) or not (0).
KZG_FLAG_INDEX = 8
#: Delay before asking again when the SNOS RPC does not answer (the reference's 60 s).
SNOS_UNAVAILABLE_DELAY_SECONDS = 60


class ChainIdProbe(Protocol):
    """What the readiness check needs of an RPC: `L2NodeClient` satisfies it."""

    async def chain_id(self) -> str: ...


@dataclass(frozen=True)
class SnosRpc:
    """An RPC the OS reads blocks from: its URL (handed to the runner) and a client to probe it."""

    url: str
    probe: ChainIdProbe


@dataclass(frozen=True)
class FactAndOutput:
    fact: str
    program_output: list[int]


def fact_and_output(result: SnosOutput) -> FactAndOutput:
    """The SNOS fact and the program output to store (CPU-bound when read from the PIE)."""
    os_output = result.snos_output
    flag = os_output[KZG_FLAG_INDEX] if len(os_output) > KZG_FLAG_INDEX else None
    if flag not in (0, 1):
        raise FatalJobError(
            f"unsupported KZG flag {flag!r} at os_output[{KZG_FLAG_INDEX}] (expected 0 or 1; "
            f"the OS output has {len(os_output)} words)"
        )
    if result.fact is not None:
        return FactAndOutput("0x" + result.fact.hex(), list(result.program_output))
    try:
        pie = read_cairo_pie(result.cairo_pie)
        if flag == 1:
            info = get_fact_info(pie)
            fact, output = info.fact, info.program_output
        else:
            fact, output = get_fact_l2(pie), pie_program_output(pie)
    except PieError as exc:
        raise FatalJobError(f"the SNOS PIE cannot give a fact: {exc}") from exc
    if result.program_output and list(result.program_output) != output:
        # The runner and its own PIE disagree: storing either would settle something unproven.
        raise FatalJobError("the SNOS runner's program output differs from the output segment of its PIE")
    return FactAndOutput("0x" + fact.hex(), output)


def _n_steps(result: SnosOutput) -> int | None:
    if result.n_steps is not None:
        return result.n_steps
    try:
        return read_cairo_pie(result.cairo_pie).n_steps
    except PieError:
        return None


class SnosRunHandler:
    job_type = JobType.SNOS_RUN
    max_process_attempts = 1
    max_verification_attempts = 1
    verification_polling_delay_seconds = 1

    def __init__(
        self,
        runner: SnosRunner,
        storage: StorageClient,
        *,
        layer: Layer,
        rpc: SnosRpc,
        backup_rpc: SnosRpc | None = None,
        layout: str = "all_cairo",
    ) -> None:
        self.runner = runner
        self.storage = storage
        self.layer = layer
        self.rpc = rpc
        self.backup_rpc = backup_rpc
        self.layout = layout

    def rpc_for(self, job: JobItem) -> SnosRpc:
        """A retried job (a previous attempt failed) uses the backup RPC when there is one."""
        if job.metadata.common.process_retry_attempt_no > 0 and self.backup_rpc is not None:
            return self.backup_rpc
        return self.rpc

    async def check_ready_to_process(self, job: JobItem) -> int | None:
        rpc = self.rpc_for(job)
        try:
            await rpc.probe.chain_id()
        except Exception as exc:  # noqa: BLE001 - any failure means the OS could not read blocks either
            log.warning("SNOS RPC %s is unavailable (%s); job %s requeued", redact_url(rpc.url), exc, job.id)
            return SNOS_UNAVAILABLE_DELAY_SECONDS
        return None

    def request(self, meta: SnosMetadata, rpc_url: str) -> SnosRequest:
        l2 = self.layer is Layer.L2
        return SnosRequest(
            start_block=meta.start_block,
            end_block=meta.end_block,
            rpc_url=rpc_url.rstrip("/"),
            layout=self.layout,
            full_output=l2,
            use_kzg_da=not l2,
        )

    async def process_job(self, job: JobItem) -> str | int:
        meta = specific(job, SnosMetadata)
        # Checked before the (long) OS run: without them its results could not be stored.
        pie_key = required(meta.cairo_pie_path, "cairo_pie_path", job)
        snos_output_key = required(meta.snos_output_path, "snos_output_path", job)
        program_output_key = required(meta.program_output_path, "program_output_path", job)
        if meta.end_block < meta.start_block:
            raise FatalJobError(f"SNOS batch {meta.snos_batch_index}: end block {meta.end_block} < start block")

        rpc = self.rpc_for(job)
        if rpc is self.backup_rpc:
            log.info("job %s is a retry: running SNOS against the backup RPC %s", job.id, redact_url(rpc.url))
        try:
            result = await self.runner.run(self.request(meta, rpc.url))
        except SnosError as exc:
            if exc.retryable:
                raise RetryableJobError(f"SNOS run failed (retryable): {exc}") from exc
            raise FatalJobError(f"SNOS run failed: {exc}") from exc

        # Fact computation hashes the program and reads the PIE's memory: keep it off the event loop.
        computed = await asyncio.to_thread(fact_and_output, result)
        n_steps = await asyncio.to_thread(_n_steps, result)

        await self.store(
            result.cairo_pie, result.snos_output, computed.program_output, pie_key, snos_output_key, program_output_key
        )
        meta.snos_fact = computed.fact
        meta.snos_n_steps = n_steps
        log.info(
            "SNOS batch %s (blocks %s..%s): fact %s",
            meta.snos_batch_index,
            meta.start_block,
            meta.end_block,
            computed.fact,
        )
        return str(meta.snos_batch_index)

    async def store(
        self,
        pie: bytes,
        snos_output: Sequence[int],
        program_output: Sequence[int],
        pie_key: str,
        snos_output_key: str,
        program_output_key: str,
    ) -> None:
        await self.storage.put(pie_key, pie)
        await self.storage.put(snos_output_key, encode_felts_json(snos_output))
        await self.storage.put(program_output_key, encode_felts(program_output))

    async def verify_job(self, job: JobItem) -> Verification:
        # The OS run is done in process_job; there is nothing external to wait for.
        return Verification.verified()
