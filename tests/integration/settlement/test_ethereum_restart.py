"""A settling process killed after sending and before mining: on restart, exactly one tx lands."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from infra.launch.anvil import Anvil
from tests.integration.settlement.chain import deploy_core, read_program_output, state_update_txs

pytestmark = [pytest.mark.services, pytest.mark.slow]

REPO = Path(__file__).parents[3]
PROGRAM_OUTPUT = read_program_output()


def _start(url: str, core: str, attempts: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.settlement.settle_process", url, core, str(attempts)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _wait_sent(anvil: Anvil, attempts: Path, process: subprocess.Popen[bytes]) -> str:
    """The hash of the first attempt, once the process persisted it and the node has it."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        if attempts.exists():
            recorded = json.loads(attempts.read_text())
            if recorded and recorded[0]["tx_hash"] and anvil.rpc("eth_getTransactionByHash", [recorded[0]["tx_hash"]]):
                return str(recorded[0]["tx_hash"])
        time.sleep(0.05)
    raise AssertionError("the process never sent its transaction")


def _pool_size(anvil: Anvil) -> int:
    status = anvil.rpc("txpool_status")
    assert isinstance(status, dict)
    return int(status["pending"], 16) + int(status["queued"], 16)


@pytest.mark.parametrize("mined_before_restart", [False, True], ids=["restart-while-pending", "restart-after-mined"])
async def test_killed_after_send_restart_lands_exactly_one_transaction(
    anvil_factory: Callable[..., Anvil], tmp_path: Path, mined_before_restart: bool
) -> None:
    node = anvil_factory(automine=False)
    chain = await deploy_core(node.url, PROGRAM_OUTPUT, automine=False)
    await chain.register_fact(PROGRAM_OUTPUT)
    attempts = tmp_path / "attempts.json"

    first = _start(node.url, chain.address, attempts)
    try:
        sent_hash = _wait_sent(node, attempts, first)
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    assert _pool_size(node) == 1
    if mined_before_restart:
        node.rpc("evm_mine")

    second = _start(node.url, chain.address, attempts)
    try:
        if not mined_before_restart:
            # Give the restarted process time to resume (and, were it wrong, to send a second tx).
            await asyncio.sleep(3)
            assert _pool_size(node) == 1
            node.rpc("evm_mine")
        out, err = second.communicate(timeout=60)
    finally:
        if second.poll() is None:
            os.kill(second.pid, signal.SIGKILL)
            second.wait(timeout=10)
    assert second.returncode == 0, err.decode()
    result = json.loads(out.decode().strip().splitlines()[-1])
    assert result == {"tx_hash": sent_hash, "skipped": False, "attempts": 1}

    landed = await state_update_txs(chain.w3, chain.address)
    assert [tx["hash"].to_0x_hex() for tx in landed] == [sent_hash]
    assert await chain.state_block_number() == PROGRAM_OUTPUT[3]
    await chain.close()
