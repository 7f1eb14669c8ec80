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
import subprocess
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from eth_account import Account

from infra.devnet.__main__ import OPERATOR_KEY
from infra.devnet.aws import JOBS_SUMMARY
from infra.devnet.l2 import FIRST_SETTLED_BLOCK
from infra.launch.anvil import Anvil
from infra.launch.localstack import VENV as LOCALSTACK_VENV
from infra.launch.solc import NODE_DIR
from orchestrator.core.models.queue import LAYER_TRIGGERS, Layer
from tests.e2e.devnet_run import devnet_env, failure_report, run_devnet, state_block_number, transaction_count
from tests.services import service_unavailable

pytestmark = [pytest.mark.e2e, pytest.mark.services, pytest.mark.slow, pytest.mark.timeout(900)]

BLOCKS = 8
LAST_BLOCK = FIRST_SETTLED_BLOCK + BLOCKS - 1
DEVNET_TIMEOUT = 720


def settle_aws_devnet(l1_url: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = devnet_env({"MADARA_ORCHESTRATOR_MAX_BATCH_SIZE": "4"}, strip=("AWS_",))  # two aggregator batches
    args = ["--profile", "aws", "--blocks", str(BLOCKS), "--port", "0", "--data-dir", str(data_dir)]
    return run_devnet([*args, "--l1-url", l1_url, "--until-settled", "--interval", "15"], env, DEVNET_TIMEOUT, 120)


def test_aws_devnet_settles_8_blocks_with_two_processes_and_eventbridge_triggers(
    tmp_path: Path, anvil_factory: Callable[..., Anvil]
) -> None:
    if not (NODE_DIR / "node_modules" / "solc").is_dir():
        service_unavailable("npm solc is not installed (scripts/install-node-tools.sh)")
    if not (LOCALSTACK_VENV / "bin" / "python").exists():
        service_unavailable("LocalStack is not installed (make services-install)")
    l1 = anvil_factory(block_time=1)  # the settlement waits for a confirmation block
    data_dir = tmp_path / "devnet"

    done = settle_aws_devnet(l1.url, data_dir)

    assert done.returncode == 0, failure_report(done, data_dir)
    run = json.loads((data_dir / "devnet.json").read_text())
    assert (run["first_block"], run["last_block"]) == (FIRST_SETTLED_BLOCK, LAST_BLOCK)

    summary = json.loads((data_dir / JOBS_SUMMARY).read_text())
    statuses = Counter(status for _, _, status in summary["jobs"])
    assert set(statuses) == {"Completed"}, summary
    by_type = Counter(job_type for job_type, _, _ in summary["jobs"])
    assert by_type["SnosRun"] == by_type["ProofCreation"] == summary["snos_batches"] >= 2
    assert by_type["Aggregator"] == by_type["StateTransition"] == 2

    assert asyncio.run(state_block_number(l1.url, run["core_contract"])) == LAST_BLOCK
    operator_nonce = asyncio.run(transaction_count(l1.url, Account.from_key(OPERATOR_KEY).address))
    assert operator_nonce == by_type["StateTransition"], "one L1 transaction per batch"

    # setup made one EventBridge rule per L2 trigger; two processes ran on the aws profile throughout
    # (the devnet fails the run when either exits)
    setup_log = (data_dir / "setup.log").read_text()
    for trigger in LAYER_TRIGGERS[Layer.L2]:
        assert f"-rule-{trigger.value.lower()}: " in setup_log, trigger
    for n in (1, 2):
        assert "orchestrator running: profile aws" in (data_dir / f"orchestrator-{n}.log").read_text()
