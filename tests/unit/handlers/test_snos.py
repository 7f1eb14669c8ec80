"""SnosRun: readiness on the SNOS RPC (and its backup), the OS request, facts, artifacts, errors."""

from __future__ import annotations

import json

import pytest
from poseidon_py.poseidon_hash import poseidon_hash_many

from orchestrator.clients.snos.devnet import DEVNET_PROGRAM, devnet_fact
from orchestrator.clients.snos.pie_writer import write_cairo_pie
from orchestrator.core.madara.snos import SnosError, SnosOutput
from orchestrator.core.models.job import JobItem, JobType
from orchestrator.core.models.metadata import ProvingMetadata, SnosMetadata
from orchestrator.core.models.queue import Layer
from orchestrator.services import storage_layout
from orchestrator.services.job.handler import FatalJobError, RetryableJobError, Verification
from orchestrator.services.job.handlers.bincode import decode_felts
from orchestrator.services.job.handlers.snos import SNOS_UNAVAILABLE_DELAY_SECONDS, SnosRpc, SnosRunHandler
from tests.fakes import FakeStorage
from tests.unit.handlers.fakes import FakeProbe, FakeSnosRunner
from tests.unit.handlers.helpers import job_of

BOOT_LOADER_PROGRAM_CONTRACT = 0x5AB580B04E3532B6B18F81CFA654A05E29DD8E2352D88DF1E765A84072DB07


def os_output(kzg_flag: int) -> list[int]:
    # header (roots, block numbers, hashes, config hash), the KZG flag at [8], full_output at [9], tail
    return [0xA1, 0xA2, 4, 6, 0xB1, 0xB2, 0, 0xC0, kzg_flag, 0, 0, 0]


def snos_result(output: list[int], *, fact: bytes | None = None, n_steps: int | None = 321) -> SnosOutput:
    pie = write_cairo_pie(DEVNET_PROGRAM, output, n_steps=999)
    return SnosOutput(cairo_pie=pie, snos_output=list(output), program_output=list(output), n_steps=n_steps, fact=fact)


def snos_job(index: int = 5, **common: object) -> JobItem:
    meta = SnosMetadata(
        snos_batch_index=index,
        start_block=4,
        end_block=6,
        num_blocks=3,
        cairo_pie_path=storage_layout.cairo_pie_path(index),
        snos_output_path=storage_layout.snos_output_path(index),
        program_output_path=storage_layout.program_output_path(index),
    )
    return job_of(JobType.SNOS_RUN, index, meta, **common)


def make(
    layer: Layer = Layer.L3, *, output: SnosOutput | None = None, backup: bool = True
) -> tuple[SnosRunHandler, FakeSnosRunner, FakeStorage, FakeProbe, FakeProbe]:
    runner, storage = FakeSnosRunner(output=output), FakeStorage()
    main, spare = FakeProbe(), FakeProbe()
    handler = SnosRunHandler(
        runner,
        storage,  # type: ignore[arg-type]
        layer=layer,
        rpc=SnosRpc("http://snos:9545/", main),
        backup_rpc=SnosRpc("http://backup:9545", spare) if backup else None,
        layout="all_cairo",
    )
    return handler, runner, storage, main, spare


def test_limits_are_the_reference_table() -> None:
    handler, *_ = make()
    assert handler.job_type is JobType.SNOS_RUN
    assert (handler.max_process_attempts, handler.max_verification_attempts) == (1, 1)
    assert handler.verification_polling_delay_seconds == 1


async def test_ready_when_the_snos_rpc_answers() -> None:
    handler, _, _, main, spare = make()
    assert await handler.check_ready_to_process(snos_job()) is None
    assert (main.calls, spare.calls) == (1, 0)


async def test_requeued_for_60s_when_the_snos_rpc_is_down() -> None:
    handler, _, _, main, _ = make()
    main.up = False
    assert await handler.check_ready_to_process(snos_job()) == SNOS_UNAVAILABLE_DELAY_SECONDS == 60


async def test_a_retried_job_probes_and_uses_the_backup_rpc() -> None:
    handler, runner, _, main, spare = make(output=snos_result(os_output(1), fact=b"\x11" * 32))
    main.up = False
    job = snos_job(process_retry_attempt_no=1)
    assert await handler.check_ready_to_process(job) is None
    assert (main.calls, spare.calls) == (0, 1)
    await handler.process_job(job)
    assert runner.requests[0].rpc_url == "http://backup:9545"


async def test_a_retried_job_without_backup_keeps_the_main_rpc() -> None:
    handler, runner, _, main, _ = make(output=snos_result(os_output(1), fact=b"\x11" * 32), backup=False)
    job = snos_job(process_retry_attempt_no=2)
    assert await handler.check_ready_to_process(job) is None
    assert main.calls == 1
    await handler.process_job(job)
    assert runner.requests[0].rpc_url == "http://snos:9545"  # trailing slash trimmed as the reference


