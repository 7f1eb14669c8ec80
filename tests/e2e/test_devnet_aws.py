"""`python -m infra.devnet --profile aws --until-settled`: the devnet in the deployed shape.

The devnet starts LocalStack and the MongoDB-compatible server itself, runs `orchestrator setup`
(EventBridge rules delivering trigger names into the SQS trigger queue) and two `orchestrator run`
processes, and settles 8 recorded blocks on an anvil this test owns (so L1 can still be read after
the devnet exits). About three minutes: the EventBridge rules fire once a minute.

On the aws profile nothing but those rules sends the batching and SNOS triggers (a completed job
only asks for its successors' checks), so SNOS batches and SnosRun jobs exist only if the rules
delivered.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from eth_account import Account
from web3 import AsyncHTTPProvider, AsyncWeb3

from infra.devnet.__main__ import OPERATOR_KEY
from infra.devnet.aws import JOBS_SUMMARY
from infra.devnet.l2 import FIRST_SETTLED_BLOCK
from infra.launch.anvil import Anvil
from infra.launch.base import REPO
from infra.launch.localstack import VENV as LOCALSTACK_VENV
from infra.launch.solc import NODE_DIR
from orchestrator.core.models.queue import LAYER_TRIGGERS, Layer
from tests.services import service_unavailable

pytestmark = [pytest.mark.e2e, pytest.mark.services, pytest.mark.slow, pytest.mark.timeout(900)]

BLOCKS = 8
LAST_BLOCK = FIRST_SETTLED_BLOCK + BLOCKS - 1
DEVNET_TIMEOUT = 720
STATE_BLOCK_NUMBER_ABI = [
    {
        "name": "stateBlockNumber",
        "type": "function",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [{"name": "", "type": "int256"}],
    }
]


def run_devnet(l1_url: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("MADARA_ORCHESTRATOR_", "AWS_"))},
        "MADARA_ORCHESTRATOR_MAX_BATCH_SIZE": "4",  # two aggregator batches
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    argv = [sys.executable, "-m", "infra.devnet", "--profile", "aws", "--blocks", str(BLOCKS), "--port", "0"]
    argv += ["--data-dir", str(data_dir), "--l1-url", l1_url, "--until-settled"]
    argv += ["--timeout", str(DEVNET_TIMEOUT), "--interval", "15"]
    return subprocess.run(
        argv, env=env, cwd=REPO, capture_output=True, text=True, timeout=DEVNET_TIMEOUT + 120, check=False
    )


async def l1_state(l1_url: str, core: str) -> tuple[int, int]:
    """(the core contract's stateBlockNumber, the operator's nonce)."""
    w3 = AsyncWeb3(AsyncHTTPProvider(l1_url))
    try:
        contract = w3.eth.contract(address=w3.to_checksum_address(core), abi=STATE_BLOCK_NUMBER_ABI)
        settled = int(await contract.functions.stateBlockNumber().call())
        nonce = await w3.eth.get_transaction_count(Account.from_key(OPERATOR_KEY).address)
        return settled, int(nonce)
    finally:
        await w3.provider.disconnect()


def logs(data_dir: Path) -> str:
    return "\n".join(p.read_text()[-3000:] for p in sorted(data_dir.glob("*.log")))


def test_aws_devnet_settles_8_blocks_with_two_processes_and_eventbridge_triggers(
    tmp_path: Path, anvil_factory: Callable[..., Anvil]
) -> None:
    if not (NODE_DIR / "node_modules" / "solc").is_dir():
        service_unavailable("npm solc is not installed (scripts/install-node-tools.sh)")
    if not (LOCALSTACK_VENV / "bin" / "python").exists():
        service_unavailable("LocalStack is not installed (make services-install)")
    l1 = anvil_factory(block_time=1)  # the settlement waits for a confirmation block
    data_dir = tmp_path / "devnet"

    done = run_devnet(l1.url, data_dir)

    assert done.returncode == 0, (
        f"exit {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-2000:]}\n{logs(data_dir)}"
    )
    run = json.loads((data_dir / "devnet.json").read_text())
    assert (run["first_block"], run["last_block"]) == (FIRST_SETTLED_BLOCK, LAST_BLOCK)

    summary = json.loads((data_dir / JOBS_SUMMARY).read_text())
    statuses = Counter(status for _, _, status in summary["jobs"])
    assert set(statuses) == {"Completed"}, summary
    by_type = Counter(job_type for job_type, _, _ in summary["jobs"])
    assert by_type["SnosRun"] == by_type["ProofCreation"] == summary["snos_batches"] >= 2
    assert by_type["Aggregator"] == by_type["StateTransition"] == 2

    settled, operator_nonce = asyncio.run(l1_state(l1.url, run["core_contract"]))
    assert settled == LAST_BLOCK
    assert operator_nonce == by_type["StateTransition"], "one L1 transaction per batch"

    # setup made one EventBridge rule per L2 trigger; two processes ran on the aws profile throughout
    # (the devnet fails the run when either exits)
    setup_log = (data_dir / "setup.log").read_text()
    for trigger in LAYER_TRIGGERS[Layer.L2]:
        assert f"-rule-{trigger.value.lower()}: " in setup_log, trigger
    for n in (1, 2):
        assert "orchestrator running: profile aws" in (data_dir / f"orchestrator-{n}.log").read_text()
