"""The aws devnet's aggregator program (`python -m infra.devnet.aggregator_command`) through the real
aggregator command runner: the same output and fact as the in-process stand-in, and a clear fatal
failure when the children do not chain."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from infra.devnet.os_command import blob_builder
from infra.launch.base import REPO
from orchestrator.clients.aggregator.command import CommandAggregatorRunner
from orchestrator.clients.aggregator.devnet import DevnetAggregatorRunner
from orchestrator.clients.node.madara import MadaraNodeClient
from orchestrator.clients.snos.devnet import DevnetSnosRunner
from orchestrator.core.madara.aggregator import AggregatorError, AggregatorRequest
from orchestrator.core.madara.node import ChainDetails
from orchestrator.core.madara.snos import SnosRequest
from orchestrator.services.da.blob import blob_to_felts
from tests.doubles.madara_node import SEPOLIA_BATCH_FIRST_BLOCK, MadaraNodeDouble, load_fixture_chain

FIXTURES = Path(__file__).parents[2] / "fixtures"
START = SEPOLIA_BATCH_FIRST_BLOCK + 1


class Chain:
    async def chain_details(self) -> ChainDetails:
        return ChainDetails(chain_id="SN_SEPOLIA", strk_fee_token_address="0x1", eth_fee_token_address="0x2")


def template(node_url: str) -> str:
    python = shlex.quote(sys.executable)
    return (
        f"{python} -m infra.devnet.aggregator_command --rpc-url {node_url} --batch {{batch_index}} "
        "--blocks {start_block} {end_block} --input {input_dir} --output {output_dir}"
    )


async def test_the_aggregator_command_gives_what_the_in_process_stand_in_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # `-m infra.devnet...` resolves from the repository, as the devnet runs it
    async with MadaraNodeDouble(load_fixture_chain(FIXTURES)) as node, MadaraNodeClient(node.url) as client:
        build = blob_builder(client)
        snos = DevnetSnosRunner(client, build)
        children = [
            await snos.run(SnosRequest(start_block=n, end_block=n, rpc_url=node.url)) for n in (START, START + 1)
        ]
        updates = [{**(await client.get_state_update(n)), "block_number": n} for n in (START, START + 1)]
        blobs = await build(updates)
        request = AggregatorRequest(
            batch_index=1,
            start_block=START,
            end_block=START + 1,
            children_outputs=[c.program_output for c in children],
            children_keys=["0x" + (c.fact or b"").hex() for c in children],
            da_segment=[felt for blob in blobs for felt in blob_to_felts(blob)],
            blobs=blobs,
        )
        runner = CommandAggregatorRunner(template(node.url), timeout_seconds=120, chain=Chain())

        by_command = await runner.run(request)
        in_process = await DevnetAggregatorRunner(client).run(request)
        assert by_command.program_output == in_process.program_output
        assert by_command.fact == in_process.fact
        assert by_command.da_segment == request.da_segment

        unchained = AggregatorRequest(**{**request.__dict__, "children_outputs": request.children_outputs[::-1]})
        with pytest.raises(AggregatorError) as caught:
            await runner.run(unchained)
        assert not caught.value.retryable