@pytest.mark.parametrize(("layer", "full_output", "use_kzg_da"), [(Layer.L2, True, False), (Layer.L3, False, True)])
async def test_request_covers_the_batch_with_the_layers_os_hints(
    layer: Layer, full_output: bool, use_kzg_da: bool
) -> None:
    handler, runner, *_ = make(layer, output=snos_result(os_output(1), fact=b"\x22" * 32))
    assert await handler.process_job(snos_job()) == "5"
    request = runner.requests[0]
    assert (request.start_block, request.end_block) == (4, 6)
    assert (request.full_output, request.use_kzg_da, request.layout) == (full_output, use_kzg_da, "all_cairo")


async def test_stores_the_three_artifacts_and_records_the_runners_fact() -> None:
    output = os_output(1)
    result = snos_result(output, fact=b"\xab" * 32)
    handler, _, storage, *_ = make(output=result)
    job = snos_job()
    assert await handler.process_job(job) == "5"
    assert storage.objects["5/cairo_pie.zip"] == result.cairo_pie
    assert json.loads(storage.objects["5/snos_output.json"]) == [hex(v) for v in output]
    assert decode_felts(storage.objects["5/program_output.txt"]) == output
    meta = job.metadata.specific
    assert isinstance(meta, SnosMetadata)
    assert meta.snos_fact == "0x" + "ab" * 32
    assert meta.snos_n_steps == 321


async def test_gps_fact_from_the_pie_when_kzg_da_is_on() -> None:
    output = os_output(1)
    handler, _, storage, *_ = make(output=snos_result(output, n_steps=None))
    job = snos_job()
    await handler.process_job(job)
    meta = job.metadata.specific
    assert isinstance(meta, SnosMetadata)
    # The devnet program's hash is a known constant: keccak(hash ‖ keccak(output)) for a one-page output.
    assert meta.snos_fact == "0x" + devnet_fact(output).hex()
    assert meta.snos_n_steps == 999  # from the PIE's execution resources
    assert decode_felts(storage.objects["5/program_output.txt"]) == output


async def test_l2_poseidon_fact_from_the_pie_when_kzg_da_is_off() -> None:
    output = os_output(0)
    handler, *_ = make(Layer.L2, output=snos_result(output))
    job = snos_job()
    await handler.process_job(job)
    meta = job.metadata.specific
    assert isinstance(meta, SnosMetadata)
    expected = poseidon_hash_many([BOOT_LOADER_PROGRAM_CONTRACT, poseidon_hash_many(output)])
    assert meta.snos_fact == "0x" + expected.to_bytes(32, "big").hex()


@pytest.mark.parametrize("output", [os_output(2), [1, 2, 3]])
async def test_unsupported_kzg_flag_is_fatal(output: list[int]) -> None:
    handler, _, storage, *_ = make(output=snos_result(output))
    with pytest.raises(FatalJobError, match="KZG flag"):
        await handler.process_job(snos_job())
    assert storage.objects == {}


async def test_runner_and_pie_disagreeing_is_fatal() -> None:
    output = os_output(1)
    result = snos_result(output)
    lying = SnosOutput(result.cairo_pie, result.snos_output, [*output, 1], result.n_steps)
    handler, _, storage, *_ = make(output=lying)
    with pytest.raises(FatalJobError, match="differs"):
        await handler.process_job(snos_job())
    assert storage.objects == {}


async def test_unreadable_pie_is_fatal() -> None:
    handler, *_ = make(output=SnosOutput(b"not a zip", os_output(1), os_output(1), 5))
    with pytest.raises(FatalJobError, match="PIE"):
        await handler.process_job(snos_job())


async def test_non_retryable_snos_error_is_fatal() -> None:
    handler, runner, *_ = make()
    runner.error = SnosError("OS execution failed: assertion", retryable=False)
    with pytest.raises(FatalJobError, match="assertion"):
        await handler.process_job(snos_job())


async def test_retryable_snos_error_goes_back_to_the_queue() -> None:
    handler, runner, *_ = make()
    runner.error = SnosError("BlockNotFound", retryable=True)
    with pytest.raises(RetryableJobError, match="BlockNotFound"):
        await handler.process_job(snos_job())


async def test_storage_failure_is_retryable_not_fatal() -> None:
    handler, _, storage, *_ = make(output=snos_result(os_output(1), fact=b"\x01" * 32))
    storage.fail_puts = ConnectionError("S3 is down")
    with pytest.raises(ConnectionError):
        await handler.process_job(snos_job())


async def test_missing_paths_fail_before_running_the_os() -> None:
    handler, runner, *_ = make(output=snos_result(os_output(1)))
    job = snos_job()
    assert isinstance(job.metadata.specific, SnosMetadata)
    job.metadata.specific.program_output_path = None
    with pytest.raises(FatalJobError, match="program_output_path"):
        await handler.process_job(job)
    assert runner.requests == []


async def test_wrong_metadata_is_fatal() -> None:
    handler, *_ = make()
    job = job_of(JobType.SNOS_RUN, 1, ProvingMetadata(block_number=1))
    with pytest.raises(FatalJobError, match="SnosMetadata"):
        await handler.process_job(job)


async def test_verify_is_always_verified() -> None:
    handler, *_ = make()
    assert await handler.verify_job(snos_job()) == Verification.verified()
