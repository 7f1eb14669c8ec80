"""The Madara double run as a separate process, as end-to-end runs use it."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from orchestrator.clients.node.madara import MadaraNodeClient
from tests.doubles.madara_node import SEPOLIA_BATCH_FIRST_BLOCK

REPO = Path(__file__).parents[3]


async def test_double_as_a_subprocess() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.doubles.madara_node",
        "--port",
        "0",
        "--data",
        str(REPO / "tests" / "fixtures"),
        "--latest",
        str(SEPOLIA_BATCH_FIRST_BLOCK + 20),
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode().strip()
        assert line.startswith("listening on http://127.0.0.1:"), line
        url = line.removeprefix("listening on ")
        async with MadaraNodeClient(url) as madara:
            assert await madara.block_number() == SEPOLIA_BATCH_FIRST_BLOCK + 20
            assert (await madara.chain_details()).chain_id == "SN_SEPOLIA"
    finally:
        process.terminate()
        assert await asyncio.wait_for(process.wait(), 10) == 0


async def test_double_without_data_is_a_clear_error(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.doubles.madara_node",
        "--data",
        str(tmp_path),
        cwd=REPO,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    assert b"no recorded state updates" in stderr
