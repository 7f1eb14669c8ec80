"""The L3 proof chain of the devnet through the real clients: Atlantic (the double, proving by itself)
proves a SNOS PIE, verifies that proof on L2, and the Starknet settlement client settles both
outputs on the settlement test server, which applies Piltover's checks (program hashes, output
hash, registered fact, continuity)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from starknet_py.net.signer.key_pair import KeyPair

from infra.devnet.atlantic import AtlanticDouble
from infra.devnet.atlantic_proving import DevnetProving, VerifierSetup
from infra.devnet.starknet_core import CoreState, ProgramInfo, StarknetCoreServer, bridge_output
from orchestrator.clients.prover.atlantic import L2_VERIFICATION_LAYOUT, AtlanticOptions, AtlanticProverClient
from orchestrator.clients.settlement.starknet import StarknetSettlementClient
from orchestrator.clients.snos.devnet import DEVNET_PROGRAM, DEVNET_PROGRAM_HASH
from orchestrator.clients.snos.pie_writer import write_cairo_pie
from orchestrator.core.madara.prover import CreateJobTask, TaskStatusKind, TaskType
from orchestrator.core.madara.settlement import SettlementRejectedError
from orchestrator.services.job.handlers.proof_registration import wrap_proof
from orchestrator.services.job.handlers.stark_proof import public_output
from tests.integration.prover.support import FAST_RETRY, LENIENT_BREAKER, atlantic_options

KEY = 0x5A1E5A1E5A1E5A1E5A1E5A1E5A1E5A1E5A1E5A1E5A1E5A1E5A1E5A1E5A1E5A1
ACCOUNT, CORE, VERIFIER = 0xACC0, 0xC0DE, 0x7E51F1E5
PROGRAMS = ProgramInfo(
    snos_program_hash=DEVNET_PROGRAM_HASH, bootloader_program_hash=0xB007, layout_bridge_program_hash=0x1B
)
# An OS output of block 11 on top of block 10: roots, block numbers, hashes, no aggregator, config 0,
# KZG DA, no full output, x_0 and no blobs, no messages.
OS_OUTPUT = [0xA10, 0xA11, 10, 11, 0xB10, 0xB11, 0, 0, 1, 0, 7, 0, 0, 0]


def l3_options(double: AtlanticDouble, verifier: int) -> AtlanticOptions:
    return atlantic_options(
        double,
        settlement_layer="starknet",
        proof_layout=L2_VERIFICATION_LAYOUT,
        cairo_verifier_program_hash=hex(verifier),
    )


@dataclass
class Chain:
    server: StarknetCoreServer
    atlantic: AtlanticProverClient
    settlement: StarknetSettlementClient
    double: AtlanticDouble


@pytest.fixture
async def chain() -> AsyncIterator[Chain]:
    server = StarknetCoreServer(
        account_address=ACCOUNT,
        public_key=KeyPair.from_private_key(KEY).public_key,
        core_address=CORE,
        state=CoreState(0xA10, 10, 0xB10),
        program_info=PROGRAMS,
    )
    proving = DevnetProving(VerifierSetup(VERIFIER, L2_VERIFICATION_LAYOUT, PROGRAMS), server.register_fact)
    double = AtlanticDouble(proving=proving)
    async with server:
        await double.start()
        client = AtlanticProverClient(l3_options(double, VERIFIER), retry=FAST_RETRY, breaker=LENIENT_BREAKER)
        settlement = StarknetSettlementClient(
            rpc_url=server.url,
            account_address=hex(ACCOUNT),
            private_key=hex(KEY),
            core_contract_address=hex(CORE),
            finality_retry_wait=0.01,
        )
        try:
            yield Chain(server, client, settlement, double)
        finally:
            await client.close()
            await double.stop()


async def prove(chain: Chain, output: list[int]) -> bytes:
    pie = write_cairo_pie(DEVNET_PROGRAM, output, n_steps=len(output))
    query = await chain.atlantic.submit_task(CreateJobTask(cairo_pie=pie, dedup_id="job-1"))
    assert (await chain.atlantic.get_task_status(TaskType.JOB, query)).kind is TaskStatusKind.SUCCEEDED
    return await chain.atlantic.get_proof(query)


async def test_a_proven_and_l2_verified_block_settles(chain: Chain) -> None:
    proof = await prove(chain, OS_OUTPUT)
    snos_output = public_output(proof)
    assert snos_output == [1, len(OS_OUTPUT) + 2, DEVNET_PROGRAM_HASH, *OS_OUTPUT]  # the bootloader's output

    query = await chain.atlantic.submit_l2_query("1", wrap_proof(proof), None)
    assert (await chain.atlantic.get_task_status(TaskType.JOB, query)).kind is TaskStatusKind.SUCCEEDED
    bridge = public_output(await chain.atlantic.get_proof(query))

    await chain.settlement.update_state_calldata(snos_output, bridge)
    assert chain.server.state == CoreState(0xA11, 11, 0xB11)
    assert await chain.settlement.get_last_settled_block() == 11


async def test_without_the_l2_verification_the_fact_is_missing(chain: Chain) -> None:
    proof = await prove(chain, OS_OUTPUT)
    snos_output = public_output(proof)
    forged = [1, 4, PROGRAMS.layout_bridge_program_hash, PROGRAMS.bootloader_program_hash, 0]
    with pytest.raises(SettlementRejectedError, match="snos: invalid output hash"):
        await chain.settlement.update_state_calldata(snos_output, forged)
    with pytest.raises(SettlementRejectedError, match="no fact registered"):
        await chain.settlement.update_state_calldata(snos_output, bridge_output(PROGRAMS, snos_output))
    assert chain.server.state == CoreState(0xA10, 10, 0xB10)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ([0xA10, 0xA12, 11, 12, 0xB11, 0xB12], "Invalid previous block number"),  # block 12 on top of 11; 10 is settled
        ([0xA0F, 0xA11, 10, 11, 0xB10, 0xB11], "Invalid previous state root"),
        ([0xA10, 0xA11, 10, 11, 0xB0F, 0xB11], "Invalid previous block hash"),
    ],
)
async def test_a_discontinuous_update_is_rejected(chain: Chain, header: list[int], reason: str) -> None:
    proof = await prove(chain, [*header, *OS_OUTPUT[6:]])
    query = await chain.atlantic.submit_l2_query("1", wrap_proof(proof), None)
    await chain.atlantic.get_task_status(TaskType.JOB, query)
    bridge = public_output(await chain.atlantic.get_proof(query))
    with pytest.raises(SettlementRejectedError, match=reason):
        await chain.settlement.update_state_calldata(public_output(proof), bridge)
    assert chain.server.state == CoreState(0xA10, 10, 0xB10)


async def test_l2_verification_checks_the_verifier_and_the_proof(chain: Chain) -> None:
    proof = await prove(chain, OS_OUTPUT)
    chain.atlantic.options = l3_options(chain.double, 0x999)
    query = await chain.atlantic.submit_l2_query("1", wrap_proof(proof), None)
    status = await chain.atlantic.get_task_status(TaskType.JOB, query)
    assert status.kind is TaskStatusKind.FAILED and "not the Cairo verifier" in str(status.reason)

    chain.atlantic.options = l3_options(chain.double, VERIFIER)
    other = json.loads(proof)
    other["public_input"]["layout"] = "dynamic"
    query = await chain.atlantic.submit_l2_query("2", wrap_proof(json.dumps(other).encode()), None)
    status = await chain.atlantic.get_task_status(TaskType.JOB, query)
    assert status.kind is TaskStatusKind.FAILED and "layout 'dynamic'" in str(status.reason)

    not_the_os = write_cairo_pie([0x1234], OS_OUTPUT, n_steps=1)
    task = await chain.atlantic.submit_task(CreateJobTask(cairo_pie=not_the_os, dedup_id="job-2"))
    await chain.atlantic.get_task_status(TaskType.JOB, task)
    query = await chain.atlantic.submit_l2_query("3", wrap_proof(await chain.atlantic.get_proof(task)), None)
    status = await chain.atlantic.get_task_status(TaskType.JOB, query)
    assert status.kind is TaskStatusKind.FAILED and "is not the Starknet OS" in str(status.reason)
    assert chain.server.facts == set()
