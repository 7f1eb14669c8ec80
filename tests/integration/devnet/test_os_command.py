"""The aws devnet's OS program (`python -m infra.devnet.os_command`) through the real SNOS command
runner: the same output and fact as the in-process stand-in, and a retryable exit for a block the
node does not have yet."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from infra.devnet.os_command import blob_builder
from infra.launch.base import REPO
from orchestrator.clients.node.madara import MadaraNodeClient
from orchestrator.clients.snos.command import CommandSnosRunner
from orchestrator.clients.snos.devnet import DevnetSnosRunner
from orchestrator.core.madara.snos import SnosError, SnosRequest
from orchestrator.services.proof.fact import get_fact_info
from orchestrator.services.proof.pie import read_cairo_pie
from tests.doubles.madara_node import SEPOLIA_BATCH_FIRST_BLOCK, MadaraNodeDouble, load_fixture_chain

FIXTURES = Path(__file__).parents[2] / "fixtures"
TEMPLATE = (
    f"{shlex.quote(sys.executable)} -m infra.devnet.os_command --rpc-url {{rpc_url}} "
    "--blocks {start_block} {end_block} --full-output {full_output} --output {output_dir}"
)


async def test_the_os_command_gives_what_the_in_process_stand_in_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # `-m infra.devnet...` resolves from the repository, as the devnet runs it
    start, end = SEPOLIA_BATCH_FIRST_BLOCK + 1, SEPOLIA_BATCH_FIRST_BLOCK + 2
    async with MadaraNodeDouble(load_fixture_chain(FIXTURES)) as node, MadaraNodeClient(node.url) as client:
        request = SnosRequest(start_block=start, end_block=end, rpc_url=node.url)
        by_command = await CommandSnosRunner(TEMPLATE, timeout_seconds=120).run(request)
        in_process = await DevnetSnosRunner(client, blob_builder(client)).run(request)

        assert by_command.snos_output == in_process.snos_output
        assert by_command.program_output == in_process.program_output
        assert get_fact_info(read_cairo_pie(by_command.cairo_pie)).fact == in_process.fact

        missing = SnosRequest(start_block=end + 5000, end_block=end + 5000, rpc_url=node.url)
        with pytest.raises(SnosError, match="BlockNotFound") as caught:
            await CommandSnosRunner(TEMPLATE, timeout_seconds=120).run(missing)
        assert caught.value.retryable
